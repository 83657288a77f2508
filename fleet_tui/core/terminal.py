"""A fast VT/xterm screen emulator: the server keeps one per session.

Input is split by one precompiled regex into runs of printable text and
control/escape sequences; a printable run is written into a row with slice
assignments, so plain output costs a few C-level operations per row rather
than per character. Each row is a list of cell characters and a parallel list
of interned style ids (the style table maps an id to (fg, bg, attrs)); a wide
character occupies its cell plus a "" placeholder cell to its right.

Behaviour follows tmux where xterm and tmux differ, because tmux is what the
conformance tests compare against.

The same loop has a compiled fast path (_fastterm.c, built by pip when a C
compiler is there): it does the common tokens (text, CR/LF, SGR, cursor
moves) itself and hands every other token back to this module, so the Python
code below stays the reference and the fallback. FLEET_PURE_PYTHON=1 forces
the fallback.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import sys
import unicodedata
from collections import deque
from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import count, groupby, islice
from pathlib import Path
from typing import Any, Callable

from fleet_tui.protocol import (
    ATTR_BLINK,
    ATTR_BOLD,
    ATTR_DIM,
    ATTR_HIDDEN,
    ATTR_ITALIC,
    ATTR_REVERSE,
    ATTR_STRIKE,
    ATTR_UNDERLINE,
    Color,
    Run,
)

# One token per match; `lastgroup` names the kind. Order matters: printable
# text first because it is the most common token.
_TOKEN = re.compile(
    r"(?P<text>[^\x00-\x1f\x7f-\x9f]+)(?P<textnl>\r\n)?"
    r"|\x1b\[(?P<params>[\x30-\x3f]*)(?P<inter>[\x20-\x2f]*)(?P<csi>[\x40-\x7e])"
    # strings end at BEL (OSC only) or ST; another ESC aborts them
    r"|\x1b\](?P<osc_body>[^\x07\x1b\x9c]*)(?P<osc>\x07|\x1b\\|\x9c|(?=\x1b[^\\]))"
    r"|\x1b[P_^X][^\x1b\x9c]*(?P<string>\x1b\\|\x9c|(?=\x1b[^\\]))"
    # (finals [ ] P X ^ _ open the sequences above, so never end one here)
    r"|\x1b(?P<esc_inter>[\x20-\x2f]*)(?P<esc>[\x30-\x4f\x51-\x57\x59-\x5a\x5c\x60-\x7e])"
    r"|(?P<newline>\r?\n)"
    r"|(?P<ctl>[\x00-\x1f\x7f-\x9f])"
)
# An escape sequence cut off by the end of a feed(): kept for the next one.
_PARTIAL = re.compile(
    r"\x1b(?:\[[\x30-\x3f]*[\x20-\x2f]*|\][^\x07\x1b\x9c]*\x1b?"
    r"|[P_^X][^\x1b\x9c]*\x1b?|[\x20-\x2f]*)\Z"
)
_MAX_PENDING = 1 << 20  # an unterminated OSC/DCS longer than this is dropped
_MAX_KEPT = 256  # notifications / OSC markers held until taken
_PRIVATE = frozenset("<=>?")  # CSI parameter prefixes of private sequences
_MAX_SEQUENCE = 4096  # likewise an unfinished CSI
# What can end a string that is still open at the end of a feed().
_OSC_END = re.compile(r"[\x07\x1b\x9c]")
_STRING_END = re.compile(r"[\x1b\x9c]")
_CSI_END = re.compile(r"[^\x20-\x3f]")

# DEC special graphics (ESC ( 0): the line-drawing set.
_DEC_GRAPHICS = str.maketrans(
    "`abcdefghijklmnopqrstuvwxyz{|}~",
    "◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·",
)

_SGR_ATTR_ON = {1: ATTR_BOLD, 2: ATTR_DIM, 3: ATTR_ITALIC, 4: ATTR_UNDERLINE,
                5: ATTR_BLINK, 6: ATTR_BLINK, 7: ATTR_REVERSE, 8: ATTR_HIDDEN,
                9: ATTR_STRIKE, 21: ATTR_UNDERLINE}
_SGR_ATTR_OFF = {22: ATTR_BOLD | ATTR_DIM, 23: ATTR_ITALIC, 24: ATTR_UNDERLINE,
                 25: ATTR_BLINK, 27: ATTR_REVERSE, 28: ATTR_HIDDEN, 29: ATTR_STRIKE}
_MOUSE_MODES = {9, 1000, 1002, 1003}

DEFAULT_STYLE = 0  # style id of (None, None, 0)
_MAX_STYLES = 1 << 16  # then the style table is rebuilt from what is on screen

# Characters seen to be one cell wide; grows as text arrives (bounded by the
# characters a program actually uses).
_NARROW: set[str] = set()


@lru_cache(maxsize=8192)
def char_width(ch: str) -> int:
    """Cells a character occupies: 0 (combining), 1, or 2 (east-asian wide/emoji)."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class _Row:
    __slots__ = ("chars", "styles", "wrapped", "runs", "used")

    def __init__(self, cols: int, style: int = DEFAULT_STYLE):
        self.chars = [" "] * cols
        self.styles = [style] * cols
        # Cells from `used` on are known to be default blanks, so a row that
        # holds a short line is encoded without scanning its empty right part.
        # Drawing and erasing raise it; anything else that moves cells sets it
        # to the width.
        self.used = 0 if style == DEFAULT_STYLE else cols
        self.wrapped = False  # the next row continues this one (autowrap)
        self.runs: list[Run] | None = None  # cached line() result


