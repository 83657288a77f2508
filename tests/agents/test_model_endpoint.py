"""The scripted model endpoint drives a real Claude Code through a whole turn in a fleet_tui session:
prompt -> streamed reply with a Write tool call -> permission dialog -> approval -> the file is
written -> the closing reply -> end of turn, with the endpoint's usage on the cost meter."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.agents import model_endpoint as model
from tests.agents import offline
from tests.agents.conftest import Peek, kill_processes_with_home, require_cli
from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real


def poll(what: str, check, timeout: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} never happened (last: {last!r})")


@pytest.fixture
def endpoint():
    with model.ModelEndpoint() as server:
        yield server


@pytest.fixture
def short_root():
    root = Path(tempfile.mkdtemp(prefix="fm-"))  # short: unix socket paths are limited
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_a_real_claude_turn_against_the_scripted_endpoint(endpoint, short_root):
    require_cli("claude")
    repo_path = short_root / "repo"
    worktree = short_root / "repo.worktrees" / "claude"
    agent = offline.claude(short_root / "home", endpoint.url, [worktree])
    repo = make_repo(repo_path, "agents:\n" + agent.yaml("claude"))
    (short_root / "run").mkdir()
    cli = FleetCli(repo, short_root / "run")
    peek = Peek(cli)
    try:
        cli.run("start", "claude")
        poll("the input box", lambda: any(r.startswith("❯") for r in peek.screen("claude")))
        target = worktree / "hello.txt"
        endpoint.script(
            model.tool("Write", {"file_path": str(target), "content": "hello from the script\n"},
                       say="I will write the file.", usage=model.Usage(1200, 80)),
            model.text("Done: hello.txt is written.", usage=model.Usage(1500, 40)),
        )
        cli.run("send", "claude", "write hello.txt")
        screen = poll("the permission dialog",
                      lambda: "\n".join(peek.screen("claude")) if "Do you want to create" in
                      "\n".join(peek.screen("claude")) else None)
        assert "hello.txt" in screen
        poll("waiting", lambda: cli.session("claude")["status"] == "waiting", timeout=10)
        assert not target.exists()
        cli.run("keys", "claude", "enter")
        poll("the file", target.exists, timeout=30)
        assert target.read_text() == "hello from the script\n"
        poll("the closing reply", lambda: any("hello.txt is written" in r for r in peek.screen("claude")))
        poll("done", lambda: cli.session("claude")["status"] == "done", timeout=15)
        # Both scripted answers were used and nothing asked for more.
        assert endpoint.remaining() == 0 and endpoint.unscripted == 0
        scripted = endpoint.scripted_requests()
        assert len(scripted) == 2 and "write hello.txt" in scripted[0].last_user_text
        assert any(r.kind == "probe" for r in endpoint.requests)
        # Claude logged the endpoint's usage figures in its own HOME's transcript.
        from fleet_tui.core.usage import ClaudeUsageReader

        totals = ClaudeUsageReader(worktree, agent.home).read()
        assert (totals.input_tokens, totals.output_tokens) == (1200 + 1500, 80 + 40)
    finally:
        cli.run("down", check=False)
        kill_processes_with_home([agent.home])
