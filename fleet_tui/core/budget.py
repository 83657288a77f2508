"""Per-session meters checked against the ceilings of the agent's budget.

The meter only reports crossings (80 % warning, 100 % exceeded, each once per
meter); pausing or killing the session is the orchestrator's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleet_tui.core.status import Status

if TYPE_CHECKING:  # the CLI formats meters without loading pydantic and the config schema
    from fleet_tui.config import Budget  # the ceilings, as fleet.yaml's `budget:` declares them
    from fleet_tui.core.proctree import Usage

WARN_AT = 0.8
METERS = ("time", "active", "cpu", "memory", "tokens", "cost")


@dataclass(frozen=True)
class Crossing:
    """A meter passed a threshold: kind is "warning" (80 %) or "exceeded" (100 %)."""

    meter: str
    kind: str
    used: float
    limit: float


class BudgetMeter:
    """Follows one session's use; `update` it on every tick and on every status change."""

    def __init__(self, budget: Budget, started_at: float) -> None:
        self.budget = budget
        self.started_at = started_at
        self.used: dict[str, float] = dict.fromkeys(METERS, 0)
        self.memory_peak = 0
        self._last_time = started_at
        self._last_status: Status | None = None
        self._warned: set[str] = set()
        self._exceeded: set[str] = set()

    def update(self, now: float, usage: Usage | None = None, tokens: int | None = None,
               cost: float | None = None, status: Status | None = None) -> list[Crossing]:
        """Record the session's state at `now`; return the thresholds crossed by this update.

        `status` is the status the session has from now on; the time since the last
        update counts as active if the previous status was "working".
        """
        if self._last_status == Status.WORKING:
            self.used["active"] += max(0.0, now - self._last_time)
        self._last_time = now
        if status is not None:
            self._last_status = status
        self.used["time"] = now - self.started_at
        if usage is not None:
            self.used["cpu"] = usage.cpu_seconds
            self.used["memory"] = usage.rss_bytes
            self.memory_peak = max(self.memory_peak, usage.rss_bytes)
        if tokens is not None:
            self.used["tokens"] = tokens
        if cost is not None:
            self.used["cost"] = cost
        return [crossing for meter in METERS if (crossing := self._check(meter))]

    def _check(self, meter: str) -> Crossing | None:
        limit = self.budget.limit(meter)
        if not limit or meter in self._exceeded:
            return None
        used = self.used[meter]
        if used >= limit:
            # A jump straight past 100 % reports only the exceeded, not a stale warning too.
            self._exceeded.add(meter)
            self._warned.add(meter)
            return Crossing(meter, "exceeded", used, limit)
        if used >= WARN_AT * limit and meter not in self._warned:
            self._warned.add(meter)
            return Crossing(meter, "warning", used, limit)
        return None

    @property
    def exceeded(self) -> list[str]:
        """The meters that have gone over their ceiling so far."""
        return [meter for meter in METERS if meter in self._exceeded]

    def snapshot(self) -> dict[str, dict]:
        """JSON-able state for display: {meter: {"used", "limit", "fraction"}} (+ memory "peak")."""
        result = {}
        for meter in METERS:
            limit = self.budget.limit(meter)
            used = self.used[meter]
            result[meter] = {"used": used, "limit": limit,
                             "fraction": used / limit if limit else None}
        result["memory"]["peak"] = self.memory_peak
        return result


def format_meter(meter: str, value: float | None) -> str:
    """A meter's value as people read it: 4:05, 312M, $0.42, 12,000."""
    if value is None:
        return "-"
    if meter in ("time", "active", "cpu"):
        minutes, seconds = divmod(int(value), 60)
        return f"{minutes}:{seconds:02d}"
    if meter == "memory":
        return f"{value / 2**20:.0f}M"
    if meter == "cost":
        return f"${value:.2f}"
    return f"{value:,.0f}"
