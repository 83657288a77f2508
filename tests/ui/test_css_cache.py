"""Textual's parsed CSS is kept for the next app of the process (what the warm UI process's
children open with), and a theme's variables are part of what it is kept under."""

from textual.css.stylesheet import Stylesheet

from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.css_cache import SharedParseStylesheet

from .conftest import RecordedFleet, until_ready


async def open_app(size=(120, 40)) -> FleetApp:
    app = FleetApp(RecordedFleet())
    async with app.run_test(size=size) as pilot:
        await until_ready(pilot)
    return app


async def test_a_second_app_parses_no_css_the_first_one_parsed(isolated_settings, monkeypatch):
    SharedParseStylesheet._parsed.clear()
    first = await open_app()
    kept = len(SharedParseStylesheet._parsed)
    assert kept > 20  # every widget's DEFAULT_CSS and fleet.tcss
    parsed: list[object] = []
    original = Stylesheet._parse_rules

    def counting(self, *args, **kwargs):
        parsed.append(kwargs.get("read_from"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Stylesheet, "_parse_rules", counting)
    second = await open_app()
    # A fresh parse happens only in Textual's own reparse (a plain Stylesheet): our cache missed nothing.
    assert len(SharedParseStylesheet._parsed) == kept
    assert len(parsed) < kept / 4
    assert first.stylesheet.rules_map.keys() == second.stylesheet.rules_map.keys()


async def test_another_theme_is_parsed_with_its_own_variables(isolated_settings):
    SharedParseStylesheet._parsed.clear()
    await open_app()
    dark = len(SharedParseStylesheet._parsed)
    light = FleetApp(RecordedFleet())
    light.theme = "fleet-light"
    light.stylesheet.set_variables(light.get_css_variables())
    async with light.run_test(size=(120, 40)) as pilot:
        await until_ready(pilot)
    assert len(SharedParseStylesheet._parsed) > dark
