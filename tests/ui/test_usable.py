"""Issue 10's defects, each pinned with the real app on a recorded fleet: the prompt bar opened
again, panes vanishing under other screens, 80x24, the grid, help, palette, merge gate,
waiting and killed panes, the event feed and the compare screen."""

from __future__ import annotations

import pytest
from textual import events
from textual.geometry import Region

from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.screens.compare import CompareScreen
from fleet_tui.ui.screens.help import HelpScreen
from fleet_tui.ui.screens.merge import MergeScreen
from fleet_tui.ui.widgets.event_feed import EventFeed
from fleet_tui.ui.widgets.key_hints import KeyHints
from fleet_tui.ui.widgets.pane_grid import PaneGrid
from fleet_tui.ui.widgets.prompt_bar import AgentCounter, PromptBar
from fleet_tui.ui.widgets.terminal_pane import TerminalPane

from .conftest import RecordedFleet, until_ready

pytestmark = pytest.mark.timeout(60)

SMALL = (80, 24)
BIG = (160, 50)


def remove_sessions(fleet: RecordedFleet, *names: str) -> None:
    """What the server does after a merge, a discard or a kill from another client."""
    for name in names:
        del fleet.sessions[name]
    fleet.push_sessions()


async def until(pilot, condition, what: str = "") -> None:
    for _ in range(400):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never: {what}")


def footer_text(app: FleetApp) -> str:
    hints = app.screen.query(KeyHints).last()
    return str(hints.render())


def screen_text(app: FleetApp) -> str:
    """What the terminal shows, as plain text (from the SVG Textual would export)."""
    import html
    import re

    svg = app.export_screenshot()
    return html.unescape(" ".join(re.findall(r">([^<>]*)</text>", svg))).replace("\xa0", " ")


async def compared(pilot) -> CompareScreen:
    await pilot.press("c")
    await until(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.result, "compared")
    return pilot.app.screen


