"""SVG snapshots of the command center on recorded real agent screens (deterministic: no clock in view)."""

from __future__ import annotations

import pytest

from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.widgets.event_feed import EventFeed

from .conftest import RecordedFleet, until_ready

pytestmark = pytest.mark.timeout(60)

SIZE = (160, 50)


def test_grid_of_four_recorded_agents(snap_compare):
    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=until_ready)


def test_zoomed_pane_while_steering(snap_compare):
    async def zoom_and_steer(pilot):
        await until_ready(pilot)
        await pilot.press("2", "z", "enter")

    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=zoom_and_steer)


def test_event_feed_following_the_focused_pane(snap_compare):
    async def filter_feed(pilot):
        await until_ready(pilot)
        await pilot.press("2", "f")
        pilot.app.query_one(EventFeed).focus()

    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=filter_feed)


def test_light_theme(snap_compare, isolated_settings):
    settings = isolated_settings / "fleet-tui" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"theme": "fleet-light"}')
    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=until_ready)


def test_kill_confirmation(snap_compare):
    async def ask_to_kill(pilot):
        await until_ready(pilot)
        await pilot.press("3", "x")

    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=ask_to_kill)


async def compared(pilot):
    """The compare screen over the recorded real run, once its worker has answered."""
    from fleet_tui.ui.screens.compare import CompareScreen

    await until_ready(pilot)
    await pilot.press("c")
    while not (isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.result):
        await pilot.pause()


def test_compare_screen(snap_compare):
    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=compared)


def test_diff_viewer(snap_compare):
    async def open_diff(pilot):
        await compared(pilot)
        await pilot.press("enter")
        while "r1-careful" not in getattr(pilot.app.screen, "diffs", {}):
            await pilot.pause()

    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=open_diff)


def test_diff_viewer_side_by_side_on_the_next_attempt(snap_compare):
    async def next_attempt_side_by_side(pilot):
        await compared(pilot)
        await pilot.press("enter", "right_square_bracket", "s")
        while "r1-thorough" not in pilot.app.screen.diffs:
            await pilot.pause()

    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=next_attempt_side_by_side)


def test_merge_approval_gate(snap_compare):
    async def ask_to_merge(pilot):
        await compared(pilot)
        await pilot.press("m")
        while getattr(pilot.app.screen, "summary", None) is None:
            await pilot.pause()

    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=ask_to_merge)


def test_prompt_bar(snap_compare):
    async def open_prompt(pilot):
        await until_ready(pilot)
        await pilot.press("2", "m", "slash")
        for key in ["f", "i", "x", "space", "i", "t"]:
            await pilot.press(key)

    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SIZE, run_before=open_prompt)


# ---------------------------------------------------------------- 80x24 and every theme
SMALL = (80, 24)


@pytest.mark.parametrize("name", ["fleet-dark", "fleet-light", "fleet-high-contrast"])
def test_80x24_grid_in_each_theme(snap_compare, isolated_settings, name):
    settings = isolated_settings / "fleet-tui" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(f'{{"theme": "{name}"}}')

    async def waiting_and_focused(pilot):
        await until_ready(pilot)
        await pilot.press("2")  # focused, next to the waiting claude-1 pane

    assert snap_compare(FleetApp(RecordedFleet(sessions=3)), terminal_size=SMALL, run_before=waiting_and_focused)


def test_80x24_merge_gate(snap_compare):
    async def ask_to_merge(pilot):
        await compared(pilot)
        await pilot.press("m")
        while getattr(pilot.app.screen, "summary", None) is None:
            await pilot.pause()
        await pilot.pause()

    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SMALL, run_before=ask_to_merge)


def test_80x24_compare(snap_compare):
    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SMALL, run_before=compared)


def test_80x24_help(snap_compare):
    async def open_help(pilot):
        await until_ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(FleetApp(RecordedFleet()), terminal_size=SMALL, run_before=open_help)
