"""Benchmark 3: 16 panes each receiving 25 KB/s and 100 KB/s.

fleet: a real server with 16 sessions running bench/_gen.py (coloured lines at a fixed
  rate; each counts the bytes it really wrote, so a consumer that falls behind shows
  as produced < target: the pty fills and the generator blocks). The real fleet-tui
  (bench/_probe_app.py: FleetApp on the real driver + an asyncio lag probe sleeping
  10 ms) runs in a 200x60 pty we own; every byte it writes to the outer terminal is
  counted. CPU of server and UI processes by psutil over the measuring window.
tmux: the same 16 generators in 16 tiled panes of one window, a real `tmux attach`
  client in a 200x60 pty; CPU of tmux server + client, bytes to the outer terminal.

  python -m bench.busy_panes [--rates 25000 100000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import psutil

from bench.harness import (GEN, PY, FleetServer, Sandbox, Tmux, busy_cmd, make_repo, pct, runqueue_wait, sh,
                           table, yaml_agents)
from bench.ptyrun import PtyProgram

PANES = 16
WARMUP = 4.0  # app start, first full screens, the debounced pane resizes


def produced(counter_dir: Path) -> int:
    total = 0
    for f in counter_dir.iterdir():
        try:
            total += int(f.read_text().strip() or 0)
        except ValueError:
            pass
    return total


def cpu_times(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def window(counter_dir: Path, procs: list[psutil.Process], prog: PtyProgram, seconds: float):
    q0 = runqueue_wait(procs[1].pid)
    p0, c0, b0, t0 = produced(counter_dir), [cpu_times([p]) for p in procs], prog.total, time.monotonic()
    w0 = time.time()
    await asyncio.sleep(seconds)
    dt = time.monotonic() - t0
    p1, c1, b1 = produced(counter_dir), [cpu_times([p]) for p in procs], prog.total
    return {"produced_rate": (p1 - p0) / dt, "cpu": [(b - a) / dt * 100 for a, b in zip(c0, c1)],
            "out_rate": (b1 - b0) / dt, "w0": w0, "w1": time.time(),
            "wait": (runqueue_wait(procs[1].pid) - q0) / dt * 100, "load": os.getloadavg()[0]}


async def fleet_run(rate: int, seconds: float) -> dict:
    with Sandbox("busy") as sb:
        counters = sb.path / "counters"
        counters.mkdir()
        repo = make_repo(sb.path / "repo", yaml_agents({"busy": busy_cmd(rate, counters)}))
        server = FleetServer(repo)
        prog = None
        try:
            client = await server.start()
            await client.call("start", agents=["busy"], count=PANES)
            lag_file = sb.path / "lag.json"
            prog = PtyProgram([PY, "-m", "bench._probe_app", str(repo), str(lag_file)], cols=200, rows=60,
                              cwd=Path(__file__).resolve().parent.parent)
            prog.keep = False
            await asyncio.sleep(WARMUP)
            ui = psutil.Process(prog.proc.pid)
            w = await window(counters, [server.process, ui], prog, seconds)
            await asyncio.sleep(0.6)
            if not lag_file.exists():
                raise RuntimeError(f"the probed fleet-tui did not run:\n{prog.tail()}")
            lags = [lag for t, lag in json.loads(lag_file.read_text()) if w["w0"] <= t <= w["w1"]]
            w["lag"] = lags
            return w
        finally:
            if prog:
                prog.close()
            await server.stop()


async def tmux_run(rate: int, seconds: float) -> dict:
    with Sandbox("busy-tmux") as sb:
        counters = sb.path / "counters"
        counters.mkdir()
        tmux = Tmux("busy")
        prog = None
        try:
            tmux("new-session", "-d", "-s", "b", "-x", "200", "-y", "60",
                 sh([PY, GEN, str(rate), str(counters / "p0")]))
            for i in range(1, PANES):
                tmux("split-window", "-d", "-t", "b:0", sh([PY, GEN, str(rate), str(counters / f"p{i}")]))
                tmux("select-layout", "-t", "b:0", "tiled")
            prog = PtyProgram(tmux.argv("attach", "-t", "b"), cols=200, rows=60)
            prog.keep = False
            await asyncio.sleep(WARMUP)
            procs = [psutil.Process(tmux.server_pid()), psutil.Process(prog.proc.pid)]
            return await window(counters, procs, prog, seconds)
        finally:
            if prog:
                prog.close()
            tmux.kill()


async def main_async(rates: list[int], seconds: float) -> list[list]:
    rows = []
    for rate in rates:
        f = await fleet_run(rate, seconds)
        t = await tmux_run(rate, seconds)
        target = rate * PANES
        rows.append([f"{rate // 1000} KB/s", "fleet", f"{f['produced_rate'] / target * 100:.0f}%",
                     pct(f["lag"], 50), pct(f["lag"], 99), f["cpu"][0], f["cpu"][1],
                     f["out_rate"] / 1024, (f["cpu"][0] + f["cpu"][1]) / max(sum(t["cpu"]), 0.1),
                     f["wait"], f["load"]])
        rows.append([f"{rate // 1000} KB/s", "tmux", f"{t['produced_rate'] / target * 100:.0f}%",
                     float("nan"), float("nan"), t["cpu"][0], t["cpu"][1], t["out_rate"] / 1024, 1.0,
                     float("nan"), t["load"]])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="*", default=[25_000, 100_000, 250_000, 1_000_000])  # the last two find where it breaks
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    rows = asyncio.run(main_async(args.rates, args.seconds))
    print(f"{PANES} busy panes, 200x60 outer terminal (produced: bytes the generators got written, of target;"
          " lag: UI event loop; CPU %: of one core; out: bytes/s to the outer terminal)")
    print(table(["per pane", "what", "produced", "lag p50 ms", "lag p99 ms", "CPU server/tmux %",
                 "CPU UI/client %", "out KB/s", "CPU ratio vs tmux", "UI waiting for a core %",
                 "load avg"], rows))
    print("UI waiting for a core: time the UI process was runnable but not running (/proc schedstat); "
          "lag beyond it is the UI's own work.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
