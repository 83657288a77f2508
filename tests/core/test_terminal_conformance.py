"""The bar is tmux: the same bytes fed to Terminal and to a real tmux pane of
the same size must leave the same screen, row by row and colour by colour.

The pane runs `stty -echo -opost; cat FILE`: -echo so tmux's own answers to
the recorded device queries (DA1, CPR...) are not echoed onto the screen, and
-opost so bare LFs reach tmux exactly as the recorded program wrote them.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from bench.streams import ink_stream, ls_stream, truecolor_stream
from fleet_tui.core.terminal import Terminal

pytestmark = [pytest.mark.real, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

RECORDINGS = Path(os.environ.get("FLEET_RECORDINGS")
                  or Path(__file__).resolve().parents[3] / "shared" / "recordings")
RECORDING_NAMES = ["claude-session.bin", "codex-session.bin", "aider-session.bin"]


def tmux_screens(streams: dict[str, bytes], tmp_path: Path, cols: int, rows: int, *,
                 colors: bool = False) -> dict[str, list[str]]:
    """The final screens of tmux panes, one window per stream, as capture-pane prints them."""
    sock = f"fleet-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8")
    commands: list[str] = ["new-session", "-d", "-x", str(cols), "-y", str(rows), "-n", "w0", "sleep 60",
                           ";", "set", "-g", "default-size", f"{cols}x{rows}"]
    for i, data in enumerate(streams.values()):
        path = tmp_path / f"stream-{uuid.uuid4().hex[:6]}.bin"
        path.write_bytes(data)
        script = (f"stty -echo -opost; cat {shlex.quote(str(path))}; "
                  f"tmux -L {sock} wait-for -S fed{i}; exec sleep 60")
        commands += [";", "new-window", "-n", f"s{i}", script]
    try:
        subprocess.run(tmux + commands, env=env, check=True)
        screens = {}
        for i, name in enumerate(streams):
            subprocess.run(tmux + ["wait-for", f"fed{i}"], env=env, check=True, timeout=30)
            # tmux may still be parsing what cat wrote: capture until two agree.
            previous = None
            for _ in range(50):
                out = subprocess.run(tmux + ["capture-pane", "-p", *(["-e"] if colors else []), "-t", f"s{i}"],
                                     env=env, check=True, capture_output=True, text=True).stdout
                if out == previous:
                    break
                previous = out
                time.sleep(0.05)
            screens[name] = out.split("\n")[:rows]
        return screens
    finally:
        subprocess.run(tmux + ["kill-server"], env=env, capture_output=True)


def tmux_screen(data: bytes, tmp_path: Path, cols: int, rows: int, *, colors: bool = False) -> list[str]:
    return tmux_screens({"one": data}, tmp_path, cols, rows, colors=colors)["one"]


def ours(data: bytes, cols: int, rows: int) -> Terminal:
    term = Terminal(cols, rows)
    term.feed(data.decode("utf-8", errors="replace"))
    return term


def assert_same_rows(term: Terminal, expected: list[str]) -> None:
    assert any(expected), "the tmux pane shows nothing: the comparison would prove nothing"
    got = term.display()
    differing = [(y, got[y], expected[y]) for y in range(term.rows) if got[y] != expected[y]]
    assert not differing, "rows differ from tmux (row, ours, tmux):\n" + "\n".join(map(repr, differing))


def _trimmed(runs):
    """capture-pane drops trailing spaces whatever their colour; so do we here."""
    runs = list(runs)
    while runs and not runs[-1][0].rstrip(" "):
        runs.pop()
    if runs:
        runs[-1] = (runs[-1][0].rstrip(" "), *runs[-1][1:])
    return runs


def recording(name: str) -> bytes:
    path = RECORDINGS / name
    if not path.exists():
        pytest.skip(f"recording {path} not found (set FLEET_RECORDINGS to the recordings folder)")
    return path.read_bytes()


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_recording_final_screen_matches_tmux(name, tmp_path):
    data = recording(name)
    assert_same_rows(ours(data, 120, 40), tmux_screen(data, tmp_path, 120, 40))


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_recording_colours_match_tmux(name, tmp_path):
    data = recording(name)
    term = ours(data, 120, 40)
    # Read tmux's `capture-pane -e` back through a fresh Terminal so both sides
    # are compared as runs of (text, fg, bg, attrs).
    captured = tmux_screen(data, tmp_path, 120, 40, colors=True)
    reference = ours("\r\n".join(captured).encode(), 120, 40)
    assert any(len(term.line(y)) > 1 for y in range(40)) or name == "codex-session.bin"
    for y in range(40):
        assert _trimmed(term.line(y)) == _trimmed(reference.line(y)), f"row {y}"


GENERATED = {
    "ls": lambda: ls_stream(120_000),
    "ink": lambda: ink_stream(120_000, cols=120),
    # stay on the alternate screen so its content is what gets compared
    "truecolor": lambda: truecolor_stream(120_000, cols=120, rows=40, leave=False),
}


@pytest.mark.parametrize("kind", GENERATED)
def test_generated_stream_matches_tmux(kind, tmp_path):
    data = GENERATED[kind]()
    term = ours(data, 120, 40)
    assert_same_rows(term, tmux_screen(data, tmp_path, 120, 40))
    if kind == "truecolor":
        captured = tmux_screen(data, tmp_path, 120, 40, colors=True)
        reference = ours("\r\n".join(captured).encode(), 120, 40)
        for y in range(0, 40, 7):
            assert _trimmed(term.line(y)) == _trimmed(reference.line(y)), f"row {y}"


# Edge cases where emulators commonly disagree; each ends on a screen that
# shows the difference.
EDGE_CASES = {
    "wide char at the last column wraps": "x" * 39 + "日本" + "\r\nend",
    "no autowrap overwrites the last cell": "\x1b[?7l" + "a" * 45 + "XYZ\x1b[?7h\r\nnext",
    "backspace after pending wrap": "b" * 40 + "\x08Q\r\n",
    "combining accents and emoji": "e\u0301 n\u0303 👍 ok ✔ 🎉 tail\r\n",
    "scroll region with index and reverse index":
        "".join(f"{i}\r\n" for i in range(12)) + "\x1b[3;6r\x1b[6;1Hdown\n\n\x1b[3;1H\x1bMup\x1b[r",
    "insert and delete chars and lines":
        "abcdef\r\nline2\r\nline3\r\n\x1b[1;3H\x1b[2@XY\x1b[2;1H\x1b[1L\x1b[3;2H\x1b[2P\x1b[3;1H\x1b[1M",
    "erase with background colour": "\x1b[44mblue\x1b[K\r\n\x1b[0mplain\x1b[2;3H\x1b[1K",
    "tabs and tab stops": "a\tb\tc\r\n\x1b[3g\x1b[5G\x1bH\r\tX\r\n",
    "repeat and erase characters": "z\x1b[5b\r\n0123456789\x1b[1;3H\x1b[4X",
    "origin mode": "\x1b[5;10r\x1b[?6h\x1b[1;1Horigin\x1b[?6l\x1b[r",
    "save and restore cursor": "\x1b7abc\x1b[5;5Hdef\x1b8X\x1b[s\x1b[10;1Hmore\x1b[uY",
    "alternate screen restores the main one": "main text\x1b[?1049halt text\x1b[?1049l after",
    "kitty keyboard and modifyOtherKeys leak nothing": "a\x1b[>1ub\x1b[<uc\x1b[?ud\x1b[>4;0me\x1b[>4;2mf",
    "strings are swallowed": "1\x1bP+q544e\x1b\\2\x1b_apc\x1b\\3\x1b]0;title\x074\x1b]8;;http://x\x1b\\5",
    "scroll up and down": "".join(f"r{i}\r\n" for i in range(8)) + "\x1b[2S\x1b[1T",
    "vertical and horizontal absolute moves": "\x1b[5dfive\x1b[20`col20\x1b[3;7fat",
    # With a wrap pending tmux's cursor is one past the last column.
    "line feed keeps a pending wrap": "a" * 40 + "\nb",
    "cursor back from a pending wrap": "a" * 40 + "\x1b[3DX",
    "cursor forward at a pending wrap": "a" * 40 + "\x1b[CX",
    "erase line at a pending wrap": "a" * 40 + "\x1b[Kb",
    "erase chars and display at a pending wrap": "a" * 40 + "\x1b[X\x1b[J",
    "insert and delete chars at a pending wrap": "a" * 40 + "\x1b[@\x1b[PZ",
    "backspace at column 0 of a wrapped line": "a" * 40 + "b\x08\x08X",
    "insert and delete lines outside the region":
        "1\r\n2\r\n3\r\n4\r\n5\r\n6\x1b[2;3r\x1b[5;1H\x1b[L\x1b[6;1H\x1b[M",
    "insert and delete lines keep the column": "abc\r\ndef\x1b[1;3H\x1b[LX\x1b[2;2H\x1b[MY",
    "line feeds below the region do not scroll": "\x1b[2;4r\x1b[8;1H" + "\n" * 10 + "Y",
    "cursor up stops at the region top": "\x1b[3;6r\x1b[8;1H\x1b[20AU\x1b[4;1H\x1b[20AV",
    "origin mode clamps to the region": "\x1b[3;6r\x1b[?6h\x1b[20;1HO",
    "invalid region is ignored": "\x1b[5;3r\x1b[12;1H\nZ",
    "restore without save goes home": "\x1b[5;5H\x1b8Z",
    "tabs stop at the last column": "\x1b[1;38H\t\tZ",
    "repeat skips wide characters": "日\x1b[3bx\x1b[2b",
    "wide char over a wide char's right half": "日本\x1b[1;2H語",
    "no autowrap with a wide char at the end": "\x1b[?7l" + "a" * 39 + "日\r\nq",
    "variation selectors and joiners": "✔\ufe0f ok ❤\ufe0f ok\r\nx\u200by",
    "C1 controls are ignored": "a\u0085b\u0084c\u008dd",
    "erase with colour then reset": "\x1b[41m\x1b[2J\x1b[0mx",
}


@pytest.fixture(scope="module")
def tmux_edge_screens(tmp_path_factory):
    streams = {name: text.encode() for name, text in EDGE_CASES.items()}
    return tmux_screens(streams, tmp_path_factory.mktemp("edge"), 40, 12)


@pytest.mark.parametrize("case", EDGE_CASES)
def test_edge_case_matches_tmux(case, tmux_edge_screens):
    assert_same_rows(ours(EDGE_CASES[case].encode(), 40, 12), tmux_edge_screens[case])


def test_dec_line_drawing_matches_tmux_cells(tmp_path):
    # tmux stores line-drawing cells as the ASCII letter plus a charset flag,
    # and capture-pane prints the letter; we store the box character itself
    # (clients have no charset flag). Map ours back to letters to compare.
    data = "\x1b(0lqqk\r\nx  x\r\nmqqj\x1b(B done\r\n".encode()
    term = ours(data, 40, 12)
    assert term.display()[:3] == ["┌──┐", "│  │", "└──┘ done"]
    to_letters = str.maketrans("┌┐└┘─│", "lkmjqx")
    assert [row.translate(to_letters) for row in term.display()] == tmux_screen(data, tmp_path, 40, 12)
