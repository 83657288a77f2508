"""Issue 12's "reboot" with the real Claude Code and Codex: one real turn each against the
scripted model endpoint, then the server and every agent process are killed at once (what a
power cut does). A new server shows each session `lost`; `fleet-tui restore` starts each CLI
again in its worktree with its own resume command, the conversation is on the screen again,
and the next turn's request carries the earlier one (the model sees the history too)."""

from __future__ import annotations

import os
import signal

import psutil

from tests.agents import model_endpoint as model
from tests.agents import offline
from tests.agents.conftest import Peek, kill_processes_with_home, require_cli
from tests.agents.test_model_endpoint import endpoint, poll, short_root  # noqa: F401 - fixtures
from tests.fleet.conftest import FleetCli, make_repo
import pytest

pytestmark = pytest.mark.real


def screen_text(peek: Peek, name: str) -> str:
    return "\n".join(peek.screen(name))


def power_cut(cli: FleetCli, home) -> None:
    """SIGKILL the fleet server and every process of the agent, at once."""
    pid = cli.server_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    kill_processes_with_home([home])
    poll("the server gone", lambda: not psutil.pid_exists(pid) or
         psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, timeout=10)


def restore_and_check(cli: FleetCli, name: str, worktree, conversation: str, resume_words: list[str]) -> int:
    info = cli.session(name)
    assert info["status"] == "lost", info
    assert info["conversation_id"] == conversation
    out = cli.run("restore").stdout
    assert f"restored {name}: resumed conversation {conversation}" in out, out
    info = cli.session(name)
    proc = psutil.Process(info["pid"])
    argv = proc.cmdline()
    assert any(argv[i:i + len(resume_words)] == resume_words for i in range(len(argv))), argv
    assert os.path.realpath(proc.cwd()) == os.path.realpath(worktree)
    return info["pid"]


def test_claude_comes_back_with_its_conversation(endpoint, short_root):  # noqa: F811
    require_cli("claude")
    worktree = short_root / "repo.worktrees" / "claude"
    agent = offline.claude(short_root / "home", endpoint.url, [worktree])
    repo = make_repo(short_root / "repo", "agents:\n" + agent.yaml("claude"))
    (short_root / "run").mkdir()
    cli = FleetCli(repo, short_root / "run")
    peek = Peek(cli)
    try:
        cli.run("start", "claude")
        poll("the input box", lambda: any(r.startswith("❯") for r in peek.screen("claude")))
        conversation = cli.session("claude")["conversation_id"]
        assert conversation and f"--session-id {conversation}" in " ".join(
            psutil.Process(cli.session("claude")["pid"]).cmdline()), "the fleet chose Claude's session id"

        endpoint.script(model.text("Noted: the word is PELICAN.", usage=model.Usage(900, 20)))
        cli.run("send", "claude", "remember the word pelican")
        poll("the reply", lambda: "PELICAN" in screen_text(peek, "claude"))
        poll("done", lambda: cli.session("claude")["status"] == "done", timeout=30)
        transcripts = list((agent.home / ".claude" / "projects").glob(f"*/{conversation}.jsonl"))
        assert transcripts, "Claude kept the conversation under the id the fleet gave it"

        power_cut(cli, agent.home)
        restore_and_check(cli, "claude", worktree, conversation, ["--resume", conversation])
        # The earlier turn is on the screen again, as Claude shows a resumed conversation.
        screen = poll("the conversation shown again", lambda: (
            text if "remember the word pelican" in (text := screen_text(peek, "claude")) and "PELICAN" in text
            else None), timeout=60)
        assert "❯" in screen
        # And the model gets the history with the next prompt.
        endpoint.script(model.text("The word was PELICAN.", usage=model.Usage(1000, 10)))
        poll("the input box", lambda: any(r.startswith("❯") for r in peek.screen("claude")))
        cli.run("send", "claude", "which word was it")
        poll("the second reply", lambda: "The word was PELICAN" in screen_text(peek, "claude"))
        last = [r for r in endpoint.scripted_requests()][-1]
        assert "which word was it" in last.last_user_text
        assert "remember the word pelican" in str(last.body.get("messages")), "the resumed turn carries the first"
    finally:
        cli.run("down", check=False)
        kill_processes_with_home([agent.home])


def test_codex_comes_back_with_its_conversation(endpoint, short_root):  # noqa: F811
    require_cli("codex")
    worktree = short_root / "repo.worktrees" / "codex"
    agent = offline.codex(short_root / "home", endpoint.url, [worktree])
    repo = make_repo(short_root / "repo", "agents:\n" + agent.yaml("codex"))
    (short_root / "run").mkdir()
    cli = FleetCli(repo, short_root / "run")
    peek = Peek(cli)
    try:
        cli.run("start", "codex")
        poll("the composer", lambda: "Ask Codex to do anything" in screen_text(peek, "codex"), timeout=60)
        endpoint.script(model.text("Noted: the word is PELICAN.", usage=model.Usage(900, 20)))
        cli.run("send", "codex", "remember the word pelican")
        poll("the reply", lambda: "PELICAN" in screen_text(peek, "codex"), timeout=60)
        # Codex's notify program reports its thread id at the end of the turn; the fleet keeps it.
        conversation = poll("the conversation id", lambda: cli.session("codex")["conversation_id"], timeout=30)
        rollouts = list((agent.home / ".codex" / "sessions").glob(f"*/*/*/rollout-*-{conversation}.jsonl"))
        assert rollouts, "the id names Codex's own session file"

        power_cut(cli, agent.home)
        restore_and_check(cli, "codex", worktree, conversation, ["resume", conversation])
        poll("the conversation shown again", lambda: (
            "remember the word pelican" in (text := screen_text(peek, "codex")) and "PELICAN" in text), timeout=60)
        poll("the composer", lambda: "Ask Codex to do anything" in screen_text(peek, "codex"), timeout=60)
        endpoint.script(model.text("The word was PELICAN.", usage=model.Usage(1000, 10)))
        cli.run("send", "codex", "which word was it")
        poll("the second reply", lambda: "The word was PELICAN" in screen_text(peek, "codex"), timeout=60)
        last = [r for r in endpoint.scripted_requests()][-1]
        assert "which word was it" in last.last_user_text
        assert "remember the word pelican" in str(last.body.get("input")), "the resumed turn carries the first"
    finally:
        cli.run("down", check=False)
        kill_processes_with_home([agent.home])
