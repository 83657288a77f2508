"""One session's live terminal, drawn from its ScreenMirror."""

from __future__ import annotations

from functools import lru_cache
from collections.abc import Iterable, Sequence
from typing import Any

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from fleet_tui import protocol
from fleet_tui.core import keys
from fleet_tui.protocol import ScreenMirror
from fleet_tui.ui.theme import status_variable
from fleet_tui.ui.widgets.budget_meters import budget_bar

STATUS_SYMBOLS = {
    "starting": "◌",
    "working": "●",
    "waiting": "◆",
    "idle": "○",
    "paused": "‖",
    "exited": "■",
    "killed": "✗",
    "over_budget": "⊘",
}

FINISHED = {"killed", "exited"}

RESIZE_DEBOUNCE = 0.15  # seconds; a dragged terminal edge sends many resizes


def status_class(status: str) -> str:
    return "-" + status.replace("_", "-")


def status_label(status: str) -> str:
    return status.replace("_", " ")


@lru_cache(maxsize=1024)
def run_style(fg: protocol.Color, bg: protocol.Color, attrs: int) -> Style:
    """The Rich style of a run; a few dozen distinct styles cover a whole fleet."""
    return Style(
        color=_colour(fg),
        bgcolor=_colour(bg),
        bold=bool(attrs & protocol.ATTR_BOLD) or None,
        dim=bool(attrs & protocol.ATTR_DIM) or None,
        italic=bool(attrs & protocol.ATTR_ITALIC) or None,
        underline=bool(attrs & protocol.ATTR_UNDERLINE) or None,
        blink=bool(attrs & protocol.ATTR_BLINK) or None,
        reverse=bool(attrs & protocol.ATTR_REVERSE) or None,
        conceal=bool(attrs & protocol.ATTR_HIDDEN) or None,
        strike=bool(attrs & protocol.ATTR_STRIKE) or None,
    )


def _colour(colour: protocol.Color) -> RichColor | None:
    if colour is None:
        return None
    if isinstance(colour, int):
        return RichColor.from_ansi(colour)
    return RichColor.parse(colour)


CURSOR_STYLE = Style(reverse=True)


def line_strip(line: protocol.Line, width: int, cursor_x: int | None, base: Style) -> Strip:
    """A screen line as a Strip exactly `width` cells wide, with the cursor drawn on it."""
    segments = [Segment(text, base + run_style(fg, bg, attrs)) for text, fg, bg, attrs in line]
    strip = Strip(segments).adjust_cell_length(width, base)
    if cursor_x is not None and 0 <= cursor_x < width:
        before, cell, after = strip.divide([cursor_x, cursor_x + 1, width])
        cell = cell.apply_style(CURSOR_STYLE) if cell.cell_length else cell
        strip = Strip.join([before, cell, after])
    return strip


class DrawnLine(Strip):
    """A pane's finished line, which never holds a reference to itself.

    The compositor divides every line it draws at the cuts of the screen; with nothing to cut,
    Strip.divide returns [self] and caches that list in the strip: a reference cycle per line,
    which only a full garbage collection frees. Sixteen busy panes made ~1,600 such lines a
    second, and their collections froze the UI for 60-130 ms every second or two.
    """

    def divide(self, cuts: Iterable[int]) -> Sequence[Strip]:
        cuts = [cut for cut in cuts if cut <= self.cell_length]
        if cuts == [self.cell_length]:
            return [self]
        return super().divide(cuts)


