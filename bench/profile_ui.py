"""Where the UI's time goes with busy panes: the real FleetApp (headless, run_test)
attached to a real server with N sessions writing R bytes/s, under cProfile.

  python -m bench.profile_ui [--panes 16] [--rate 25000] [--seconds 5] [--sort tottime]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time

from bench.harness import FleetServer, Sandbox, busy_cmd, make_repo, wait_for, yaml_agents


async def run(panes: int, rate: int, seconds: float, sort: str, limit: int) -> str:
    from fleet_tui.client import FleetClient
    from fleet_tui.ui.app import FleetApp

    with Sandbox("profile") as sb:
        repo = make_repo(sb.path / "repo", yaml_agents({"busy": busy_cmd(rate)}))
        server = FleetServer(repo)
        try:
            client = await server.start()
            await client.call("start", agents=["busy"], count=panes)
            app = FleetApp(lambda: FleetClient.connect(repo, start_server=False))
            async with app.run_test(size=(200, 60)) as pilot:
                await wait_for(lambda: len(app.mirrors) >= panes, 10)
                await pilot.pause(2.0)
                profile = cProfile.Profile(time.process_time)  # CPU time: the machine is shared
                profile.enable()
                await asyncio.sleep(seconds)
                profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(sort).print_stats(limit)
            return out.getvalue()
        finally:
            await server.stop()


def profile_main(run, argv=None, doc: str | None = None) -> int:
    """The command line both profilers share: how many panes, how fast, for how long, sorted how."""
    parser = argparse.ArgumentParser(description=(doc or __doc__ or "").splitlines()[0])
    parser.add_argument("--panes", type=int, default=16)
    parser.add_argument("--rate", type=int, default=25_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--limit", type=int, default=30)
    args = parser.parse_args(argv)
    print(asyncio.run(run(args.panes, args.rate, args.seconds, args.sort, args.limit)))
    return 0


def main(argv=None) -> int:
    return profile_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
