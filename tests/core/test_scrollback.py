"""Reading and searching a terminal's history by line number (fleet_tui.core.scrollback)."""

from __future__ import annotations

from fleet_tui.core import scrollback
from fleet_tui.core.terminal import Terminal
from fleet_tui.protocol import HistorySlice, SearchMatch, SearchResult


def numbered(count: int, rows: int = 5, scrollback_lines: int = 100) -> Terminal:
    term = Terminal(20, rows, scrollback=scrollback_lines)
    term.feed("".join(f"line {n}\r\n" for n in range(1, count + 1)))
    return term


def text(line) -> str:
    return "".join(run[0] for run in line)


def test_lines_are_numbered_from_the_first_ever_pushed_and_keep_their_number():
    term = numbered(10)  # 10 lines + the cursor's empty row on a 5-row screen: 6 scrolled off
    extent = scrollback.extent(term)
    assert (extent.first, extent.pushed, extent.length) == (0, 6, 6)
    assert [text(line) for line in scrollback.read(term, 2, 3).lines] == ["line 3", "line 4", "line 5"]

    term.feed("".join(f"more {n}\r\n" for n in range(200)))  # the history keeps its last 100
    extent = scrollback.extent(term)
    assert (extent.first, extent.pushed) == (106, 206)
    part = scrollback.read(term, 150, 2)
    assert part.start == 150 and [text(line) for line in part.lines] == ["more 140", "more 141"]


def test_a_read_is_clipped_to_what_is_kept():
    term = numbered(10)
    part = scrollback.read(term, -5, 8)
    assert part.start == 0 and len(part.lines) == 3
    assert scrollback.read(term, 6, 10).lines == []  # the screen is not history
    assert scrollback.read(term, 0, 10**9).lines == scrollback.read(term, 0, 6).lines


def test_styles_survive_the_trip_through_the_wire():
    term = Terminal(20, 2)
    term.feed("\x1b[1;31mred\x1b[0m plain\r\n\r\n\r\n")
    part = scrollback.read(term, 0, 1)
    again = HistorySlice.from_wire(part.wire())
    assert again == part
    assert again.lines[0][0] == ("red", 1, None, 1)


def test_clearing_the_history_starts_a_new_epoch():
    term = numbered(10)
    before = scrollback.extent(term)
    term.feed("\x1b[3J")
    after = scrollback.extent(term)
    assert after.epoch != before.epoch and after.length == 0 and after.pushed == before.pushed


def test_search_forward_from_the_cursor_then_wraps_round():
    term = numbered(30, scrollback_lines=1000)  # lines 0..25 in history, "line 27".."line 30" on screen
    first = scrollback.search(term, "line 2", 0, 0)
    assert first == SearchResult(SearchMatch(1, 0, 6))
    # The match at the cursor is skipped: repeating moves on.
    nxt = scrollback.search(term, "line 2", 1, 0)
    assert nxt.match == SearchMatch(19, 0, 6)  # "line 20"
    # From the last match on the screen ("line 29" is screen row 2, number 28) it wraps to the top.
    last = scrollback.search(term, "line 29", 0, 0)
    assert last.match == SearchMatch(28, 0, 7) and not last.wrapped
    wrapped = scrollback.search(term, "line 2", 28, 0)
    assert wrapped == SearchResult(SearchMatch(1, 0, 6), wrapped=True)


def test_search_backward_and_within_a_line():
    term = Terminal(40, 3, scrollback=100)
    term.feed("ab ab ab\r\nzz\r\nzz\r\nzz\r\n")
    # Backward from the middle "ab" (cell 3) finds the first one; again from there wraps to the last.
    assert scrollback.search(term, "ab", 0, 3, backward=True).match == SearchMatch(0, 0, 2)
    assert scrollback.search(term, "ab", 0, 0, backward=True) == SearchResult(SearchMatch(0, 6, 2), wrapped=True)
    assert scrollback.search(term, "ab", 0, 3).match == SearchMatch(0, 6, 2)


def test_search_is_smartcase_and_counts_wide_characters_as_two_cells():
    term = Terminal(40, 3, scrollback=100)
    term.feed("日本 Error here\r\nerror there\r\n\r\n\r\n")
    assert scrollback.search(term, "error", 0, 0).match == SearchMatch(0, 5, 5)  # after 日本 (4 cells) and a space
    assert scrollback.search(term, "error", 0, 5).match == SearchMatch(1, 0, 5)
    assert scrollback.search(term, "Error", 0, 5) == SearchResult(SearchMatch(0, 5, 5), wrapped=True)
    assert scrollback.search(term, "absent", 0, 0) == SearchResult(None)
    assert scrollback.search(term, "", 0, 0) == SearchResult(None)


def test_search_results_travel_the_wire():
    found = SearchResult(SearchMatch(7, 3, 2), wrapped=True)
    assert SearchResult.from_wire(found.wire()) == found
    assert SearchResult.from_wire(SearchResult(None).wire()) == SearchResult(None)


def test_spans_and_cells_for_highlighting():
    compiled = scrollback.pattern("ab")
    assert scrollback.spans("xAbyab", compiled) == [(1, 2), (4, 2)]
    assert scrollback.spans("日ab", compiled) == [(2, 2)]
    assert scrollback.index_at_cell("日本x", 2) == 1 and scrollback.index_at_cell("日本x", 4) == 2
    assert scrollback.index_at_cell("abc", 10) == 3
