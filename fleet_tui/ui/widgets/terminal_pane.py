"""One session's live terminal, drawn from its ScreenMirror."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache
from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.color import Color as RichColor, ColorSystem
from rich.console import Console
from rich.markup import escape
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual._styles_cache import StylesCache
from textual.color import Color
from textual.filter import ANSIToTruecolor, DimFilter, LineFilter, Monochrome, NoColor
from textual.geometry import Offset, Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from fleet_tui import protocol
from fleet_tui.core import keys
from fleet_tui.core.scrollback import cells, pattern, spans
from fleet_tui.core.status import Status
from fleet_tui.protocol import ScreenMirror
from fleet_tui.ui import keymap
from fleet_tui.ui.scrollback import WHEEL_LINES, HistoryCache, HistorySource, ScrollState, Selection, Span, line_text
from fleet_tui.ui.theme import status_variable
from fleet_tui.ui.widgets.budget_meters import budget_bar
from fleet_tui.wire import SessionView

STATUS_SYMBOLS = {
    Status.STARTING: "◌",
    Status.WORKING: "●",
    Status.WAITING: "◆",
    Status.IDLE: "○",
    Status.DONE: "✔",
    Status.PAUSED: "‖",
    Status.EXITED: "■",
    Status.KILLED: "✗",
    Status.OVER_BUDGET: "⊘",
    Status.UNREACHABLE: "⌁",
    Status.STOPPED: "□",
    Status.LOST: "◇",  # its processes died with the last fleet server: R restores it
    Status.ORPHANED: "↯",  # its processes run on outside any terminal: x kills them, R replaces them
}
# What a pane with no running agent says in place of a screen (the server sends none).
RESTING_HINTS = {
    Status.LOST: "Lost with the last fleet server; its worktree is intact. R restores it, resuming "
            "the agent's conversation where its CLI can.",
    Status.ORPHANED: "Still running, outside any terminal: the fleet server that held it died. "
                "x kills it, R replaces it.",
    Status.STOPPED: "Not running. R starts it again in its worktree.",
}

FINISHED = {Status.KILLED, Status.EXITED}

RESIZE_DEBOUNCE = 0.15  # seconds; a dragged terminal edge sends many resizes


def pane_id(session: str) -> str:
    """The widget id of a session's pane. A remote session is machine:name, and ids allow no ':'; session
    names have no capitals, so "-M-" can't collide with a local name."""
    return "pane-" + session.replace(":", "-M-")


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
# Textual's line filters that change each segment's style by that style alone (and the background):
# a pane can filter each run style once instead of every segment of every row.
STYLE_FILTERS = (ANSIToTruecolor, DimFilter, Monochrome, NoColor)


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


class PaneStylesCache(StylesCache):
    """Textual's per-widget styles cache, counting the times it was dropped (a restyle, a resize,
    a new title): the pane keeps its border rows until then."""

    def __init__(self) -> None:
        super().__init__()
        self.clears = 0

    def clear(self) -> None:
        super().clear()
        self.clears += 1


@dataclass(frozen=True, eq=False)
class PaneFrame:
    """A plainly bordered pane's cells beside each content row, as Textual draws them."""

    size: Size  # the whole pane, border included
    top: int  # rows above the content (the top border)
    bottom: int
    left: tuple[Segment, ...]
    right: tuple[Segment, ...]
    left_cells: int
    side_cells: int  # cells of left and right together
    filters: tuple[LineFilter, ...]  # the app's, applied to every finished row
    background: Color
    base: Style  # the pane's own style, under every run's
    # Rows drawn run by run (_run_segments), when every filter maps a segment's style alone:
    # the border cells filtered, and each run style's finished, filtered style.
    by_style: bool
    filtered_left: tuple[Segment, ...]
    filtered_right: tuple[Segment, ...]
    styles: dict[tuple, Style]  # by (fg, bg, attrs); None: the blank padding
    # The same finished styles as SGR parameters, for the colour system in "system"; "left" and
    # "right": the border cells as terminal sequences (see TerminalPane._run_text).
    ansi: dict = field(default_factory=dict)

    def run_style(self, key: tuple | Style | None) -> Style:
        """The finished, filtered style of a run, by (fg, bg, attrs), that with CURSOR_STYLE last
        (the cursor's cell), None (the blank padding) or CURSOR_STYLE (the cursor in the padding)."""
        style = self.styles.get(key)
        if style is None:
            if key is None:
                style = self.base
            elif key is CURSOR_STYLE:
                style = self.base + CURSOR_STYLE
            else:
                style = self.base + run_style(*key[:3])
                if len(key) == 4:
                    style += CURSOR_STYLE
            style = self.styles[key] = filtered_style(style, self.filters, self.background)
        return style


