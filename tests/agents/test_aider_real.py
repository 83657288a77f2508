"""Issue 13 on the real aider: a whole turn offline, its status asserted at each moment.

aider reports the end of a reply through its notifications command (installed per launch with
--notifications-command); the screen says the rest (its spinner while the model is silent, its
"(Y)es/(N)o" question, the empty input prompt). One turn against the scripted endpoint:
prompt -> a silent model wait -> a reply that edits a file not in the chat -> aider asks
"Allow edits to ...? (Y)es/(N)o" -> answered in the pane -> the edit lands -> done -> ack -> idle.
"""

from __future__ import annotations

import threading
import time

import psutil

import pytest

from tests.agents import model_endpoint as model
from tests.agents import offline
from tests.agents.conftest import Peek, require_cli
from tests.agents.test_hooks_real import Watch
from tests.agents.test_model_endpoint import endpoint, poll, short_root  # noqa: F401 - fixtures

pytestmark = pytest.mark.real

EDIT = "I will update the readme.\n\nREADME.md\n```\n<<<<<<< SEARCH\ndemo\n=======\ndemo, edited by aider\n>>>>>>> REPLACE\n```\n"


def test_aider_turn_with_its_notifications_and_a_question(endpoint, short_root):  # noqa: F811
    require_cli("aider")
    agent = offline.aider(short_root / "home", endpoint.url)
    agent.args += ["--no-auto-commits"]
    worktree = short_root / "repo.worktrees" / "aider"
    with offline.one_agent_fleet(short_root, agent, "aider") as cli:
        peek = Peek(cli)
        watch = Watch(peek, "aider")
        cli.run("start", "aider")
        info = watch.until("idle", 90)
        argv = psutil.Process(info["pid"]).cmdline()
        assert "--notifications-command" in argv and "hookrelay.sh" in argv[argv.index("--notifications-command") + 1]

        gate = threading.Event()
        # aider offers to add the file the reply names to the chat, then asks again with it added.
        endpoint.script(model.text(EDIT, gate=gate, usage=model.Usage(700, 60), chunks=6),
                        model.text(EDIT, usage=model.Usage(900, 60), chunks=6))
        prompted = time.monotonic()
        cli.run("send", "aider", "edit the readme")
        endpoint.wait_requests("chat", 1, timeout=60)
        watch.until("working", 15)
        time.sleep(2.0)  # a silent model wait, longer than the quiet period: aider's spinner says working
        assert watch.now()["status"] == "working", watch.seen

        gate.set()
        info = watch.until("waiting", 30)
        assert any("(Y)es/(N)o" in row for row in peek.screen("aider"))
        assert (worktree / "README.md").read_text() == "demo\n"
        cli.run("keys", "aider", "enter")  # the default answer: Yes
        info = watch.until("done", 40)
        try:
            poll("the edit", lambda: (worktree / "README.md").read_text() == "demo, edited by aider\n", timeout=15)
        except AssertionError as error:
            raise AssertionError(f"{error}\n" + "\n".join(peek.screen("aider"))) from None
        explain = poll("the notification", lambda: (lambda e: e if e["hook_event"] == "aider-waiting" else None)(
            peek.call("explain", session="aider")), timeout=15)
        assert explain["hook_meaning"] == "done"
        statuses = watch.since(prompted)
        assert "idle" not in statuses[statuses.index("working"):statuses.index("done")], watch.seen

        assert "seen" in cli.run("ack", "aider").stdout
        assert cli.session("aider")["status"] == "idle"
