"""The pieces on their own: tiling, line caching, budget bars, themes and settings."""

from __future__ import annotations

import gc
import json

import pytest
from textual.geometry import Region

from fleet_tui.protocol import screen_update
from fleet_tui.ui import theme
from fleet_tui.ui.app import FleetApp, osc9
from fleet_tui.ui.widgets.budget_meters import budget_bar, meter_colour
from fleet_tui.ui.widgets.key_hints import KeyHints
from fleet_tui.ui.widgets.pane_grid import MIN_PANE_ROWS, PaneGrid, grid_shape
from fleet_tui.ui.widgets.terminal_pane import DrawnLine, TerminalPane

from .conftest import RecordedFleet, until_ready

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("count", "size", "shape"),
    [
        (1, (120, 40), (1, 1)),
        (2, (120, 40), (2, 1)),  # side by side: wide panes beat flat ones
        (2, (60, 50), (1, 2)),  # a narrow terminal stacks them
        (3, (120, 40), (2, 2)),
        (4, (120, 40), (2, 2)),
        (6, (180, 40), (3, 2)),
        (9, (180, 48), (3, 3)),
        (16, (200, 60), (4, 4)),
        (20, (100, 40), (4, 5)),  # at most MIN_PANE_COLS wide, the grid scrolls
    ],
)
def test_grid_shape_is_near_square_and_prefers_wide_panes(count, size, shape):
    assert grid_shape(count, *size) == shape


def test_every_count_fits_in_its_grid():
    for count in range(1, 40):
        columns, rows = grid_shape(count, 160, 48)
        assert columns * rows >= count > columns * (rows - 1)


def test_osc9_notification_strips_control_characters():
    assert osc9("claude-1 is waiting\x07\x1b]") == "\x1b]9;claude-1 is waiting]\x07"


def test_budget_bar_shows_the_tightest_meter_and_its_warning_colour():
    budget = {
        "time": {"used": 60, "limit": 600, "fraction": 0.1},
        "cost": {"used": 0.85, "limit": 1.0, "fraction": 0.85},
        "tokens": {"used": 10, "limit": None, "fraction": None},
    }
    assert budget_bar(budget) == "$ [$warning]▰▰▰▰▱[/] [$warning]85%[/]"
    assert budget_bar({}) == ""
    assert [meter_colour(f) for f in (0.5, 0.8, 1.0, None)] == [
        "$success", "$warning", "$error", "$foreground-muted"
    ]


def test_meters_read_as_their_markup_would():
    from textual.content import Content

    from fleet_tui.ui.widgets.budget_meters import meters_content
    from fleet_tui.wire import SessionView

    session = SessionView.model_construct(name="claude-1", budget={
        "time": {"used": 42, "limit": 600, "fraction": 0.07}, "cpu": {"used": 3, "fraction": None},
        "memory": {"used": 1.2e8, "fraction": 0.9}, "tokens": {"used": 1234, "fraction": 1.2}})
    assert meters_content(session) == Content.from_markup(
        "[b]claude-1[/]\n  time [$success]▱▱▱[/] [$success]42s[/]  cpu [$foreground-muted]╌╌╌[/] "
        "[$foreground-muted]3s[/]  mem [$warning]▰▰▰[/] [$warning]120M[/]\n  tok [$error]▰▰▰[/] [$error]1k[/]")


def test_shipped_themes_load_with_every_status_and_ui_colour():
    themes = {t.name: t for t in theme.load_themes()}
    assert {"fleet-dark", "fleet-light", "fleet-high-contrast"} <= set(themes)
    assert not themes["fleet-light"].dark
    ui = {variable for variable, _fallback in theme.UI_VARIABLES.values()}
    for loaded in themes.values():
        assert set(loaded.variables) == {theme.status_variable(s) for s in theme.STATUSES} | ui


def test_broken_theme_file_is_named_in_the_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\ndark: true\n")
    with pytest.raises(Exception, match=r"bad\.yaml: theme 'bad' needs a 'primary'"):
        theme.load_themes(tmp_path)


