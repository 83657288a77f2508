"""Scroll mode's model (fleet_tui.ui.scrollback) over a real emulator's history, without the app."""

from __future__ import annotations

import asyncio

from fleet_tui.core import scrollback
from fleet_tui.core.terminal import Terminal
from fleet_tui.protocol import HistorySlice, ScreenMirror, SearchResult
from fleet_tui.ui.scrollback import BLOCK, HistoryCache, ScrollState, Selection, line_text


class TerminalHistory:
    """A HistorySource answered by a core Terminal, as the server does; counts the lines it sends."""

    def __init__(self, term: Terminal) -> None:
        self.term = term
        self.sent = 0

    async def history(self, start: int, count: int) -> HistorySlice | None:
        part = scrollback.read(self.term, start, count)
        self.sent += len(part.lines)
        return part

    async def search(self, query: str, line: int, col: int, backward: bool) -> SearchResult | None:
        return scrollback.search(self.term, query, line, col, backward)


def printed(count: int, term: Terminal | None = None) -> Terminal:
    term = term or Terminal(20, 10, scrollback=1000)
    term.feed("".join(f"n{n}\r\n" for n in range(count)))
    return term


def test_each_history_line_is_fetched_once_and_the_newest_block_is_completed_later():
    term = printed(BLOCK + 50)  # the second block is partly history
    source = TerminalHistory(term)
    cache = HistoryCache(source)
    extent = scrollback.extent(term)
    assert asyncio.run(cache.fetch(0, extent.pushed, extent))
    assert source.sent == extent.pushed
    assert not asyncio.run(cache.fetch(0, extent.pushed, extent))  # nothing asked twice
    assert source.sent == extent.pushed

    printed(30, term)  # 30 more lines scroll into history, inside the second block
    newer = scrollback.extent(term)
    assert asyncio.run(cache.fetch(0, newer.pushed, newer))
    assert source.sent == newer.pushed  # only the 30 new ones were sent
    assert line_text(cache.get(newer.pushed - 1)) == "n20"  # n21..n29 and the cursor row are on screen


def test_a_cleared_history_voids_the_cache():
    term = printed(50)
    cache = HistoryCache(TerminalHistory(term))
    asyncio.run(cache.fetch(0, 50, scrollback.extent(term)))
    assert cache.get(0) is not None
    term.feed("\x1b[3J")
    cache.sync(scrollback.extent(term))
    assert cache.get(0) is None


def mirror_of(term: Terminal) -> ScreenMirror:
    mirror = ScreenMirror("s", term.cols, term.rows)
    mirror.apply({"full": True, "lines": [[y, term.line(y)] for y in range(term.rows)],
                  "cursor": [term.cursor_x, term.cursor_y, True], "history": scrollback.extent(term).wire()})
    return mirror


def test_the_view_stays_on_its_lines_as_output_arrives():
    term = printed(100)
    state = ScrollState.enter(mirror_of(term), 10)
    assert state.offset == 0 and state.indicator() == "-0/91"
    state.scroll(-20)
    top = state.top
    printed(7, term)
    state.update(mirror_of(term), 10)
    assert state.top == top and state.indicator() == "-27/98"
    state.scroll(1000)
    assert state.at_bottom() and state.offset == 0


def test_the_view_follows_lines_that_fall_out_of_the_history():
    term = Terminal(20, 10, scrollback=50)
    printed(60, term)
    state = ScrollState.enter(mirror_of(term), 10)
    state.jump(state.extent.first)
    printed(20, term)
    state.update(mirror_of(term), 10)
    assert state.top == state.extent.first  # the lines it showed are gone: the oldest kept


def test_a_selection_spans_lines_as_a_stream_and_drops_trailing_blanks():
    lines = {5: [("hello world   ", None, None, 0)], 6: [("second", None, None, 0)], 7: [("third line", None, None, 0)]}
    state = ScrollState(top=0, cursor=(5, 6), height=10)
    state.selection = Selection(state.cursor)
    state.cursor = (7, 4)
    span = state.selected()
    assert span.cells(5, 20) == (6, 20) and span.cells(6, 20) == (0, 20) and span.cells(7, 20) == (0, 5)
    assert span.text(lines.get) == "world\nsecond\nthird"
    state.cursor = (5, 2)  # backwards from the anchor
    assert state.selected().text(lines.get) == "llo w"


def test_a_fetch_waits_for_the_same_lines_already_on_their_way():
    term = printed(100)
    source = TerminalHistory(term)
    cache = HistoryCache(source)
    extent = scrollback.extent(term)

    async def both() -> tuple[bool, bool]:
        first = asyncio.ensure_future(cache.fetch(0, 50, extent))
        await asyncio.sleep(0)  # the first request is on its way
        second = await cache.fetch(10, 11, extent)  # asks nothing, but returns once line 10 is here
        assert cache.get(10) is not None
        return await first, second

    assert asyncio.run(both()) == (True, True)
    assert source.sent == extent.pushed  # each line sent once
