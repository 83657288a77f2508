"""Issue 13 on the real Gemini CLI: a whole turn offline, its status asserted at each moment.

fleet_tui installs no hooks for Gemini CLI (its preset says why); its window title says working,
"Action Required" and ready, and its dialogs are on the screen. One turn against the scripted
endpoint (Gemini API, GOOGLE_GEMINI_BASE_URL): prompt -> a silent model wait -> write_file asks
"Apply this change?" -> allowed in the pane -> the file is written -> the closing reply -> done
-> ack -> idle.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.agents import model_endpoint as model
from tests.agents import offline
from tests.agents.conftest import Peek, require_cli
from tests.agents.test_hooks_real import Watch
from tests.agents.test_model_endpoint import endpoint, poll, short_root  # noqa: F401 - fixtures

pytestmark = pytest.mark.real


def test_gemini_turn_read_from_its_title_and_dialog(endpoint, short_root):  # noqa: F811
    require_cli("gemini")
    worktree = short_root / "repo.worktrees" / "gemini"
    agent = offline.gemini(short_root / "home", endpoint.url, [worktree])
    with offline.one_agent_fleet(short_root, agent, "gemini") as cli:
        peek = Peek(cli)
        watch = Watch(peek, "gemini")
        cli.run("start", "gemini")
        watch.until("idle", 90)

        gate = threading.Event()
        target = worktree / "made-by-gemini.txt"
        endpoint.script(
            model.tool("write_file", {"file_path": str(target), "content": "made\n"}, usage=model.Usage(900, 40),
                       gate=gate),
            model.text("Done: the file is written.", usage=model.Usage(1100, 20)),
        )
        prompted = time.monotonic()
        cli.run("send", "gemini", "write the file")
        try:
            endpoint.wait_requests("gemini", 1, timeout=5)
        except AssertionError:
            # Gemini CLI takes an Enter that follows a paste within ~40 ms as a newline; on a loaded
            # machine the fleet's Enter can land inside that window. Submit it again.
            cli.run("keys", "gemini", "enter")
            endpoint.wait_requests("gemini", 1, timeout=60)
        watch.until("working", 15)
        time.sleep(2.0)  # a silent model wait: its title says working
        info = watch.now()
        assert (info["status"], info["layer"]) == ("working", "title"), watch.seen

        gate.set()
        info = watch.until("waiting", 30)
        assert any("Apply this change?" in row for row in peek.screen("gemini"))
        assert not target.exists()
        cli.run("keys", "gemini", "enter")  # 1. Allow once
        info = watch.until("done", 40)
        assert target.read_text() == "made\n"
        statuses = watch.since(prompted)
        assert "idle" not in statuses[statuses.index("working"):statuses.index("done")], watch.seen
        explain = peek.call("explain", session="gemini")
        assert explain["hooks"] is False and explain["screen_signal"] == "title"

        assert "seen" in cli.run("ack", "gemini").stdout
        assert cli.session("gemini")["status"] == "idle"
