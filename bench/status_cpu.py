"""Benchmark: the fleet server's CPU when nothing happens, and when every agent works (issue 13).

A real server with N agents whose preset installs hooks (so the server watches N hook files):
  idle: each agent prints nothing and sleeps (status, budget and hook rounds with nothing new);
  busy: each agent prints a line every 50 ms and reports a hook event every second.
The server's own CPU time (user + system, its threads included; the agents are separate
processes) is read with psutil before and after `--seconds` of steady state.

  python -m bench.status_cpu [--agents 16] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from bench.harness import FleetServer, Sandbox, make_repo, table

PRESET = """\
name: hooked
description: a stand-in agent whose hook events reach the server like a real CLI's
command: [sh]
hooks:
  via: args
  args: ["{command}"]
  events: {tick: working}
"""
IDLE = 'exec sleep 600'
# $1 is the hook command fleet_tui put on the command line.
BUSY = 'i=0; while :; do i=$((i+1)); echo "step $i: working on it"; [ $((i % 20)) = 0 ] && eval "$1"; sleep 0.05; done'


def fleet_yaml() -> str:
    return ("agents:\n"
            f"  idle: {{preset: hooked, command: [sh, -c, '{IDLE}', sh]}}\n"
            f"  busy: {{preset: hooked, command: [sh, -c, '{BUSY}', sh]}}\n")


def cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def measure(agent: str, n: int, seconds: float) -> dict:
    with Sandbox("status-cpu") as sb:
        repo = make_repo(sb.path / "repo", fleet_yaml())
        (repo / ".fleet" / "presets").mkdir(parents=True)
        (repo / ".fleet" / "presets" / "hooked.yaml").write_text(PRESET)
        server = FleetServer(repo)
        try:
            client = await server.start()
            names = (await client.call("start", agents=[agent], count=n))["sessions"]
            await asyncio.sleep(5.0)  # past starting, first budget rounds, first hook events
            before, started = cpu_seconds(server.pid), time.monotonic()
            await asyncio.sleep(seconds)
            used, elapsed = cpu_seconds(server.pid) - before, time.monotonic() - started
            status = (await client.call("status"))["sessions"]
            seen = sorted({s["status"] for s in status if s["name"] in names})
            hook_lines = sum(1 for name in names
                             for _ in open(repo / ".git" / "fleet" / "sessions" / name / "hooks.log"))
            return {"agents": n, "kind": agent, "cpu_pct": 100 * used / elapsed, "statuses": seen,
                    "hook_events": hook_lines, "load": os.getloadavg()[0]}
        finally:
            await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    rows = []
    for kind in ("idle", "busy"):
        r = await measure(kind, args.agents, args.seconds)
        rows.append([f"{r['agents']} {kind}", f"{r['cpu_pct']:.1f}%", f"{r['cpu_pct'] / r['agents']:.2f}%",
                     ", ".join(r["statuses"]), r["hook_events"], f"{r['load']:.1f}"])
    print(f"fleet server CPU over {args.seconds:g} s (one core = 100%)")
    print(table(["agents", "server CPU", "per agent", "their status", "hook events", "load avg"], rows))


if __name__ == "__main__":
    asyncio.run(main())