class History(Sequence):
    """Scrolled-off lines, oldest first, read as list[Run] like line().

    Stored compactly, since a session keeps thousands: one string for the
    text, one string whose code points are the run lengths, and a tuple of
    shared (fg, bg, attrs) styles; a single-style line is just (text, style).
    That is about a third of the memory of run tuples.

    Lines are numbered for clients that read it in pieces: `pushed` counts every line
    ever added, so the oldest kept line is number `pushed - len(history)` and a number
    always means the same line (a line never changes once in history). `epoch` is new
    for every History and every clear, so a client knows when what it fetched is void.
    """

    def __init__(self, maxlen: int):
        self._lines: deque[tuple] = deque(maxlen=maxlen)
        self.pushed = 0
        self.epoch = next(_epochs)

    @property
    def first(self) -> int:
        """The number of the oldest line kept."""
        return self.pushed - len(self._lines)

    def append(self, texts: list[str], styles: list[tuple]) -> None:
        """Add a line given as pieces of text and their (shared) style tuples."""
        self.pushed += 1
        self._add(texts, styles)

    def _add(self, texts: list[str], styles: list[tuple]) -> None:
        if len(texts) == 1:
            self._lines.append((texts[0], styles[0]))
        elif not texts:
            self._lines.append(("", _DEFAULT))
        else:
            self._lines.append(("".join(texts), "".join([chr(len(t)) for t in texts]), tuple(styles)))

    def clear(self) -> None:
        self._lines.clear()
        self.epoch = next(_epochs)

    def texts(self, start: int = 0, backward: bool = False) -> Iterator[str]:
        """The lines' plain text from index `start` on (or down from it), without copying the history."""
        if backward:
            return (entry[0] for entry in islice(reversed(self._lines), len(self._lines) - 1 - start, None))
        return (entry[0] for entry in islice(self._lines, start, None))

    def between(self, start: int, end: int) -> list[list[Run]]:
        """Lines start..end-1 (indexes, not numbers), decoded."""
        return [self._decode(entry) for entry in islice(self._lines, start, end)]

    @staticmethod
    def _decode(entry: tuple) -> list[Run]:
        if len(entry) == 2:
            text, (fg, bg, attrs) = entry
            return [(text, fg, bg, attrs)] if text else []
        text, lengths, styles = entry
        runs, x = [], 0
        for length, (fg, bg, attrs) in zip(lengths, styles):
            end = x + ord(length)
            runs.append((text[x:end], fg, bg, attrs))
            x = end
        return runs

    def __len__(self) -> int:
        return len(self._lines)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._decode(self._lines[i]) for i in range(*index.indices(len(self._lines)))]
        return self._decode(self._lines[index])

    def __iter__(self) -> Iterator[list[Run]]:
        return map(self._decode, self._lines)


_DEFAULT = (None, None, 0)
_epochs = count(1)

def _built_from_this_source(module: Any) -> bool:
    """False for a build of another _fastterm.c than the one beside it (a wheel ships no .c)."""
    source = Path(__file__).with_name("_fastterm.c")
    try:
        return getattr(module, "source", "") == hashlib.sha256(source.read_bytes()).hexdigest()
    except FileNotFoundError:
        return True


# The compiled fast path of feed(), if it was built and not switched off.
_fastterm: Any = None  # a C module: no types to check against
if os.environ.get("FLEET_PURE_PYTHON", "") in ("", "0"):
    try:
        _fastterm = importlib.import_module("fleet_tui.core._fastterm")
    except ImportError:  # installed without a C compiler: the pure-Python path
        _fastterm = None
    if _fastterm is not None and not _built_from_this_source(_fastterm):
        sys.stderr.write("fleet-tui: the compiled terminal loop is older than _fastterm.c (an editable install "
                         "not rebuilt): using the pure-Python one; run `pip install -e .` again\n")
        _fastterm = None
    if _fastterm is not None:
        _fastterm.setup(tuple(_SGR_ATTR_ON.get(code, 0) for code in range(30)),
                        tuple(_SGR_ATTR_OFF.get(code, 0) for code in range(30)), _NARROW, _DEFAULT, globals(), _Row)
FAST_PATH = _fastterm is not None


class _Cursor:
    """What DECSC saves."""

    __slots__ = ("x", "y", "fg", "bg", "attrs", "origin", "charsets", "shift_out", "wrap_pending")
    x: int
    y: int
    fg: Color
    bg: Color
    attrs: int
    origin: bool
    charsets: list[str]
    shift_out: bool
    wrap_pending: bool


def _ints(params: str) -> list[int]:
    """CSI parameters as ints; empty or malformed ones become 0."""
    if not params:
        return []
    if params.isdigit():
        return [int(params[:9])]
    try:
        return [int(p) if p else 0 for p in params.split(";")]
    except ValueError:
        out = []
        for p in params.split(";"):
            head = p.split(":")[0][:9]
            out.append(int(head) if head.isdigit() else 0)
        return out


