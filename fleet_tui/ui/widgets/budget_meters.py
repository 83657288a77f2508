"""Budget meters: how much of each ceiling (time, CPU, memory, tokens, spend) a session used."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static

from fleet_tui.wire import SessionView

WARNING_AT = 0.8
METERS = (("time", "time"), ("cpu", "cpu"), ("memory", "mem"), ("tokens", "tok"), ("cost", "$"))


def meter_colour(fraction: float | None) -> str:
    if fraction is None:
        return "$foreground-muted"
    if fraction >= 1.0:
        return "$error"
    if fraction >= WARNING_AT:
        return "$warning"
    return "$success"


def bar_cells(fraction: float | None, width: int = 5) -> str:
    """A bar of `width` cells, as full as the ceiling is near (dashed: no ceiling)."""
    if fraction is None:
        return "╌" * width
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return "▰" * filled + "▱" * (width - filled)


def bar(fraction: float | None, width: int = 5) -> str:
    """A bar of `width` cells as markup, coloured by how close the ceiling is."""
    return f"[{meter_colour(fraction)}]{bar_cells(fraction, width)}[/]"


def amount(meter: str, used: float) -> str:
    """A short human figure for a meter's value."""
    if meter == "cost":
        return f"${used:.2f}"
    if meter == "memory":
        for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if used >= size:
                return f"{used / size:.0f}{unit}"
        return f"{used:.0f}B"
    if meter == "tokens":
        return f"{used / 1000:.0f}k" if used >= 1000 else f"{used:.0f}"
    minutes, seconds = divmod(int(used), 60)
    return f"{minutes}m" if minutes else f"{seconds}s"


def tightest(budget: dict[str, Any]) -> tuple[str, float] | None:
    """The meter closest to its ceiling, which is the one that will stop the agent first."""
    limited = [
        (name, meter["fraction"])
        for name, meter in budget.items()
        if isinstance(meter, dict) and meter.get("fraction") is not None
    ]
    return max(limited, key=lambda item: item[1]) if limited else None


def budget_bar(budget: dict[str, Any]) -> str:
    """The small bar in a pane's border: the tightest meter only."""
    found = tightest(budget)
    if found is None:
        return ""
    name, fraction = found
    label = dict(METERS).get(name, name)
    return f"{label} {bar(fraction)} [{meter_colour(fraction)}]{fraction:.0%}[/]"


def meters_content(session: SessionView) -> Content:
    """A session's two lines of meters: the same as markup would give, without parsing any (16
    sessions' meters change every second while they run, and parsing was most of the update)."""
    budget = session.budget
    cells: list[list[str | tuple[str, str]]] = []
    for meter, label in METERS:
        values = budget.get(meter)
        if not values:
            continue
        fraction = values.get("fraction")
        colour = meter_colour(fraction)
        cells.append([f"{label} ", (bar_cells(fraction, 3), colour), " ", (amount(meter, values.get("used") or 0.0), colour)])
    parts: list[str | tuple[str, str]] = [(session.name, "b"), "\n  "]
    for line, row in enumerate((cells[:3], cells[3:])):
        if line:
            parts.append("\n  ")
        for index, cell in enumerate(row):
            if index:
                parts.append("  ")
            parts.extend(cell)
    return Content.assemble(*parts)


class BudgetMeters(Static):
    """Every session's meters, two lines each; the disk the fleet's worktrees take in the border."""

    DEFAULT_CSS = """
    BudgetMeters {
        height: 1fr;
        border: round $pane-border;
        border-title-color: $pane-title;
        border-title-align: left;
        background: $surface;
        padding: 0 1;
        overflow-y: auto;
    }
    """

    def show_disk(self, size: int, worktrees: int) -> None:
        from fleet_tui.worktreetable import format_size

        text = f"worktrees {format_size(size)}" if worktrees else ""
        if text != self.border_subtitle:  # a border change repaints the panel: only when it changed
            self.border_subtitle = text

    def update_sessions(self, sessions: list[SessionView]) -> None:
        content = Content("\n").join(meters_content(session) for session in sessions) if sessions \
            else Content("no sessions")
        shown = self.visual
        if isinstance(shown, Content) and content == shown:
            return
        # A layout pass repaints the whole screen (every pane): only pay for it when the height changes.
        lines = content.plain.count("\n")
        self.update(content, layout=not isinstance(shown, Content) or lines != shown.plain.count("\n"))