class TerminalPane(Widget, can_focus=True):
    """Draws one session's screen and, while steered, turns keys, paste and mouse into input.

    The pane never talks to the server itself: it posts Input and Resized messages and
    the app forwards them, so a pane can be tested with any message source.
    """

    steering: reactive[bool] = reactive(False, init=False)
    attention: reactive[bool] = reactive(False)
    marked: reactive[bool] = reactive(False, init=False)  # a target of the next prompt

    class Input(Message):
        """Bytes for the session's pty, already encoded the way a terminal would."""

        def __init__(self, pane: TerminalPane, data: bytes) -> None:
            super().__init__()
            self.pane = pane
            self.data = data

        @property
        def session(self) -> str:
            return self.pane.session

    class Resized(Message):
        """The pane's content area settled on a new size; the session's pty should follow."""

        def __init__(self, pane: TerminalPane, cols: int, rows: int) -> None:
            super().__init__()
            self.pane = pane
            self.cols = cols
            self.rows = rows

        @property
        def session(self) -> str:
            return self.pane.session

    class LeaderPressed(Message):
        """The leader key was pressed while steering: give the keyboard back to the app."""

    def __init__(self, mirror: ScreenMirror, info: dict[str, Any], *, leader: str) -> None:
        # Mounted with its status class already set: one styling pass instead of two.
        super().__init__(id=f"pane-{mirror.session}", classes=status_class(info.get("status", "starting")))
        self.mirror = mirror
        self.info = info
        self.leader = leader
        self._strips: dict[int, tuple[tuple, Strip]] = {}
        self._drawn: dict[int, tuple[Strip, DrawnLine]] = {}  # by row: Textual's finished strip, wrapped
        self._base_style: Style | None = None
        self._resize_timer: Timer | None = None
        self._reported_size: tuple[int, int] | None = None
        self._titles: tuple[str, str] | None = None

    @property
    def session(self) -> str:
        return self.mirror.session

    @property
    def live(self) -> bool:
        return self.info.get("status") not in FINISHED

    def on_mount(self) -> None:
        self.update_info(self.info)

    # ------------------------------------------------------------------ drawing
    def render_lines(self, crop: Region) -> list[Strip]:
        # rich_style walks every ancestor's styles: look it up at most once per redraw (render_line
        # does, for the first changed line), not once per line nor for a pane with none changed.
        self._base_style = None
        try:
            lines = super().render_lines(crop)
        finally:
            self._base_style = None
        # Textual asks for every line of every pane a frame touches, and mostly gets its cached
        # strips back: wrap each strip once, not once per frame.
        drawn = self._drawn
        for y, strip in enumerate(lines, crop.y):
            cached = drawn.get(y)
            if cached is None or cached[0] is not strip:
                cached = drawn[y] = (strip, DrawnLine(strip, strip.cell_length))
            lines[y - crop.y] = cached[1]
        return lines

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._base_style
        if base is None:
            base = self._base_style = self.rich_style
        mirror = self.mirror
        if y >= len(mirror.lines):
            return Strip.blank(width, base)
        line = mirror.lines[y]
        # A finished agent takes no input: no cursor pretends it does.
        show_cursor = self.has_focus and mirror.cursor_visible and mirror.cursor_y == y and self.live
        cursor_x = mirror.cursor_x if show_cursor else None
        # The mirror replaces a row's list when the row changes, so identity is the version.
        key = (width, cursor_x, base)
        cached = self._strips.get(y)
        if cached is not None and cached[0][0] is line and cached[0][1:] == key:
            return cached[1]
        strip = line_strip(line, width, cursor_x, base)
        self._strips[y] = ((line, *key), strip)
        return strip

    def screen_changed(self, rows: set[int]) -> None:
        """Redraw only the rows a screen update touched."""
        width, height = self.size
        regions = [Region(0, y, width, 1) for y in rows if y < height]
        if regions:  # refresh() with no regions would redraw everything
            self.refresh(*regions)

    def update_info(self, info: dict[str, Any]) -> None:
        """New session details (status, branch, budget) from a sessions message."""
        self.info = info
        status = info.get("status", "starting")
        for name in STATUS_SYMBOLS:
            self.set_class(name == status, status_class(name))
        symbol = STATUS_SYMBOLS.get(status, "?")
        variable = "$" + status_variable(status)
        mark = "[$accent]✚[/] " if self.marked else ""
        # Waiting is a badge, not just a colour: it stays while the agent waits, focused or not.
        label = f"{symbol} {status_label(status)}"
        badge = f"[$background on {variable}] {label} [/]" if status == "waiting" else f"[{variable}]{label}[/]"
        title = f"{mark}{badge} [b]{self.session}[/]"
        bar = budget_bar(info.get("budget") or {})
        subtitle = f"{info.get('branch') or ''}  {bar}".strip()
        # Setting a border title repaints the whole pane; sessions messages come five times a second.
        if (title, subtitle) != self._titles:
            self._titles = (title, subtitle)
            self.border_title, self.border_subtitle = title, subtitle

    def watch_attention(self, attention: bool) -> None:
        self.set_class(attention, "-attention")

    def watch_marked(self, marked: bool) -> None:
        self.set_class(marked, "-marked")
        self.update_info(self.info)

    def watch_steering(self, steering: bool) -> None:
        self.set_class(steering, "-steering")
        focus = keys.encode_focus(steering, self.mirror.modes)
        if focus:
            self.post_message(self.Input(self, focus))

    def on_focus(self) -> None:
        self.attention = False
        self.refresh(self._cursor_region())

    def on_blur(self) -> None:
        self.refresh(self._cursor_region())

    def _cursor_region(self) -> Region:
        return Region(0, self.mirror.cursor_y, self.size.width, 1)

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self._drawn.clear()
        if self._resize_timer is not None:
            self._resize_timer.stop()
        self._resize_timer = self.set_timer(RESIZE_DEBOUNCE, self._report_size)

    def _report_size(self) -> None:
        size = (self.size.width, self.size.height)
        if size != self._reported_size and min(size) > 0:
            self._reported_size = size
            self.post_message(self.Resized(self, *size))

    # ------------------------------------------------------------------ steering
    def on_key(self, event: events.Key) -> None:
        if not self.steering:
            return
        # Every key belongs to the agent now, including tab and ctrl+c.
        event.stop()
        event.prevent_default()
        if event.key == self.leader:
            self.post_message(self.LeaderPressed())
            return
        try:
            data = keys.encode_key(event.key, self.mirror.modes)
        except ValueError:
            # A key Textual names but a terminal cannot send; plain text still can.
            if not event.is_printable or not event.character:
                return
            data = event.character.encode()
        self.post_message(self.Input(self, data))

    def on_paste(self, event: events.Paste) -> None:
        if self.steering:
            event.stop()
            bracketed = bool(self.mirror.modes.get("bracketed_paste"))
            self.post_message(self.Input(self, keys.encode_paste(event.text, bracketed)))

    def _send_mouse(self, action: str, event: events.MouseEvent, button: int) -> None:
        if not self.steering:
            return
        event.stop()
        offset = event.get_content_offset(self)
        if offset is None:
            return
        data = keys.encode_mouse(
            action, button, offset.x, offset.y, self.mirror.modes,
            shift=event.shift, alt=event.meta, ctrl=event.ctrl,
        )
        if data:
            self.post_message(self.Input(self, data))

    # Textual numbers buttons 1-3 (0: none); terminals 0-2 (-1: none).
    def on_mouse_down(self, event: events.MouseDown) -> None:
        self._send_mouse("press", event, event.button - 1)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        self._send_mouse("release", event, event.button - 1)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._send_mouse("move", event, event.button - 1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._send_mouse("scroll_up", event, 0)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._send_mouse("scroll_down", event, 0)