class Terminal:
    # scan(terminal, data, pos) -> pos: the C loop, or None for the pure-Python
    # one (a test sets it per instance to compare the two)
    _scan: Callable[[Terminal, str, int], int] | None = _fastterm.scan if _fastterm else None
    # encode(row, styles) -> runs, or None for a row it leaves to _encode: the C
    # version of _encode, or None for the pure-Python one (likewise per instance)
    _encode_row: Callable[[_Row, list], list[Run] | None] | None = _fastterm.encode if _fastterm else None

    def __init__(self, cols: int = 80, rows: int = 24, *, scrollback: int = 10_000,
                 respond: Callable[[str], None] | None = None):
        self.cols = max(1, cols)
        self.rows = max(1, rows)
        self.scrollback = scrollback
        self._respond = respond
        self._styles: list[tuple[Color, Color, int]] = [(None, None, 0)]
        self._style_ids: dict[tuple[Color, Color, int], int] = {(None, None, 0): 0}
        self.history = History(scrollback)
        self._pending: list[str] = []  # an escape sequence cut off by the end of a feed()
        self._pending_len = 0
        self._pending_end: re.Pattern | None = None  # set while inside an open string
        self.title = ""
        self.bells = 0
        # Bounded so a session nobody reads from cannot grow without limit.
        self._notifications: deque[str] = deque(maxlen=_MAX_KEPT)
        self._osc: deque[tuple[int, str]] = deque(maxlen=_MAX_KEPT)
        self._reset()

    # ------------------------------------------------------------------ state
    def _reset(self) -> None:
        self._lines = [_Row(self.cols) for _ in range(self.rows)]
        self._primary: list[_Row] | None = None  # saved main screen while on the alt screen
        self.cursor_x = self.cursor_y = 0
        self.cursor_visible = True
        self._wrap_pending = False
        self._fg: Color = None
        self._bg: Color = None
        self._attrs = 0
        self._style: int | None = DEFAULT_STYLE  # None: not interned yet (see _pen)
        self._blank = DEFAULT_STYLE  # erased cells take the current background
        self._top, self._bottom = 0, self.rows - 1
        self._tabs = set(range(0, self.cols, 8))
        self._charsets = ["B", "B"]
        self._shift_out = False
        self._graphics = False  # the active charset is DEC line drawing
        self._autowrap = True
        self._origin = False
        self._insert = False
        self._saved: _Cursor | None = None
        self._saved_alt: _Cursor | None = None
        self._last_char = ""
        self._modes = {"app_cursor": False, "app_keypad": False, "bracketed_paste": False,
                       "mouse": 0, "mouse_sgr": False, "focus": False, "alt": False, "sync": False}
        self._dirty: set[int] = set()
        self._all_dirty = True

    def modes(self) -> dict:
        return dict(self._modes)

    def take_notifications(self) -> list[str]:
        out = list(self._notifications)
        self._notifications.clear()
        return out

    def take_osc(self) -> list[tuple[int, str]]:
        """OSC strings other than title/notify/colour queries, e.g. (7501, "state=idle")."""
        out = list(self._osc)
        self._osc.clear()
        return out

    def take_dirty(self) -> set[int]:
        if self._all_dirty:
            dirty = set(range(self.rows))
        else:
            dirty = self._dirty
        self._dirty = set()
        self._all_dirty = False
        return dirty

    # ----------------------------------------------------------------- output
    def line(self, y: int) -> list[Run]:
        row = self._lines[y]
        if row.runs is None:
            encode = self._encode_row
            runs = encode(row, self._styles) if encode is not None else None
            row.runs = self._encode(row) if runs is None else runs
        return row.runs

    def _encode(self, row: _Row) -> list[Run]:
        texts, styles = self._segments(row)
        return [(text, fg, bg, attrs) for text, (fg, bg, attrs) in zip(texts, styles)]

    def _push_history(self, row: _Row) -> None:
        """Append a row scrolled off the top to the history."""
        self.history.pushed += 1
        used = row.used
        if not used:
            self.history._lines.append(("", _DEFAULT))
            return
        ids = row.styles
        if used < len(ids):
            ids = ids[:used]  # the rest is default blanks
        first = ids[0]
        if ids.count(first) == len(ids):  # one style: the common case, stored as History does
            text = "".join(row.chars[:used])
            if first == DEFAULT_STYLE:
                self.history._lines.append((text.rstrip(" "), _DEFAULT))
            else:
                self.history._lines.append((text, self._styles[first]))
            return
        self.history._add(*self._segments(row))

    def _segments(self, row: _Row) -> tuple[list[str], list[tuple]]:
        """The row's text cut where the style changes, each piece with its
        style tuple from the table; trailing default blanks dropped."""
        chars, ids, table = row.chars, row.styles, self._styles
        used = row.used
        if used < len(ids):
            # the cells from `used` on are default blanks: the result is that of
            # the part before them
            if not used:
                return [], []
            chars, ids = chars[:used], ids[:used]
        first = ids[0]
        if ids.count(first) == len(ids):  # one style: the common case
            texts, styles = ["".join(chars)], [table[first]]
        elif ids[-1] == DEFAULT_STYLE and len(line := "".join(chars)) == len(ids) and "" not in chars:
            # one cell per character (no wide or combining ones): the trailing
            # default blanks can be cut off before splitting at style changes
            end = len(line.rstrip(" "))
            tail = len(ids) - end
            if ids[end:].count(DEFAULT_STYLE) != tail:
                end = len(ids)  # blanks in another style follow: keep them
            texts, styles, x = [], [], 0
            for sid, group in groupby(ids[:end]):
                n = len(list(group))
                texts.append(line[x:x + n])
                styles.append(table[sid])
                x += n
            if end < len(ids) and (end == 0 or ids[end - 1] != DEFAULT_STYLE):
                return texts, styles
        else:
            texts, styles, x = [], [], 0
            for sid, group in groupby(ids):
                n = len(list(group))
                texts.append("".join(chars[x:x + n]))
                styles.append(table[sid])
                x += n
        if styles[-1] == _DEFAULT:
            texts[-1] = texts[-1].rstrip(" ")
            if not texts[-1]:
                texts.pop()
                styles.pop()
        return texts, styles

    def display(self) -> list[str]:
        return ["".join(row.chars).rstrip(" ") for row in self._lines]

    # ------------------------------------------------------------------ input
    def feed(self, data: str) -> None:
        if self._pending_len:
            data = self._resume(data)
            if not data:
                return
        draw, csi, sgr, control = self._draw, self._csi, self._sgr, self._control
        scan, pos, size = self._scan, 0, len(data)
        while pos < size:
            if scan is not None:
                # the C loop takes what it can and stops at a token it leaves
                # to the loop below, which then handles that one token
                pos = scan(self, data, pos)
                if pos >= size:
                    return
            for m in _TOKEN.finditer(data, pos):
                kind = m.lastgroup
                if kind == "text":
                    draw(m.group())
                elif kind == "textnl" or kind == "newline":
                    if kind == "textnl":  # a line of text and its CR LF: the most common pair
                        draw(m.group("text"))
                        carriage_return = True
                    else:  # a bare LF, or CR LF
                        carriage_return = len(m.group()) == 2
                    if carriage_return:
                        self.cursor_x = 0
                        self._wrap_pending = False
                    self._linefeed()
                elif kind == "csi":
                    params, inter, final = m.group("params", "inter", "csi")
                    if final == "m" and not inter and params[:1] not in _PRIVATE:
                        sgr(params)  # the most common sequence: skip the general dispatch
                    else:
                        csi(params, inter, final)
                elif kind == "ctl":
                    ch = m.group()
                    if ch == "\x1b":
                        if _PARTIAL.match(data, m.start()):
                            self._suspend(data[m.start():])
                            return
                    else:
                        control(ch)
                elif kind == "esc":
                    self._esc(*m.group("esc_inter", "esc"))
                elif kind == "osc":
                    self._osc_string(*m.group("osc_body", "osc"))
                # "string": DCS/APC/PM/SOS are swallowed whole
                if scan is not None:
                    pos = m.end()
                    break
            else:
                return

    def _suspend(self, rest: str) -> None:
        """Keep an unfinished escape sequence for the next feed()."""
        self._pending = [rest]
        self._pending_len = len(rest)
        opener = rest[1:2]
        self._pending_end = _OSC_END if opener == "]" else _STRING_END if opener and opener in "P_^X" else None
        if self._pending_end is None and len(rest) > _MAX_SEQUENCE:
            # no real CSI is this long: discard it up to its final byte
            self._pending, self._pending_len, self._pending_end = [], _MAX_PENDING + 1, _CSI_END

    def _resume(self, data: str) -> str:
        """Join a kept sequence with new data. A long string (OSC 52 paste,
        sixel...) is collected without rescanning it on every feed, and one
        larger than _MAX_PENDING is dropped whole."""
        if self._pending_end is not None:
            end = self._pending_end.search(data)
            if end is None:
                self._pending_len += len(data)
                if self._pending_len <= _MAX_PENDING:
                    self._pending.append(data)
                return ""
            if self._pending_len + end.start() > _MAX_PENDING:
                # skip the dropped sequence's own terminator (BEL, ST, CSI final),
                # not a control or an ESC that begins ST or a new sequence
                ch = data[end.start()]
                data = data[end.start() + (ch in "\x07\x9c" or "\x40" <= ch <= "\x7e"):]
                self._pending = []
        data = "".join(self._pending) + data
        self._pending, self._pending_len, self._pending_end = [], 0, None
        return data

    # --------------------------------------------------------------- drawing
    def _draw(self, text: str) -> None:
        if self._graphics:
            text = text.translate(_DEC_GRAPHICS)
        if not text.isascii():
            chars = set(text)
            if not chars <= _NARROW:  # C-level check: the cheap path stays cheap
                for ch in chars - _NARROW:
                    if char_width(ch) == 1 and len(_NARROW) < 65536:
                        _NARROW.add(ch)
                if not chars <= _NARROW:
                    self._draw_mixed(text)
                    return
        self._put(text)

    def _draw_mixed(self, text: str) -> None:
        """Text with wide or zero-width characters: runs of narrow ones still
        go in whole, the others one by one."""
        narrow, start = _NARROW, 0
        for i, ch in enumerate(text):
            if ch not in narrow:
                if start < i:
                    self._put(text[start:i])
                self._draw_wide(ch)
                start = i + 1
        if start < len(text):
            self._put(text[start:])

    def _put(self, text: str) -> None:
        """Write a run of narrow characters at the cursor."""
        self._last_char = text[-1]
        cols, style = self.cols, self._style
        if style is None:
            style = self._pen()
        x, n = self.cursor_x, len(text)
        end = x + n
        if end < cols and not self._wrap_pending and not self._insert:
            # the common case: the run fits in the row without reaching its edge
            y = self.cursor_y
            row = self._lines[y]
            chars = row.chars
            if x and chars[x] == "":
                chars[x - 1] = " "  # overwriting the right half of a wide char
            chars[x:end] = text
            row.styles[x:end] = [style] * n
            if chars[end] == "":
                chars[end] = " "  # overwrote the left half of a wide char
            if end > row.used:
                row.used = end
            row.runs = None
            if not self._all_dirty:
                self._dirty.add(y)
            self.cursor_x = end
            return
        i = 0
        while i < n:
            if self._wrap_pending:
                self._wrap()
            x = self.cursor_x
            take = min(cols - x, n - i)
            row = self._lines[self.cursor_y]
            if self._insert:
                self._insert_cells(row, x, take)
            chars = row.chars
            if chars[x] == "" and x:
                chars[x - 1] = " "  # overwriting the right half of a wide char
            end = x + take
            chars[x:end] = text[i:i + take]
            row.styles[x:end] = [style] * take
            if end > row.used:
                row.used = end
            if end < cols and chars[end] == "":
                chars[end] = " "  # overwrote the left half of a wide char
            row.runs = None
            self._dirty.add(self.cursor_y)
            i += take
            if end >= cols:
                if self._autowrap:
                    self.cursor_x, self._wrap_pending = cols - 1, True
                else:
                    # without autowrap the rest of the run lands on the last cell
                    if i < n:
                        chars[cols - 1] = text[n - 1]
                    self.cursor_x = cols - 1
                    return
            else:
                self.cursor_x = end

    def _draw_wide(self, text: str) -> None:
        cols, style = self.cols, self._style
        if style is None:
            style = self._pen()
        for ch in text:
            w = char_width(ch)
            if w == 0:
                self._combine(ch)
                continue
            self._last_char = ch
            if self._wrap_pending:
                self._wrap()
            x = self.cursor_x
            if w == 2 and x == cols - 1:
                if not self._autowrap or cols < 2:
                    continue  # a wide char that cannot fit is dropped
                self._wrap_pending = True
                self._wrap()
                x = 0
            y = self.cursor_y
            row = self._lines[y]
            if self._insert:
                self._insert_cells(row, x, w)
            chars = row.chars
            if chars[x] == "" and x:
                chars[x - 1] = " "
            end = x + w
            if end < cols and chars[end] == "":
                chars[end] = " "
            if w == 2:
                chars[x:end] = ch, ""
                row.styles[x:end] = style, style
            else:
                chars[x] = ch
                row.styles[x] = style
            if end > row.used:
                row.used = end
            row.runs = None
            if not self._all_dirty:
                self._dirty.add(y)
            if end >= cols:
                self.cursor_x = cols - 1
                self._wrap_pending = self._autowrap
            else:
                self.cursor_x = end

    def _combine(self, ch: str) -> None:
        """Attach a zero-width character to the cell before the cursor."""
        row = self._lines[self.cursor_y]
        x = self.cursor_x if self._wrap_pending else self.cursor_x - 1
        if x > 0 and row.chars[x] == "":
            x -= 1
        if x >= 0 and row.chars[x] != " " and len(row.chars[x]) < 16:  # a cell holds a few marks, not a flood
            row.chars[x] += ch
            row.runs = None
            self._dirty.add(self.cursor_y)

    def _wrap(self) -> None:
        self._lines[self.cursor_y].wrapped = True
        self._wrap_pending = False
        self.cursor_x = 0
        self._linefeed()

    def _insert_cells(self, row: _Row, x: int, n: int) -> None:
        cols = self.cols
        n = min(n, cols - x)
        if x > 0 and row.chars[x] == "":
            row.chars[x - 1] = " "
            row.chars[x] = " "
        row.chars[x:x] = [" "] * n
        row.styles[x:x] = [self._blank] * n
        del row.chars[cols:], row.styles[cols:]
        row.used = cols
        _clip_wide_edge(row)

    # ------------------------------------------------------------- scrolling
    def _blank_row(self) -> _Row:
        return _Row(self.cols, self._blank)

    def _scroll_up(self, n: int = 1) -> None:
        top, bottom = self._top, self._bottom
        lines = self._lines
        if n == 1 and top == 0 and bottom == len(lines) - 1:
            # a whole-screen scroll by one line: what plain output does per line
            row = lines.pop(0)
            if self._primary is None and self.scrollback:
                self._push_history(row)
            used = row.used
            if self._blank == DEFAULT_STYLE:
                # blank the row in place and reuse it: cheaper than a new one
                if used:
                    row.chars[:used] = [" "] * used
                    row.styles[:used] = [DEFAULT_STYLE] * used
                    row.used = 0
                row.wrapped = False
                row.runs = None
                lines.append(row)
            else:
                lines.append(_Row(self.cols, self._blank))
            self._all_dirty = True
            return
        n = min(n, bottom - top + 1)
        full = top == 0 and bottom == self.rows - 1
        for _ in range(n):
            row = lines.pop(top)
            if full and self._primary is None and self.scrollback:
                self._push_history(row)
            lines.insert(bottom, self._blank_row())
        if full:
            self._all_dirty = True
        else:
            self._dirty.update(range(top, bottom + 1))

    def _scroll_down(self, n: int = 1) -> None:
        top, bottom = self._top, self._bottom
        n = min(n, bottom - top + 1)
        for _ in range(n):
            del self._lines[bottom]
            self._lines.insert(top, self._blank_row())
        self._dirty.update(range(top, bottom + 1))

    def _linefeed(self) -> None:
        if self.cursor_y == self._bottom:
            self._scroll_up()
        elif self.cursor_y < self.rows - 1:
            self.cursor_y += 1

    def _reverse_index(self) -> None:
        if self.cursor_y == self._top:
            self._scroll_down()
        elif self.cursor_y > 0:
            self.cursor_y -= 1

    # -------------------------------------------------------------- controls
    def _control(self, ch: str) -> None:
        if ch in "\n\x0b\x0c":
            self._linefeed()
        elif ch == "\r":
            self.cursor_x = 0
            self._wrap_pending = False
        elif ch == "\x08":
            if self._wrap_pending:
                self._wrap_pending = False
            elif self.cursor_x > 0:
                self.cursor_x -= 1
            elif self.cursor_y > 0 and self._lines[self.cursor_y - 1].wrapped:
                # like tmux: backspace at column 0 of a wrapped line goes up
                self.cursor_y -= 1
                self.cursor_x = self.cols - 1
        elif ch == "\t":
            self._tab(1)
        elif ch == "\x07":
            self.bells += 1
        elif ch == "\x0e":
            self._shift_out = True
            self._graphics = self._charsets[1] == "0"
        elif ch == "\x0f":
            self._shift_out = False
            self._graphics = self._charsets[0] == "0"

    def _tab(self, n: int) -> None:
        x = self.cursor_x
        for _ in range(min(n, self.cols)):
            x = min((t for t in self._tabs if t > x), default=self.cols - 1)
        self.cursor_x = min(x, self.cols - 1)
        self._wrap_pending = False

    def _esc(self, inter: str, final: str) -> None:
        if inter:
            if inter in "()" and final in "0B":  # charset designation G0/G1
                self._charsets["()".index(inter)] = final
                self._graphics = self._charsets[int(self._shift_out)] == "0"
            elif inter == "#" and final == "8":  # DECALN: fill with E
                for y in range(self.rows):
                    self._lines[y] = row = _Row(self.cols)
                    row.chars = ["E"] * self.cols
                    row.used = self.cols
                self._all_dirty = True
            return
        if final == "7":
            self._save_cursor()
        elif final == "8":
            self._restore_cursor()
        elif final == "D":
            self._linefeed()
        elif final == "E":
            self.cursor_x = 0
            self._wrap_pending = False
            self._linefeed()
        elif final == "M":
            self._reverse_index()
        elif final == "H":
            self._tabs.add(self.cursor_x)
        elif final == "c":
            self._full_reset()
        elif final == "=":
            self._modes["app_keypad"] = True
        elif final == ">":
            self._modes["app_keypad"] = False

    def _full_reset(self) -> None:
        self.title = ""
        self._reset()
        self.history.clear()

    def _save_cursor(self) -> None:
        c = _Cursor()
        c.x, c.y, c.wrap_pending = self.cursor_x, self.cursor_y, self._wrap_pending
        c.fg, c.bg, c.attrs = self._fg, self._bg, self._attrs
        c.origin, c.charsets, c.shift_out = self._origin, list(self._charsets), self._shift_out
        if self._primary is None:
            self._saved = c
        else:
            self._saved_alt = c

    def _restore_cursor(self) -> None:
        c = self._saved if self._primary is None else self._saved_alt
        if c is None:
            self.cursor_x = self.cursor_y = 0
            self._wrap_pending = False
            return
        self.cursor_x, self.cursor_y = min(c.x, self.cols - 1), min(c.y, self.rows - 1)
        self._wrap_pending = c.wrap_pending and c.x < self.cols
        self._fg, self._bg, self._attrs = c.fg, c.bg, c.attrs
        self._origin, self._charsets, self._shift_out = c.origin, list(c.charsets), c.shift_out
        self._graphics = self._charsets[int(self._shift_out)] == "0"
        self._restyle()

    # ------------------------------------------------------------------ OSC
    def _osc_string(self, body: str, terminator: str) -> None:
        number, _, text = body.partition(";")
        if not number.isdigit() or not terminator:  # aborted by another ESC
            return
        code = int(number[:9])
        if code in (0, 2):
            self.title = text[:1024]
        elif code == 9:
            self._notifications.append(text)
        elif code == 777:
            kind, _, rest = text.partition(";")
            if kind == "notify":
                title, _, message = rest.partition(";")
                self._notifications.append(f"{title}: {message}" if message else title)
        elif code in (10, 11) and text == "?":
            # like tmux: light grey text on black
            rgb = "rgb:c0c0/c0c0/c0c0" if code == 10 else "rgb:0000/0000/0000"
            end = "\x07" if terminator == "\x07" else "\x1b\\"
            self._reply(f"\x1b]{code};{rgb}{end}")
        elif code not in (1, 4, 8, 10, 11, 12, 52, 104, 110, 111, 112, 133):
            self._osc.append((code, text))

    def _reply(self, text: str) -> None:
        if self._respond is not None:
            self._respond(text)

    # ------------------------------------------------------------------ CSI
    def _csi(self, params: str, inter: str, final: str) -> None:
        if inter:
            return  # cursor style (CSI Ps SP q), DECRQM, DECSTR...: nothing to draw
        private = ""
        if params[:1] in _PRIVATE:
            private, params = params[0], params[1:]
        if final == "m":
            if not private:
                self._sgr(params)
            return  # CSI > 4;0 m (modifyOtherKeys) and friends are swallowed
        if private:
            self._csi_private(private, params, final)
            return
        args = _ints(params)
        arg = args[0] if args else 0
        n = arg or 1
        # With a wrap pending, tmux's cursor sits one past the last column:
        # CUB counts from there and erasing from there erases nothing.
        edge = self.cols if self._wrap_pending else self.cursor_x
        if final in "GABCDHf`d":
            self._wrap_pending = False
        if final == "G" or final == "`":
            self.cursor_x = min(n, self.cols) - 1
        elif final == "A":
            self.cursor_y = max(self.cursor_y - n, self._top if self.cursor_y >= self._top else 0)
        elif final == "B":
            self.cursor_y = min(self.cursor_y + n,
                                self._bottom if self.cursor_y <= self._bottom else self.rows - 1)
        elif final == "C" or final == "a":
            self.cursor_x = min(self.cursor_x + n, self.cols - 1)
            self._wrap_pending = False
        elif final == "D":
            self.cursor_x = min(max(edge - n, 0), self.cols - 1)
        elif final == "H" or final == "f":
            self._goto(n - 1, (args[1] if len(args) > 1 else 0) or 1)
        elif final == "K":
            self._erase_line(arg)
        elif final == "J":
            self._erase_display(arg)
        elif final == "d":
            self._goto(n - 1, self.cursor_x + 1)
        elif final == "e":
            self._goto(self.cursor_y - (self._top if self._origin else 0) + n, self.cursor_x + 1)
        elif final == "E" or final == "F":
            self._csi(params, "", "B" if final == "E" else "A")
            self.cursor_x = 0
        elif final == "L" or final == "M":
            self._insert_delete_lines(n if final == "L" else -n)
        elif final == "P" and not self._wrap_pending:  # past the edge there is nothing to shift
            self._delete_chars(n)
        elif final == "@" and not self._wrap_pending:
            self._insert_cells(self._lines[self.cursor_y], self.cursor_x, n)
            self._touch(self.cursor_y)
        elif final == "X":
            self._erase_cells(self.cursor_y, edge, min(edge + n, self.cols))
        elif final == "S":
            self._scroll_up(n)
        elif final == "T":
            if len(args) <= 1:  # CSI Ps ; ... T with more args is mouse tracking
                self._scroll_down(n)
        elif final == "b":
            if self._last_char and char_width(self._last_char) == 1:  # tmux repeats narrow chars only
                self._draw(self._last_char * min(n, self.cols * self.rows))
        elif final == "r":
            top = (args[0] if args else 0) or 1
            bottom = (args[1] if len(args) > 1 else 0) or self.rows
            bottom = min(bottom, self.rows)
            if top < bottom:
                self._top, self._bottom = top - 1, bottom - 1
                self._goto(0, 1)
        elif final == "s":
            self._save_cursor()
        elif final == "u":
            self._restore_cursor()
        elif final == "I":
            self._tab(n)
        elif final == "Z":
            x = self.cursor_x
            for _ in range(min(n, self.cols)):
                x = max((t for t in self._tabs if t < x), default=0)
            self.cursor_x = x
            self._wrap_pending = False
        elif final == "g":
            if arg == 0:
                self._tabs.discard(self.cursor_x)
            elif arg == 3:
                self._tabs.clear()
        elif final == "h" or final == "l":
            if 4 in args:
                self._insert = final == "h"
        elif final == "c":
            if arg == 0:
                self._reply("\x1b[?1;2c")
        elif final == "n":
            if arg == 5:
                self._reply("\x1b[0n")
            elif arg == 6:
                self._reply(f"\x1b[{self.cursor_y + 1};{self.cursor_x + 1}R")
        elif final == "t":
            if arg == 18:
                self._reply(f"\x1b[8;{self.rows};{self.cols}t")

    def _csi_private(self, private: str, params: str, final: str) -> None:
        args = _ints(params)
        if private == "?" and final in "hl":
            for mode in args:
                self._set_mode(mode, final == "h")
        elif private == ">" and final == "c":
            self._reply("\x1b[>84;0;0c")
        elif private == ">" and final == "q":
            self._reply("\x1bP>|fleet_tui\x1b\\")
        elif private == "?" and final == "n" and args and args[0] == 6:
            self._reply(f"\x1b[?{self.cursor_y + 1};{self.cursor_x + 1}R")
        # kitty keyboard (CSI > 1 u, CSI < u, CSI ? u, CSI = u) and the rest:
        # swallowed. Not answering CSI ? u tells the program we lack the kitty
        # protocol, so it keeps sending keys we know how to encode.

    def _set_mode(self, mode: int, on: bool) -> None:
        modes = self._modes
        if mode == 1:
            modes["app_cursor"] = on
        elif mode == 25:
            self.cursor_visible = on
        elif mode == 7:
            self._autowrap = on
        elif mode == 6:
            self._origin = on
            self._goto(0, 1)
        elif mode in (47, 1047, 1049):
            self._alternate(on, save_cursor=mode == 1049)
        elif mode in _MOUSE_MODES:
            modes["mouse"] = mode if on else 0  # like tmux: any reset turns mouse off
        elif mode == 1006:
            modes["mouse_sgr"] = on
        elif mode == 1004:
            modes["focus"] = on
        elif mode == 2004:
            modes["bracketed_paste"] = on
        elif mode == 2026:
            modes["sync"] = on
        elif mode == 66:
            modes["app_keypad"] = on

    def _alternate(self, on: bool, *, save_cursor: bool) -> None:
        if on == (self._primary is not None):
            return
        if on:
            if save_cursor:
                self._save_cursor()
            self._primary = self._lines
            self._lines = [_Row(self.cols) for _ in range(self.rows)]
        elif self._primary is not None:  # always, given the check above; said for the type checker
            self._lines, self._primary = self._primary, None
            if save_cursor:
                self._restore_cursor()
        self._modes["alt"] = on
        self._all_dirty = True

    # ------------------------------------------------------------ SGR colours
    def _sgr(self, params: str) -> None:
        ops = _SGR_CACHE.get(params)
        if ops is None:
            ops = _parse_sgr(params)
            if len(_SGR_CACHE) > 4096:
                _SGR_CACHE.clear()
            _SGR_CACHE[params] = ops
        fg, bg, attrs = self._fg, self._bg, self._attrs
        for op, value in ops:
            if op == _RESET:
                fg = bg = None
                attrs = 0
            elif op == _FG:
                fg = value
            elif op == _BG:
                bg = value
            elif op == _ATTR_ON:
                attrs |= value
            else:
                attrs &= ~value
        if bg != self._bg:
            self._bg = bg
            self._blank = self._intern((None, bg, 0))
        self._fg, self._attrs = fg, attrs
        # interned when something is drawn: colour changes often come in
        # pairs (fg, then bg) and the first alone is never drawn with
        self._style = None

    def _pen(self) -> int:
        """The style id of the current colours and attributes."""
        self._style = sid = self._intern((self._fg, self._bg, self._attrs))
        return sid

    def _restyle(self) -> None:
        self._style = None
        self._blank = self._intern((None, self._bg, 0))

    def _intern(self, style: tuple[Color, Color, int]) -> int:
        sid = self._style_ids.get(style)
        if sid is None:
            if len(self._styles) >= _MAX_STYLES:
                self._compact_styles()
                if style in self._style_ids:
                    return self._style_ids[style]
            sid = self._style_ids[style] = len(self._styles)
            self._styles.append(style)
        return sid

    def _compact_styles(self) -> None:
        """Truecolor output can mint endless styles: keep only those on screen."""
        old = self._styles
        self._styles = [(None, None, 0)]
        self._style_ids = {(None, None, 0): 0}
        remap = {0: 0}
        keep = [(self._fg, self._bg, self._attrs), (None, self._bg, 0)]
        screens = [self._lines] + ([self._primary] if self._primary is not None else [])
        for lines in screens:
            for row in lines:
                for sid in set(row.styles) - remap.keys():
                    remap[sid] = len(self._styles)
                    self._style_ids[old[sid]] = remap[sid]
                    self._styles.append(old[sid])
                row.styles = [remap[sid] for sid in row.styles]
        for style in keep:
            if style not in self._style_ids:
                self._style_ids[style] = len(self._styles)
                self._styles.append(style)
        self._style = self._style_ids[keep[0]]
        self._blank = self._style_ids[keep[1]]

    # -------------------------------------------------------------- editing
    def _touch(self, y: int) -> None:
        self._lines[y].runs = None
        self._dirty.add(y)

    def _goto(self, y: int, col: int) -> None:
        """Move to row y (relative to the scroll region in origin mode), 1-based col."""
        if self._origin:
            y = min(max(y + self._top, self._top), self._bottom)
        self.cursor_y = min(max(y, 0), self.rows - 1)
        self.cursor_x = min(max(col, 1), self.cols) - 1
        self._wrap_pending = False

    def _erase_cells(self, y: int, start: int, end: int) -> None:
        if start >= end:
            return
        row = self._lines[y]
        chars = row.chars
        if start > 0 and chars[start] == "":
            chars[start - 1] = " "
        if end < self.cols and chars[end] == "":
            chars[end] = " "
        chars[start:end] = [" "] * (end - start)
        row.styles[start:end] = [self._blank] * (end - start)
        if self._blank != DEFAULT_STYLE:
            if end > row.used:
                row.used = end
        elif end >= row.used > start:
            row.used = start  # everything from start on is default blanks now
        row.runs = None
        self._dirty.add(y)

    def _erase_line(self, how: int) -> None:
        y, x = self.cursor_y, self.cursor_x
        if how == 0:
            x = self.cols if self._wrap_pending else x
            self._erase_cells(y, x, self.cols)
        elif how == 1:
            self._erase_cells(y, 0, x + 1)
        elif how == 2:
            self._erase_cells(y, 0, self.cols)
        if how in (0, 2):
            self._lines[y].wrapped = False

    def _erase_display(self, how: int) -> None:
        y = self.cursor_y
        if how == 0:
            self._erase_line(0)
            rows = range(y + 1, self.rows)
        elif how == 1:
            self._erase_line(1)
            rows = range(0, y)
        elif how == 2:
            rows = range(self.rows)
        else:
            if how == 3:
                self.history.clear()
            return
        for r in rows:
            self._lines[r] = self._blank_row()
            self._dirty.add(r)

    def _insert_delete_lines(self, n: int) -> None:
        y, top, bottom = self.cursor_y, self._top, self._bottom
        if not top <= y <= bottom:
            bottom = self.rows - 1  # like tmux: outside the region, act down to the screen's end
        saved_top, saved_bottom = self._top, self._bottom
        self._bottom = bottom
        self._top = y
        if n > 0:
            self._scroll_down(n)
        else:
            count = min(-n, bottom - y + 1)
            for _ in range(count):
                del self._lines[y]
                self._lines.insert(bottom, self._blank_row())
            self._dirty.update(range(y, bottom + 1))
        self._top, self._bottom = saved_top, saved_bottom  # like tmux, the cursor stays put

    def _delete_chars(self, n: int) -> None:
        row, x, cols = self._lines[self.cursor_y], self.cursor_x, self.cols
        n = min(n, cols - x)
        if x > 0 and row.chars[x] == "":
            row.chars[x - 1] = " "
        del row.chars[x:x + n], row.styles[x:x + n]
        row.chars.extend([" "] * n)
        row.styles.extend([self._blank] * n)
        row.used = cols
        if row.chars[x] == "":
            row.chars[x] = " "
        self._touch(self.cursor_y)

    # --------------------------------------------------------------- resize
    def resize(self, cols: int, rows: int) -> None:
        cols, rows = max(1, cols), max(1, rows)
        if (cols, rows) == (self.cols, self.rows):
            return
        screens = [self._lines] + ([self._primary] if self._primary is not None else [])
        for lines in screens:
            for row in lines:
                self._resize_row(row, cols)
        # Shrinking: drop rows from the top while that keeps the cursor on
        # screen (they go to history on the main screen), else from the bottom.
        for lines in screens:
            on_screen = lines is self._lines
            while len(lines) > rows:
                if on_screen and self.cursor_y > 0 and self.cursor_y >= rows:
                    row = lines.pop(0)
                    if self._primary is None:
                        self.history.append(*self._segments(row))
                    self.cursor_y -= 1
                else:
                    lines.pop()
            while len(lines) < rows:
                lines.append(_Row(cols))
        self.cols, self.rows = cols, rows
        self.cursor_x = min(self.cursor_x, cols - 1)
        self.cursor_y = min(self.cursor_y, rows - 1)
        self._wrap_pending = False
        self._top, self._bottom = 0, rows - 1
        self._tabs = {t for t in self._tabs if t < cols} | set(range(0, cols, 8))
        self._all_dirty = True

    @staticmethod
    def _resize_row(row: _Row, cols: int) -> None:
        old = len(row.chars)
        if cols < old:
            del row.chars[cols:], row.styles[cols:]
            _clip_wide_edge(row)
        else:
            row.chars.extend([" "] * (cols - old))
            row.styles.extend([DEFAULT_STYLE] * (cols - old))
        row.used = cols
        row.runs = None


