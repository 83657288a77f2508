"""How a session's agent is started again: resumed from the presets' data, or fresh, saying why.

Real conversation files laid out where each CLI keeps them, in temporary folders.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from fleet_tui.core.resume import argv_with, plan_start
from fleet_tui.core.session import SessionRecord
from fleet_tui.presets import load_preset


def record(worktree: Path, conversation: str | None = None) -> SessionRecord:
    return SessionRecord(name="a", agent="a", branch="fleet/a", worktree=str(worktree), base_commit="0" * 40,
                         conversation_id=conversation, created=time.time() - 5)


def test_claude_gets_an_id_at_launch_and_resumes_it(tmp_path):
    rules = load_preset("claude").resume
    fresh = plan_start(rules, record(tmp_path / "wt"), home=tmp_path, resume=False)
    assert fresh.args == ["--session-id", fresh.conversation_id] and not fresh.resumed and fresh.note is None
    uuid.UUID(fresh.conversation_id)

    # Claude never wrote that conversation (no prompt yet): a new id, and the feed says why.
    again = plan_start(rules, record(tmp_path / "wt", fresh.conversation_id), home=tmp_path, resume=True)
    assert not again.resumed and again.args[0] == "--session-id"
    assert again.conversation_id != fresh.conversation_id
    assert f"conversation {fresh.conversation_id} was not found" in again.note

    project = tmp_path / ".claude" / "projects" / "-tmp-wt"
    project.mkdir(parents=True)
    (project / f"{fresh.conversation_id}.jsonl").write_text("{}\n")
    resumed = plan_start(rules, record(tmp_path / "wt", fresh.conversation_id), home=tmp_path, resume=True)
    assert resumed.args == ["--resume", fresh.conversation_id] and resumed.resumed
    assert resumed.conversation_id == fresh.conversation_id
    assert resumed.note == f"resumed conversation {fresh.conversation_id}"


def write_rollout(home: Path, worktree: Path, conversation: str, day: str = "2026/11/30") -> Path:
    folder = home / ".codex" / "sessions" / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rollout-2026-11-30T10-00-00-{conversation}.jsonl"
    meta = {"type": "session_meta", "payload": {"id": conversation, "cwd": str(worktree)}}
    path.write_text(json.dumps(meta) + "\n")
    return path


def test_codex_finds_its_conversation_by_the_worktree_when_no_hook_said_it(tmp_path):
    rules = load_preset("codex").resume
    worktree, other = tmp_path / "wt" / "a", tmp_path / "wt" / "b"
    assert plan_start(rules, record(worktree), home=tmp_path, resume=False).args == []

    nothing = plan_start(rules, record(worktree), home=tmp_path, resume=True)
    assert not nothing.resumed and nothing.args == [] and "conversation id is not known" in nothing.note

    mine, theirs, older = (str(uuid.uuid4()) for _ in range(3))
    write_rollout(tmp_path, other, theirs)
    old = write_rollout(tmp_path, worktree, older, "2026/11/29")
    os.utime(old, (time.time() - 3, time.time() - 3))
    write_rollout(tmp_path, worktree, mine)
    found = plan_start(rules, record(worktree), home=tmp_path, resume=True)
    assert found.args == ["resume", mine] and found.resumed and found.conversation_id == mine
    assert "found in its conversation files" in found.note

    # An id its hooks reported wins; one Codex does not have starts it fresh.
    assert plan_start(rules, record(worktree, older), home=tmp_path, resume=True).args == ["resume", older]
    unknown = plan_start(rules, record(worktree, str(uuid.uuid4())), home=tmp_path, resume=True)
    assert not unknown.resumed and unknown.args == [] and "was not found" in unknown.note


def test_a_conversation_of_an_earlier_session_in_the_same_folder_is_not_taken(tmp_path):
    rules = load_preset("codex").resume
    worktree = tmp_path / "wt"
    old = write_rollout(tmp_path, worktree, str(uuid.uuid4()))
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert not plan_start(rules, record(worktree), home=tmp_path, resume=True).resumed


def test_aider_restores_its_chat_history_from_the_worktree(tmp_path):
    rules = load_preset("aider").resume
    worktree = tmp_path / "wt"
    worktree.mkdir()
    assert not plan_start(rules, record(worktree), home=tmp_path, resume=True).resumed
    (worktree / ".aider.chat.history.md").write_text("# aider chat started\n")
    plan = plan_start(rules, record(worktree), home=tmp_path, resume=True)
    assert plan.resumed and plan.args == ["--restore-chat-history"]


def test_a_cli_without_resume_starts_fresh_and_says_so(tmp_path):
    assert load_preset("shell").resume is None
    plan = plan_start(None, record(tmp_path), home=tmp_path, resume=True)
    assert plan.args == [] and not plan.resumed and "no way to resume" in plan.note
    assert plan_start(None, record(tmp_path), home=tmp_path, resume=False).note is None


def test_resume_words_go_right_after_the_command():
    assert argv_with(["codex"], ["codex", "--model", "m"], ["resume", "x"]) == ["codex", "resume", "x", "--model", "m"]
    assert argv_with(["npx", "claude"], ["npx", "claude", "hi"], ["--resume", "x"]) == \
        ["npx", "claude", "--resume", "x", "hi"]
    assert argv_with(["a"], ["a", "b"], []) == ["a", "b"]
