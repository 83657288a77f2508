"""How fast Terminal parses typical agent output, next to plain pyte and tmux.

    python -m bench.emulator_throughput [--mb 2]

Prints MB/s per stream (best of three runs; 64 KB chunks decoded the way the
pty reader decodes them, decoding not timed), the ratio ours/tmux, and the
memory one Terminal needs for 10,000 lines of scrollback at 200 columns.
"""

from __future__ import annotations

import argparse
import codecs
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from bench.streams import ink_stream, ls_stream, truecolor_stream
from fleet_tui.core.terminal import Terminal

CHUNK = 64 * 1024
RECORDINGS = Path(os.environ.get("FLEET_RECORDINGS")
                  or Path(__file__).resolve().parents[2] / "shared" / "recordings")


def chunks(data: bytes) -> list[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return [decoder.decode(data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]


def best_rate(make_feed, pieces: list[str], size: int, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        feed = make_feed()
        start = time.perf_counter()
        for piece in pieces:
            feed(piece)
        best = min(best, time.perf_counter() - start)
    return size / best / 1e6


def ours(cols: int, rows: int):
    return lambda: Terminal(cols, rows, respond=lambda reply: None).feed


def plain_pyte(cols: int, rows: int):
    import pyte

    return lambda: pyte.Stream(pyte.Screen(cols, rows)).feed


def tmux_seconds(path: Path, cols: int, rows: int) -> float:
    """Time for the bytes to pass through a detached tmux pane of that size."""
    sock = f"fleet-bench-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8")
    # The pane stays alive after signalling: a server exiting under a waiting
    # client can leave that client hanging.
    script = f"stty -echo -opost; cat {shlex.quote(str(path))}; tmux -L {sock} wait-for -S fed; exec sleep 60"
    try:
        start = time.perf_counter()
        subprocess.run(tmux + ["new-session", "-d", "-x", str(cols), "-y", str(rows), "sh", "-c", script],
                       env=env, check=True)
        subprocess.run(tmux + ["wait-for", "fed"], env=env, check=True, timeout=60)
        return time.perf_counter() - start
    finally:
        subprocess.run(tmux + ["kill-server"], env=env, capture_output=True)


def tmux_rate(data: bytes, cols: int, rows: int) -> float | None:
    if shutil.which("tmux") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path, empty = Path(tmp, "stream.bin"), Path(tmp, "empty.bin")
        path.write_bytes(data)
        empty.write_bytes(b"")
        overhead = min(tmux_seconds(empty, cols, rows) for _ in range(3))  # start-up and teardown
        seconds = min(tmux_seconds(path, cols, rows) for _ in range(3)) - overhead
    return len(data) / max(seconds, 1e-6) / 1e6


def scrollback_memory(cols: int = 200, lines: int = 10_000) -> tuple[float, float]:
    """KB held by one Terminal with a full scrollback: ls-like lines, and
    full-width lines with many colour changes (the worst realistic case)."""
    results = []
    for kind in ("ls", "dense"):
        if kind == "ls":
            text = ls_stream(lines * 80).decode()
        else:
            row = "".join(f"\x1b[38;5;{i * 9 % 256}m{'word ' * 4}" for i in range(10)) + "\x1b[0m\r\n"
            text = row * (lines + 100)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        term = Terminal(cols, 50, scrollback=lines)
        term.feed(text)
        assert len(term.history) == lines, len(term.history)
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        results.append(used / 1024)
        del term
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=2.0, help="size of each stream in MB")
    parser.add_argument("--no-tmux", action="store_true")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)

    cases: list[tuple[str, bytes, int, int]] = [
        ("ls -laR (200x50)", ls_stream(size), 200, 50),
        ("Ink erase+reprint (200x50)", ink_stream(size), 200, 50),
        ("truecolor redraw (200x50)", truecolor_stream(size), 200, 50),
    ]
    for path in sorted(RECORDINGS.glob("*.bin")):
        raw = path.read_bytes()
        cases.append((f"{path.stem} x{-(-size // len(raw))} (120x40)", raw * -(-size // len(raw)), 120, 40))

    print(f"{'stream':<36}{'ours MB/s':>10}{'pyte MB/s':>10}{'tmux MB/s':>10}{'ours/tmux':>10}")
    for name, data, cols, rows in cases:
        pieces = chunks(data)
        mine = best_rate(ours(cols, rows), pieces, len(data))
        try:
            theirs = f"{best_rate(plain_pyte(cols, rows), pieces, len(data), runs=1):.2f}"
        except Exception as error:  # pyte has gaps; report rather than stop
            theirs = type(error).__name__
        tmux = None if args.no_tmux else tmux_rate(data, cols, rows)
        tmux_text = f"{tmux:.2f}" if tmux else "-"
        ratio = f"{mine / tmux:.2f}" if tmux else "-"
        print(f"{name:<36}{mine:>10.2f}{theirs:>10}{tmux_text:>10}{ratio:>10}")
        sys.stdout.flush()

    ls_kb, dense_kb = scrollback_memory()
    print(f"\nmemory, one Terminal 200x50 holding 10,000 lines of scrollback:")
    print(f"  ls-like lines:                      {ls_kb / 1024:6.1f} MB")
    print(f"  full-width lines, 10 colour runs:   {dense_kb / 1024:6.1f} MB")


if __name__ == "__main__":
    main()
