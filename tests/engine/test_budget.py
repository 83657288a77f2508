"""Budget meters and their threshold crossings."""

import json

import pytest

from fleet_tui.config import Budget
from fleet_tui.core.budget import BudgetMeter, Crossing
from fleet_tui.core.proctree import Usage

MB = 1024 * 1024


def test_wall_time_warns_at_80_percent_then_exceeds_once():
    meter = BudgetMeter(Budget(time=100), started_at=1000.0)
    assert meter.update(1050.0) == []
    assert meter.update(1080.0) == [Crossing("time", "warning", 80.0, 100)]
    assert meter.update(1090.0) == []  # the warning comes once
    assert meter.update(1100.0) == [Crossing("time", "exceeded", 100.0, 100)]
    assert meter.update(1200.0) == []  # and so does the exceeded
    assert meter.exceeded == ["time"]


def test_active_time_counts_only_working_periods():
    meter = BudgetMeter(Budget(active=10), started_at=0.0)
    meter.update(0.0, status="starting")
    meter.update(5.0, status="working")   # 0-5 was starting
    meter.update(9.0, status="waiting")   # 5-9 working: 4 s
    meter.update(100.0)                   # 9-100 waiting
    assert meter.used["active"] == 4.0
    crossings = meter.update(104.0, status="working")  # waiting until now
    assert crossings == []
    assert meter.update(108.0) == [Crossing("active", "warning", 8.0, 10)]
    assert meter.update(110.0, status="finished") == [Crossing("active", "exceeded", 10.0, 10)]
    assert meter.used["time"] == 110.0


def test_cpu_memory_tokens_and_cost_meters():
    budget = Budget(cpu=60, memory=500 * MB, tokens=1000, cost=2.0, on_exceed="kill")
    meter = BudgetMeter(budget, started_at=0.0)
    crossings = meter.update(1.0, Usage(cpu_seconds=50, rss_bytes=450 * MB, processes=3),
                             tokens=1200, cost=0.5)
    assert crossings == [Crossing("cpu", "warning", 50, 60), Crossing("memory", "warning", 450 * MB, 500 * MB),
                         Crossing("tokens", "exceeded", 1200, 1000)]
    crossings = meter.update(2.0, Usage(cpu_seconds=61, rss_bytes=100 * MB, processes=1), tokens=1300, cost=2.5)
    assert crossings == [Crossing("cpu", "exceeded", 61, 60), Crossing("cost", "exceeded", 2.5, 2.0)]
    assert meter.exceeded == ["cpu", "tokens", "cost"]


def test_memory_tracks_current_and_peak():
    meter = BudgetMeter(Budget(), started_at=0.0)
    meter.update(1.0, Usage(1, 300 * MB, 2))
    meter.update(2.0, Usage(2, 120 * MB, 1))
    snap = meter.snapshot()["memory"]
    assert snap["used"] == 120 * MB and snap["peak"] == 300 * MB


def test_no_ceiling_means_no_crossings_and_no_fraction():
    meter = BudgetMeter(Budget(), started_at=0.0)
    assert meter.update(1e6, Usage(1e6, 10**12, 1), tokens=10**9, cost=1e6, status="working") == []
    assert all(entry["limit"] is None and entry["fraction"] is None for entry in meter.snapshot().values())


def test_snapshot_is_json_able_with_fractions():
    meter = BudgetMeter(Budget(time=200, cost=4.0), started_at=10.0)
    meter.update(60.0, cost=1.0)
    snap = json.loads(json.dumps(meter.snapshot()))
    assert set(snap) == {"time", "active", "cpu", "memory", "tokens", "cost"}
    assert snap["time"] == {"used": 50.0, "limit": 200, "fraction": 0.25}
    assert snap["cost"]["fraction"] == 0.25


def test_on_exceed_is_checked():
    with pytest.raises(ValueError, match="on_exceed"):
        Budget(on_exceed="explode")