# SGR parameter strings parsed once into (op, value) steps: programs reuse a
# handful of colour changes over and over.
_RESET, _FG, _BG, _ATTR_ON, _ATTR_OFF = range(5)
_SGR_CACHE: dict[str, tuple[tuple[int, Any], ...]] = {}


def _parse_sgr(params: str) -> tuple[tuple[int, Any], ...]:  # (op, colour or attribute bits)
    parts = params.split(";")
    if len(parts) == 5 and parts[1] == "2" and parts[0] in ("38", "48"):  # truecolor, the common case
        return ((_FG if parts[0] == "38" else _BG, _rgb(parts[2:])),)
    ops: list[tuple[int, Any]] = []
    i, n = 0, len(parts)
    while i < n:
        part = parts[i]
        i += 1
        if ":" in part:  # colon forms: 38:2::r:g:b, 38:5:n, 4:3 (curly underline)
            sub = part.split(":")
            if sub[0] in ("38", "48"):
                ops.append((_FG if sub[0] == "38" else _BG, _colon_color(sub)))
            elif sub[0] == "4":
                ops.append((_ATTR_OFF if sub[1] == "0" else _ATTR_ON, ATTR_UNDERLINE))
            continue
        if not part:
            code = 0
        elif part.isdigit():
            code = int(part[:9])
        else:
            continue
        if code == 0:
            ops.append((_RESET, None))
        elif 30 <= code <= 37:
            ops.append((_FG, code - 30))
        elif 40 <= code <= 47:
            ops.append((_BG, code - 40))
        elif 90 <= code <= 97:
            ops.append((_FG, code - 82))
        elif 100 <= code <= 107:
            ops.append((_BG, code - 92))
        elif code == 39:
            ops.append((_FG, None))
        elif code == 49:
            ops.append((_BG, None))
        elif code in _SGR_ATTR_ON:
            ops.append((_ATTR_ON, _SGR_ATTR_ON[code]))
        elif code in _SGR_ATTR_OFF:
            ops.append((_ATTR_OFF, _SGR_ATTR_OFF[code]))
        elif code in (38, 48, 58):  # 58 (underline colour) is parsed only to skip it
            mode = parts[i] if i < n else ""
            if mode == "5" and i + 1 < n:
                color: Color = _palette(parts[i + 1])
                i += 2
            elif mode == "2" and i + 3 < n:
                color = _rgb(parts[i + 1:i + 4])
                i += 4
            else:
                break  # malformed: stop rather than misread the rest
            if code != 58:
                ops.append((_FG if code == 38 else _BG, color))
    return tuple(ops)


