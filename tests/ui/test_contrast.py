"""Every theme readable: WCAG contrast of each colour pair the UI draws, and the four pane
states a user must tell apart at a glance (waiting, focused, working, killed) kept apart."""

from __future__ import annotations

from itertools import combinations

import pytest
from textual.color import Color, rgb_to_lab

from fleet_tui.ui import contrast, theme
from fleet_tui.ui.app import FleetApp

THEMES = [loaded.name for loaded in theme.load_themes()]
# The colours that say which state a pane is in: its border or its title badge.
STATES = {"waiting": "status-waiting", "focused": "pane-focus", "working": "status-working",
          "killed": "status-killed"}
MIN_DELTA_E = 20  # CIE76; about 2.3 is "just noticeable", 20+ is a different colour at a glance


def theme_variables(name: str) -> dict[str, str]:
    app = FleetApp(lambda: None)  # never run: only its CSS variables for a theme are wanted
    for loaded in theme.load_themes():
        app.register_theme(loaded)
    app.theme = name
    return app.get_css_variables()


def test_the_contrast_formula_matches_wcag():
    black, white = Color.parse("#000000"), Color.parse("#ffffff")
    assert contrast.ratio(white, black) == pytest.approx(21.0)
    assert contrast.ratio(black, black) == pytest.approx(1.0)
    assert contrast.ratio(Color.parse("#767676"), white) == pytest.approx(4.54, abs=0.01)  # WCAG's AA grey


def test_a_low_contrast_pair_is_caught():
    variables = theme_variables("fleet-light")
    variables["pane-border"] = "#ffffff"  # the old light theme's borders: white on near-white
    assert any("pane-border on background" in failure for failure in contrast.failures(variables))


@pytest.mark.parametrize("name", THEMES)
def test_every_pair_meets_wcag(name):
    assert contrast.failures(theme_variables(name)) == []


@pytest.mark.parametrize("name", THEMES)
def test_pane_states_are_distinct_at_a_glance(name):
    variables = theme_variables(name)
    lab = {state: rgb_to_lab(Color.parse(variables[variable])) for state, variable in STATES.items()}
    for first, second in combinations(STATES, 2):
        a, b = lab[first], lab[second]
        delta = ((a.L - b.L) ** 2 + (a.a - b.a) ** 2 + (a.b - b.b) ** 2) ** 0.5
        assert delta >= MIN_DELTA_E, f"{name}: {first} and {second} look alike (ΔE {delta:.1f})"
