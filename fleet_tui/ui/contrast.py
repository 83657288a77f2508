"""WCAG contrast of the colour pairs the UI draws, so every theme can be checked for readability.

The pairs are named by the stylesheet's variables (fleet.tcss and the widgets' DEFAULT_CSS);
keep this list in step when a rule puts a new colour on a new background.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.color import Color

from fleet_tui.ui.theme import STATUSES, status_variable

TEXT = 4.5  # WCAG AA for normal text
GRAPHIC = 3.0  # WCAG AA for borders, marks and other graphical objects


@dataclass(frozen=True)
class Pair:
    foreground: str
    background: str
    minimum: float
    where: str


def _pairs() -> list[Pair]:
    pairs = [
        Pair("foreground", "background", TEXT, "pane text"),
        Pair("foreground", "surface", TEXT, "event feed and budgets"),
        Pair("foreground", "panel", TEXT, "dialogs"),
        Pair("foreground-muted", "background", TEXT, "pane subtitles, killed panes"),
        Pair("foreground-muted", "surface", TEXT, "event times, unmarked counters"),
        Pair("foreground-muted", "panel", TEXT, "dialog notes"),
        Pair("pane-title", "background", TEXT, "pane titles"),
        Pair("pane-title", "surface", TEXT, "panel titles"),
        Pair("pane-border", "background", GRAPHIC, "pane borders"),
        Pair("pane-border", "surface", GRAPHIC, "panel borders"),
        Pair("pane-focus", "background", GRAPHIC, "the focused pane's border"),
        Pair("accent", "background", GRAPHIC, "marks, steering border"),
        Pair("accent", "panel", GRAPHIC, "dialog frames"),
        Pair("background", "primary", TEXT, "NAV indicator"),
        Pair("background", "accent", TEXT, "STEER indicator"),
        Pair("footer-foreground", "footer-background", TEXT, "footer"),
        Pair("footer-key-foreground", "footer-background", TEXT, "footer keys"),
        Pair("footer-description-foreground", "footer-background", TEXT, "footer descriptions"),
        Pair("success", "surface", TEXT, "events, meters, added lines"),
        Pair("warning", "surface", TEXT, "events, meters"),
        Pair("error", "surface", TEXT, "events, meters, removed lines"),
        Pair("primary", "surface", TEXT, "status events"),
        Pair("secondary", "surface", TEXT, "exit events"),
        Pair("accent", "surface", TEXT, "prompt events"),
        Pair("background", "status-waiting", TEXT, "the waiting badge"),
        Pair("status-waiting", "background", GRAPHIC, "the waiting border"),
        Pair("status-killed", "background", GRAPHIC, "the killed border"),
    ]
    pairs += [Pair(status_variable(status), "background", TEXT, f"{status} in pane titles") for status in STATUSES]
    return pairs


PAIRS = _pairs()


def luminance(colour: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b)


def ratio(foreground: Color, background: Color) -> float:
    """WCAG contrast ratio, 1 to 21; a translucent foreground is first blended onto the background."""
    if foreground.a < 1:
        foreground = background.blend(foreground.with_alpha(1.0), foreground.a)
    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def resolve(variables: dict[str, str], name: str) -> Color:
    """A variable's colour; a translucent background sits on the theme's background."""
    colour = Color.parse(variables[name])
    if colour.a < 1:
        base = Color.parse(variables["background"])
        colour = base.blend(colour.with_alpha(1.0), colour.a)
    return colour


def failures(variables: dict[str, str]) -> list[str]:
    """Every pair below its minimum, as readable lines; empty when the theme passes."""
    found = []
    for pair in PAIRS:
        background = resolve(variables, pair.background)
        foreground = Color.parse(variables[pair.foreground])
        value = ratio(foreground, background)
        if value < pair.minimum:
            found.append(f"{pair.foreground} on {pair.background} ({pair.where}): {value:.2f} < {pair.minimum}")
    return found
