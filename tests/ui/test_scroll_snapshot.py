"""Scroll mode on the recorded fleet: an SVG snapshot of a pane scrolled back on a search match.

The recorded fleet's shell pane is replaced by a real emulator fed a test run's log, and the
history and search commands are answered from it by the server's own code
(fleet_tui.core.scrollback), so the picture is deterministic and the path is the real one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.events import MouseScrollUp

from fleet_tui.core import scrollback
from fleet_tui.core.terminal import Terminal
from fleet_tui.protocol import screen_update
from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.widgets.mode_indicator import ModeIndicator

from .conftest import RecordedFleet, until_ready

pytestmark = pytest.mark.timeout(60)

SIZE = (160, 50)
SESSION = "shell-1"


def pytest_log() -> str:
    """A long pytest run with one failure in the middle: something worth scrolling back to."""
    lines = ["$ python -m pytest -v tests/"]
    for n in range(1, 241):
        outcome = "FAILED" if n == 97 else "PASSED"
        lines.append(f"tests/test_dates.py::test_parse_{n:03d} {outcome}{' ' * 8}[{n * 100 // 240:3d}%]")
    lines += [
        "=================================== FAILURES ===================================",
        "________________________________ test_parse_097 ________________________________",
        "    assert parse('2024-02-29') == date(2024, 2, 29)",
        "E   ValueError: day is out of range for month",
        "=========================== short test summary info ============================",
        "FAILED tests/test_dates.py::test_parse_097 - ValueError: day is out of range",
        "======================== 1 failed, 239 passed in 3.21s ========================",
        "$ ",
    ]
    return "\r\n".join(lines)


class FleetWithHistory(RecordedFleet):
    """The recorded fleet, with one pane backed by a real emulator holding a long history."""

    def __init__(self) -> None:
        super().__init__()
        info = self.sessions[SESSION]
        self.term = Terminal(info["cols"], info["rows"])
        self.term.feed(pytest_log())
        self.screens = [self._screen() if screen["s"] == SESSION else screen for screen in self.screens]

    def _screen(self) -> dict[str, Any]:
        term = self.term
        return screen_update(SESSION, full=True, cols=term.cols, rows=term.rows,
                             lines=[(y, term.line(y)) for y in range(term.rows)],
                             cursor=(term.cursor_x, term.cursor_y, term.cursor_visible), title=term.title,
                             modes=term.modes(), history=scrollback.extent(term))

    def cmd_resize(self, session: str, cols: int, rows: int) -> None:
        super().cmd_resize(session, cols, rows)
        if session == SESSION:
            self.term.resize(cols, rows)
            self.push(self._screen())

    def cmd_history(self, session: str, start: int, count: int) -> dict[str, Any]:
        return scrollback.read(self.term, start, count).wire()

    def cmd_search(self, session: str, query: str, line: int, col: int = 0, backward: bool = False) -> dict[str, Any]:
        return scrollback.search(self.term, query, line, col, backward).wire()


def test_pane_scrolled_back_on_a_search_match(snap_compare):
    async def search_back(pilot):
        await until_ready(pilot)
        app = pilot.app
        pane = app.pane(SESSION)
        pane.focus()
        # The pane's size goes to the fleet (debounced) and the resized screen comes back: until then
        # the search starts from the old screen's cursor, below the summary's FAILED, and finds another.
        while (pane.mirror.cols, pane.mirror.rows) != (pane.size.width, pane.size.height):
            await pilot.pause()
        await pilot.pause()
        await pilot.press("left_square_bracket", "question_mark", *"FAILED", "enter")
        # Up from the bottom, the summary's FAILED comes first; n goes on up to the test's own line.
        while pane.scroll is None or pane.scroll.match is None:
            await pilot.pause()
        await pilot.press("n")
        while pane.scroll.match.col == 0:  # the summary line's match starts at cell 0
            await pilot.pause()
        while pane.line_at(pane.scroll.top) is None:
            await pilot.pause()
        await pilot.pause()

    assert snap_compare(FleetApp(FleetWithHistory()), terminal_size=SIZE, run_before=search_back)


@asynccontextmanager
async def another_pane_focused() -> AsyncIterator[tuple[FleetApp, Any]]:
    """The app on the recorded fleet, the first pane focused (not the one with the history)."""
    app = FleetApp(FleetWithHistory())
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        app.pane("claude-1").focus()
        await pilot.pause()
        yield app, pilot


async def test_the_wheel_over_another_pane_scrolls_and_focuses_it():
    async with another_pane_focused() as (app, pilot):
        first, shell = app.pane("claude-1"), app.pane(SESSION)
        await pilot._post_mouse_events([MouseScrollUp], shell, (5, 5))
        assert shell.scrolled and shell.has_focus and not first.scrolled
        assert str(app.query_one(ModeIndicator).render()).strip() == "SCROLL"
        await pilot.press("q")  # the scrolled pane's key, not detach
        assert not shell.scrolled and app.is_running
        assert str(app.query_one(ModeIndicator).render()).strip() == "NAV"


async def test_a_click_focuses_a_pane_without_entering_scroll_mode():
    async with another_pane_focused() as (app, pilot):
        shell = app.pane(SESSION)
        entered = []
        enter_scroll = shell.enter_scroll
        shell.enter_scroll = lambda **kw: entered.append(kw) or enter_scroll(**kw)  # type: ignore[method-assign]
        await pilot.click(shell, (3, 3))
        assert shell.has_focus and not shell.scrolled and entered == []
        assert app.clipboard == ""
