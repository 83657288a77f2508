"""A terminal's scrollback read by line number and searched, for clients that see only screens.

Lines are numbered as History numbers them: history lines `first`..`pushed - 1`, then the
screen's rows from `pushed` on. Nothing here copies the history: a read decodes only the lines
asked for, and a search walks the stored text in place, stopping at the first match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain

from fleet_tui.core.terminal import Terminal, char_width
from fleet_tui.protocol import MAX_HISTORY_SLICE, HistoryExtent, HistorySlice, SearchMatch, SearchResult


def extent(term: Terminal) -> HistoryExtent:
    history = term.history
    return HistoryExtent(history.epoch, history.first, history.pushed)


def read(term: Terminal, start: int, count: int) -> HistorySlice:
    """History lines start..start+count-1, clipped to what is kept (and to MAX_HISTORY_SLICE)."""
    history = term.history
    first, pushed = history.first, history.pushed
    lo = max(int(start), first)
    hi = min(int(start) + max(0, min(int(count), MAX_HISTORY_SLICE)), pushed)
    lines = history.between(lo - first, hi - first) if lo < hi else []
    return HistorySlice(extent(term), lo, lines)


def pattern(query: str) -> re.Pattern[str]:
    """Literal text; case matters only when the query has a capital letter (vim's smartcase)."""
    return re.compile(re.escape(query), 0 if any(ch.isupper() for ch in query) else re.IGNORECASE)


def cells(text: str) -> int:
    """How many cells `text` takes on a terminal line."""
    return sum(map(char_width, text)) if not text.isascii() else len(text)


def index_at_cell(text: str, col: int) -> int:
    """The index in `text` of the character drawn at cell `col` (len(text) past its end)."""
    if text.isascii():
        return min(col, len(text))
    x = 0
    for index, ch in enumerate(text):
        width = char_width(ch)
        if x + width > col:
            return index
        x += width
    return len(text)


def spans(text: str, compiled: re.Pattern[str]) -> list[tuple[int, int]]:
    """Every match in a line as (cell, width in cells)."""
    return [(cells(text[:m.start()]), cells(m.group())) for m in compiled.finditer(text) if m.end() > m.start()]


def search(term: Terminal, query: str, line: int, col: int, backward: bool = False) -> SearchResult:
    """The first match after (line, col), or before it going backward, wrapping past either end.

    Searches the history and the screen below it; (line, col) is where the user's cursor is,
    and a match starting exactly there is skipped so that repeating the search moves on.
    """
    if not query:
        return SearchResult(None)
    compiled = pattern(query)
    history = term.history
    first, pushed = history.first, history.pushed
    last = pushed + term.rows - 1
    line = min(max(int(line), first), last)
    col = max(0, int(col))

    def screen_texts(start: int, back: bool) -> Iterator[str]:
        rows = range(start, -1, -1) if back else range(start, term.rows)
        return ("".join(term._lines[y].chars) for y in rows)

    def texts_from(number: int, back: bool) -> Iterator[str]:
        """Texts of lines number, number+1, ... (or number, number-1, ... going back)."""
        if number >= pushed:
            screen = screen_texts(number - pushed, back)
            return chain(screen, history.texts(len(history) - 1, backward=True)) if back else screen
        if back:
            return history.texts(number - first, backward=True)
        return chain(history.texts(number - first), screen_texts(0, False))

    def first_match(text: str, start: int, end: int | None) -> re.Match[str] | None:
        """The first match beginning in text[start:end], or the last one going backward."""
        found = None
        for m in compiled.finditer(text, start):
            if end is not None and m.start() >= end:
                break
            if m.end() == m.start():
                continue
            if not backward:
                return m
            found = m
        return found

    def scan(texts: Iterator[str], number: int, step: int, stop: int) -> SearchMatch | None:
        for text in texts:
            m = first_match(text, 0, None)
            if m is not None:
                return SearchMatch(number, cells(text[:m.start()]), cells(m.group()))
            if number == stop:
                return None
            number += step
        return None

    texts = texts_from(line, backward)
    here = next(texts)
    at = index_at_cell(here, col)
    m = first_match(here, 0, at) if backward else first_match(here, at + 1, None)
    if m is not None:
        return SearchResult(SearchMatch(line, cells(here[:m.start()]), cells(m.group())))
    step = -1 if backward else 1
    end = first if backward else last
    if line != end:
        found = scan(texts, line + step, step, end)
        if found is not None:
            return SearchResult(found)
    # Wrap: from the other end back round to the starting line, which is searched whole.
    start = last if backward else first
    found = scan(texts_from(start, backward), start, step, line)
    return SearchResult(found, wrapped=found is not None)
