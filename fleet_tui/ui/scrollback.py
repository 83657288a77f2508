"""Scroll mode of a pane, without Textual: where the view is, the copy cursor, the selection, the search.

Lines are numbered as the server numbers them (fleet_tui.core.scrollback): history lines
`first`..`pushed - 1`, then the live screen's rows. The view is anchored to a line number, so
output arriving meanwhile changes nothing on the screen but how far back the view is.
History lines never change once written, so what the client fetched stays good until the
history's epoch changes; it is fetched in blocks, each once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fleet_tui.core.scrollback import index_at_cell
from fleet_tui.protocol import HistoryExtent, HistorySlice, Line, ScreenMirror, SearchMatch, SearchResult

if TYPE_CHECKING:
    from fleet_tui.client import FleetApi

BLOCK = 200  # history lines fetched per request
WHEEL_LINES = 3


class HistorySource(Protocol):
    async def history(self, start: int, count: int) -> HistorySlice | None: ...

    async def search(self, query: str, line: int, col: int, backward: bool) -> SearchResult | None: ...


class ServerHistory:
    """A session's history through the fleet server (`ask` turns refusals into None)."""

    def __init__(self, ask: Callable[[Callable[[FleetApi], Awaitable[Any]]], Awaitable[Any]], session: str) -> None:
        self._ask = ask
        self.session = session

    async def history(self, start: int, count: int) -> HistorySlice | None:
        reply: HistorySlice | None = await self._ask(lambda client: client.history(self.session, start, count))
        return reply

    async def search(self, query: str, line: int, col: int, backward: bool) -> SearchResult | None:
        reply: SearchResult | None = await self._ask(
            lambda client: client.search(self.session, query, line, col=col, backward=backward))
        return reply


