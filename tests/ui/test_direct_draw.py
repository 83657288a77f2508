"""Rows written past the compositor (ui/direct_draw.py) leave the terminal as Textual's own frame would.

Both outputs go through our emulator: the screen after a full Textual frame of the old state plus
the directly drawn rows must equal, cell for cell and style for style, the screen after a full
Textual frame of the new state.
"""

from __future__ import annotations

import pytest
from textual.screen import ModalScreen
from textual.widgets import Static

from fleet_tui.core.terminal import Terminal
from fleet_tui.protocol import screen_update
from fleet_tui.ui import theme
from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.direct_draw import DirectDraw
from fleet_tui.ui.widgets.terminal_pane import TerminalPane

from .conftest import RecordedFleet, until_ready

# Colours by index, by name and as RGB, attributes, wide characters, a row too wide for its pane.
ROWS = [
    (0, [("plain ", None, None, 0), ("red", 1, None, 0), (" on blue ", 7, 4, 1)]),
    (1, [("truecolor", "#ff8800", "#102030", 0), (" bold-ital-under", 2, None, 1 | 2 | 4)]),
    (2, [("漢字 wide", 3, None, 0), (" dim inverse ", None, None, 8 | 32)]),
    (3, []),
    (4, [("x" * 300, 5, None, 0)]),
    (5, [("bright", 12, 0, 0), ("  strike", 9, None, 16)]),
]


def _full_frame(app: FleetApp) -> str:
    return app.screen._compositor.render_update(full=True).render_segments(app.console)


def _cells(terminal: Terminal) -> list:
    return [terminal.line(y) for y in range(terminal.rows)]


def _change(app: FleetApp, session: str, cursor: tuple[int, int, bool]) -> set[int]:
    message = screen_update(session, full=False, cols=100, rows=30, lines=ROWS, cursor=cursor, title="", modes={})
    return app.mirrors[session].apply(message)


# The focused pane's cursor: in a run, in the padding, on half of a wide character, at the
# left edge, on a row wider than the pane.
CURSORS = [(4, 1), (60, 3), (1, 2), (0, 0), (90, 4)]


@pytest.mark.parametrize("theme_name", [t.name for t in theme.load_themes()])
@pytest.mark.parametrize("cursor", CURSORS)
async def test_direct_rows_leave_the_screen_a_full_textual_frame_leaves(theme_name: str, cursor: tuple[int, int]):
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(160, 50)) as pilot:
        await until_ready(pilot)
        app.theme = theme_name
        await pilot.pause()
        width, height = app.size
        drawn, expected = Terminal(width, height), Terminal(width, height)
        before = _full_frame(app)
        drawn.feed(before)
        direct = DirectDraw(app)
        panes = list(app.query(TerminalPane))
        focused = app.focused
        assert isinstance(focused, TerminalPane) and len(panes) > 1
        for pane in panes:  # the focused one draws its cursor
            rows = _change(app, pane.session, (*cursor, True))
            place = direct.place(pane, app.screen)
            assert place is not None and place == pane.region
            sequences = pane.drawn_rows(rows, place, app.console)
            assert sequences
            drawn.feed(sequences)
        expected.feed(_full_frame(app))
        assert _cells(drawn) == _cells(expected)
        assert _cells(drawn) != _cells(Terminal(width, height)) and before != _full_frame(app)


class _Cover(ModalScreen):
    def compose(self):
        yield Static("on top")


async def test_nothing_is_written_where_something_covers_a_pane():
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await until_ready(pilot)
        direct = DirectDraw(app)
        panes = list(app.query(TerminalPane))
        assert all(direct.place(pane, app.screen) is not None for pane in panes)
        await pilot.press("b")  # no sidebar: the grid reaches the right edge, where toasts are
        await pilot.pause()
        assert all(direct.place(pane, app.screen) is not None for pane in panes)
        # A toast is drawn above the bottom right of the grid: the panes under it are left to Textual.
        app.notify("a toast over the panes", timeout=30)
        await pilot.pause()
        await pilot.pause()
        covered = [pane for pane in panes if direct.place(pane, app.screen) is None]
        assert covered and len(covered) < len(panes)
        app.clear_notifications()
        await pilot.pause()
        await pilot.pause()
        assert all(direct.place(pane, app.screen) is not None for pane in panes)
        # A modal screen: the grid is no longer the screen shown, and no row is written.
        assert direct.top_screen() is app.screen_stack[0]
        app.push_screen(_Cover())
        await pilot.pause()
        assert direct.top_screen() is None
        app.pop_screen()
        await pilot.pause()
        # Scrolled back, a pane's rows are history, drawn by Textual.
        pane = panes[0]
        pane.enter_scroll()
        assert pane.drawn_rows({0}, direct.place(pane, app.screen), app.console) is None
