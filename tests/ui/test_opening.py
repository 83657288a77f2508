"""What opening the TUI does not build until it is needed (issue 17's reattach)."""

from textual.widgets import Select

from fleet_tui.ui.app import FleetApp

from .conftest import RecordedFleet, until_ready


async def test_the_prompt_bars_target_is_built_when_the_bar_first_opens(isolated_settings):
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=(160, 48)) as pilot:
        await until_ready(pilot)
        assert not app.query("#target")  # hidden: nothing of it composed yet
        await pilot.press("slash")
        await pilot.pause()
        target = app.query_one("#target", Select)
        assert target.value == "new" and target.is_mounted
        assert [child.id for child in app.query_one("#targets").children] == ["to", "target", "counters"]
        await pilot.press("escape", "slash")
        await pilot.pause()
        assert len(app.query("#target")) == 1 and app.query_one("#target", Select).value == "new"
