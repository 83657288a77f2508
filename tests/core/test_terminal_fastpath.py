"""The compiled fast path of Terminal.feed() (_fastterm.c) against the pure-Python
reference, in one process: the same streams go to a Terminal using each, and every
cell (character and style), the cursor, modes, replies, history and the rest of the
state must come out the same. Streams: random bytes (garbage, escape fragments,
UTF-8 cut anywhere), every split of short streams into two feeds, the real agent
recordings in small chunks, and the conformance tests' generated streams and edge
cases (which test_terminal_conformance.py compares with tmux on the default path).
"""

from __future__ import annotations

import codecs
import os
import random
import subprocess
import sys

import pytest

from bench.streams import ink_stream, ls_stream, truecolor_stream
from fleet_tui.core import terminal
from fleet_tui.core.terminal import Terminal
from tests.core.test_terminal_conformance import EDGE_CASES, RECORDING_NAMES, RECORDINGS

needs_fast_path = pytest.mark.skipif(not terminal.FAST_PATH, reason="the C fast path is not built here")


def test_ci_runs_the_fast_path():
    """A CI install that silently fell back to pure Python would leave the C code untested."""
    if not os.environ.get("CI") or os.environ.get("FLEET_PURE_PYTHON", "") not in ("", "0"):
        pytest.skip("only checked in CI (CI=true), where pip must have built the extension")
    assert terminal.FAST_PATH, "fleet_tui.core._fastterm was not built: see pip's build log"