def _append_styled(out: list[str], codes: str, text: str) -> None:
    """A piece of text in a finished style, as Strip.render_style writes it (nothing when empty)."""
    if text:
        out.append(f"\x1b[{codes}m{text}\x1b[0m" if codes else text)


def style_codes(style: Style, color_system: ColorSystem) -> str:
    """A finished style's SGR parameters, as Strip.render_style writes them (and caches them on the style)."""
    codes = style._ansi
    return Strip.render_ansi(style, color_system) if codes is None else codes


def render_segments(segments: Iterable[Segment], color_system: ColorSystem) -> str:
    """Segments as terminal sequences, as Strip.render writes them."""
    render = Strip.render_style
    return "".join(text if style is None else render(style, text, color_system) for text, style, _ in segments)


def filtered_style(style: Style, filters: tuple[LineFilter, ...], background: Color) -> Style:
    """`style` after the app's line filters, which (see STYLE_FILTERS) look at each segment's style alone."""
    segments = [Segment(" ", style)]
    for line_filter in filters:
        segments = line_filter.apply(segments, background)
    return segments[0].style or Style()


class TerminalPane(Widget, can_focus=True):
    """Draws one session's screen and, while steered, turns keys, paste and mouse into input.

    The pane never talks to the server itself: it posts Input and Resized messages and
    the app forwards them, so a pane can be tested with any message source. Scrolled back
    (scroll mode), it draws history lines read through its HistorySource instead.
    """

    BINDINGS = keymap.SCROLL_BINDINGS
    COMPONENT_CLASSES = {
        "terminal-pane--match", "terminal-pane--current-match", "terminal-pane--selection",
        "terminal-pane--status",
    }
    DEFAULT_CSS = """
    TerminalPane {
        height: 1fr;
        border: round $pane-border;
        border-title-align: left;
        border-title-color: $pane-title;
        border-subtitle-align: right;
        border-subtitle-color: $foreground-muted;
        background: $background;
        color: $foreground;

        .terminal-pane--match { background: $warning 45%; }
        .terminal-pane--current-match { background: $warning; color: $background; text-style: bold; }
        .terminal-pane--selection { background: $accent 60%; }
        .terminal-pane--status { background: $panel; color: $foreground; }
    }
    /* Focus is a colour no status uses; the border's shape says the rest:
       double = waiting for the user, heavy = steered, dashed = killed. */
    TerminalPane:focus {
        border: round $pane-focus;
    }
    /* Something happened while the user looked elsewhere (an agent finished). */
    TerminalPane.-attention {
        border: double $status-waiting;
    }
    /* Waiting stays marked for as long as the agent waits, focused or not. */
    TerminalPane.-waiting {
        border: double $status-waiting;
    }
    TerminalPane.-waiting:focus {
        border: double $pane-focus;
    }
    TerminalPane.-steering, TerminalPane.-waiting.-steering {
        border: heavy $pane-focus;
    }
    TerminalPane.-killed {
        border: dashed $status-killed;
    }
    TerminalPane.-killed:focus {
        border: dashed $pane-focus;
    }
    TerminalPane.-killed, TerminalPane.-exited {
        color: $foreground-muted;
    }
    /* Zoomed: the whole screen. */
    TerminalPane.-maximized {
        height: 1fr;
        width: 1fr;
    }
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

    class ScrollChanged(Message):
        """The pane entered or left scroll mode."""

        def __init__(self, pane: TerminalPane) -> None:
            super().__init__()
            self.pane = pane

    def __init__(self, mirror: ScreenMirror, info: SessionView, *, leader: str,
                 history: HistorySource | None = None, task_text: str = "") -> None:
        # Mounted with its status class already set: one styling pass instead of two.
        super().__init__(id=pane_id(mirror.session), classes=status_class(info.status or Status.STARTING))
        self.mirror = mirror
        self.info = info
        self.task_text = task_text  # the text of the task it works on, in its title
        self.leader = leader
        self._strips: dict[int, tuple[tuple, Strip]] = {}
        self._drawn: dict[int, tuple[Strip, DrawnLine]] = {}  # by row: Textual's finished strip, wrapped
        self._frame_key: tuple | None = None  # what the border cells below were drawn for
        self._styled_at = -1  # the styles cache's clears when the base style and frame were looked up
        self._frame: PaneFrame | None = None
        self._framed: dict[int, tuple[Strip, PaneFrame, DrawnLine]] = {}  # by row: line, frame, finished row
        self._border_rows: dict[int, tuple[int, Strip]] = {}  # by row: the styles cache's clears, the row
        self._styles_cache = PaneStylesCache()
        self._base_style: Style | None = None
        self._resize_timer: Timer | None = None
        self._reported_size: tuple[int, int] | None = None
        self._titles: tuple[str, str] | None = None
        self.scroll: ScrollState | None = None
        self._scroll_strips: dict[int, tuple[tuple, Strip]] = {}  # by line number, as _strips by row
        self.history = HistoryCache(history)
        self._drag_entered = False  # scroll mode was entered by the drag in progress
        self._pressed_at: Offset | None = None  # where the left button went down, while it is down
        self._compiled: tuple[str, re.Pattern[str]] | None = None  # the search, compiled for highlighting

    @property
    def session(self) -> str:
        return self.mirror.session

    @property
    def live(self) -> bool:
        return self.info.status not in FINISHED

    @property
    def scrolled(self) -> bool:
        return self.scroll is not None

    def on_mount(self) -> None:
        self.update_info(self.info, self.task_text)

    # ------------------------------------------------------------------ drawing
    def render_lines(self, crop: Region) -> list[Strip]:
        frame = self._current_frame()
        if frame is None:
            return self._render_styled(crop)
        return self._render_framed(crop, frame)

    def _current_frame(self) -> PaneFrame | None:
        # rich_style and the frame walk every ancestor's styles: look them up again only when
        # Textual dropped the pane's styles cache (it does on every restyle, resize and retitle).
        clears = self._styles_cache.clears
        if clears != self._styled_at:
            self._base_style = None
            self._frame_key = None
        frame = self._pane_frame()
        self._styled_at = self._styles_cache.clears
        return frame

    def drawn_rows(self, rows: Iterable[int], region: Region, console: Console) -> str | None:
        """Terminal sequences drawing these screen rows of the pane, placed at `region` (the pane's
        place on the screen), byte for byte what the compositor would write for them; None when
        only Textual can draw the pane now (scrolled back, styled beyond a plain border, resizing).

        A changed row is written straight from its runs: the compositor's frame (its cuts, the
        containers behind the panes, the strips) was two thirds of the UI's work with busy panes.
        """
        if self.scroll is not None:
            return None
        frame = self._current_frame()
        if frame is None or frame.size != region.size or frame.size != self.outer_size:
            return None
        width = frame.size.width
        content_height = frame.size.height - frame.top - frame.bottom
        content_width = width - frame.side_cells
        x, top = region.x + 1, region.y + frame.top + 1
        color_system = console._color_system or ColorSystem.TRUECOLOR  # as Strip.render picks it
        mirror = self.mirror
        lines = mirror.lines if frame.by_style else ()
        # A finished agent takes no input: no cursor pretends it does (as _content_line).
        cursor_row = mirror.cursor_y if mirror.cursor_visible and self.has_focus and self.live else -1
        out: list[str] = []
        for row in sorted(rows):
            if not 0 <= row < content_height:
                continue
            text = None
            if row < len(lines):
                cursor_x = mirror.cursor_x if row == cursor_row else None
                text = self._run_text(lines[row], content_width, frame, color_system, cursor_x)
            if text is None:  # a hint, a wide row, a cursor on a wide character: as the compositor gets it
                text = self._render_framed(Region(0, frame.top + row, width, 1), frame)[0].render(console)
            out.append(f"\x1b[{top + row};{x}H{text}")
        return "".join(out)

    @staticmethod
    def _run_text(line: protocol.Line, width: int, frame: PaneFrame, color_system: ColorSystem,
                  cursor_x: int | None = None) -> str | None:
        """The finished row (border cells, runs, padding, the cursor) as terminal sequences: the
        cells Strip.render writes for the row render_lines gives; None when the runs are wider than
        `width` or the cursor is on a wide character."""
        ansi = frame.ansi
        if ansi.get("system") is not color_system:
            ansi.clear()
            ansi["system"] = color_system
            ansi["left"] = render_segments(frame.filtered_left, color_system)
            ansi["right"] = render_segments(frame.filtered_right, color_system)
        out = [ansi["left"]]
        append = out.append
        used = 0
        for text, fg, bg, attrs in line:
            key = (fg, bg, attrs)
            codes = ansi.get(key)
            if codes is None:
                codes = ansi[key] = style_codes(frame.run_style(key), color_system)
            cells = len(text) if text.isascii() else cell_len(text)
            if cursor_x is None or not used <= cursor_x < used + cells:
                if text:
                    append(f"\x1b[{codes}m{text}\x1b[0m" if codes else text)
            else:
                if cells != len(text):
                    return None
                at = cursor_x - used
                cursor_key = (fg, bg, attrs, CURSOR_STYLE)
                cursor_codes = ansi.get(cursor_key)
                if cursor_codes is None:
                    cursor_codes = ansi[cursor_key] = style_codes(frame.run_style(cursor_key), color_system)
                _append_styled(out, codes, text[:at])
                _append_styled(out, cursor_codes, text[at])
                _append_styled(out, codes, text[at + 1:])
            used += cells
        if used > width:
            return None
        if used < width:
            codes = ansi.get(None)
            if codes is None:
                codes = ansi[None] = style_codes(frame.run_style(None), color_system)
            pad = width - used
            if cursor_x is not None and used <= cursor_x < width:
                cursor_codes = ansi.get(CURSOR_STYLE)
                if cursor_codes is None:
                    cursor_codes = ansi[CURSOR_STYLE] = style_codes(frame.run_style(CURSOR_STYLE), color_system)
                before = cursor_x - used
                _append_styled(out, codes, " " * before)
                _append_styled(out, cursor_codes, " ")
                _append_styled(out, codes, " " * (pad - before - 1))
            else:
                _append_styled(out, codes, " " * pad)
        out.append(ansi["right"])
        return "".join(out)

    def _render_styled(self, crop: Region) -> list[Strip]:
        """Rows through Textual's per-line styling (StylesCache): borders with titles, and any pane
        styled beyond a plain border (padding, tint, opacity...)."""
        lines = super().render_lines(crop)
        # Textual asks for every line of every pane a frame touches, and mostly gets its cached
        # strips back: wrap each strip once, not once per frame.
        drawn = self._drawn
        for y, strip in enumerate(lines, crop.y):
            cached = drawn.get(y)
            if cached is None or cached[0] is not strip:
                cached = drawn[y] = (strip, DrawnLine(strip, strip.cell_length))
            lines[y - crop.y] = cached[1]
        return lines

    def _render_framed(self, crop: Region, frame: PaneFrame) -> list[Strip]:
        """The rows of a plainly bordered pane without Textual's per-line styling pass.

        Its top and bottom border rows (titles) still come from Textual, cached there; a content
        row is the border's left and right cells (as Textual drew them, see _pane_frame) around
        the screen line, through the app's line filters: one Strip per changed row instead of ~5.
        """
        width, height = frame.size
        content_height = height - frame.top - frame.bottom
        content_width = width - frame.side_cells
        lines: list[Strip] = []
        rows = self._framed
        for y in crop.line_range:
            content_y = y - frame.top
            if not 0 <= content_y < content_height:
                lines.append(self._border_row(y, width))
                continue
            line = self._screen_line(content_y) if frame.by_style else None
            if line is not None:
                cached = rows.get(y)
                if cached is not None and cached[0] is line and cached[1] is frame:
                    lines.append(cached[2])
                    continue
                segments = self._run_segments(line, content_width, frame)
            else:
                segments = None
            if segments is not None:
                drawn = DrawnLine([*frame.filtered_left, *segments, *frame.filtered_right], width)
                rows[y] = (line, frame, drawn)
                lines.append(drawn)
                continue
            content = self._content_line(content_y, content_width)
            cached = rows.get(y)
            if cached is not None and cached[0] is content and cached[1] is frame:
                lines.append(cached[2])
                continue
            segments = [*frame.left, *content, *frame.right]
            for line_filter in frame.filters:
                segments = line_filter.apply(segments, frame.background)
            drawn = DrawnLine(segments, width)
            rows[y] = (content, frame, drawn)
            lines.append(drawn)
        if crop.column_span != (0, width):  # a pane cut by the edge of a scrolled grid
            x1, x2 = crop.column_span
            lines = [DrawnLine(cut, cut.cell_length) for cut in (line.crop(x1, x2) for line in lines)]
        return lines

    def _screen_line(self, y: int) -> protocol.Line | None:
        """Row y of the live screen when it is drawn as its runs alone (no scroll view, hint or cursor)."""
        mirror = self.mirror
        if self.scroll is not None or y >= len(mirror.lines):
            return None
        if mirror.cursor_y == y and mirror.cursor_visible and self.has_focus and self.live:
            return None
        return mirror.lines[y]

    @staticmethod
    def _run_segments(line: protocol.Line, width: int, frame: PaneFrame) -> list[Segment] | None:
        """The line's runs as finished segments (base style, run style, filters), padded to `width`
        cells; None when it is wider (cutting it is left to Strip)."""
        styles = frame.styles
        segments = []
        used = 0
        for text, fg, bg, attrs in line:
            key = (fg, bg, attrs)
            style = styles.get(key) or frame.run_style(key)
            segments.append(Segment(text, style))
            used += cell_len(text)
        if used > width:
            return None
        if used < width:
            segments.append(Segment(" " * (width - used), frame.run_style(None)))
        return segments

    def _border_row(self, y: int, width: int) -> Strip:
        """A top or bottom border row (with the pane's titles) as Textual draws it, asked for again
        only when Textual would draw it again: when it marked the row dirty or dropped its cache."""
        cache = self._styles_cache
        cached = self._border_rows.get(y)
        if cached is not None and cached[0] == cache.clears and not cache.is_dirty(y):
            return cached[1]
        line = self._render_styled(Region(0, y, width, 1))[0]
        self._border_rows[y] = (cache.clears, line)
        return line

    def _pane_frame(self) -> PaneFrame | None:
        """The pane's border cells beside a content row, or None when Textual must style each row.

        The cells are Textual's own: a probe row with a marker segment for content goes through
        Textual's styling once per restyle, resize or change of the app's line filters; when the
        marker comes back untouched between the border cells, every content row is just those
        cells around the line.
        """
        filters = tuple(self.get_line_filters())
        key = (self.outer_size, filters)
        if key == self._frame_key:
            return self._frame
        self._framed.clear()
        self._frame_key, self._frame = key, None
        styles = self.styles
        base_background, background = self.background_colors
        app = self.app
        size, content_size = self.region.size, self.content_region.size
        top = styles.gutter.top
        content_width, content_height = content_size
        if content_width <= 0 or content_height <= 0:
            return None
        marker = Segment(" " * content_width, Style(bgcolor="#010203"))
        probe = StylesCache().render(
            styles, size, base_background, background, lambda y: Strip([marker], content_width), [], None, None,
            content_size=content_size, padding=styles.padding, crop=Region(0, top, size.width, 1),
            opacity=self.opacity, ansi_theme=app.ansi_theme, native_ansi=app.native_ansi_color,
        )[0]
        segments = list(probe)
        at = next((i for i, segment in enumerate(segments) if segment is marker), None)
        if at is None or styles.gutter.bottom + top + content_height != size.height:
            return None
        left, right = tuple(segments[:at]), tuple(segments[at + 1:])
        left_cells = sum(segment.cell_length for segment in left)
        base = self._base_style
        if base is None:
            base = self._base_style = self.rich_style
        by_style = all(isinstance(line_filter, STYLE_FILTERS) for line_filter in filters)
        filtered_left, filtered_right = left, right
        for line_filter in filters:
            filtered_left = tuple(line_filter.apply(list(filtered_left), background))
            filtered_right = tuple(line_filter.apply(list(filtered_right), background))
        self._frame = PaneFrame(size, top, styles.gutter.bottom, left, right, left_cells,
                                left_cells + sum(segment.cell_length for segment in right), filters, background,
                                base, by_style, filtered_left, filtered_right, {})
        return self._frame

    def render_line(self, y: int) -> Strip:
        return self._content_line(y, self.size.width)

    def _content_line(self, y: int, width: int) -> Strip:
        """Row y of the screen (or of the scrolled view), `width` cells wide."""
        base = self._base_style
        if base is None:
            base = self._base_style = self.rich_style
        if self.scroll is not None:
            return self._render_scrolled(self.scroll, y, width, base)
        mirror = self.mirror
        if y >= len(mirror.lines):
            hint = RESTING_HINTS.get(self.info.status)
            if hint and not mirror.lines:
                return self._hint_line(hint, y, width, base)
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

    def _hint_line(self, hint: str, y: int, width: int, base: Style) -> Strip:
        lines = textwrap.wrap(hint, max(10, width - 2))
        text = f" {lines[y - 1]}" if 1 <= y <= len(lines) else ""
        return Strip([Segment(text, base + Style(dim=True))]).adjust_cell_length(width, base)

    def screen_changed(self, rows: set[int]) -> None:
        """Redraw only the rows a screen update touched."""
        if self.scroll is not None:
            # The view keeps its lines; only how far back it is changes, and the live rows in it.
            self.scroll.update(self.mirror, self.size.height)
            self._scrolled()
            return
        width, height = self.size
        x, frame = 0, self._frame
        if frame is not None and frame.size == self.outer_size:
            # Whole rows, border cells included: the compositor then writes each finished row as
            # it is, where a part of one would be cut out of it (a new Strip per row, every frame).
            x, width = -frame.left_cells, frame.size.width
        regions = [Region(x, y, width, 1) for y in rows if y < height]
        if regions:  # refresh() with no regions would redraw everything
            self.refresh(*regions)

    def update_info(self, info: SessionView, task_text: str | None = None) -> None:
        """New session details (status, branch, budget) from a sessions message; the task's text when known."""
        before = self.info.status
        self.info = info
        if task_text is not None:
            self.task_text = task_text
        status = info.status or Status.STARTING
        if status != before and not self.mirror.lines:
            self.refresh()  # the hint in place of a screen says what to do in this status
        for name in STATUS_SYMBOLS:
            self.set_class(name == status, status_class(name))
        symbol = STATUS_SYMBOLS.get(status, "?")
        variable = "$" + status_variable(status)
        mark = "[$accent]✚[/] " if self.marked else ""
        port = f" :{info.port}" if info.port else ""  # the session's $PORT, for its dev server
        # Waiting is a badge, not just a colour: it stays while the agent waits, focused or not.
        label = f"{symbol} {status_label(status)}"
        badge = f"[$background on {variable}] {label} [/]" if status == Status.WAITING else f"[{variable}]{label}[/]"
        title = f"{mark}{badge} [b]{self.session}[/]{port}"
        if info.task:  # the task it works on (core.pipeline)
            text = " ".join(self.task_text.split())
            text = text if len(text) <= 32 else text[:31] + "…"
            title += f" [$accent]▸ {info.task}[/]" + (f" {escape(text)}" if text else "")
        if self.scroll is not None:  # first, so a narrow pane cuts the name rather than this
            title = f"[reverse $accent] ⇡ {self.scroll.indicator()} [/] {title}"
        bar = budget_bar(info.budget)
        subtitle = f"{info.branch}  {bar}".strip()
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
        self._scroll_strips.clear()
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
    async def on_key(self, event: events.Key) -> None:
        if self.scroll is not None:
            await self._scroll_key(event)
            return
        if not self.steering:
            return
        # Every key belongs to the agent now, including tab and ctrl+c.
        event.stop()
        event.prevent_default()
        if event.key == self.leader:
            self.post_message(self.LeaderPressed())
            return
        self.type_key(event)

    def type_key(self, event: events.Key) -> None:
        """Send a key to the agent, encoded as a terminal would."""
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

    def _agent_has_mouse(self) -> bool:
        """A steered agent that turned on mouse reporting gets the mouse; otherwise the pane uses it."""
        return self.steering and bool(self.mirror.modes.get("mouse"))

    # Textual numbers buttons 1-3 (0: none); terminals 0-2 (-1: none).
    def on_mouse_down(self, event: events.MouseDown) -> None:
        if self._agent_has_mouse():
            self._send_mouse("press", event, event.button - 1)
        elif event.button == 1:
            self._press(event)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._agent_has_mouse():
            self._send_mouse("release", event, event.button - 1)
        elif self._pressed_at is not None:
            event.stop()
            self._pressed_at = None
            self.capture_mouse(False)
            if self.scroll is not None and self.scroll.dragging:
                self._drag_end()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._agent_has_mouse():
            self._send_mouse("move", event, event.button - 1)
        elif self._pressed_at is not None:
            event.stop()
            if self.scroll is None or not self.scroll.dragging:
                if event.get_content_offset_capture(self) == self._pressed_at:
                    return
                self._drag_start(self._pressed_at)
            self._drag_to(event)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if self._agent_has_mouse():
            self._send_mouse("scroll_up", event, 0)
            return
        event.stop()
        if self.scroll is None:
            self.enter_scroll(by_mouse=True)
            if not self.screen.has_class("-steering"):
                self.focus()  # so its keys (q, /, ...) and the footer are the scrolled pane's
        assert self.scroll is not None
        self.scroll.scroll(-WHEEL_LINES)
        self._scrolled()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if self._agent_has_mouse():
            self._send_mouse("scroll_down", event, 0)
            return
        if self.scroll is None:
            return  # the grid may scroll
        event.stop()
        self.scroll.scroll(WHEEL_LINES)
        if self.scroll.by_mouse and self.scroll.at_bottom() and self.scroll.selection is None:
            self.leave_scroll()  # the wheel brought it back: live again, as tmux does
        else:
            self._scrolled()

    # ------------------------------------------------------------------ scroll mode
    def enter_scroll(self, *, by_mouse: bool = False) -> ScrollState:
        """Freeze the view on the lines it shows now; the agent and its screen carry on underneath."""
        if self.scroll is None:
            self.scroll = ScrollState.enter(self.mirror, self.size.height, by_mouse=by_mouse)
            self.post_message(self.ScrollChanged(self))
        self._scrolled()
        return self.scroll

    def leave_scroll(self) -> None:
        """Back to the live screen."""
        if self.scroll is None:
            return
        self.scroll = None
        self._strips.clear()
        self._scroll_strips.clear()
        self.refresh()
        self.update_info(self.info)
        self.post_message(self.ScrollChanged(self))

    def _scrolled(self) -> None:
        """The view, the cursor or the selection moved: redraw, retitle, fetch what is now in view."""
        state = self.scroll
        if state is None:
            return
        self.refresh()
        self.update_info(self.info)
        self._fetch(state.top - state.height, state.top + 2 * state.height)

    def _fetch(self, start: int, end: int) -> None:
        extent = self.mirror.history
        if self.history.source is not None and self.history.missing(start, end, extent):
            self.run_worker(self._fetch_lines(start, end), group="history")

    async def _fetch_lines(self, start: int, end: int) -> None:
        if await self.history.fetch(start, end, self.mirror.history) and self.scroll is not None:
            self.refresh()

    def line_at(self, number: int) -> protocol.Line | None:
        """Line `number` of history and screen, None while a history line is being fetched."""
        pushed = self.mirror.history.pushed
        if number >= pushed:
            row = number - pushed
            return self.mirror.lines[row] if row < len(self.mirror.lines) else []
        return self.history.get(number)

    def _render_scrolled(self, state: ScrollState, y: int, width: int, base: Style) -> Strip:
        if y == state.height - 1 and (state.prompt is not None or state.message):
            status = self.get_component_rich_style("terminal-pane--status")
            text = f"{'?' if state.backward else '/'}{state.prompt}█" if state.prompt is not None else state.message
            return Strip([Segment(text[:width], base + status)]).adjust_cell_length(width, base + status)
        number = state.top + y
        line = self.line_at(number)
        span = state.selected()
        selected = span.cells(number, width) if span is not None else None
        cursor = state.cursor[1] if number == state.cursor[0] and (self.has_focus or span is not None) else None
        # A busy agent retitles a scrolled pane up to 120 times a second, and a title repaints
        # the pane: rows whose line and marks are unchanged come from the cache.
        key = (width, base, state.query, state.match, selected, cursor)
        cached = self._scroll_strips.get(number)
        if cached is not None and cached[0][0] is line and cached[0][1:] == key:
            return cached[1]
        strip = line_strip(line or [], width, None, base)
        marks: list[tuple[int, int, Style]] = []
        if state.query and line:
            current = state.match
            for col, cells in spans(line_text(line), self._pattern(state.query)):
                is_current = current is not None and (current.line, current.col) == (number, col)
                name = "current-match" if is_current else "match"
                marks.append((col, col + cells, self.get_component_rich_style(f"terminal-pane--{name}")))
        if selected is not None:
            marks.append((*selected, self.get_component_rich_style("terminal-pane--selection")))
        if cursor is not None:
            marks.append((cursor, cursor + 1, CURSOR_STYLE))  # reversed, over whatever highlight is there
        strip = overlay(strip, marks, width)
        if len(self._scroll_strips) > 4 * state.height:
            self._scroll_strips.clear()
        self._scroll_strips[number] = ((line, *key), strip)
        return strip

    def _pattern(self, query: str) -> re.Pattern[str]:
        if self._compiled is None or self._compiled[0] != query:
            self._compiled = (query, pattern(query))
        return self._compiled[1]

    async def _scroll_key(self, event: events.Key) -> None:
        # Every key is handled here, in order: a key left to bubble up to the bindings would be
        # acted on after the keys typed behind it (a fast "/text" would lose its first letters).
        state = self.scroll
        assert state is not None
        event.stop()
        event.prevent_default()
        if state.prompt is not None:
            self._prompt_key(state, event)
            return
        if state.message:
            state.message = ""
            self.refresh(Region(0, state.height - 1, self.size.width, 1))
        action = keymap.SCROLL_ACTIONS.get(event.key)
        if action is not None:  # any other key does nothing, rather than reach the agent or the grid
            await self.run_action(action)

    def _prompt_key(self, state: ScrollState, event: events.Key) -> None:
        if event.key == "escape":
            state.prompt = None
        elif event.key == "enter":
            query, state.prompt = state.prompt or state.query, None
            if query:
                state.query = query
                self._search(state, state.backward)
        elif event.key == "backspace":
            if state.prompt:
                state.prompt = state.prompt[:-1]
            else:
                state.prompt = None
        elif event.is_printable and event.character:
            state.prompt += event.character
        self.refresh()

    def _search(self, state: ScrollState, backward: bool) -> None:
        if self.history.source is None:
            state.message = "no history here to search"
            self.refresh()
            return
        self.run_worker(self._run_search(state, state.query, backward), group="search", exclusive=True)

    async def _run_search(self, state: ScrollState, query: str, backward: bool) -> None:
        line, col = state.cursor
        assert self.history.source is not None
        result = await self.history.source.search(query, line, col, backward)
        if state is not self.scroll or result is None:
            return
        if result.match is None:
            state.message = f"not found: {query}"
        else:
            state.match = result.match
            state.jump(result.match.line, result.match.col)
            if result.wrapped:
                state.message = ("search hit TOP, continuing at BOTTOM" if backward
                                 else "search hit BOTTOM, continuing at TOP")
        self._scrolled()

    def _copy(self, span: Span) -> None:
        self.run_worker(self._copy_span(span), group="copy")

    async def _copy_span(self, span: Span) -> None:
        await self.history.fetch(span.lines.start, span.lines.stop, self.mirror.history)
        text = span.text(self.line_at)
        self.app.copy_to_clipboard(text)
        count = len(text.splitlines()) or 1
        self.notify(f"Copied {len(text)} characters ({count} line{'s' if count != 1 else ''}) to the clipboard",
                    timeout=3)

    # Drags select; the selection is copied when the button goes up. A click that does not move
    # selects nothing and leaves the pane as it was (it only focuses it).
    def _press(self, event: events.MouseDown) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        self._pressed_at = offset
        self.capture_mouse()
        self.focus()

    def _drag_start(self, press: Offset) -> None:
        self._drag_entered = self.scroll is None
        state = self.enter_scroll(by_mouse=True)
        state.cursor = (state.top + press.y, press.x)
        state.selection = Selection(state.cursor)
        state.dragging = True

    def _drag_to(self, event: events.MouseMove) -> None:
        state = self.scroll
        assert state is not None
        offset = event.get_content_offset_capture(self)
        if offset.y < 0:
            state.scroll(-1)
        elif offset.y >= state.height:
            state.scroll(1)
        y = min(max(offset.y, 0), state.height - 1)
        state.cursor = (state.top + y, max(0, min(offset.x, self.size.width - 1)))
        self._scrolled()

    def _drag_end(self) -> None:
        state = self.scroll
        assert state is not None
        state.dragging = False
        span = state.selected()
        if span is not None and span.start != span.end:
            self._copy(span)
        if self._drag_entered:
            self.leave_scroll()
        else:
            state.selection = None
            self._scrolled()

    # Scroll mode's actions (keymap.SCROLL_BINDINGS); only while scrolled, except a page up.
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "page" and self.scroll is None:
            return not self.steering and parameters[0] < 0  # type: ignore[operator]
        return self.scroll is not None

    def action_leave_scroll(self) -> None:
        self.leave_scroll()

    def action_scroll_escape(self) -> None:
        if self.scroll is not None and self.scroll.selection is not None:
            self.scroll.selection = None
            self._scrolled()
        else:
            self.leave_scroll()

    def action_cursor(self, lines: int, cols: int) -> None:
        if self.scroll is not None:
            self.scroll.move(lines, cols)
            self._scrolled()

    def action_page(self, pages: float) -> None:
        state = self.scroll or self.enter_scroll()
        lines = int(pages * max(1, state.height - 1)) or (1 if pages > 0 else -1)
        state.scroll(lines)
        self._scrolled()

    def action_edge(self, direction: int) -> None:
        state = self.scroll
        if state is not None:
            state.jump(state.extent.first if direction < 0 else state.last_line, state.cursor[1])
            self._scrolled()

    async def action_line_edge(self, direction: int) -> None:
        state = self.scroll
        if state is None:
            return
        number = state.cursor[0]
        await self.history.fetch(number, number + 1, self.mirror.history)  # its end is where its text ends
        text = line_text(self.line_at(state.cursor[0]) or []).rstrip()
        state.cursor = (state.cursor[0], 0 if direction < 0 else cells(text[:-1]))
        self._scrolled()

    def action_search(self, backward: bool) -> None:
        if self.scroll is not None:
            self.scroll.prompt, self.scroll.backward = "", backward
            self.refresh()

    def action_search_next(self, reverse: bool) -> None:
        state = self.scroll
        if state is None:
            return
        if not state.query:
            state.message = "no search yet: / searches down, ? up"
            self.refresh()
            return
        self._search(state, state.backward != reverse)

    def action_select(self) -> None:
        if self.scroll is not None:
            self.scroll.toggle_selection()
            self._scrolled()

    def action_copy(self) -> None:
        state = self.scroll
        if state is None:
            return
        span = state.selected()
        if span is None:
            state.message = "nothing selected: v starts a selection"
            self.refresh()
            return
        self._copy(span)
        self.leave_scroll()


def overlay(strip: Strip, marks: list[tuple[int, int, Style]], width: int) -> Strip:
    """The strip with each (start, end, style) laid over its cells, later marks on top."""
    for start, end, style in marks:
        start, end = max(0, start), min(width, end)
        if start >= end:
            continue
        before, middle, after = strip.divide([start, end, width])
        middle = Strip(Segment.apply_style(list(middle), post_style=style), middle.cell_length)
        strip = Strip.join([before, middle, after])
    return strip
