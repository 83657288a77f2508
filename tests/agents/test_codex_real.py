"""Issue 13 on the real Codex: its notify program (installed per launch with -c) reports the end of
each turn, the screen (OSC 7501 markers, its approval dialog) the rest, and the spend comes from
the session file in the agent's own CODEX_HOME.

One whole turn offline against the scripted endpoint: prompt -> a silent model wait -> a command
that asks approval -> approval -> the command runs -> the closing reply -> done.
"""

from __future__ import annotations

import threading
import time

import psutil

from tests.agents import model_endpoint as model
from tests.agents import offline
from tests.agents.conftest import Peek, kill_processes_with_home, require_cli
from tests.agents.test_hooks_real import Watch
from tests.agents.test_model_endpoint import endpoint, poll, short_root  # noqa: F401 - fixtures
from tests.fleet.conftest import FleetCli, make_repo
import pytest

pytestmark = pytest.mark.real


def test_codex_turn_with_notify_and_its_own_codex_home(endpoint, short_root):  # noqa: F811
    require_cli("codex")
    worktree = short_root / "repo.worktrees" / "codex"
    agent = offline.codex(short_root / "home", endpoint.url, [worktree], approval="on-request")
    repo = make_repo(short_root / "repo", "agents:\n" + agent.yaml("codex"))
    (short_root / "run").mkdir()
    cli = FleetCli(repo, short_root / "run")
    peek = Peek(cli)
    watch = Watch(peek, "codex")
    try:
        cli.run("start", "codex")
        info = watch.until("idle", 60)
        argv = psutil.Process(info["pid"]).cmdline()
        notify = argv[argv.index("-c") + 1]
        assert notify.startswith("notify=") and "hookrelay.sh" in notify and "agent-turn-complete" in notify

        gate = threading.Event()
        endpoint.script(
            model.tool("exec_command", {"cmd": "touch made-by-codex.txt", "sandbox_permissions": "require_escalated",
                                        "justification": "the test wants to be asked"}, usage=model.Usage(900, 40), gate=gate),
            model.text("Made the file.", usage=model.Usage(1100, 20)),
        )
        prompted = time.monotonic()
        cli.run("send", "codex", "make the file")
        endpoint.wait_requests("codex", 1)
        watch.until("working", 15)
        time.sleep(2.0)  # a silent model wait: still working (Codex says so with OSC 7501)
        assert watch.now()["status"] == "working", watch.seen

        gate.set()
        info = watch.until("waiting", 30)
        assert any("Would you like to run the following command?" in r for r in peek.screen("codex"))
        cli.run("keys", "codex", "enter")
        info = watch.until("done", 40)
        assert (worktree / "made-by-codex.txt").exists()
        explain = peek.call("explain", session="codex")
        assert explain["hook_event"] == "agent-turn-complete" and explain["layer"] == "hooks"
        assert explain["conversation_id"], "notify carries Codex's thread id"
        statuses = watch.since(prompted)
        assert "idle" not in statuses[statuses.index("working"):statuses.index("done")], watch.seen

        # The session file in the agent's own CODEX_HOME, with the endpoint's usage.
        def tokens():
            used = (watch.now()["budget"].get("tokens") or {}).get("used")
            return used if used == 900 + 40 + 1100 + 20 else None
        poll("the token meter", tokens, timeout=15)
    finally:
        cli.run("down", check=False)
        kill_processes_with_home([agent.home])
