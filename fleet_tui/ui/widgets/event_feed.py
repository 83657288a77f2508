"""The event feed: what happened in the fleet, newest first, optionally for one session."""

from __future__ import annotations

import time
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.color import Color, ColorParseError
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fleet_tui.text import ellipsize
from fleet_tui.ui.event_words import KIND_MARKS, sentence
from fleet_tui.wire import EventView

MAX_EVENTS = 2000


@lru_cache(maxsize=64)
def colour_style(colour: str) -> Style:
    # Theme values may carry alpha ("#d8dee999"), which Rich cannot parse; Textual can.
    try:
        return Style(color=Color.parse(colour).rich_color)
    except ColorParseError:  # a theme's "ansi_default 50%": the feed's own colour, never a crash
        return Style()

# Theme colour per event kind; anything unlisted is muted.
KIND_COLOURS = {
    "error": "error",
    "budget_exceeded": "error",
    "killed": "error",
    "budget_warning": "warning",
    "paused": "warning",
    "spawned": "success",
    "resumed": "success",
    "restarted": "success",
    "merged": "success",
    "status": "primary",
    "exited": "secondary",
    "prompt": "accent",
    "fanout": "accent",
    "discarded": "secondary",
}


class EventFeed(ScrollView, can_focus=True):
    """Draws only the visible rows, so thousands of events cost nothing."""

    DEFAULT_CSS = """
    EventFeed {
        height: 2fr;
        overflow-x: hidden;  /* sentences are cut with an ellipsis, never scrolled sideways */
        border: round $pane-border;
        border-title-color: $pane-title;
        border-title-align: left;
        border-subtitle-color: $accent;
        background: $surface;
    }
    EventFeed:focus {
        border: round $pane-focus;
    }
    EventFeed.-follow {
        border-title-color: $accent;
    }
    """

    session_filter: reactive[str | None] = reactive(None)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.events: list[EventView] = []
        self._visible: list[EventView] = []  # newest first

    def _shows(self, event: EventView) -> bool:
        return self.session_filter is None or event.session == self.session_filter

    def add_event(self, event: EventView) -> None:
        self.events.append(event)
        if len(self.events) > MAX_EVENTS:
            del self.events[: len(self.events) - MAX_EVENTS]
            self._rebuild()
        elif self._shows(event):
            self._visible.insert(0, event)
            self._resized()

    def watch_session_filter(self) -> None:
        self._rebuild()
        self.scroll_home(animate=False)
        self.border_subtitle = f"only {self.session_filter}" if self.session_filter else ""

    def _rebuild(self) -> None:
        self._visible = [event for event in reversed(self.events) if self._shows(event)]
        self._resized()

    def _resized(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._visible))
        self.refresh()

    def line_text(self, event: EventView) -> tuple[str, str, str]:
        stamp = time.strftime("%H:%M:%S", time.localtime(event.ts))
        kind = event.kind or "?"
        failed = kind == "check" and not event.data.get("passed", True)
        return stamp, "✗" if failed else KIND_MARKS.get(kind, "·"), sentence(event)

    def render_line(self, y: int) -> Strip:
        scroll_y = self.scroll_offset.y
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = scroll_y + y
        if index >= len(self._visible):
            return Strip.blank(width, base)
        event = self._visible[index]
        stamp, mark, text = self.line_text(event)
        colours = self.app.theme_variables
        colour = colours.get(KIND_COLOURS.get(event.kind, "foreground-muted"), "")
        kind_style = colour_style(colour) if colour else Style()
        muted = colours.get("foreground-muted")
        stamp_style = colour_style(muted) if muted else Style(dim=True)
        # Short stamps on narrow feeds; the sentence gets the rest, cut with an ellipsis.
        stamp = stamp if width >= 40 else stamp[:5]
        room = width - len(stamp) - 3
        segments = [
            Segment(stamp + " ", base + stamp_style),
            Segment(mark + " ", base + kind_style + Style(bold=True)),
            Segment(ellipsize(text, room), base),
        ]
        return Strip(segments).adjust_cell_length(width, base)
