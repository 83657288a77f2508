"""Issue 12 in the TUI: after the fleet server and its agents die (kill -9, a reboot), the grid
shows each session `lost` with what to do, and one key, R, brings it back live in its worktree.
Real server, real ptys running bash, the real app."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil
import pytest

from fleet_tui.client import FleetClient
from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.widgets.terminal_pane import TerminalPane

from .conftest import until_ready
from .test_real_server import SIZE, repo, screen_text, start_shell, until  # noqa: F401 - the repo fixture

pytestmark = [pytest.mark.real, pytest.mark.timeout(90)]


def kill_everything(root) -> None:
    """SIGKILL the fleet server and every agent process at once, as a power cut would."""
    server = int((root / ".git" / "fleet" / "server.pid").read_text())
    agents = [p.pid for p in psutil.process_iter(["environ"])
              if str(root.parent) in ((p.info.get("environ") or {}).get("FLEET_WORKTREE") or "")]
    for pid in [server, *agents]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in [server, *agents]):
        assert time.monotonic() < deadline, "the power cut left processes running"
        time.sleep(0.05)


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pane_text(pane: TerminalPane) -> str:
    return "\n".join(pane.render_line(y).text for y in range(4))


async def test_a_lost_pane_says_so_and_R_restores_it(repo):  # noqa: F811
    session = await start_shell(repo)
    kill_everything(repo)

    app = FleetApp(lambda: FleetClient.connect(repo))
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot, 1)
        pane = app.query_one(TerminalPane)
        assert pane.session == session
        await until(pilot, lambda: app.sessions[session].status == "lost")
        assert pane.has_class("-lost") and "◇ lost" in str(pane.border_title)
        assert "R restores it" in pane_text(pane)
        assert app.query_one("#pane-" + session).has_focus

        await pilot.press("R")
        await until(pilot, lambda: app.sessions[session].status not in ("lost", "starting"))
        await until(pilot, lambda: app.sessions[session].pid)
        proc = psutil.Process(app.sessions[session].pid)
        assert os.path.realpath(proc.cwd()) == os.path.realpath(app.sessions[session].worktree)
        # Live again: steer it and see the echo.
        await pilot.press("enter")
        for key in "echo back-$((40+2))":
            await pilot.press(key)
        await pilot.press("enter", app.leader)
        await until(pilot, lambda: "back-42" in screen_text(app, session))
        assert "R restores it" not in pane_text(pane)
        await pilot.press("q")


async def test_an_orphaned_pane_is_killed_with_x(repo):  # noqa: F811
    # A shell that ignores the hangup of its dead terminal runs on after the server dies.
    (repo / "fleet.yaml").write_text("agents:\n  shell:\n    command: [sh, -c, \"trap '' HUP; exec sleep 300\"]\n")
    session = await start_shell(repo)
    fleet_dir = repo / ".git" / "fleet"
    os.kill(int((fleet_dir / "server.pid").read_text()), signal.SIGKILL)
    time.sleep(0.3)

    app = FleetApp(lambda: FleetClient.connect(repo))
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot, 1)
        await until(pilot, lambda: app.sessions[session].status == "orphaned")
        pids = app.sessions[session].pids
        assert pids and all(psutil.pid_exists(pid) for pid in pids)
        pane = app.query_one(TerminalPane)
        assert "x kills it" in pane_text(pane)
        await pilot.press("x", "y")
        await until(pilot, lambda: app.sessions[session].status == "stopped")
        psutil.wait_procs([psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)], timeout=5)
        assert not any(running(pid) for pid in pids)
        await pilot.press("q")


def test_the_feed_says_what_a_lost_or_orphaned_session_needs():
    from fleet_tui.ui.event_words import sentence
    from fleet_tui.wire import EventView

    lost = EventView(kind="status", session="claude", message="lost: ...", data={"status": "lost"})
    assert sentence(lost) == "claude was lost with the last fleet server (R restores it)"
    orphaned = EventView(kind="status", session="aider", message="orphaned: ...", data={"status": "orphaned"})
    assert sentence(orphaned) == "aider still runs, outside any terminal (x kills it, R replaces it)"
