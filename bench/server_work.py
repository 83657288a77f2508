"""The fleet server's own work per pane update, counted in instructions (load does not move them).

  python -m bench.server_work [--rounds 50]           # timed, in this process
  python -m bench.server_work --callgrind [--rounds 50]

Sixteen 50x12 terminals (the panes of busy_panes' 200x60 grid) each take busy_panes' generator
output, 5 KB between two updates (OTHER_INTERVAL, 0.2 s at 25 KB/s) in --reads reads; at each update
each pane's changed rows become the server's screen message, encoded as it goes on the wire. A round is 0.2 s of all sixteen panes at 25 KB/s. This is the server's work
from the pty's bytes to the socket's, without the event loop, the reads and their pacing.

--callgrind runs it under valgrind twice (ROUNDS and 2 x ROUNDS) and prints the difference per
round and per update: the start-up and imports cancel out.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from types import SimpleNamespace

PANES, COLS, ROWS = 16, 50, 12
UPDATE_BYTES = 5000  # a pane's output between two of its updates (0.2 s at 25 KB/s)
COLOURS = [f"\x1b[38;5;{c}m" for c in (33, 39, 45, 118, 166, 196, 214, 226)]


def generator_output(size: int, first: int = 0) -> str:
    """The lines bench/_gen.py writes, from line number `first`, at least `size` characters."""
    out, total, n = [], 0, first
    while total < size:
        line = (f"{COLOURS[n % 8]}{n:08d}\x1b[0m \x1b[1mworking\x1b[22m on step {n % 97:3d} "
                + "lorem ipsum dolor sit amet " * 2 + "\r\n")
        out.append(line)
        total += len(line)
        n += 1
    return "".join(out)


def panes(rounds: int) -> list[tuple[SimpleNamespace, str]]:
    """Sixteen fresh sessions (name and terminal, all screen_message reads) and their output."""
    from fleet_tui.core.terminal import Terminal

    size = UPDATE_BYTES * rounds
    return [(SimpleNamespace(name=f"busy-{i}", terminal=Terminal(COLS, ROWS)), generator_output(size, first=37 * i))
            for i in range(PANES)]


def run(sessions: list[tuple[SimpleNamespace, str]], rounds: int, sink: list[bytes] | None = None,
        reads: int = 5) -> int:
    """Feed and send `rounds` rounds, each pane's output in `reads` reads an update; the bytes of
    screen messages produced (kept in `sink` if given)."""
    from fleet_tui import protocol
    from fleet_tui.server import screen_message

    sent = 0
    for r in range(rounds):
        for pane, stream in sessions:
            for k in range(reads):
                at = r * UPDATE_BYTES + k * UPDATE_BYTES // reads
                pane.terminal.feed(stream[at:r * UPDATE_BYTES + (k + 1) * UPDATE_BYTES // reads])
            message = protocol.encode(screen_message(pane, pane.terminal.take_dirty()))
            sent += len(message)
            if sink is not None:
                sink.append(message)
    return sent


def instructions(rounds: int, prepared: int, reads: int) -> int:
    """Instructions valgrind counts for a whole run of `rounds` rounds (start-up and the making of
    `prepared` rounds of output included)."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                          "-m", "bench.server_work", "--rounds", str(rounds), "--prepared", str(prepared),
                          "--reads", str(reads)],
                         capture_output=True, text=True, check=True).stderr
    found = re.search(r"Collected\s*:\s*(\d+)", out)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--reads", type=int, default=5, help="reads a pane's output takes between two updates "
                        "(5: one every 40 ms; 2: read once before each update, as the server now does, 4 KB a read)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind")
    parser.add_argument("--prepared", type=int, default=0, help=argparse.SUPPRESS)  # rounds of output made
    args = parser.parse_args(argv)
    if args.callgrind:
        counts = [instructions(n * args.rounds, 2 * args.rounds, args.reads) for n in (2, 1)]
        per_round = (counts[0] - counts[1]) / args.rounds
        print(f"{per_round / 1e6:.1f} M instructions a round (0.2 s of {PANES} panes at 25 KB/s), "
              f"{per_round / PANES / 1e3:.0f} K an update of one pane")
        return 0
    import fleet_tui.server  # noqa: F401  (imports are not the server's work per update)

    sessions = panes(max(args.rounds, args.prepared))
    start = time.process_time()
    sent = run(sessions, args.rounds, reads=args.reads)
    spent = time.process_time() - start
    print(f"{args.rounds} rounds: {spent * 1e3 / args.rounds:.2f} ms CPU a round (0.2 s of {PANES} panes at "
          f"25 KB/s: {spent / args.rounds / 0.2:.1%} of a core), {sent / args.rounds / PANES:.0f} bytes an update")
    return 0


if __name__ == "__main__":
    sys.exit(main())
