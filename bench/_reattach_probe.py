"""`python -m fleet_tui` with a clock on each startup phase (run by bench/profile_reattach.py;
bench/_warm_probe.py puts the same clocks in a warm UI process).

Writes one line per phase, `<monotonic seconds> <phase>`, to the file named by
FLEET_PROBE_LOG; the parent subtracts the time it started the process. Wraps methods
from outside, so the app runs unchanged.
"""

from __future__ import annotations

import functools
import os
import sys
import time

if "FLEET_PROBE_TTY_FD" in os.environ:
    # Run under `-X importtime` with fd 2 sent to a file: Textual draws on sys.__stderr__, so that
    # becomes the terminal again (kept open on this fd by the parent).
    sys.__stderr__ = sys.stderr = open(int(os.environ["FLEET_PROBE_TTY_FD"]), "w")  # noqa: SIM115

LOG = open(os.environ["FLEET_PROBE_LOG"], "a", buffering=1)  # noqa: SIM115 - open for the process's life


def mark(phase: str) -> None:
    LOG.write(f"{time.monotonic():.6f} {phase}\n")


mark("interpreter ready")
import fleet_tui.cli as cli  # noqa: E402
import fleet_tui.machines  # noqa: E402,F401 - main() imports it before cmd_up

mark("fleet_tui.cli imported")
if getattr(cli, "gc", None) is not None:
    cli.gc.disable()  # as cmd_up does before importing the UI (the app turns it back on)
from fleet_tui.ui import app as app_module  # noqa: E402

mark("fleet_tui.ui.app imported")


SEEN: list[list[bool]] = []  # each once-only wrapper's flag (a warm process's child clears them)


def wrap(owner, name: str, before: str | None = None, after: str | None = None, once: bool = True) -> None:
    original = getattr(owner, name)
    seen = [False]
    SEEN.append(seen)

    @functools.wraps(original)  # Textual reads handlers' signatures
    def wrapper(*args, **kwargs):
        first = not seen[0]
        seen[0] = True
        if before and (first or not once):
            mark(before)
        result = original(*args, **kwargs)
        if after and (first or not once):
            mark(after)
        return result

    setattr(owner, name, wrapper)


def wrap_async(owner, name: str, after: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapper(*args, **kwargs):
        result = await original(*args, **kwargs)
        mark(after)
        return result

    setattr(owner, name, wrapper)


from textual.app import App  # noqa: E402
from textual.css.stylesheet import Stylesheet  # noqa: E402
from textual.drivers.linux_driver import LinuxDriver  # noqa: E402

from fleet_tui.client import FleetClient  # noqa: E402

FleetApp = app_module.FleetApp
wrap(FleetApp, "__init__", "App() starts", "App() built")
wrap(Stylesheet, "parse", "stylesheet parse starts", "stylesheet parsed")
wrap(FleetApp, "compose", "compose starts")
wrap(FleetApp, "on_mount", "on_mount starts", "on_mount done")
_connect = FleetClient.connect.__func__


async def _timed_connect(cls, *args, **kwargs):
    client = await _connect(cls, *args, **kwargs)
    mark("client connected")
    return client


FleetClient.connect = classmethod(_timed_connect)
wrap_async(FleetClient, "status", "status answered")
wrap_async(FleetClient, "settings", "settings answered")
wrap_async(FleetClient, "agents", "agents answered")
wrap_async(FleetClient, "attach", "attach answered")
wrap(FleetApp, "update_sessions", "first sessions message", "panes mounted (first sessions message handled)")
wrap(LinuxDriver, "write", "first write to the terminal")
if os.environ.get("FLEET_PROBE_FRAMES"):  # every layout pass and frame, not only the first
    from textual.screen import Screen

    wrap(Screen, "_refresh_layout", "layout pass starts", "layout pass done", once=False)
    wrap(Screen, "_compositor_refresh", "frame starts", "frame done", once=False)

_screens = [0]
_orig_handle = FleetApp.handle_message


def handle_message(self, message):
    if message.get("t") == "screen":
        _screens[0] += 1
        if _screens[0] == 1:
            mark("first screen message")
        elif _screens[0] == len(self.sessions):
            mark(f"{_screens[0]}th screen message")
    return _orig_handle(self, message)


FleetApp.handle_message = handle_message
if os.environ.get("FLEET_PROBE_EXTRA"):
    exec(open(os.environ["FLEET_PROBE_EXTRA"]).read())
mark("probe ready")
sys.argv = ["fleet-tui"]
sys.exit(cli.main())
