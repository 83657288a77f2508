"""Benchmark 6: memory per session with 10,000 lines of scrollback.

fleet: a real server; RSS after N idle sessions (process + emulator, empty history),
  then after N sessions that each printed 10,000 coloured lines of 120 columns (the
  server's terminal keeps 10,000 lines of scrollback). Per-session deltas of the
  server's RSS (the children are separate processes and not counted).
tmux: a private tmux server with history-limit 10000, same N programs in N windows of
  120x40, same measure on the tmux server process.

  python -m bench.memory [--sessions 8] [--lines 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import psutil

from bench.harness import PY, FleetServer, Sandbox, Tmux, make_repo, sh, table, wait_for, yaml_agents

SCRIPT = r"""
import sys, time
n = int(sys.argv[1])
w = sys.stdout.write
for i in range(n):
    w(f"\x1b[32m{i:06d}\x1b[0m \x1b[1mstep\x1b[22m {i % 97:3d} " + ("lorem ipsum dolor sit amet " * 4)[:97] + "\r\n")
w("DONE-PRINTING\r\n")
sys.stdout.flush()
time.sleep(600)
"""
IDLE = ["sh", "-c", "echo idle; exec sleep 600"]


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


async def fleet_run(n: int, lines: int) -> dict:
    with Sandbox("memory") as sb:
        printer = [PY, "-c", SCRIPT, str(lines)]
        repo = make_repo(sb.path / "repo", yaml_agents({"idle": IDLE, "printer": printer}))
        server = FleetServer(repo)
        try:
            client = await server.start()
            await client.call("start", agents=["idle"], count=1)  # warm the code paths
            await asyncio.sleep(1.0)
            base = rss(server.pid)
            await client.call("start", agents=["idle"], count=n)
            await asyncio.sleep(1.5)
            idle = rss(server.pid)
            names = (await client.call("start", agents=["printer"], count=n))["sessions"]

            async def done() -> bool:
                for name in names:
                    screen = await client.call("screen", session=name)
                    if not any("DONE-PRINTING" in line for line in screen["lines"]):
                        return False
                return True
            deadline = time.monotonic() + 120
            while not await done():
                if time.monotonic() > deadline:
                    raise RuntimeError("printers did not finish")
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            full = rss(server.pid)
            return {"idle": (idle - base) / n, "history": (full - idle) / n, "base": base}
        finally:
            await server.stop()


async def tmux_run(n: int, lines: int) -> dict:
    with Sandbox("memory-tmux") as sb:
        tmux = Tmux("memory")
        script = sb.path / "printer.py"
        script.write_text(SCRIPT)
        try:
            tmux("new-session", "-d", "-s", "b", "-x", "120", "-y", "40", sh(IDLE))
            tmux("set-option", "-g", "history-limit", str(lines))
            pid = tmux.server_pid()
            await asyncio.sleep(1.0)
            base = rss(pid)
            for _ in range(n):
                tmux("new-window", "-d", "-t", "b:", sh(IDLE))
            await asyncio.sleep(1.5)
            idle = rss(pid)
            first = n + 1
            for _ in range(n):
                tmux("new-window", "-d", "-t", "b:", sh([PY, str(script), str(lines)]))

            def done():
                return all("DONE-PRINTING" in tmux("capture-pane", "-p", "-t", f"b:{w}")
                           for w in range(first, first + n))
            ok = await wait_for(done, 120, 0.2)
            if not ok:
                raise RuntimeError("tmux printers did not finish")
            await asyncio.sleep(1.0)
            full = rss(pid)
            return {"idle": (idle - base) / n, "history": (full - idle) / n, "base": base}
        finally:
            tmux.kill()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args(argv)
    f = asyncio.run(fleet_run(args.sessions, args.lines))
    t = asyncio.run(tmux_run(args.sessions, args.lines))
    mb = 1024 * 1024
    print(f"server RSS per session, {args.sessions} sessions, {args.lines} lines x 120 columns of scrollback each")
    print(table(["what", "server RSS at start MB", "per idle session MB", "per session with history MB",
                 "total per session MB", "ratio vs tmux"], [
        ["fleet server", f["base"] / mb, f["idle"] / mb, f["history"] / mb, (f["idle"] + f["history"]) / mb,
         (f["idle"] + f["history"]) / max(t["idle"] + t["history"], 1)],
        ["tmux server", t["base"] / mb, t["idle"] / mb, t["history"] / mb, (t["idle"] + t["history"]) / mb, 1.0],
    ]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
