"""Smoke tests of the benchmark plumbing (no timings are asserted: benchmarks print figures)."""

import subprocess
import sys
import time

from bench.harness import ROOT, busy_cmd, pct, table, yaml_agents
import pytest

pytestmark = pytest.mark.real


def test_percentiles_and_table():
    assert pct([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert pct([], 50) != pct([], 50)  # nan when there is nothing to measure
    text = table(["a", "b"], [[1, 2.5], ["x", float("nan")]])
    assert "| a" in text and "2.50" in text and "n/a" in text


def test_fleet_yaml_quotes_commands():
    text = yaml_agents({"busy": busy_cmd(1000)}, setup=[["sh", "-c", "echo hi"]])
    assert text.startswith("agents:\n  busy:\n    command: [")
    assert 'setup:\n  - ["sh", "-c", "echo hi"]' in text


def test_generator_counts_what_it_wrote(tmp_path):
    counter = tmp_path / "count"
    proc = subprocess.Popen([sys.executable, "-m", "bench._gen", "20000", str(counter)],
                            stdout=subprocess.PIPE, cwd=ROOT)
    try:
        data = b""
        deadline = time.monotonic() + 10
        while len(data) < 2000 and time.monotonic() < deadline:
            data += proc.stdout.read1(65536)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (counter.exists() and counter.read_text().strip()):
            time.sleep(0.05)
        assert data.startswith(b"READY\r\n")
        assert int(counter.read_text()) > 0
    finally:
        proc.kill()
        proc.wait()
