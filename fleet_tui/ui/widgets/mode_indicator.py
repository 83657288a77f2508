"""NAV or STEER, always in the corner, so the user knows where their keys go."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class ModeIndicator(Static):
    # layout: its width follows the text (" NAV " or " STEER codex-1 ").
    DEFAULT_CSS = """
    ModeIndicator {
        width: auto;
        height: 1;
        background: $primary;
        color: $background;
        text-style: bold;
    }
    ModeIndicator.-steer {
        background: $accent;
    }
    """

    mode: reactive[str] = reactive("nav", layout=True)
    target: reactive[str] = reactive("", layout=True)
    scrolled: reactive[bool] = reactive(False, layout=True)  # the focused pane is in scroll mode

    def render(self) -> str:
        if self.scrolled:
            return " SCROLL "
        if self.mode == "steer":
            return f" STEER {self.target} "
        return " NAV "

    def watch_mode(self, mode: str) -> None:
        self.set_class(mode == "steer", "-steer")
