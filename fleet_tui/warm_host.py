"""The fleet server's side of the warm UI process (fleet_tui/ui/warm.py): start it once a TUI has
attached (servers driven only by the CLI or by scripts never pay for it), start it again if it
dies, end it with the server. Its socket sits beside the server's (rundir.warm_ui_socket)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from pathlib import Path

from fleet_tui.warm_protocol import STALE_EXIT, WARM_UI_ENV, warm_ui_enabled
from fleet_tui.paths import warm_ui_socket_path

log = logging.getLogger("fleet_tui.server")

START_DELAY = 1.0  # after the first TUI attached: its first frame goes first, on a shared core
QUICK_FAILURES = 3  # dying this many times in a row, each within FAILURE_WINDOW of its start: given up
FAILURE_WINDOW = 60.0
STOP_TIMEOUT = 5.0


class WarmUi:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = warm_ui_socket_path(root)
        self.process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def want(self) -> None:
        """A TUI attached: have a warm UI process ready for the next one (once; kept from then on)."""
        if self._task is not None or self._stopping or not warm_ui_enabled(os.environ):
            return
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def _supervise(self) -> None:
        await asyncio.sleep(START_DELAY)
        failures = 0
        while not self._stopping:
            started = time.monotonic()
            # Its stdin is a pipe from here: end of file tells it the server is gone, however it went.
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "fleet_tui.ui.warm", "--socket", str(self.socket),
                stdin=asyncio.subprocess.PIPE, cwd=self.root)
            code = await self.process.wait()
            # Killed, it left its socket: launchers would try it until the next one is listening.
            self.socket.unlink(missing_ok=True)
            if self._stopping:
                return
            if code == STALE_EXIT:
                log.info("the warm UI process found fleet-tui changed on disk; starting a fresh one")
                failures = 0
                continue
            failures = failures + 1 if time.monotonic() - started < FAILURE_WINDOW else 1
            if failures >= QUICK_FAILURES:
                log.warning("the warm UI process keeps failing (exit %s); `fleet-tui` opens without it "
                            "(%s=0 turns it off)", code, WARM_UI_ENV)
                return
            log.warning("the warm UI process ended (exit %s); starting it again", code)
            await asyncio.sleep(min(2.0 ** failures, 30.0))

    async def stop(self) -> None:
        self._stopping = True
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.socket.unlink(missing_ok=True)
