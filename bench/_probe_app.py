"""The real fleet-tui (FleetApp on the real terminal driver) with an event-loop lag probe.

  python -m bench._probe_app REPO LAG_FILE

Same as `fleet-tui` in REPO, plus an asyncio task that sleeps 10 ms in a loop and
records how late it wakes up (time.time(), lateness in ms); the samples are written to
LAG_FILE twice a second, so a benchmark reads them while the app runs.
"""
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import fleet_tui.ui.app as app_module
from fleet_tui.client import FleetClient
from fleet_tui.ui.app import FleetApp

PERIOD = 0.01


class ProbedApp(FleetApp):
    CSS_PATH = str(Path(app_module.__file__).with_name(FleetApp.CSS_PATH))  # relative to the subclass otherwise

    def __init__(self, repo: Path, lag_file: Path):
        super().__init__(lambda: FleetClient.connect(repo, start_server=False))
        self.lag_file = lag_file
        self.lags: list[tuple[float, float]] = []

    def on_mount(self) -> None:
        super().on_mount()
        self._probe_task = asyncio.get_running_loop().create_task(self._probe())
        if os.environ.get("FLEET_PROBE_PROFILE"):
            self._profile_task = asyncio.get_running_loop().create_task(self._profile(os.environ["FLEET_PROBE_PROFILE"]))

    async def _probe(self) -> None:
        last_save = time.monotonic()
        while True:
            t = time.perf_counter()
            await asyncio.sleep(PERIOD)
            self.lags.append((time.time(), (time.perf_counter() - t - PERIOD) * 1000))
            if time.monotonic() - last_save > 0.5:
                last_save = time.monotonic()
                self.lag_file.write_text(json.dumps(self.lags))

    async def _profile(self, path: str) -> None:
        """cProfile of the event loop's thread in CPU time (not wall: the machine is shared) from 3 s
        after start, written every second (the benchmark ends the app without warning)."""
        import cProfile

        await asyncio.sleep(3)
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        while True:
            await asyncio.sleep(1)
            profile.dump_stats(path)  # stops the profile
            profile.enable()


if __name__ == "__main__":
    app = ProbedApp(Path(sys.argv[1]), Path(sys.argv[2]))
    app.run()
