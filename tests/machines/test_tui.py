"""The real TUI over two machines: one grid with the remote machine's sessions beside the local
ones (the machine in pane titles and the feed), and steering, zoom, pause and kill on a remote pane."""

from __future__ import annotations

import asyncio
import json
import time

import psutil

from fleet_tui.client import FleetClient
from fleet_tui.ui.app import FleetApp, with_machines
from fleet_tui.ui.screens.confirm import ConfirmScreen
from fleet_tui.ui.widgets.event_feed import EventFeed
from fleet_tui.ui.widgets.terminal_pane import TerminalPane
from tests.machines.test_links import env  # noqa: F401  (the fixture)
import pytest

pytestmark = pytest.mark.real

SIZE = (160, 50)


async def until(pilot, condition, timeout: float = 30, why: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {why}")
        await pilot.pause(0.05)


def test_one_grid_with_remote_panes_steered_zoomed_paused_killed(env):  # noqa: F811
    cli = env.local
    cli.run("start", "shell")
    cli.run("start", "shell", "--machine", "build")
    remote_pid = json.loads(cli.run("status", "--json", "--machine", "build").stdout)[0]["pid"]

    async def scenario() -> None:
        app = FleetApp(lambda: _connect(cli.repo))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: len(app.query(TerminalPane)) == 2, why="both panes")
            remote = app.query_one("#pane-build-M-shell", TerminalPane)
            assert remote.session == "build:shell"
            assert "build:shell" in str(remote.border_title), remote.border_title
            remote.focus()
            await pilot.pause()
            await pilot.press("enter")
            for key in "echo steered-$((6*7))":
                await pilot.press(key)
            await pilot.press("enter", app.leader)
            await until(pilot, lambda: "steered-42" in "\n".join(app.mirrors["build:shell"].text()),
                        why="the remote echo")
            assert "steered-42" not in "\n".join(app.mirrors["shell"].text())

            await pilot.press("z")
            assert app.screen.maximized is remote
            await pilot.press("z")
            assert app.screen.maximized is None

            await pilot.press("p")
            await until(pilot, lambda: psutil.Process(remote_pid).status() == psutil.STATUS_STOPPED,
                        why="the remote agent paused")
            await until(pilot, lambda: app.sessions["build:shell"].status == "paused")
            await pilot.press("r")
            await until(pilot, lambda: app.sessions["build:shell"].status != "paused")

            await pilot.press("x")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await until(pilot, lambda: not psutil.pid_exists(remote_pid)
                        or psutil.Process(remote_pid).status() == psutil.STATUS_ZOMBIE, why="killed there")
            await until(pilot, lambda: remote.has_class("-killed"))
            feed = app.query_one(EventFeed)
            await until(pilot, lambda: any(e.session == "build:shell" and e.kind == "killed"
                                           for e in feed.events), why="the kill in the feed")
            assert app.sessions["shell"].status not in ("killed", "paused"), "the local pane was not touched"
            await pilot.press("q")

    asyncio.run(scenario())


async def _connect(root):
    return with_machines(await FleetClient.connect(root))

