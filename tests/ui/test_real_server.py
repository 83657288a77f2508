"""The UI against a real fleet server in a real git repository, with real ptys running bash."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fleet_tui.client import FleetClient
from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.widgets.terminal_pane import TerminalPane

from .conftest import until_ready

pytestmark = [pytest.mark.real, pytest.mark.timeout(60)]

SIZE = (160, 50)
FLEET_YAML = textwrap.dedent(
    """\
    agents:
      shell:
        command: [bash, --norc, --noprofile]
    """
)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the port registry stays the test's
    monkeypatch.delenv("PS1", raising=False)  # an activated venv's (CI's) would be the shell's prompt
    (tmp_path / "run").mkdir()
    root = tmp_path / "repo"
    root.mkdir()
    git = ["git", "-C", str(root), "-c", "user.name=Test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "fleet.yaml").write_text(FLEET_YAML)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)
    yield root
    subprocess.run([sys.executable, "-m", "fleet_tui", "down"], cwd=root, capture_output=True, timeout=30)


async def until(pilot, condition, timeout: float = 45) -> None:
    """Let the app run until `condition()` holds; after `timeout` s fail, naming the wait
    (pytest-timeout's own report shows no line of the test)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened in {timeout:.0f} s: {inspect.getsource(condition).strip()}")
        await pilot.pause(0.05)


def screen_text(app: FleetApp, session: str) -> str:
    return "\n".join(app.mirrors[session].text())


async def start_shell(root: Path) -> str:
    client = await FleetClient.connect(root)
    try:
        started = await client.call("start", agents=["shell"])
    finally:
        await client.close()
    return started["sessions"][0]


async def test_steer_kill_and_reattach_against_a_real_server(repo):
    session = await start_shell(repo)

    app = FleetApp(lambda: FleetClient.connect(repo))
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot, 1)
        pane = app.query_one(TerminalPane)
        assert pane.session == session
        # The pty follows the pane's size.
        await until(pilot, lambda: app.sessions[session].cols == pane.size.width)

        await pilot.press("enter")
        for key in "echo steered-$((6*7))":
            await pilot.press(key)
        await pilot.press("enter", app.leader)
        await until(pilot, lambda: "steered-42" in screen_text(app, session))
        await pilot.press("q")

    # Reattach: a new UI shows the screen at once, the agent kept running meanwhile.
    app = FleetApp(lambda: FleetClient.connect(repo))
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot, 1)
        assert "steered-42" in screen_text(app, session)
        assert app.sessions[session].status not in ("killed", "exited")

        await pilot.press("x", "y")
        pane = app.query_one(TerminalPane)
        await until(pilot, lambda: pane.has_class("-killed"))
        size_when_killed = (app.sessions[session].cols, app.sessions[session].rows)
        await pilot.press("q")

    # Reattach at another size: the killed agent's last screen stays exactly as it left it
    # (a dead program cannot redraw after a resize), and no input cursor pretends it is live.
    app = FleetApp(lambda: FleetClient.connect(repo))
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(pilot, 1)
        pane = app.query_one(TerminalPane)
        await pilot.pause(0.5)  # past the pane's resize debounce
        assert "steered-42" in screen_text(app, session)
        assert pane.size.width != size_when_killed[0]
        assert (app.sessions[session].cols, app.sessions[session].rows) == size_when_killed
        assert not pane.live
        await pilot.press("q")