def _colon_color(sub: list[str]) -> Color:
    if len(sub) >= 3 and sub[1] == "5":
        return _palette(sub[2])
    if len(sub) >= 5 and sub[1] == "2":
        return _rgb(sub[3:6] if len(sub) >= 6 else sub[2:5])
    return None


def _clip_wide_edge(row: _Row) -> None:
    """A wide char pushed to the last cell lost its right half: blank it."""
    last = row.chars[-1]
    if last and char_width(last[0]) == 2:
        row.chars[-1] = " "


def _palette(text: str) -> Color:
    return int(text) if text.isdigit() and int(text) < 256 else None


_HEX = {str(i): "%02x" % i for i in range(256)}


def _rgb(parts: list[str]) -> Color:
    if len(parts) >= 3:
        hx = _HEX
        hr, hg, hb = hx.get(parts[0]), hx.get(parts[1]), hx.get(parts[2])
        if hr is not None and hg is not None and hb is not None:
            return "#" + hr + hg + hb
    try:
        r, g, b = int(parts[0]), int(parts[1]), int(parts[2])
    except (ValueError, IndexError):
        return None
    if r > 255 or g > 255 or b > 255 or r < 0 or g < 0 or b < 0:
        return None
    return "#%02x%02x%02x" % (r, g, b)
