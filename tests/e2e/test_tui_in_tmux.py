"""Issue 3's "done means": the real `fleet-tui` TUI, run in a real tmux pane, typed into with
tmux send-keys and read back with capture-pane -- steer, detach, reattach, kill.

Two plain agents (bash and a python echo loop) stand in for agent CLIs, so this needs only
tmux. Every wait polls the tmux screen or `fleet-tui status` with a generous deadline.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.e2e.tmux import Terminal
from tests.fleet.conftest import FleetCli, make_repo

pytestmark = [pytest.mark.real, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

FLEET = textwrap.dedent(
    """\
    agents:
      alpha:
        command: [bash, --norc, --noprofile]
      bravo:
        command: [python3, -u, -c, "import sys\\nfor line in sys.stdin: print('bravo got', line.strip())"]
    """
)
COLS, ROWS = 160, 45


def wait_for(predicate, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def test_tui_in_tmux_steer_detach_reattach_kill(tmp_path):
    runtime = Path(tempfile.mkdtemp(prefix="fe-"))  # short: unix socket paths are limited
    cli = FleetCli(make_repo(tmp_path / "repo", FLEET), runtime)
    tui = Terminal(cli.env, cli.repo, COLS, ROWS)
    try:
        # No server runs yet: the TUI starts it and the configured agents, then draws both panes.
        tui.run()
        tui.wait("alpha", "bravo", timeout=60)
        sessions = wait_for(lambda: {s["name"]: s for s in cli.status()} if len(cli.status()) == 2 else None,
                            "both sessions listed")
        assert set(sessions) == {"alpha", "bravo"}
        alpha_pid, bravo_pid = sessions["alpha"]["pid"], sessions["bravo"]["pid"]

        # Steer alpha (pane 1): its number, Enter; once the mode indicator says so, type into bash.
        tui.wait("bash-")  # alpha's prompt is mirrored: its pane is live
        tui.keys("1")
        tui.keys("Enter")
        tui.wait("STEER alpha")
        tui.keys("echo e2e-$((6*7))", literal=True)
        tui.keys("Enter")
        # The typed line shows "$((6*7))"; only bash running it prints "e2e-42".
        tui.wait("e2e-42")
        assert "e2e-42" in cli.screen("alpha"), "the keys reached alpha's pty, not some other pane"
        assert "e2e-42" not in cli.screen("bravo")

        # Back to navigating with the leader (ctrl+\), then detach with q: the TUI exits...
        tui.keys("C-\\")
        tui.keys("q")
        tui.wait("TUI-EXITED-0")
        # ...and both agents still run, the same processes as before.
        after = {s["name"]: s for s in cli.status()}
        assert after["alpha"]["pid"] == alpha_pid and after["bravo"]["pid"] == bravo_pid
        assert after["alpha"]["status"] not in ("exited", "killed") and after["bravo"]["status"] not in ("exited", "killed")
        assert psutil.pid_exists(alpha_pid) and psutil.pid_exists(bravo_pid)

        # Reattach: a new TUI shows alpha's screen as it was, with no new input.
        tui.run()
        screen = tui.wait("alpha", "bravo", "e2e-42", timeout=60)
        assert "TUI-EXITED" not in screen

        # Kill bravo (pane 2) with x, confirmed with y: bravo is killed, alpha is not.
        # A freshly attached TUI puts the focus back on its first pane once the sessions arrive,
        # which can undo a "2" pressed the moment the panes are drawn; the question names the
        # pane, so answer n and press again until it asks about bravo.
        deadline = time.monotonic() + 30
        while True:
            tui.keys("2")
            tui.keys("x")
            question = tui.wait("Kill ", "Its worktree and branch stay")
            if "Kill bravo?" in question:
                break
            assert "Kill alpha?" in question and time.monotonic() < deadline, question
            tui.keys("n")
            wait_for(lambda: "Kill " not in tui.screen(), "the question closed")
        tui.keys("y")
        wait_for(lambda: cli.session("bravo")["status"] == "killed", "bravo killed", timeout=20)
        wait_for(lambda: not psutil.pid_exists(bravo_pid)
                 or psutil.Process(bravo_pid).status() == psutil.STATUS_ZOMBIE, "bravo's process gone")
        assert cli.session("alpha")["status"] not in ("exited", "killed")
        assert psutil.pid_exists(alpha_pid) and psutil.Process(alpha_pid).status() != psutil.STATUS_ZOMBIE
        tui.wait("killed")  # the TUI shows it too
    finally:
        tui.close()
        cli.shut_down()
        shutil.rmtree(runtime, ignore_errors=True)
