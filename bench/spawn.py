"""Benchmark 5: spawn 8 sessions with worktrees and a setup step, in a repository of
5,000 files, until all are running (first output of each on its screen).

fleet: a real server; one `start` request for 8 sessions of an agent that prints
  "<session>-UP" and waits, with `setup:` running a trivial command in each new
  worktree. A client attached before the request sees the screens; the clock stops
  when all 8 markers are on their screens.
tmux (the workmux/claude-squad way, scripted): for each of 8, `git worktree add -b`,
  the same setup command, `tmux new-window` with the same program; stop when
  capture-pane shows all 8 markers.
setup alone: the setup command run 8 times, to subtract from the target (3 s + setup).

  python -m bench.spawn [--files 5000] [--sessions 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time

from bench.harness import FleetServer, Sandbox, Tmux, make_repo, sh, table, wait_for, yaml_agents

UP = ["sh", "-c", 'printf "%s-UP\\r\\n" "$FLEET_SESSION_NAME"; exec cat']
SETUP = ["sh", "-c", "echo ready > .bench-setup"]


async def fleet_run(repo, n: int) -> dict:
    from fleet_tui.protocol import ScreenMirror

    if True:
        server = FleetServer(repo)
        pump = None
        try:
            client = await server.start()
            mirrors: dict[str, ScreenMirror] = {}

            async def read():
                async for msg in client.messages():
                    if msg.get("t") == "screen":
                        mirrors.setdefault(msg["s"], ScreenMirror(msg["s"])).apply(msg)
            pump = asyncio.ensure_future(read())
            await client.call("attach")
            t0 = time.perf_counter()
            names = (await client.call("start", agents=["up"], count=n))["sessions"]
            replied = time.perf_counter() - t0

            def up():
                return all(n in mirrors and any(f"{n}-UP" in line for line in mirrors[n].text()) for n in names)
            ok = await wait_for(up, 60, 0.002)
            return {"replied": replied * 1000, "running": (time.perf_counter() - t0) * 1000, "ok": ok}
        finally:
            if pump:
                pump.cancel()
            await server.stop()


def tmux_run(repo, n: int) -> dict:
    if True:
        tmux = Tmux("spawn")
        try:
            tmux("new-session", "-d", "-s", "b", "-x", "200", "-y", "60", "cat")
            t0 = time.perf_counter()
            for i in range(n):
                wt = repo.parent / "wt" / f"s{i}"
                subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", "-b", f"s{i}", str(wt), "main"],
                               check=True, capture_output=True)
                subprocess.run(SETUP, cwd=wt, check=True)
                tmux("new-window", "-d", "-t", "b:", "-c", str(wt), f"printf 's{i}-UP\\r\\n'; exec cat")
            windows = range(1, n + 1)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if all(f"s{i - 1}-UP" in tmux("capture-pane", "-p", "-t", f"b:{i}") for i in windows):
                    break
                time.sleep(0.002)
            return {"running": (time.perf_counter() - t0) * 1000}
        finally:
            tmux.kill()


def setup_alone(n: int) -> float:
    with Sandbox("spawn-setup") as sb:
        t0 = time.perf_counter()
        for _ in range(n):
            subprocess.run(SETUP, cwd=sb.path, check=True)
        return (time.perf_counter() - t0) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the repository goes (default tmpfs: this VM's disk makes a checkout of "
                             "5,000 files take 2-40 s at random, which would measure the disk, not the fleet)")
    args = parser.parse_args(argv)
    with Sandbox("spawn", args.dir) as sb:  # one repository for both, so both check out the same files
        t0 = time.perf_counter()
        repo = make_repo(sb.path / "repo", yaml_agents({"up": UP}, setup=[SETUP]), nfiles=args.files)
        made = time.perf_counter() - t0
        f = asyncio.run(fleet_run(repo, args.sessions))
        t = tmux_run(repo, args.sessions)
        s = setup_alone(args.sessions)
    print(f"(creating the {args.files}-file repository took {made:.1f} s; on a slow disk checkouts dominate "
          "both columns)")
    print(f"repository in {args.dir or 'the temp folder'}")
    print(f"spawn {args.sessions} sessions with worktrees + setup in a repository of {args.files} files "
          f"(setup alone, {args.sessions}x: {s:.0f} ms)")
    print(table(["what", "start replied ms", "all running ms", "minus setup ms", "ratio vs tmux"], [
        ["fleet", f["replied"], f["running"] if f["ok"] else float("nan"), f["running"] - s,
         f["running"] / t["running"]],
        ["git worktree + tmux", float("nan"), t["running"], t["running"] - s, 1.0],
    ]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