async def test_theme_choice_is_remembered_between_runs(isolated_settings):
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(pilot)
        assert app.theme == "fleet-dark"
        app.theme = "fleet-high-contrast"
        await pilot.pause()
    saved = json.loads((isolated_settings / "fleet-tui" / "settings.json").read_text())
    assert saved["theme"] == "fleet-high-contrast"
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(pilot)
        assert app.theme == "fleet-high-contrast"


async def test_unchanged_rows_reuse_their_cached_strip():
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(160, 50)) as pilot:
        await until_ready(pilot)
        pane = app.query_one("#pane-shell-1", TerminalPane)
        first = [pane.render_line(y) for y in range(3)]
        assert [pane.render_line(y) for y in range(3)] == first
        assert all(a is b for a, b in zip(first, [pane.render_line(y) for y in range(3)]))
        app.handle_message(screen_update(
            "shell-1", full=False, cols=100, rows=30, lines=[(1, [("changed", 1, None, 0)])],
            cursor=(18, 6, True), title="", modes={},
        ))
        after = [pane.render_line(y) for y in range(3)]
        assert after[0] is first[0] and after[2] is first[2]
        assert after[1] is not first[1] and after[1].text.startswith("changed")


def _cyclic_garbage_after(make) -> int:
    gc.collect()
    make()
    return gc.collect()


def test_a_drawn_line_cut_nowhere_leaves_no_cyclic_garbage():
    # The compositor divides every line it draws; a plain Strip caches [self] when nothing is cut.
    from rich.segment import Segment

    def draw():
        line = DrawnLine([Segment("hello world")])
        assert line.divide([11]) == [line] and line.divide([20, 11]) == [line]
        assert [part.text for part in line.divide([5, 11])] == ["hello", " world"]

    assert _cyclic_garbage_after(draw) == 0


async def test_panes_hand_the_compositor_drawn_lines_wrapped_once():
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(160, 50)) as pilot:
        await until_ready(pilot)
        pane = app.query_one("#pane-shell-1", TerminalPane)
        whole = Region(0, 0, *pane.outer_size)
        first = pane.render_lines(whole)
        assert all(isinstance(line, DrawnLine) for line in first)
        assert all(a is b for a, b in zip(first, pane.render_lines(whole)))


def _textual_rows(pane: TerminalPane, region: Region) -> list[list]:
    """The pane's rows as Textual's own per-line styling draws them (the path the pane skips)."""
    from textual.widget import Widget

    pane._styles_cache.clear()
    return [list(line) for line in Widget.render_lines(pane, region)]


async def test_framed_rows_are_the_rows_textual_would_draw():
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(160, 50)) as pilot:
        await until_ready(pilot)
        pane = app.query_one("#pane-shell-1", TerminalPane)
        whole = Region(0, 0, *pane.outer_size)
        assert pane._pane_frame() is not None  # a plain border: the pane draws its rows itself
        assert [list(line) for line in pane.render_lines(whole)] == _textual_rows(pane, whole)
        # A new title, focus (another border colour) and a crop each reach the rows drawn next.
        pane.border_title = "a new title"
        pane.focus()
        await pilot.pause()
        drawn = [list(line) for line in pane.render_lines(whole)]
        assert "a new title" in "".join(segment.text for segment in drawn[0])
        assert drawn == _textual_rows(pane, whole)
        part = Region(3, 1, 20, 4)
        assert [list(line) for line in pane.render_lines(part)] == _textual_rows(pane, part)
        # Padding joins the border cells; a tint (which restyles the content) needs Textual's per-line pass.
        pane.styles.padding = (0, 2)
        await pilot.pause()
        assert pane._pane_frame().side_cells == 6
        assert [list(line) for line in pane.render_lines(whole)] == _textual_rows(pane, whole)
        pane.styles.tint = "red 40%"
        await pilot.pause()
        assert pane._pane_frame() is None
        assert [list(line) for line in pane.render_lines(whole)] == _textual_rows(pane, whole)


def test_pane_crops_and_pads_to_its_size():
    from rich.style import Style

    from fleet_tui.ui.widgets.terminal_pane import line_strip

    line = [("hello ", None, None, 0), ("漢字", 2, "#102030", 1)]
    assert line_strip(line, 4, None, Style()).text == "hell"
    padded = line_strip(line, 14, None, Style())
    assert padded.cell_length == 14 and padded.text.startswith("hello 漢字")
    cursor = line_strip(line, 14, 1, Style())
    assert [s.style.reverse for s in cursor if s.text == "e"] == [True]


