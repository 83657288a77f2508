"""Where the fleet server's time goes with busy panes: the real server under cProfile, with the real
FleetApp (headless, run_test) attached, N sessions writing R bytes/s each.

  python -m bench.profile_server [--panes 16] [--rate 25000] [--seconds 5] [--sort tottime]

The server runs in its own process as `fleet-tui` starts it, wrapped so that SIGUSR1 starts the
profile and SIGUSR2 writes it: only the measuring window is profiled (the event loop's thread).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pstats
import signal
import subprocess
import sys
from pathlib import Path

from bench.harness import PY, Sandbox, busy_cmd, make_repo, wait_for, yaml_agents

WRAPPER = """
import cProfile, signal, sys, time
from fleet_tui import server
out = sys.argv.pop(1)
profile = cProfile.Profile(time.process_time)  # CPU time: the machine is shared
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
def dump(*_):
    profile.disable()
    profile.dump_stats(out)
signal.signal(signal.SIGUSR2, dump)
sys.exit(server.main(sys.argv[1:]))
"""


async def run(panes: int, rate: int, seconds: float, sort: str, limit: int) -> str:
    from fleet_tui.client import FleetClient
    from fleet_tui.paths import socket_path
    from fleet_tui.ui.app import FleetApp

    with Sandbox("profile-server") as sb:
        repo = make_repo(sb.path / "repo", yaml_agents({"busy": busy_cmd(rate)}))
        stats = sb.path / "server.prof"
        proc = subprocess.Popen([PY, "-c", WRAPPER, str(stats), "--root", str(repo)], cwd=repo,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            if not await wait_for(lambda: socket_path(repo).exists(), 20):
                raise RuntimeError("the fleet server did not start")
            client = await FleetClient.connect(repo, start_server=False)
            await client.call("start", agents=["busy"], count=panes)
            app = FleetApp(lambda: FleetClient.connect(repo, start_server=False))
            async with app.run_test(size=(200, 60)) as pilot:
                await wait_for(lambda: len(app.mirrors) >= panes, 10)
                await pilot.pause(2.0)
                os.kill(proc.pid, signal.SIGUSR1)
                await asyncio.sleep(seconds)
                os.kill(proc.pid, signal.SIGUSR2)
                await wait_for(stats.exists, 10)
            await client.call("down")
            await client.close()
            proc.wait(15)
            out = io.StringIO()
            pstats.Stats(str(stats), stream=out).sort_stats(sort).print_stats(limit)
            return out.getvalue()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main(argv=None) -> int:
    from bench.profile_ui import profile_main

    return profile_main(run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
