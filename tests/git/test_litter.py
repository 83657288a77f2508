"""Agent litter (aider's histories, Claude's local approvals) is never part of an attempt."""

import subprocess
from pathlib import Path

from fleet_tui.core import litter
from fleet_tui.core.compare import capture_work, changed_files
from fleet_tui.core.worktree import create_worktree, session_branch, worktree_folder
from fleet_tui.presets import load_all

from conftest import commit_file, git
import pytest

pytestmark = pytest.mark.real

AIDER_HISTORY = "\n# aider chat started at 2026-11-30 10:02:11\n\n> /tmp/aider-venv/bin/aider --model openai/mock\n"


def preset_litter() -> list[str]:
    return [pattern for preset in load_all() for pattern in preset.litter]


def write_aider_litter(path: Path) -> None:
    """What a real aider 0.86 session left in its worktree (seen with `git status --ignored`)."""
    (path / ".aider.chat.history.md").write_text(AIDER_HISTORY)
    (path / ".aider.input.history").write_text("\n# 2026-11-30 10:02:15.1\n+fix the test\n")
    (path / ".aider.tags.cache.v4").mkdir()
    for name in ("cache.db", "cache.db-shm", "cache.db-wal"):
        (path / ".aider.tags.cache.v4" / name).write_bytes(b"SQLite format 3\0")
    (path / ".claude").mkdir()
    (path / ".claude" / "settings.local.json").write_text('{"permissions": {"allow": ["Bash(rm -rf:*)"]}}\n')


def test_presets_list_what_the_real_clis_write():
    patterns = preset_litter()
    for expected in (".aider.chat.history.md", ".aider.input.history", ".aider.tags.cache*",
                     ".claude/settings.local.json"):
        assert expected in patterns


def test_capture_commits_the_work_and_never_the_litter(repo):
    litter.install(repo, preset_litter())
    wt = create_worktree(repo, worktree_folder(repo), "aider", session_branch("aider"))
    (wt.path / "app.py").write_text("def answer():\n    return 42\n")
    write_aider_litter(wt.path)
    commit = capture_work(wt.path, "fleet: work of aider")
    assert commit is not None
    assert changed_files(repo, wt.base_commit, wt.branch) == ["app.py"]
    assert git(wt.path, "status", "--porcelain") == "", "the litter is ignored, not left as untracked work"
    assert (wt.path / ".aider.chat.history.md").exists(), "the agent keeps its own files"
    # aider asks to edit .gitignore unless git ignores the name ".aider": it is ignored now.
    assert subprocess.run(["git", "check-ignore", "-q", ".aider"], cwd=wt.path).returncode == 0
    # A project's own aider config is not litter.
    (wt.path / ".aider.conf.yml").write_text("model: x\n")
    capture_work(wt.path, "config")
    assert ".aider.conf.yml" in changed_files(repo, wt.base_commit, wt.branch)


def test_tracked_litter_is_taken_out_of_the_snapshot(repo):
    # Someone committed aider's history on the base branch: an agent's additions still stay out.
    commit_file(repo, ".aider.chat.history.md", "old history\n")
    litter.install(repo, preset_litter())
    wt = create_worktree(repo, worktree_folder(repo), "alpha", session_branch("alpha"))
    (wt.path / ".aider.chat.history.md").write_text("old history\n" + AIDER_HISTORY)
    assert capture_work(wt.path, "only litter changed") is None
    (wt.path / "app.py").write_text("changed\n")
    capture_work(wt.path, "work")
    assert changed_files(repo, wt.base_commit, wt.branch) == ["app.py"]


def test_the_managed_block_keeps_the_users_own_lines_and_is_rewritten_in_place(repo):
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text("# mine\n*.swp\n")
    assert litter.install(repo, [".aider.input.history", *litter.link_patterns(["node_modules/"])])
    assert not litter.install(repo, [".aider.input.history", "/node_modules"]), "unchanged: not rewritten"
    litter.install(repo, [".claude/settings.local.json"])
    text = exclude.read_text()
    assert text.startswith("# mine\n*.swp\n")
    assert text.count(litter.BEGIN) == 1 and ".aider.input.history" not in text
    assert ".claude/settings.local.json" in text
    litter.install(repo, [])
    assert exclude.read_text() == "# mine\n*.swp\n"
