"""Scroll mode, search and copy: the real app against a real fleet server, with a real bash in a pty."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from textual.events import Key, MouseMove, MouseScrollDown, MouseScrollUp

from fleet_tui.client import FleetClient
from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.widgets.mode_indicator import ModeIndicator
from fleet_tui.ui.widgets.terminal_pane import TerminalPane

from .conftest import until_ready
from .test_real_server import repo, start_shell, until  # noqa: F401  (repo is a fixture)

pytestmark = [pytest.mark.real, pytest.mark.timeout(90)]

SIZE = (100, 30)


def view(pane: TerminalPane) -> list[str]:
    """What the pane shows, row by row, as text."""
    return [pane.render_line(y).text.rstrip() for y in range(pane.size.height)]


def highlighted(pane: TerminalPane, row: int, component: str) -> str:
    """The characters of a row drawn with the background of one of the pane's highlight styles."""
    background = pane.get_component_rich_style(f"terminal-pane--{component}").bgcolor
    return "".join(segment.text for segment in pane.render_line(row) if segment.style.bgcolor == background)


async def text_at(pilot, pane: TerminalPane, number: int) -> str:
    """Line `number` of the pane's history and screen, once the pane has fetched it."""
    await until(pilot, lambda: pane.line_at(number) is not None)
    return "".join(run[0] for run in pane.line_at(number))


def title(pane: TerminalPane) -> str:
    return str(pane.border_title)


async def shell_app(repo) -> FleetApp:
    """The app on a fleet running one bash session."""
    await start_shell(repo)
    return FleetApp(lambda: FleetClient.connect(repo))


async def run_in_shell(pilot, app: FleetApp, command: str) -> None:
    """Steer the pane, type a command and Enter, give the keyboard back."""
    await pilot.press("enter", *command, "enter", app.leader)


async def shell_with_numbers(pilot, app: FleetApp, count: int = 3000) -> TerminalPane:
    """A shell that printed 1..count, the pane focused in NAV mode."""
    await until_ready(pilot, 1)
    pane = app.query_one(TerminalPane)
    await until(pilot, lambda: app.sessions[pane.session].cols == pane.size.width)
    await run_in_shell(pilot, app, f"seq 1 {count}")
    await until(pilot, lambda: pane.mirror.history.pushed >= count - pane.size.height
                and any(line.strip() == str(count) for line in pane.mirror.text()))
    return pane


def capture_output(app: FleetApp) -> list[str]:
    """Everything the app writes to its terminal from now on."""
    written: list[str] = []
    driver = app._driver
    assert driver is not None
    original = driver.write

    def write(data: str) -> None:
        written.append(data)
        original(data)

    driver.write = write  # type: ignore[method-assign]
    return written


def osc52(written: list[str]) -> list[str]:
    """The texts copied to the clipboard through OSC 52 in what was written."""
    return [base64.b64decode(m).decode() for m in re.findall(r"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07", "".join(written))]


async def test_scroll_mode_holds_the_view_while_output_arrives_and_q_returns_live(repo):
    app = await shell_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        pane = await shell_with_numbers(pilot, app, 2000)
        assert "SCROLL" not in str(app.query_one(ModeIndicator).render())

        # The agent keeps printing, slowly, while the user reads back; until the test says stop (a fixed
        # number of ticks could all be out before a busy machine got to the waits that need more).
        stop = Path(app.sessions[pane.session].worktree) / "stop"
        await run_in_shell(pilot, app, "for i in $(seq 1 3000); do [ -e stop ] && break; echo tick$i; sleep 0.08; "
                                       "done; echo ticks-$((40+2))-over")
        await until(pilot, lambda: "tick1" in "\n".join(pane.mirror.text()))
        await pilot.press("left_square_bracket")
        assert pane.scrolled  # at the live screen, which then moves on while the view stays
        assert str(app.query_one(ModeIndicator).render()).strip() == "SCROLL"
        # The lines in view scroll off the live screen into the history; the view keeps them
        # (all but the bottom one, the cursor's, which the agent was still writing).
        await until(pilot, lambda: all(view(pane)[:-1]))  # lines that left the screen meanwhile, fetched
        frozen = view(pane)[:-1]
        await until(pilot, lambda: pane.scroll.offset >= 10)
        await until(pilot, lambda: view(pane)[:-1] == frozen)
        assert re.search(rf"-{pane.scroll.offset}/\d+", title(pane))

        await pilot.press("pageup", "pageup")
        await until(pilot, lambda: all(view(pane)))  # the history lines have arrived
        further = view(pane)
        assert all(line.isdigit() for line in further)  # numbers from the history, no ticks
        offset = pane.scroll.offset
        await until(pilot, lambda: pane.scroll.offset > offset)  # the live screen goes on underneath
        assert view(pane) == further  # while the view stays where the user was
        stop.touch()
        await until(pilot, lambda: "ticks-42-over" in "\n".join(pane.mirror.text()))
        assert view(pane) == further
        assert f"-{pane.scroll.offset}/{pane.mirror.history.length}" in title(pane)

        await pilot.press("q")
        assert not pane.scrolled and "⇡" not in title(pane)
        assert any("ticks-42-over" in line for line in view(pane))
        # None of the scroll keys reached the agent: its prompt line, once the loop has ended
        # and the shell printed it, is clean.
        await until(pilot, lambda: pane.mirror.text()[pane.mirror.cursor_y].rstrip().endswith(("$", "#")))


