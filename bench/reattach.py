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
import contextlib
import os
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil

from bench.harness import PY, FleetServer, Sandbox, Tmux, make_repo, table, wait_for, yaml_agents
from bench.ptyrun import PtyProgram

PANES = 16
CLIENT = [PY, "-m", "fleet_tui"]  # what the `fleet-tui` console script runs
IDLE = ["sh", "-c", 'printf "%s-READY\\r\\n" "$FLEET_SESSION_NAME"; exec cat']


def client_env() -> dict[str, str]:
    """The environment a user's `fleet-tui` has: Python may keep its compiled bytecode.

    (A test or CI shell may set PYTHONDONTWRITEBYTECODE; a pip-installed fleet-tui has its
    .pyc files, so compiling every module from source on each start is not what users get.)
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) the process has used so far, in ms: what the load does not inflate."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return float("nan")
    return (times.user + times.system) * 1000


async def all_drawn(prog: PtyProgram, markers: list[bytes], timeout: float = 20) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    ok = await wait_for(lambda: prog.total > 0, timeout, 0.001)
    first = time.perf_counter() - t0
    ok = ok and await wait_for(lambda: all(m in prog.buffer for m in markers), timeout, 0.002)
    if not ok:
        missing = [m for m in markers if m not in prog.buffer]
        raise RuntimeError(f"not drawn: {missing}\n{prog.tail()}")
    return first * 1000, (time.perf_counter() - t0) * 1000, cpu_ms(prog.proc.pid)


@contextlib.asynccontextmanager
async def fleet_of_16() -> AsyncIterator[tuple[Path, list[bytes]]]:
    """A real server running the 16 idle sessions; yields its repository and the panes' markers."""
    with Sandbox("reattach") as sb:
        repo = make_repo(sb.path / "repo", yaml_agents({"idle": IDLE}))
        server = FleetServer(repo)
        try:
            client = await server.start()
            names = (await client.call("start", agents=["idle"], count=PANES))["sessions"]
            await asyncio.sleep(0.5)
            yield repo, [f"{n}-READY".encode() for n in names]
        finally:
            await server.stop()


async def fleet_run(repeat: int) -> list[tuple[float, float, float]]:
    async with fleet_of_16() as (repo, markers):
        start = lambda: PtyProgram(CLIENT, cols=200, rows=60, cwd=repo, env=client_env())  # noqa: E731
        await attach_repeatedly(start, markers, 1)  # not counted: writes the bytecode caches a user has
        return await attach_repeatedly(start, markers, repeat)


async def attach_repeatedly(start, markers: list[bytes], repeat: int) -> list[tuple[float, float, float]]:
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


async def tmux_run(repeat: int) -> list[tuple[float, float, float]]:
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
    print(f"load average {os.getloadavg()[0]:.1f}; client CPU = its user + system time until all drawn")
    print(table(["what", "first byte ms", "all 16 drawn ms", "runs ms", "client CPU ms", "ratio vs tmux"], [
        ["fleet-tui", med(f, 0), med(f, 1), " ".join(f"{x[1]:.0f}" for x in f), med(f, 2), med(f, 1) / med(t, 1)],
        ["tmux attach", med(t, 0), med(t, 1), " ".join(f"{x[1]:.0f}" for x in t), med(t, 2), 1.0],
    ]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