# ---------------------------------------------------------------- 1. the prompt bar, again and again
async def test_prompt_bar_opens_again_and_keeps_its_counts(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        await pilot.press("slash")
        counters = list(app.query(AgentCounter))
        counters[0].count = 3
        for _ in range(3):
            await pilot.press("escape", "slash")
            await pilot.pause()
        assert app.query_one(PromptBar).is_open
        assert [c.count for c in app.query(AgentCounter)] == [3] + [1] * (len(counters) - 1)
        assert len(app.query(AgentCounter)) == len(fleet.agent_list)


async def test_escape_closes_the_prompt_bar_before_its_text_area_has_focus(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        pane = app.query(TerminalPane).first()
        app.action_open_prompt()
        pane.focus()  # as when escape is read before the bar's deferred focus has moved
        await pilot.press("escape")
        await pilot.pause()
        assert not app.query_one(PromptBar).is_open
        await pilot.press("n")  # the grid's key again, not a letter in the bar
        await pilot.pause()
        assert app.query_one(PromptBar).query_one("TextArea").text == ""


# ---------------------------------------------------------------- 2. focus always lands somewhere live
@pytest.mark.parametrize("on_top", ["compare", "merge gate", "help", "zoomed"])
async def test_focused_pane_removed_under_another_screen_leaves_keys_alive(fleet, on_top):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        await pilot.press("2")
        if on_top == "zoomed":
            await pilot.press("z")
        elif on_top == "help":
            await pilot.press("question_mark")
        else:
            await compared(pilot)
            if on_top == "merge gate":
                await pilot.press("m")
                await until(pilot, lambda: isinstance(app.screen, MergeScreen), "the gate")
        remove_sessions(fleet, "codex-1")
        await until(pilot, lambda: len(app.query(TerminalPane)) == 3, "the pane gone")
        while len(app.screen_stack) > 1:
            app.pop_screen()
            await pilot.pause()
        assert app.screen.maximized is None
        assert app.focused_pane is not None and app.focused_pane.session == "aider-1", "the next pane took over"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen), "keys still work"


@pytest.mark.parametrize("size", [BIG, SMALL])
async def test_every_pane_gone_says_what_next_and_keys_still_work(fleet, size):
    app = FleetApp(fleet)
    async with app.run_test(size=size) as pilot:
        await until_ready(pilot)
        await compared(pilot)
        remove_sessions(fleet, *list(fleet.sessions))
        await until(pilot, lambda: not app.query(TerminalPane), "every pane gone")
        app.pop_screen()
        await pilot.pause()
        # The feed when it is shown; at 80x24 it is folded away and the screen takes the keys.
        assert isinstance(app.focused, EventFeed) if size == BIG else app.focused is None
        assert "No sessions" in screen_text(app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


# ---------------------------------------------------------------- 3. 80x24
async def test_80x24_folds_the_sidebar_and_b_brings_it_back(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SMALL) as pilot:
        await until_ready(pilot)
        sidebar = app.query_one("#sidebar")
        assert not sidebar.display
        assert app.query_one(PaneGrid).size.width == 80
        await pilot.press("b")
        await pilot.pause()
        assert sidebar.display and sidebar.region.right <= 80
        await pilot.press("b")
        await pilot.pause()
        assert not sidebar.display
        await pilot.resize_terminal(*BIG)
        await pilot.pause()
        assert not sidebar.display, "the user's choice holds at any size"
        await pilot.press("b")
        await pilot.pause()
        assert sidebar.display


@pytest.mark.parametrize("size", [SMALL, (120, 40), BIG])
async def test_footer_fits_by_priority_and_always_offers_help(fleet, size):
    app = FleetApp(fleet)
    async with app.run_test(size=size) as pilot:
        await until_ready(pilot)
        hints = app.query_one(KeyHints)
        text = str(hints.render())
        assert len(text) <= hints.size.width, "nothing is cut mid-hint"
        for essential in ("? keys", "steer", "/ prompt", "c compare", "q detach"):
            assert essential in text
        if size == BIG:
            assert "x kill" in text and ": commands" in text


async def test_merge_gate_fits_at_80x24_with_merge_focused(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SMALL) as pilot:
        await until_ready(pilot)
        await compared(pilot)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MergeScreen) and app.screen.summary, "the summary")
        await pilot.pause()
        gate = app.screen
        screen = Region(0, 0, *SMALL)
        for control in ("#confirm", "#cancel", "#strategy", "#keep"):
            region = gate.query_one(control).region
            assert region.area and screen.contains_region(region), f"{control} is cut off: {region}"
        assert gate.focused is gate.query_one("#confirm"), "enter presses what the eye goes to"
        focusable = [widget.id for widget in gate.focus_chain]
        assert "summary" not in focusable, "no invisible tab stop"
        assert "merge" in footer_text(app) and "cancel" in footer_text(app), "the footer shows the gate's keys"
        await pilot.press("s")
        assert gate.query_one("#strategy").pressed_button.id == "squash"
        # The chosen strategy shows in the glyph's shape, not only its colour.
        glyphs = {button.id: str(button.render())[1] for button in gate.query("#strategy RadioButton")}
        assert glyphs == {"merge": "○", "squash": "●", "rebase": "○"}, glyphs
        assert str(gate.query_one("#keep").render())[1] == " ", "the box is empty until kept"
        await pilot.press("y")
        await fleet.wait_for("merge", session="r1-careful", strategy="squash")


async def test_zoom_fills_the_screen_and_resizes_the_agent_on_a_scrolling_grid():
    fleet = RecordedFleet()
    for n in range(5):  # nine panes at 80x24: the grid scrolls
        fleet.cmd_start(["claude"])
    app = FleetApp(fleet)
    async with app.run_test(size=SMALL) as pilot:
        await until_ready(pilot)
        assert app.query_one(PaneGrid).has_class("-scrolling")
        await pilot.press("3", "z")
        await pilot.pause()
        pane = app.focused_pane
        assert pane.outer_size == (80, 23), "all but the footer"
        await fleet.wait_for("resize", session=pane.session, cols=78, rows=21)