async def test_search_forward_and_back_highlights_and_wraps(repo):
    app = await shell_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        pane = await shell_with_numbers(pilot, app, 3000)
        await pilot.press("left_square_bracket")
        # Typed ahead, all at once (a paste, a slow SSH link): the prompt still gets every letter.
        for key, character in (("slash", "/"), ("2", "2"), ("9", "9"), ("9", "9"), ("enter", "\r")):
            app.post_message(Key(key, character))
        # From the live screen at the bottom, the search wraps round to the top: "299" itself.
        await until(pilot, lambda: pane.scroll.match is not None)
        match = pane.scroll.match
        assert await text_at(pilot, pane, match.line) == "299"
        assert pane.scroll.cursor == (match.line, 0)
        assert "search hit BOTTOM, continuing at TOP" in view(pane)[-1]
        row = match.line - pane.scroll.top
        assert highlighted(pane, row, "current-match") == "299"

        await pilot.press("n")
        await until(pilot, lambda: pane.scroll.match.line > match.line)
        assert await text_at(pilot, pane, pane.scroll.match.line) == "1299"
        await pilot.press("N")
        await until(pilot, lambda: pane.scroll.match.line == match.line)

        # Backward with ?, from the top: wraps to the last match, "2999".
        await pilot.press("question_mark", *"299", "enter")
        await until(pilot, lambda: pane.scroll.match.line != match.line)
        assert await text_at(pilot, pane, pane.scroll.match.line) == "2999"
        assert "search hit TOP, continuing at BOTTOM" in view(pane)[-1]
        # Other matches in view are highlighted too, in the plain match style.
        await until(pilot, lambda: all(view(pane)[:-1]))  # every line in view has arrived
        shown = {highlighted(pane, row, "match") for row in range(pane.size.height - 1)}
        assert {"299"} <= shown and "2999" not in view(pane)[0]

        await pilot.press("slash", *"no such text", "enter")
        await until(pilot, lambda: "not found: no such text" in view(pane)[-1])
        await pilot.press("escape")
        assert not pane.scrolled


async def test_keyboard_selection_is_copied_through_osc_52(repo):
    app = await shell_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        pane = await shell_with_numbers(pilot, app, 3000)
        written = capture_output(app)
        await pilot.press("left_square_bracket", "slash", *"1234", "enter")
        await until(pilot, lambda: pane.scroll.match is not None)
        # v selects from the cursor; down twice and to the line's end; y copies and leaves.
        await pilot.press("v", "j", "j", "dollar_sign", "y")
        await until(pilot, lambda: osc52(written))
        assert osc52(written) == ["1234\n1235\n1236"]
        assert not pane.scrolled
        assert app.clipboard == "1234\n1235\n1236"


async def test_mouse_wheel_scrolls_back_and_a_drag_copies(repo):
    app = await shell_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        pane = await shell_with_numbers(pilot, app, 2000)
        written = capture_output(app)
        await pilot._post_mouse_events([MouseScrollUp], pane, (5, 5))
        assert pane.scrolled and pane.scroll.offset == 3
        await pilot._post_mouse_events([MouseScrollUp], pane, (5, 5))
        assert pane.scroll.offset == 6 and "-6/" in title(pane)
        await until(pilot, lambda: all(view(pane)[:3]))
        first = view(pane)[0]
        assert int(first) == int(view(pane)[1]) - 1

        # Drag from the start of row 0 to the end of row 1 (pane rows start inside the border).
        await pilot._post_mouse_events([MouseMove], pane, (1, 1))
        await pilot.mouse_down(pane, (1, 1))
        await pilot._post_mouse_events([MouseMove], pane, (10, 2), button=1)
        await pilot.mouse_up(pane, (10, 2))
        await until(pilot, lambda: osc52(written))
        assert osc52(written) == [f"{first}\n{int(first) + 1}"]
        assert pane.scrolled and pane.scroll.selection is None  # the wheel's scroll mode goes on

        # Wheeling back down to the bottom returns to the live screen.
        await pilot._post_mouse_events([MouseScrollDown], pane, (5, 5))
        await pilot._post_mouse_events([MouseScrollDown], pane, (5, 5))
        assert not pane.scrolled


async def test_an_agent_with_mouse_reporting_still_gets_the_wheel_while_steered(repo):
    app = await shell_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        pane = await shell_with_numbers(pilot, app, 100)
        # The agent turns on SGR mouse reporting and shows what it reads, as hex.
        await run_in_shell(pilot, app, "printf '\\e[?1000h\\e[?1006h'; od -An -c")
        await until(pilot, lambda: pane.mirror.modes.get("mouse"))
        await pilot.press("enter")  # steer
        await pilot._post_mouse_events([MouseScrollUp], pane, (5, 5))
        assert not pane.scrolled
        await pilot.press("ctrl+d", "ctrl+d")  # od reads what the pty line holds, then ends
        # Wheel up is button 64 in SGR encoding, at the pane's cell (4, 4), 1-based.
        await until(pilot, lambda: "[   <   6   4   ;   5   ;   5   M" in "\n".join(pane.mirror.text()))
        await pilot.press(app.leader)
        # Not steered, the wheel is the pane's again.
        await pilot._post_mouse_events([MouseScrollUp], pane, (5, 5))
        assert pane.scrolled