class HistoryCache:
    """History lines fetched so far, by number; each line is asked for once, however often it is drawn.

    Lines are fetched in blocks of BLOCK; the newest block may be only partly history when
    asked for, and is asked again for the rest once more of it has scrolled off the screen.
    """

    def __init__(self, source: HistorySource | None) -> None:
        self.source = source
        self.epoch: int | None = None
        self.lines: dict[int, Line] = {}
        self._asked: dict[int, int] = {}  # block -> the end of what was asked of it (fetched or on its way)
        self._inflight: dict[int, asyncio.Future[bool]] = {}  # block -> the request fetching it

    def get(self, number: int) -> Line | None:
        return self.lines.get(number)

    def sync(self, extent: HistoryExtent) -> None:
        """Forget everything when the history was cleared or replaced (a new epoch)."""
        if extent.epoch != self.epoch:
            self.epoch = extent.epoch
            self.lines.clear()
            self._asked.clear()

    def missing(self, start: int, end: int, extent: HistoryExtent) -> list[tuple[int, int]]:
        """The parts (start, end) of blocks in start..end-1 not yet asked for, within the history."""
        self.sync(extent)
        start, end = max(start, extent.first), min(end, extent.pushed)
        wanted = []
        for block in range(start // BLOCK * BLOCK, end, BLOCK):
            block_end = min(block + BLOCK, extent.pushed)
            asked = self._asked.get(block, block)
            if asked < block_end:
                wanted.append((max(asked, extent.first), block_end))
        return wanted

    async def fetch(self, start: int, end: int, extent: HistoryExtent) -> bool:
        """Fetch what start..end-1 still lacks, and wait for what is already on its way.

        True when something new arrived.
        """
        if self.source is None:
            return False
        first_block = start // BLOCK * BLOCK
        waiting = {future for block, future in self._inflight.items() if first_block <= block < end}
        parts = self.missing(start, end, extent)
        if parts:
            # Marked asked now, not when the request starts: a fetch meanwhile must not ask again.
            before = {lo // BLOCK * BLOCK: self._asked.get(lo // BLOCK * BLOCK) for lo, _hi in parts}
            for lo, hi in parts:
                self._asked[lo // BLOCK * BLOCK] = hi
            request = asyncio.ensure_future(self._request(parts, before))
            for lo, _hi in parts:
                self._inflight[lo // BLOCK * BLOCK] = request
            waiting.add(request)
        if not waiting:
            return False
        return any(await asyncio.gather(*waiting))

    async def _request(self, parts: list[tuple[int, int]], before: dict[int, int | None]) -> bool:
        assert self.source is not None
        blocks = [lo // BLOCK * BLOCK for lo, _hi in parts]
        try:
            results = await asyncio.gather(*(self.source.history(lo, hi - lo) for lo, hi in parts))
        finally:
            me = asyncio.current_task()
            for block in blocks:
                if self._inflight.get(block) is me:  # not a newer request for the block's rest
                    del self._inflight[block]
        arrived = False
        for block, part in zip(blocks, results):
            if part is None or part.extent.epoch != self.epoch:
                # Refused, or read from a history cleared since: ask again when next needed.
                previous = before[block] if part is None else None
                if previous is None:
                    self._asked.pop(block, None)
                else:
                    self._asked[block] = previous
                continue
            for offset, line in enumerate(part.lines):
                self.lines[part.start + offset] = line
            arrived = True
        return arrived


def line_text(line: Line) -> str:
    return "".join(run[0] for run in line)


@dataclass(frozen=True)
class Span:
    """A stream of cells from `start` to `end` (both (line, cell), inclusive), as tmux selects."""

    start: tuple[int, int]
    end: tuple[int, int]

    @property
    def lines(self) -> range:
        return range(self.start[0], self.end[0] + 1)

    def cells(self, line: int, width: int) -> tuple[int, int] | None:
        """The cells of `line` inside the span, as (start, end) exclusive, or None."""
        (l0, c0), (l1, c1) = self.start, self.end
        if not l0 <= line <= l1:
            return None
        start = c0 if line == l0 else 0
        end = c1 + 1 if line == l1 else max(width, start + 1)
        return start, end

    def text(self, line_of: Callable[[int], Line | None]) -> str:
        """The span's text, trailing blanks of each line dropped."""
        pieces = []
        for number in self.lines:
            line = line_of(number)
            text = line_text(line) if line else ""
            start, end = self.cells(number, 1 << 16) or (0, 0)
            pieces.append(text[index_at_cell(text, start):index_at_cell(text, end)].rstrip())
        return "\n".join(pieces)


@dataclass
class Selection:
    anchor: tuple[int, int]  # (line, cell) where it started; the cursor is its other end

    def span(self, cursor: tuple[int, int]) -> Span:
        return Span(self.anchor, cursor) if self.anchor <= cursor else Span(cursor, self.anchor)


@dataclass
class ScrollState:
    """One pane's scroll mode. `top` is the line number of the view's first row."""

    top: int
    cursor: tuple[int, int]  # (line, cell)
    height: int
    selection: Selection | None = None
    query: str = ""
    backward: bool = False
    match: SearchMatch | None = None
    prompt: str | None = None  # the search being typed, None when not typing
    message: str = ""
    by_mouse: bool = False  # entered by the wheel or a drag: scrolling back to the bottom leaves
    dragging: bool = False
    extent: HistoryExtent = field(default_factory=HistoryExtent)
    rows: int = 24

    @classmethod
    def enter(cls, mirror: ScreenMirror, height: int, *, by_mouse: bool = False) -> "ScrollState":
        pushed = mirror.history.pushed
        cursor = (pushed + min(mirror.cursor_y, max(0, height - 1)), mirror.cursor_x)
        return cls(top=pushed, cursor=cursor, height=max(1, height), by_mouse=by_mouse,
                   extent=mirror.history, rows=mirror.rows)

    # ------------------------------------------------------------------ geometry
    def update(self, mirror: ScreenMirror, height: int) -> None:
        """New output or a new size: the view stays on its lines unless they fell out of the history."""
        self.extent, self.rows, self.height = mirror.history, mirror.rows, max(1, height)
        self.top = self._clamp_top(self.top)
        self.cursor = self._clamp_cursor(self.cursor)

    @property
    def offset(self) -> int:
        """How many lines the view is above the live screen."""
        return max(0, self.extent.pushed - self.top)

    @property
    def last_line(self) -> int:
        return self.extent.pushed + max(self.rows, self.height) - 1

    def _clamp_top(self, top: int) -> int:
        return max(self.extent.first, min(top, self.extent.pushed))

    def _clamp_cursor(self, cursor: tuple[int, int]) -> tuple[int, int]:
        line, col = cursor
        return max(self.extent.first, min(line, self.last_line)), max(0, col)

    def scroll(self, lines: int) -> None:
        """Move the view (negative: back), dragging the cursor along when it would leave it."""
        self.top = self._clamp_top(self.top + lines)
        line, col = self.cursor
        self.cursor = (min(max(line, self.top), self.top + self.height - 1), col)

    def move(self, lines: int = 0, cols: int = 0) -> None:
        """Move the cursor; the view follows it."""
        line, col = self.cursor
        self.cursor = self._clamp_cursor((line + lines, col + cols))
        self.follow()

    def follow(self) -> None:
        line = self.cursor[0]
        if line < self.top:
            self.top = self._clamp_top(line)
        elif line >= self.top + self.height:
            self.top = self._clamp_top(line - self.height + 1)

    def jump(self, line: int, col: int = 0) -> None:
        """Put the cursor on a line and show it, a third of the way down when it was out of view."""
        self.cursor = self._clamp_cursor((line, col))
        if not self.top <= line < self.top + self.height:
            self.top = self._clamp_top(line - self.height // 3)

    def at_bottom(self) -> bool:
        return self.top >= self.extent.pushed

    # ------------------------------------------------------------------ selection
    def toggle_selection(self) -> None:
        self.selection = None if self.selection else Selection(self.cursor)

    def selected(self) -> Span | None:
        return None if self.selection is None else self.selection.span(self.cursor)

    # ------------------------------------------------------------------ title
    def indicator(self) -> str:
        return f"-{self.offset}/{self.extent.length}"