@pytest.mark.real  # starts a Python process
def test_pure_python_switch_is_honoured():
    env = {**os.environ, "FLEET_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", "from fleet_tui.core import terminal; print(terminal.FAST_PATH)"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@needs_fast_path
def test_a_build_of_another_source_is_not_used():
    """An editable install keeps its old .so when _fastterm.c changes: that build must not run."""
    assert terminal._built_from_this_source(terminal._fastterm)
    stale = type("Stale", (), {"source": "0" * 64})
    assert not terminal._built_from_this_source(stale)


class Pair:
    """Two Terminals fed the same data: one on the C path, one on the Python path."""

    def __init__(self, cols: int, rows: int, scrollback: int = 200):
        self.replies: tuple[list[str], list[str]] = ([], [])
        self.fast = Terminal(cols, rows, scrollback=scrollback, respond=self.replies[0].append)
        self.pure = Terminal(cols, rows, scrollback=scrollback, respond=self.replies[1].append)
        self.pure._scan = None
        self.pure._encode_row = None
        assert self.fast._scan is not None and self.fast._encode_row is not None

    def feed(self, data: str) -> None:
        self.fast.feed(data)
        self.pure.feed(data)

    def assert_same(self, where: str = "") -> None:
        for term in (self.fast, self.pure):
            assert_rows_encode_alike(term, where)
        fast, pure = state(self.fast), state(self.pure)
        if fast != pure:
            for key in fast:
                assert fast[key] == pure[key], f"{key} differs {where}"
        assert self.replies[0] == self.replies[1], f"replies differ {where}"


def assert_rows_encode_alike(term: Terminal, where: str = "") -> None:
    """Every row of both screens through the C encoder and the Python one: the same runs."""
    for lines in (term._lines, term._primary or []):
        for y, row in enumerate(lines):
            assert terminal._fastterm.encode(row, term._styles) == term._encode(row), f"row {y} encodes apart {where}"


def screen(term: Terminal, lines) -> list:
    table = term._styles
    return [(row.chars, [table[sid] for sid in row.styles], row.wrapped) for row in lines]


def state(term: Terminal) -> dict:
    lines = [term.line(y) for y in range(term.rows)]  # also fills the row caches
    return {
        "cells": screen(term, term._lines),
        "lines": lines,
        "primary": screen(term, term._primary) if term._primary is not None else None,
        "cursor": (term.cursor_x, term.cursor_y, term._wrap_pending, term.cursor_visible),
        "pen": (term._fg, term._bg, term._attrs, term._styles[term._blank],
                None if term._style is None else term._styles[term._style]),
        "style table": term._styles,
        "flags": (term._top, term._bottom, term._origin, term._insert, term._autowrap, term._graphics,
                  term._charsets, term._shift_out, term._last_char, sorted(term._tabs)),
        "saved": [None if c is None else [getattr(c, k) for k in c.__slots__] for c in (term._saved, term._saved_alt)],
        "modes": term.modes(),
        "history": (list(term.history), term.history.pushed),
        "pending": (term._pending, term._pending_len, term._pending_end),
        "title, bells": (term.title, term.bells),
        "notifications": list(term._notifications),
        "osc": list(term._osc),
        "dirty": (sorted(term._dirty), term._all_dirty),
    }


# Pieces random streams are made of: garbage and fragments of everything the parser knows.
PIECES = [
    "a", "hello ", "x" * 30, "日", "本語", "e\u0301", "👍", "─", "\ufe0f", "\u200b",
    "\r", "\n", "\r\n", "\t", "\x08", "\x07", "\x00", "\x7f", "\x85", "\x9b", "\x9c", "\x0e", "\x0f",
    "\x1b", "\x1b[", "\x1b]", "\x1bP", "\x1b\\", "\x1b(0", "\x1b(B", "\x1b7", "\x1b8", "\x1bM", "\x1bc",
    "\x1b[m", "\x1b[0m", "\x1b[1;31m", "\x1b[38;5;208m", "\x1b[48;2;10;200;30m", "\x1b[38;2;1;2m",
    "\x1b[38;5m", "\x1b[38;2;;;m", "\x1b[38;2;300;0;0m", "\x1b[4:3m", "\x1b[58;2;1;2;3;1m",
    "\x1b[9999999999m", "\x1b[;;1;;m", "\x1b[2;4;7;9;22;27;29;21;53;26m", "\x1b[97;107m", "\x1b[39;49m",
    "\x1b[H", "\x1b[5;10H", "\x1b[;7f", "\x1b[3A", "\x1b[99B", "\x1b[C", "\x1b[4D", "\x1b[12G", "\x1b[7`",
    "\x1b[3d", "\x1b[2a", "\x1b[K", "\x1b[1K", "\x1b[2K", "\x1b[J", "\x1b[2J", "\x1b[3J", "\x1b[2X",
    "\x1b[P", "\x1b[3@", "\x1b[L", "\x1b[2M", "\x1b[S", "\x1b[T", "\x1b[3b", "\x1b[2;5r", "\x1b[r",
    "\x1b[?25l", "\x1b[?25h", "\x1b[?7l", "\x1b[?7h", "\x1b[?6h", "\x1b[?6l", "\x1b[?1049h", "\x1b[?1049l",
    "\x1b[?1;2004;2026h", "\x1b[?1000;1006h", "\x1b[?1004;66;1l", "\x1b[?h", "\x1b[?2026;47l", "\x1b[?1;?2h",
    "\x1b[4h", "\x1b[4l", "\x1b[6n", "\x1b[c", "\x1b[>c", "\x1b[ q", "\x1b[>4;2m", "\x1b[?u", "\x1b[1;2;3",
    "\x1b[12345678901234567890H", "\x1b[" + "1;" * 40 + "m", "\x1b[1\x1b[2m", "\x1b[1\x07m", "\x1b[:m",
    "\x1b]0;title\x07", "\x1b]9;note\x1b\\", "\x1b]7501;state=idle\x07", "\x1b]11;?\x07", "\x1bP+q\x1b\\",
]


def random_stream(rnd: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        if rnd.random() < 0.1:
            # any code point, surrogates included (as surrogateescape could hand them on)
            out.append("".join(chr(rnd.randrange(0x110000)) for _ in range(rnd.randint(1, 3))))
        else:
            out.append(rnd.choice(PIECES))
    return "".join(out)


@needs_fast_path
@pytest.mark.parametrize("seed", range(40))
def test_random_streams_in_random_chunks(seed):
    rnd = random.Random(seed)
    cols, rows = rnd.choice([(1, 1), (2, 3), (5, 4), (20, 6), (80, 24)])
    pair = Pair(cols, rows, scrollback=rnd.choice([0, 5, 200]))
    data = random_stream(rnd, 600)
    i = 0
    while i < len(data):
        step = rnd.choice([1, 2, 3, 7, 50, 400])
        pair.feed(data[i:i + step])
        pair.assert_same(f"after {i + step} characters (seed {seed})")
        i += step


@needs_fast_path
@pytest.mark.parametrize("seed", range(40))
def test_random_bytes_through_the_decoder(seed):
    """Garbage bytes and UTF-8 cut between bytes, decoded the way the pty reader decodes."""
    rnd = random.Random(1000 + seed)
    raw = b"".join(rnd.choice([bytes([rnd.randrange(256)]), rnd.choice(PIECES).encode()])
                   for _ in range(800))
    pair = Pair(30, 8)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    i = 0
    while i < len(raw):
        step = rnd.randint(1, 64)
        pair.feed(decoder.decode(raw[i:i + step]))
        i += step
    pair.assert_same(f"(seed {seed})")


SHORT_STREAMS = [
    "ab\x1b[1;31mcd\x1b[38;2;1;2;3mef\x1b[0m\r\n\x1b[3;4Hxy\x1b[2K\x1b[G日本\x1b]0;t\x07z",
    "\x1b[?1049h\x1b[48;5;4m\x1b[2J\x1b[5;5H\x1b(0lqk\x1b(B\x1b[?1049l\x1b[12345;1Hq\x1bP1$r\x1b\\",
    "x" * 25 + "\x1b[4D\x1b[1@\x1b[?7lyyyyyyy\x1b[?7h\x1b[6n\x1b[99Cz\r\n\x1b]8;;http://a\x1b\\link\x1b]8;;\x07",
]


@needs_fast_path
@pytest.mark.parametrize("text", SHORT_STREAMS)
def test_every_split_into_two_feeds(text):
    """An escape sequence or text run cut at any point by the end of a read."""
    for cut in range(len(text) + 1):
        pair = Pair(20, 5)
        pair.feed(text[:cut])
        pair.feed(text[cut:])
        pair.assert_same(f"cut at {cut}")


@needs_fast_path
@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_recordings(name):
    path = RECORDINGS / name
    if not path.exists():
        pytest.skip(f"recording {path} not found (set FLEET_RECORDINGS to the recordings folder)")
    raw = path.read_bytes()
    for cols, rows, chunk in ((120, 40, 4096), (120, 40, 97), (50, 15, 1000)):
        pair = Pair(cols, rows)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for i in range(0, len(raw), chunk):
            pair.feed(decoder.decode(raw[i:i + chunk]))
            pair.assert_same(f"{name} at {cols}x{rows}, byte {i + chunk}")


@needs_fast_path
@pytest.mark.parametrize("make", [lambda: ls_stream(60_000), lambda: ink_stream(60_000, cols=120),
                                  lambda: truecolor_stream(60_000, cols=120, rows=40, leave=False)],
                         ids=["ls", "ink", "truecolor"])
def test_generated_streams(make):
    data = make().decode()
    pair = Pair(120, 40, scrollback=1000)
    for i in range(0, len(data), 8192):
        pair.feed(data[i:i + 8192])
    pair.assert_same()


@needs_fast_path
def test_style_table_compaction():
    """Truecolor minting more styles than the table holds: the table is rebuilt mid-stream."""
    old = terminal._MAX_STYLES
    terminal._MAX_STYLES = 64
    try:
        rnd = random.Random(7)
        pair = Pair(30, 6)
        for _ in range(40):
            pair.feed("".join(f"\x1b[38;2;{rnd.randrange(256)};0;0m\x1b[48;2;0;{rnd.randrange(256)};0mab"
                              for _ in range(20)) + "\r\n")
            pair.assert_same()
    finally:
        terminal._MAX_STYLES = old


@needs_fast_path
@pytest.mark.parametrize("case", EDGE_CASES)
def test_conformance_edge_cases(case):
    pair = Pair(40, 12)
    pair.feed(EDGE_CASES[case])
    pair.assert_same()


@needs_fast_path
@pytest.mark.parametrize("seed", range(20))
def test_rows_of_random_cells_encode_alike(seed):
    """Rows no stream would leave (any cell text, style and `used`) through both encoders: the
    same runs, or the C one declines (None) and Python encodes the row."""
    rnd = random.Random(5000 + seed)
    term = Terminal(12, 2)
    # (None, None, 0) twice: the default style is known by its value, not its id
    term._styles = [(None, None, 0), (1, None, 0), (None, 4, 0), ("#0a0b0c", "#ffffff", 5), (None, None, 0)]
    cells = [" ", " ", "a", "z", "日", "", "e\u0301", "👍", "\u2500", "ab ", "  "]
    for _ in range(300):
        row = terminal._Row(rnd.randint(1, 12))
        row.chars = [rnd.choice(cells) for _ in row.chars]
        row.styles = [rnd.choice([0, 0, 1, 2, 3, 4]) for _ in row.styles]
        row.used = rnd.randint(0, len(row.chars))
        encoded = terminal._fastterm.encode(row, term._styles)
        assert encoded == term._encode(row), (row.chars, row.styles, row.used)
        assert all(type(text) is str for text, *_ in encoded)


@needs_fast_path
def test_encoder_declines_rows_it_does_not_know():
    term = Terminal(4, 1)
    row = terminal._Row(4)
    row.used = 4
    row.styles = [0, 0, 9, 0]  # an id the table does not hold: Python raises, as it always did
    assert terminal._fastterm.encode(row, term._styles) is None
    row.styles, row.chars = [0, 0, 0, 0], ["a", "b", 3, "c"]
    assert terminal._fastterm.encode(row, term._styles) is None
