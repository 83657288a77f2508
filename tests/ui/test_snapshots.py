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
