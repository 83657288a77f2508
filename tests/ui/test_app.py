"""Pilot tests of the command center against a recorded fleet."""

from __future__ import annotations

import time

import pytest
from textual import events

from fleet_tui.protocol import screen_update
from fleet_tui.ui.app import ECHO_WINDOW, OTHER_PANES_BATCH, FleetApp
from fleet_tui.ui.screens.confirm import ConfirmScreen
from fleet_tui.ui.theme import save_setting
from fleet_tui.ui.widgets.event_feed import EventFeed
from fleet_tui.ui.widgets.mode_indicator import ModeIndicator
from fleet_tui.ui.widgets.pane_grid import PaneGrid
from fleet_tui.ui.widgets.terminal_pane import TerminalPane

from .conftest import RecordedFleet, until_ready

pytestmark = pytest.mark.timeout(30)

SIZE = (160, 50)


def focused_session(app: FleetApp) -> str | None:
    return app.focused_pane.session if app.focused_pane else None


async def test_attach_draws_every_session_from_its_recorded_screen(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        panes = app.query(TerminalPane)
        assert [pane.session for pane in panes] == ["claude-1", "codex-1", "aider-1", "shell-1"]
        claude = app.mirrors["claude-1"].text()
        assert "❯ tick the first todo in notes.txt" in claude
        assert app.query_one(PaneGrid).columns == 2
        assert len(app.query_one(EventFeed).events) == len(fleet.events)


async def test_arrows_hjkl_and_numbers_move_between_panes(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        assert focused_session(app) == "claude-1"
        await pilot.press("right")
        assert focused_session(app) == "codex-1"
        await pilot.press("j")
        assert focused_session(app) == "shell-1"
        await pilot.press("h")
        assert focused_session(app) == "aider-1"
        await pilot.press("up")
        assert focused_session(app) == "claude-1"
        await pilot.press("4")
        assert focused_session(app) == "shell-1"
        await pilot.press("1")
        assert focused_session(app) == "claude-1"


async def test_focus_is_reported_to_the_server(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("2")
        await fleet.wait_for("focus", session="codex-1")


async def test_zoom_fills_the_screen_and_comes_back(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        pane = app.query_one("#pane-codex-1", TerminalPane)
        await pilot.press("2")
        small = pane.size
        await pilot.press("z")
        assert app.screen.maximized is pane
        assert pane.size.width > small.width and pane.size.height > small.height
        await pilot.press("z")
        assert app.screen.maximized is None
        assert pane.size == small


async def test_leader_key_switches_between_navigating_and_steering(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        indicator = app.query_one(ModeIndicator)
        assert app.mode == "nav" and indicator.mode == "nav"
        await pilot.press("enter")
        assert app.mode == "steer" and indicator.mode == "steer"
        assert app.focused_pane.steering
        await pilot.press(app.leader)
        assert app.mode == "nav"
        assert not app.focused_pane.steering
        await pilot.press("i")
        assert app.mode == "steer"


async def test_steering_sends_every_key_encoded_for_the_pane(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("2", "enter")  # codex-1: focus reporting is on
        await pilot.press("h", "i", "enter", "up", "tab", "ctrl+c", "ctrl+q", "ctrl+p", "q", "x")
        await pilot.press(app.leader)
        await fleet.wait_for("input", session="codex-1", data="\x1b[O")
        # Focus in, the keys (none taken by the app, not even ctrl+q/ctrl+p/q/x), focus out.
        assert fleet.typed("codex-1") == "\x1b[Ihi\r\x1b[A\t\x03\x11\x10qx\x1b[O"
        assert fleet.typed("claude-1") == ""
        assert app.is_running and app.mode == "nav"


async def test_keys_typed_just_before_the_leader_still_reach_the_agent(fleet):
    """Enter then the leader, arriving together (a quick user, a loaded machine): the leader is a
    priority binding the app runs at once, while keys wait in the pane's queue; the Enter must still
    go to the agent, not come back as NAV's "steer"."""
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("3", "enter")  # steer aider-1
        assert app.mode == "steer" and app.focused_pane.session == "aider-1"
        for key in ("y", "enter", app.leader):  # one burst, as a terminal's read hands them over
            app._driver.send_message(events.Key(key, "y" if key == "y" else None))
        deadline = time.monotonic() + 10
        while (fleet.typed("aider-1"), app.mode) != ("y\r", "nav") and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert fleet.typed("aider-1") == "y\r", "the enter typed before the leader reached the agent"
        assert app.mode == "nav" and not app.focused_pane.steering, "the leader came last and left STEER"


async def test_other_panes_wait_while_the_echo_of_a_keystroke_is_drawn(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("2", "enter")  # steer codex-1
        steered, other = app.pane("codex-1"), app.pane("claude-1")
        mirror = app.mirrors["claude-1"]

        def background_update(text: str) -> dict:
            return screen_update("claude-1", full=False, cols=mirror.cols, rows=mirror.rows,
                                 lines=[(0, [(text, None, None, 0)])], cursor=(0, 5, True), title="", modes={})

        app.forward_input(TerminalPane.Input(steered, b"x"))
        app.handle_message(background_update("while typing"))
        assert list(app._held) == ["claude-1"] and 0 in app._held["claude-1"]  # not redrawn yet
        assert app._held_timer is not None and app._held_timer._interval >= ECHO_WINDOW * 0.9
        await pilot.pause(ECHO_WINDOW * 3)
        assert app._held == {} and other.render_line(0).text.startswith("while typing")
        # Nobody typing: gathered with the other panes' updates, drawn OTHER_PANES_BATCH later.
        app.handle_message(background_update("idle again"))
        assert list(app._held) == ["claude-1"]
        assert app._held_timer is not None and app._held_timer._interval <= OTHER_PANES_BATCH
        for _ in range(200):
            if not app._held:
                break
            await pilot.pause(OTHER_PANES_BATCH)
        assert app._held == {} and other.render_line(0).text.startswith("idle again")
        # The focused pane is drawn at once.
        app.handle_message(screen_update("codex-1", full=False, cols=mirror.cols, rows=mirror.rows,
                                         lines=[(0, [("echo", None, None, 0)])], cursor=(0, 5, True), title="",
                                         modes={}))
        assert app._held == {}


async def test_steering_uses_application_cursor_keys_when_the_child_asks(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        fleet.push({"t": "screen", "s": "shell-1", "full": False, "cols": 100, "rows": 30,
                    "lines": [], "modes": {"app_cursor": True}})
        await pilot.press("4", "enter", "up", "left", app.leader)
        await fleet.wait_for("input", data="\x1bOD")
        assert fleet.typed("shell-1") == "\x1bOA\x1bOD"


async def test_paste_is_bracketed_only_when_the_child_enabled_it(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("1", "enter")  # claude-1 enabled bracketed paste
        app.focused.post_message(events.Paste("a\nb"))
        await fleet.wait_for("input", session="claude-1")
        await pilot.press(app.leader, "4", "enter")  # shell-1 did not
        app.focused.post_message(events.Paste("c\nd"))
        await fleet.wait_for("input", session="shell-1")
        # Newlines travel as CR, as a real terminal sends them.
        assert "\x1b[200~a\rb\x1b[201~" in fleet.typed("claude-1")
        assert fleet.typed("shell-1") == "c\rd"


async def test_kill_asks_first_and_only_kills_the_focused_session(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("3", "x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert fleet.calls_of("kill") == []
        await pilot.press("x", "y")
        await fleet.wait_for("kill", session="aider-1")
        assert fleet.calls_of("kill") == [{"session": "aider-1"}]
        for _ in range(10):
            await pilot.pause()
        assert app.query_one("#pane-aider-1").has_class("-killed")
        assert app.query_one("#pane-claude-1").has_class("-waiting")


async def test_kill_without_confirmation_when_switched_off():
    save_setting("confirm_kill", False)  # the user's own settings.json (the server sends no such thing)
    fleet = RecordedFleet()
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("2", "x")
        await fleet.wait_for("kill", session="codex-1")
        assert not isinstance(app.screen, ConfirmScreen)


async def test_grid_retiles_on_resize_and_sends_new_pane_sizes(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        pane = app.query_one("#pane-claude-1", TerminalPane)
        first = await fleet.wait_for("resize", session="claude-1")
        assert (first["cols"], first["rows"]) == tuple(pane.size)
        await pilot.resize_terminal(60, 50)
        await pilot.pause()
        assert app.query_one(PaneGrid).columns == 1
        await fleet.wait_for("resize", session="claude-1", cols=pane.size.width)
        # Below SIDEBAR_MIN_WIDTH the sidebar folds away: one column of panes, the whole width.
        assert pane.size.width == 60 - 2 != first["cols"]


async def test_waiting_agent_marks_its_pane_when_looking_elsewhere(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        pane = app.query_one("#pane-codex-1", TerminalPane)
        assert not pane.has_class("-attention")
        fleet.set_status("codex-1", "waiting")
        for _ in range(10):
            await pilot.pause()
        assert pane.has_class("-attention")
        await pilot.press("2")  # looking at it clears the mark
        assert not pane.has_class("-attention")


async def test_feed_filter_follows_the_focused_pane(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        feed = app.query_one(EventFeed)
        await pilot.press("2", "f")
        assert feed.session_filter == "codex-1"
        await pilot.press("1")
        assert feed.session_filter == "claude-1"
        await pilot.press("f")
        assert feed.session_filter is None


async def test_new_session_from_the_agent_picker(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("n", "down", "enter")
        await fleet.wait_for("start", agents=["codex"])
        await until_ready(pilot, 5)
        assert len(app.query(TerminalPane)) == 5


async def test_detach_quits_without_killing_anything(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("q")
    assert app.return_code == 0
    assert fleet.closed
    assert fleet.calls_of("kill") == []
