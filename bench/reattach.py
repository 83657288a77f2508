"""Benchmark 4: reattach. From the real `fleet-tui` started to every one of 16 panes drawn.

fleet: a real server already runs 16 sessions, each printed "<session>-READY" and waits
  (`cat`). The real `fleet-tui` console script starts in a 200x60 pty we own; the clock
  stops when all 16 markers have come out of it to the outer terminal, i.e. the first
  paint with all 16 screens non-empty. Two ways, alternating, against the same server:
  warm: the server's warm UI process is up (a TUI attached once): `fleet-tui` is a thin
    launcher and a child forked from the warm process draws (fleet_tui/launch.py);
  cold: FLEET_WARM_UI=0, the ordinary path: Python imports Textual and pydantic, as before.
tmux: the same 16 programs in 16 tiled panes, `tmux attach` in a 200x60 pty, same stop.

Client CPU is the user + system time until all drawn of the process(es) that drew: the
launcher plus the warm process's child. Memory: the warm process, and what one attached
child adds (USS: its private pages; the rest it shares with the warm process).

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
CLIENT = [str(Path(PY).with_name("fleet-tui"))]  # the console script a user runs (fleet_tui.launch:main)
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


def warm_children(warm: psutil.Process | None) -> list[psutil.Process]:
    """The TUIs the warm process forked (each draws for one launcher)."""
    if warm is None:
        return []
    try:
        return [child for child in warm.children() if child.status() != psutil.STATUS_ZOMBIE]
    except psutil.Error:
        return []


async def all_drawn(prog: PtyProgram, markers: list[bytes], timeout: float = 20,
                    warm: psutil.Process | None = None) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    ok = await wait_for(lambda: prog.total > 0, timeout, 0.001)
    first = time.perf_counter() - t0
    ok = ok and await wait_for(lambda: all(m in prog.buffer for m in markers), timeout, 0.002)
    if not ok:
        missing = [m for m in markers if m not in prog.buffer]
        raise RuntimeError(f"not drawn: {missing}\n{prog.tail()}")
    drawn = (time.perf_counter() - t0) * 1000
    cpu = cpu_ms(prog.proc.pid) + sum(cpu_ms(child.pid) for child in warm_children(warm))
    return first * 1000, drawn, cpu


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


def warm_process(server_pid: int) -> psutil.Process | None:
    for child in psutil.Process(server_pid).children():
        with contextlib.suppress(psutil.Error):
            if "fleet_tui.ui.warm" in " ".join(child.cmdline()):
                return child
    return None


def memory_mb(proc: psutil.Process) -> dict[str, float]:
    info = proc.memory_full_info()
    return {"rss": info.rss / 2**20, "uss": info.uss / 2**20, "pss": info.pss / 2**20}


async def fleet_run(repeat: int) -> dict:
    """Cold and warm attaches, alternating; the warm process's memory and one child's."""
    async with fleet_of_16() as (repo, markers):
        warm_env = client_env()
        cold_env = {**warm_env, "FLEET_WARM_UI": "0"}
        start = lambda env: PtyProgram(CLIENT, cols=200, rows=60, cwd=repo, env=env)  # noqa: E731
        # Not counted: writes the bytecode caches a user has, and asks the server for its warm process.
        await attach_repeatedly(lambda: start(warm_env), markers, 1)
        pid_file = repo / ".git" / "fleet" / "server.pid"
        server = int(pid_file.read_text())
        if not await wait_for(lambda: warm_process(server) is not None and warm_ui_socket(repo).exists(), 60, 0.1):
            raise RuntimeError("the server started no warm UI process")
        warm = warm_process(server)
        await asyncio.sleep(1.0)
        result: dict = {"cold": [], "warm": [], "child": {}, "cold_memory": {}}
        for _ in range(repeat):
            result["cold"] += await attach_repeatedly(lambda: start(cold_env), markers, 1,
                                                      probe=result["cold_memory"])
            result["warm"] += await attach_repeatedly(lambda: start(warm_env), markers, 1, warm=warm,
                                                      probe=result["child"])
        result["warm_memory"] = memory_mb(warm)
        return result


def warm_ui_socket(repo: Path) -> Path:
    from fleet_tui.paths import warm_ui_socket_path

    return warm_ui_socket_path(repo)


async def attach_repeatedly(start, markers: list[bytes], repeat: int, warm: psutil.Process | None = None,
                            probe: dict | None = None) -> list[tuple[float, float, float]]:
    """Start a client `repeat` times (fleet-tui or tmux attach) and time each until all panes drew."""
    out = []
    for _ in range(repeat):
        prog = start()
        try:
            out.append(await all_drawn(prog, markers, warm=warm))
            children = warm_children(warm)
            if warm is not None and not children:
                raise RuntimeError("the warm path was not taken (run with FLEET_DEBUG=1 to see why)")
            if probe is not None:  # what drew: the warm process's child, else the client itself
                with contextlib.suppress(psutil.Error):
                    probe.update(memory_mb(children[0] if children else psutil.Process(prog.proc.pid)))
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
    result = asyncio.run(fleet_run(args.repeat))
    t = asyncio.run(tmux_run(args.repeat))
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731

    def row(name: str, runs: list) -> list:
        return [name, med(runs, 0), med(runs, 1), " ".join(f"{x[1]:.0f}" for x in runs), med(runs, 2),
                med(runs, 1) / med(t, 1)]

    print(f"reattach: process start -> all {PANES} panes drawn on a 200x60 outer terminal "
          f"(median of {args.repeat})")
    print(f"load average {os.getloadavg()[0]:.1f}; client CPU = user + system time until all drawn "
          "(warm: the launcher and the warm process's child)")
    print(table(["what", "first byte ms", "all 16 drawn ms", "runs ms", "client CPU ms", "ratio vs tmux"], [
        row("fleet-tui, warm UI process", result["warm"]),
        row("fleet-tui, cold (FLEET_WARM_UI=0)", result["cold"]),
        row("tmux attach", t),
    ]))
    warm, child, cold = result["warm_memory"], result["child"], result["cold_memory"]
    print(f"warm UI process: RSS {warm['rss']:.0f} MB, of which its own (USS) {warm['uss']:.0f} MB, PSS "
          f"{warm['pss']:.0f} MB; an attached child: RSS {child.get('rss', 0):.0f} MB, USS "
          f"{child.get('uss', 0):.0f} MB (the rest shared with the warm process); a cold client: RSS "
          f"{cold.get('rss', 0):.0f} MB, USS {cold.get('uss', 0):.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
