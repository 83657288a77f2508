"""Synthetic terminal output streams shaped like what agent CLIs emit.

Deterministic (seeded), so the benchmark and the conformance test see the same
bytes every run. Each generator returns at least `size` bytes of UTF-8.
"""

from __future__ import annotations

import random

_WORDS = ("src", "tests", "fleet", "core", "main.py", "README.md", "node_modules",
          "index.ts", "package.json", "日本語.txt", "build", "dist", "émoji", "Ωmega")


def ls_stream(size: int, seed: int = 1) -> bytes:
    """Plain scrolling output like `ls -laR --color`: many short lines."""
    rnd = random.Random(seed)
    out: list[str] = []
    total = 0
    while total < size:
        if rnd.random() < 0.05:
            line = f"\r\n./{rnd.choice(_WORDS)}/{rnd.choice(_WORDS)}:\r\ntotal {rnd.randint(0, 999)}\r\n"
        else:
            name = rnd.choice(_WORDS)
            colored = f"\x1b[01;34m{name}\x1b[0m" if rnd.random() < 0.3 else name
            line = (f"-rw-r--r-- 1 user user {rnd.randint(0, 99999):>6} "
                    f"Nov {rnd.randint(1, 30):>2} 12:{rnd.randint(0, 59):02d} {colored}\r\n")
        out.append(line)
        total += len(line.encode())
    return "".join(out).encode()


def ink_stream(size: int, seed: int = 2, block: int = 12, cols: int = 200) -> bytes:
    """Ink-style redraws (Claude Code, Gemini CLI): move up over the previous
    frame, erase each line and reprint the whole block, a little changed."""
    rnd = random.Random(seed)
    out: list[str] = ["\x1b[?25l"]
    total = 0
    lines = [f"\x1b[38;5;{rnd.randint(1, 255)}m●\x1b[39m task {i} " + "·" * rnd.randint(5, 60)
             for i in range(block)]
    first = True
    while total < size:
        frame = [] if first else [f"\x1b[{block}A"]
        first = False
        lines[rnd.randrange(block)] = (f"\x1b[1m✻ Working… ({rnd.randint(1, 99)}s)\x1b[22m "
                                       + "─" * rnd.randint(10, min(cols - 30, 150)))
        for text in lines:
            frame.append(f"\x1b[2K\x1b[G{text}\r\n")
        chunk = "".join(frame)
        out.append(chunk)
        total += len(chunk.encode())
    return "".join(out).encode()


def truecolor_stream(size: int, seed: int = 3, cols: int = 200, rows: int = 50,
                     leave: bool = True) -> bytes:
    """Full-screen redraws on the alternate screen where every few cells
    change 24-bit colour; `leave` returns to the main screen at the end."""
    rnd = random.Random(seed)
    out: list[str] = ["\x1b[?1049h"]
    total = 0
    while total < size:
        frame = ["\x1b[H"]
        for y in range(rows):
            frame.append(f"\x1b[{y + 1};1H")
            x = 0
            while x < cols:
                n = min(rnd.randint(4, 16), cols - x)
                r, g, b = rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)
                text = "".join(rnd.choice("abcdefghij #=-") for _ in range(n))
                frame.append(f"\x1b[38;2;{r};{g};{b}m\x1b[48;2;{b};{r};{g}m{text}")
                x += n
            frame.append("\x1b[0m")
        chunk = "".join(frame)
        out.append(chunk)
        total += len(chunk.encode())
    if leave:
        out.append("\x1b[?1049l")
    return "".join(out).encode()


STREAMS = {
    "ls -laR": ls_stream,
    "ink erase+reprint": ink_stream,
    "truecolor redraw": truecolor_stream,
}
