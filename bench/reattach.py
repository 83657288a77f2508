"""Benchmark 4: reattach. From the real `fleet-tui` started to every one of 16 panes drawn.

fleet: a real server already runs 16 sessions, each printed "<session>-READY" and waits
  (`cat`). The real `python -m fleet_tui` (what `fleet-tui` runs) starts in a 200x60
  pty we own; the clock stops when all 16 markers have come out of it to the outer
  terminal, i.e. the first paint with all 16 screens non-empty.
tmux: the same 16 programs in 16 tiled panes, `tmux attach` in a 200x60 pty, same stop.

  python -m bench.reattach [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bench.harness import PY, ROOT, FleetServer, Sandbox, Tmux, make_repo, table, wait_for, yaml_agents
from bench.ptyrun import PtyProgram

PANES = 16
IDLE = ["sh", "-c", 'printf "%s-READY\\r\\n" "$FLEET_SESSION_NAME"; exec cat']


async def all_drawn(prog: PtyProgram, markers: list[bytes], timeout: float = 20) -> tuple[float, float]:
    t0 = time.perf_counter()
    ok = await wait_for(lambda: prog.total > 0, timeout, 0.001)
    first = time.perf_counter() - t0
    ok = ok and await wait_for(lambda: all(m in prog.buffer for m in markers), timeout, 0.002)
    if not ok:
        missing = [m for m in markers if m not in prog.buffer]
        raise RuntimeError(f"not drawn: {missing}\n{prog.tail()}")
    return first * 1000, (time.perf_counter() - t0) * 1000


async def fleet_run(repeat: int) -> list[tuple[float, float]]:
    with Sandbox("reattach") as sb:
        repo = make_repo(sb.path / "repo", yaml_agents({"idle": IDLE}))
        server = FleetServer(repo)
        out = []
        try:
            client = await server.start()
            names = (await client.call("start", agents=["idle"], count=PANES))["sessions"]
            markers = [f"{n}-READY".encode() for n in names]
            await asyncio.sleep(0.5)
            out = await attach_repeatedly(lambda: PtyProgram([PY, "-m", "fleet_tui"], cols=200, rows=60, cwd=repo),
                                          markers, repeat)
        finally:
            await server.stop()
        return out


async def attach_repeatedly(start, markers: list[bytes], repeat: int) -> list[tuple[float, float]]:
    """Start a client `repeat` times (fleet-tui or tmux attach) and time each until all panes drew."""
    out = []
    for _ in range(repeat):
        prog = start()
        try:
            out.append(await all_drawn(prog, markers))
        finally:
            prog.close()
        await asyncio.sleep(0.3)
    return out


async def tmux_run(repeat: int) -> list[tuple[float, float]]:
    with Sandbox("reattach-tmux"):
        tmux = Tmux("reattach")
        out = []
        try:
            cmd = lambda i: f"printf 'p{i:02d}-READY\\r\\n'; exec cat"  # noqa: E731
            tmux("new-session", "-d", "-s", "b", "-x", "200", "-y", "60", cmd(0))
            for i in range(1, PANES):
                tmux("split-window", "-d", "-t", "b:0", cmd(i))
                tmux("select-layout", "-t", "b:0", "tiled")
            markers = [f"p{i:02d}-READY".encode() for i in range(PANES)]
            await asyncio.sleep(0.5)
            out = await attach_repeatedly(lambda: PtyProgram(tmux.argv("attach", "-t", "b"), cols=200, rows=60),
                                          markers, repeat)
        finally:
            tmux.kill()
        return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    f = asyncio.run(fleet_run(args.repeat))
    t = asyncio.run(tmux_run(args.repeat))
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    print(f"reattach: process start -> all {PANES} panes drawn on a 200x60 outer terminal "
          f"(median of {args.repeat})")
    print(table(["what", "first byte ms", "all 16 drawn ms", "runs ms", "ratio vs tmux"], [
        ["fleet-tui", med(f, 0), med(f, 1), " ".join(f"{x[1]:.0f}" for x in f), med(f, 1) / med(t, 1)],
        ["tmux attach", med(t, 0), med(t, 1), " ".join(f"{x[1]:.0f}" for x in t), 1.0],
    ]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