async def test_sixteen_sessions_tile_and_small_terminals_scroll():
    fleet = RecordedFleet()
    app = FleetApp(fleet)
    async with app.run_test(size=(200, 60)) as pilot:
        await until_ready(pilot)
        fleet.cmd_start(agents=["claude"], count=12)
        await until_ready(pilot, 16)
        grid = app.query_one(PaneGrid)
        assert grid.columns == 4 and not grid.has_class("-scrolling")
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert grid.has_class("-scrolling")
        assert all(pane.size.height == MIN_PANE_ROWS - 2 for pane in grid.panes)  # minus the border


async def test_mouse_reaches_a_steered_child_that_asked_for_it():
    fleet = RecordedFleet()
    app = FleetApp(fleet)
    async with app.run_test(size=(160, 50)) as pilot:
        await until_ready(pilot)
        await pilot.press("2", "enter")  # codex-1 enabled SGR any-motion mouse reporting
        await pilot.click("#pane-codex-1", offset=(5, 3))
        await fleet.wait_for("input", session="codex-1", data="\x1b[<0;5;3m")
        assert "\x1b[<0;5;3M" in fleet.typed("codex-1")
        await pilot.press(app.leader, "1", "enter")  # claude-1 did not: nothing is sent
        await pilot.click("#pane-claude-1", offset=(5, 3))
        await pilot.press(app.leader)
        await fleet.wait_for("input", session="claude-1", data="\x1b[O")
        assert "\x1b[<" not in fleet.typed("claude-1")


async def test_footer_offers_only_the_leader_while_steering():
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(160, 50)) as pilot:
        await until_ready(pilot)
        assert app.check_action("kill", ()) and not app.check_action("navigate", ())
        assert app.check_action("resume", ()) is None  # claude-1 is not paused
        await pilot.press("enter")
        assert app.check_action("navigate", ())
        for action in ("quit", "command_palette", "kill", "detach", "focus_next"):
            assert app.check_action(action, ()) is False


async def test_footer_names_the_keys_that_work_and_a_click_presses_one():
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(160, 50)) as pilot:
        await until_ready(pilot)
        hints = app.query_one(KeyHints)
        line = pilot.app.screen._compositor.render_strips()[-1]
        assert "z zoom" in line.text and "q detach" in line.text
        def colour(word: str):
            return next(segment.style.color for segment in line if segment.text.startswith(word))

        assert colour("resume") != colour("pause")  # greyed: claude-1 is not paused
        zoom = next(start for start, _end, key, _enabled in hints._spans if key == "z")
        await pilot.click(KeyHints, offset=(zoom + 1, 0))
        assert app.screen.maximized is app.focused_pane
        await pilot.press("enter")  # steering: only the leader is left
        assert app.screen._compositor.render_strips()[-1].text.split() == ["STEER", "claude-1", "^\\", "navigate"]


async def test_the_theme_picker_offers_only_the_fleets_themes_and_an_old_choice_falls_back(isolated_settings):
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    # A theme a user picked before only fleet themes were offered (one of them crashed the feed).
    (isolated_settings / "fleet-tui").mkdir(parents=True, exist_ok=True)
    (isolated_settings / "fleet-tui" / "settings.json").write_text('{"theme": "ansi-light"}')
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(pilot)
        assert app.theme == "fleet-dark"
        app.action_command_palette()
        await pilot.pause()
        await pilot.press(*"theme")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.5)
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        options = palette.query_one(OptionList)
        offered = {str(options.get_option_at_index(i).prompt).split()[0] for i in range(options.option_count)}
        assert offered == {"fleet-dark", "fleet-light", "fleet-high-contrast"}, offered


def test_a_colour_textual_cannot_parse_leaves_the_feed_uncoloured():
    from rich.style import Style

    from fleet_tui.ui.widgets.event_feed import colour_style

    assert colour_style("ansi_default 50%") == Style()
    assert colour_style("#d8dee999").color is not None
