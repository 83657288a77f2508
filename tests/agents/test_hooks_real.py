"""Issue 13 on the real Claude Code: its own hooks, installed per launch, say what it does.

Claude runs through a wrapper command (`command: [wrapper]` with `preset: claude`), offline
against the scripted endpoint, with a HOME of its own that holds the user's own settings and
hook. One whole turn: prompt -> a silent model wait -> a Write that asks permission -> approval
-> the file is written -> the closing reply -> done; the status is asserted at each moment, with
the layer that decided it, and the cost meter shows the endpoint's usage.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from tests.agents import model_endpoint as model
from tests.agents import offline
from tests.agents.conftest import Peek, kill_processes_with_home, require_cli
from tests.agents.test_model_endpoint import endpoint, poll, short_root  # noqa: F401 - fixtures
from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real


class Watch:
    """Samples `status` through the server socket and remembers every (status, layer) it saw."""

    def __init__(self, peek: Peek, name: str):
        self.peek, self.name = peek, name
        self.seen: list[tuple[float, str, str]] = []

    def now(self) -> dict:
        info = next(s for s in self.peek.call("status")["sessions"] if s["name"] == self.name)
        if not self.seen or self.seen[-1][1:] != (info["status"], info.get("layer")):
            self.seen.append((time.monotonic(), info["status"], info.get("layer")))
        return info

    def since(self, start: float) -> list[str]:
        """The statuses seen from `start` on (the one current then included)."""
        before = [s for t, s, _ in self.seen if t < start][-1:]
        return before + [s for t, s, _ in self.seen if t >= start]

    def until(self, status: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.now()
            if info["status"] == status:
                return info
            time.sleep(0.05)
        screen = "\n".join(self.peek.screen(self.name))
        raise AssertionError(f"{self.name} never became {status}; it was {[s[1:] for s in self.seen]}, "
                             f"last: {info['reason']}\n{screen}")


@pytest.fixture
def claude_fleet(endpoint, short_root):  # noqa: F811 - pytest fixture use
    claude_exe = require_cli("claude")
    worktree = short_root / "repo.worktrees" / "claude"
    agent = offline.claude(short_root / "home", endpoint.url, [worktree])
    # The user's own settings, with a hook of their own: fleet_tui must neither change nor mute them.
    user_settings = agent.home / ".claude" / "settings.json"
    user_settings.parent.mkdir(parents=True)
    marker = short_root / "user-hook-ran"
    user_settings.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [
        {"type": "command", "command": f"touch {marker}"}]}]}}))
    before = user_settings.read_bytes()
    wrapper = short_root / "my-claude"
    wrapper.write_text(f'#!/bin/sh\n# the user\'s own wrapper\nexec {claude_exe} "$@"\n')
    wrapper.chmod(0o755)
    repo = make_repo(short_root / "repo", "agents:\n" + agent.yaml("claude", {"command": [str(wrapper)]}))
    (short_root / "run").mkdir()
    cli = FleetCli(repo, short_root / "run")
    try:
        yield cli, agent, worktree, marker, user_settings, before
    finally:
        cli.run("down", check=False)
        kill_processes_with_home([agent.home])


def test_claude_hooks_drive_the_status_through_a_whole_turn(endpoint, claude_fleet):  # noqa: F811
    cli, agent, worktree, marker, user_settings, before = claude_fleet
    peek = Peek(cli)
    watch = Watch(peek, "claude")
    cli.run("start", "claude")

    # Installed per launch: --settings names a file in the session's state folder, not in HOME.
    info = watch.until("idle", 60)
    import psutil

    argv = psutil.Process(info["pid"]).cmdline()
    settings = Path(argv[argv.index("--settings") + 1])
    assert settings.is_relative_to(cli.repo / ".git" / "fleet" / "sessions" / "claude")
    assert oct(settings.stat().st_mode & 0o777) == "0o600"
    hooks = json.loads(settings.read_text())["hooks"]
    assert {"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Notification", "Stop",
            "SubagentStop", "SessionEnd"} <= set(hooks)
    # SessionStart told us Claude's own session id.
    info = poll("the session id", lambda: (lambda i: i if i.get("conversation_id") else None)(watch.now()))
    conversation = info["conversation_id"]
    assert len(conversation) >= 32

    gate = threading.Event()
    target = worktree / "hello.txt"
    endpoint.script(
        model.tool("Write", {"file_path": str(target), "content": "hello\n"}, say="Writing it.",
                   usage=model.Usage(1000, 50), gate=gate),
        model.text("Done: hello.txt is written.", usage=model.Usage(2000, 30)),
    )
    prompted = time.monotonic()
    cli.run("send", "claude", "write hello.txt")
    # A silent model wait: the hooks (UserPromptSubmit) say working, whatever the screen does.
    endpoint.wait_requests("claude", 1)
    info = watch.until("working", 10)
    time.sleep(2.0)  # longer than the screen layer's quiet period
    info = watch.now()
    assert (info["status"], info["layer"]) == ("working", "hooks"), watch.seen
    explain = peek.call("explain", session="claude")
    assert explain["hook_event"] == "UserPromptSubmit"

    # The permission dialog.
    gate.set()
    info = watch.until("waiting", 30)
    poll("the dialog", lambda: any("Do you want to create" in r for r in peek.screen("claude")))
    poll("the permission hook", lambda: peek.call("explain", session="claude")["hook_event"]
         == "Notification:permission_prompt", timeout=15)
    assert watch.now()["status"] == "waiting"
    assert not target.exists()

    # Approved in the pane: the tool runs, the closing reply streams, the turn ends: done.
    cli.run("keys", "claude", "enter")
    info = watch.until("done", 30)
    assert info["layer"] == "hooks"
    assert target.read_text() == "hello\n"
    explain = peek.call("explain", session="claude")
    assert explain["hook_event"] == "Stop" and explain["hook_meaning"] == "done"
    # Never idle between the prompt and the end of the turn.
    statuses = watch.since(prompted)
    assert "idle" not in statuses[statuses.index("working"):statuses.index("done")], watch.seen

    # Spend from the transcript the hooks named, in the agent's own HOME.
    def tokens():
        used = (watch.now()["budget"].get("tokens") or {}).get("used")
        return used if used == 1000 + 50 + 2000 + 30 else None
    poll("the token meter", tokens, timeout=15)
    assert (watch.now()["budget"].get("cost") or {}).get("used", 0) > 0

    # The user's own hook ran, and their settings file is untouched.
    poll("the user's own Stop hook", marker.exists, timeout=10)
    # (Claude itself adds "env": {"DISABLE_AUTOUPDATER": "1"} there, from the environment it was given.)
    assert json.loads(user_settings.read_text())["hooks"] == json.loads(before)["hooks"]
    assert "hookrelay" not in user_settings.read_text() and "hookrelay" not in (agent.home / ".claude.json").read_text()

    # `status --explain` in words.
    text = cli.run("status", "--explain", "claude").stdout
    assert "claude: done because finished its turn, not looked at yet" in text
    assert "decided by: hooks layer" in text
    assert "last hook event: Stop (done)" in text
    assert "the screen says: idle" in text
    assert f"agent's session id: {conversation}" in text

    # Looked at: done -> idle.
    assert "seen" in cli.run("ack", "claude").stdout
    assert cli.session("claude")["status"] == "idle"
    assert os.stat(settings).st_mode & 0o077 == 0