# ---------------------------------------------------------------- 5. the grid re-tiles
async def test_three_panes_fill_the_area_and_the_grid_retiles_when_panes_go(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        grid = app.query_one(PaneGrid)
        remove_sessions(fleet, "shell-1")
        await until(pilot, lambda: len(grid.panes) == 3, "three panes")
        await pilot.pause(0.1)
        area = sum(pane.outer_size.area for pane in grid.panes)
        assert area == grid.size.area, "three panes use the whole grid"
        remove_sessions(fleet, "codex-1", "aider-1")
        await until(pilot, lambda: len(grid.panes) == 1, "one pane")
        await pilot.pause(0.1)
        assert grid.panes[0].outer_size == grid.size, "the last pane takes the whole grid"


# ---------------------------------------------------------------- 6. help and palette
async def test_help_names_the_leader_explains_keys_in_words_and_resizes_nobody(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        await pilot.pause(0.3)
        resizes = len(fleet.calls_of("resize"))
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        text = screen_text(app)
        assert "ctrl+\\" in text and "leader" in text
        assert "pane on the left, below, above or on the right" in text
        assert "focus pane number 1 to 9" in text
        assert "Scroll Up" not in text
        assert len(fleet.calls_of("resize")) == resizes, "no agent's terminal was resized"
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_offers_pane_actions_and_says_what_detach_means(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        for title in ("Kill claude-1", "Pause claude-1", "Restart claude-1", "Zoom claude-1"):
            assert title in commands
        assert "Quit" not in commands
        assert "keeps running" in commands["Detach"].help
        assert "Stop every agent" in commands["Stop the fleet and quit"].help
        fleet.set_status("claude-1", "paused")
        await until(pilot, lambda: app.focused_pane.info.status == "paused", "paused")
        commands = {command.title for command in app.get_system_commands(app.screen)}
        assert "Resume claude-1" in commands and "Pause claude-1" not in commands
        zoom = next(c for c in app.get_system_commands(app.screen) if c.title == "Zoom claude-1")
        zoom.callback()
        await pilot.pause()
        assert app.screen.maximized is app.focused_pane


# ---------------------------------------------------------------- 8. attention
async def test_waiting_mark_stays_while_focused_and_differs_from_focus(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        fleet.set_status("codex-1", "waiting")
        pane = app.pane("codex-1")
        await until(pilot, lambda: pane.has_class("-waiting"), "waiting")
        await pilot.press("2")
        await pilot.pause()
        assert pane.has_focus and pane.has_class("-waiting")
        assert "waiting" in str(pane.border_title) and "on $status-waiting" in str(pane.border_title)
        waiting_border = pane.styles.border_top
        other = next(p for p in app.query_one(PaneGrid).panes if not p.has_class("-waiting"))
        other.focus()
        await pilot.pause()
        focused = other.styles.border_top
        assert waiting_border[0] == "double" and focused[0] == "round"
        assert pane.styles.border_top[1] != focused[1], "waiting and focus have different colours"


async def test_killed_pane_draws_no_cursor(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        name = next(name for name, mirror in app.mirrors.items() if mirror.cursor_visible)
        pane, mirror = app.pane(name), app.mirrors[name]
        pane.focus()
        await pilot.pause()

        def cursor_drawn() -> bool:
            pane._strips.clear()
            strip = pane.render_line(mirror.cursor_y)
            return any(segment.style and segment.style.reverse for segment in strip)

        assert cursor_drawn()
        fleet.set_status(name, "killed")
        await until(pilot, lambda: pane.has_class("-killed"), "killed")
        assert not cursor_drawn()


# ---------------------------------------------------------------- 9. the event feed
async def test_event_feed_speaks_sentences_cut_with_an_ellipsis(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(pilot)
        feed = app.query_one(EventFeed)
        fleet.set_status("codex-1", "waiting")
        await pilot.pause(0.1)
        lines = ["".join(segment.text for segment in feed.render_line(y)) for y in range(feed.size.height)]
        assert any("codex-1 is waiting for you" in line for line in lines), lines
        assert not any("matches" in line or "title_" in line for line in lines)
        assert all(len(line) <= feed.scrollable_content_region.width for line in lines)
        assert any(line.rstrip().endswith("…") for line in lines), "long sentences say they were cut"
        assert not feed.show_horizontal_scrollbar


# ---------------------------------------------------------------- 10. compare
async def test_compare_fills_the_screen_with_the_selected_attempt(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SMALL) as pilot:
        await until_ready(pilot)
        screen = await compared(pilot)
        await pilot.pause()
        detail = screen.query_one("#attempt-detail")
        text = str(screen.query_one("#detail-text").render())
        assert "r1-careful" in text and "wall" in text and "active" in text
        assert "calc.py" in text and "+3/-1" in text
        assert "OK" in text, "the check's last output lines"
        assert detail.region.height >= 5 and detail.region.bottom >= SMALL[1] - 6, "no black half"
        await pilot.press("down")
        await pilot.pause()
        assert "r1-thorough" in str(screen.query_one("#detail-text").render())


@pytest.mark.parametrize("event, words", [
    ({"kind": "status", "session": "r1-a", "message": 'idle: title "✳ x" matches title_idle',
      "data": {"status": "idle"}}, "r1-a is idle"),
    ({"kind": "status", "session": "r1-a", "message": "waiting: dialog", "data": {"status": "waiting"}},
     "r1-a is waiting for you"),
    ({"kind": "discarded", "session": "r1-b", "message": "worktree removed with its branch"},
     "r1-b was discarded: worktree removed with its branch"),
    ({"kind": "exited", "session": "s", "message": "exited with code 0", "data": {"code": 0}}, "s finished"),
    ({"kind": "exited", "session": "s", "message": "exited with code 2", "data": {"code": 2}},
     "s exited with code 2"),
    ({"kind": "check", "session": "s", "message": "check tests FAILED in 0.3s",
      "data": {"check": "tests", "passed": False}}, "s tests failed in 0.3s"),
    ({"kind": "merged", "session": "s", "message": "merged into main (merge): 1 file"},
     "s was merged into main (merge): 1 file"),
    ({"kind": "budget_warning", "session": "s", "message": "cost at 80%",
      "data": {"meter": "cost", "used": 0.4, "limit": 0.5}}, "s used 80% of its cost budget ($0.40 of $0.50)"),
    ({"kind": "error", "session": "s", "message": "the agent never\nbecame ready"}, "s: the agent never became ready"),
    ({"kind": "server", "session": None, "message": "server started (pid 4)"}, "Server started (pid 4)"),
    ({"kind": "notice", "session": "s", "message": "says: Codex: turn done (and 2 more)",
      "data": {"text": "Codex: turn done", "count": 3}}, "s says: Codex: turn done (and 2 more)"),
])
def test_events_read_as_sentences(event, words):
    from fleet_tui.ui.event_words import sentence
    from fleet_tui.wire import EventView

    assert sentence(EventView.model_validate(event)) == words


def test_help_covers_every_grid_key():
    from fleet_tui.ui import keymap
    from fleet_tui.ui.screens.help import GRID_KEYS

    described = {action for _keys, _words, action in GRID_KEYS}
    assert keymap.NAV_ACTIONS <= described, keymap.NAV_ACTIONS - described


async def test_ctrl_s_right_after_typing_sends_everything_typed(fleet):
    """ctrl+s is seen first (a priority binding); what was typed just before must still go."""
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        await pilot.press("slash")
        await pilot.pause()
        bar = app.query_one(PromptBar)
        text_area = bar.query_one("TextArea")
        await until(pilot, lambda: text_area.has_focus, "the prompt has the keyboard")
        for char in "go":  # queued on the text area, not yet handled, like a burst from a terminal
            text_area.post_message(events.Key(char, char))
        bar.action_send()
        sent = await fleet.wait_for("fanout")
        assert sent["prompt"] == "go"


async def test_a_pane_number_and_an_action_typed_together_act_on_that_pane(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        panes = app.query_one(PaneGrid).panes
        await pilot.press("1")
        await pilot.pause()
        app.post_message(events.Key("2", "2"))
        app.post_message(events.Key("z", "z"))  # in one read, as a fast typist's "2z"
        await pilot.pause()
        assert app.focused_pane is panes[1] and app.screen_stack[0].maximized is panes[1]


async def test_keys_typed_right_after_the_steering_enter_reach_the_agent(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=BIG) as pilot:
        await until_ready(pilot)
        panes = app.query_one(PaneGrid).panes
        await pilot.press("2")
        await pilot.pause()
        for key in ("enter", "x", "q"):  # in one read: "x" and "q" are NAV's kill and detach
            app.post_message(events.Key(key, None if key == "enter" else key))
        await pilot.pause()
        await pilot.pause()
        assert app.mode == "steer" and panes[1].steering and len(app.screen_stack) == 1 and app.is_running
        typed = [args["data"] for cmd, args in fleet.calls if cmd == "input" and args["session"] == panes[1].session]
        assert "".join(typed).replace("\x1b[I", "") == "xq"  # all of them, in order, once (focus reports aside)
