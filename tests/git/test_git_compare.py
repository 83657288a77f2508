from fleet_tui.core.checks import CommandResult
from fleet_tui.core.compare import (
    RANKING_RULE,
    AttemptSummary,
    capture_work,
    changed_files,
    diff_stats,
    diff_text,
    rank,
    summarize,
)
from fleet_tui.core.gitrepo import FLEET_EMAIL, is_dirty
from fleet_tui.core.worktree import create_worktree, worktree_folder

from conftest import git
import pytest

pytestmark = pytest.mark.real


def attempt(repo, name="alpha"):
    return create_worktree(repo, worktree_folder(repo), name, f"fleet/{name}")


def test_capture_work_commits_tracked_and_untracked_but_not_ignored(repo):
    wt = attempt(repo)
    assert capture_work(wt.path, "nothing yet") is None
    (wt.path / "app.py").write_text("def answer():\n    return 42\n")
    (wt.path / "new.py").write_text("NEW = 1\n")
    (wt.path / "debug.log").write_text("ignored\n")
    (wt.path / "README.md").unlink()
    commit = capture_work(wt.path, "attempt alpha")
    assert commit == git(wt.path, "rev-parse", "fleet/alpha").strip()
    assert git(repo, "log", "-1", "--format=%s", "fleet/alpha").strip() == "attempt alpha"
    committed = git(repo, "diff", "--name-status", wt.base_commit, commit).split("\n")
    assert sorted(filter(None, committed)) == ["A\tnew.py", "D\tREADME.md", "M\tapp.py"]
    assert (wt.path / "debug.log").exists() and is_dirty(wt.path) == []
    assert git(repo, "rev-parse", "main").strip() == wt.base_commit  # base untouched


def test_capture_work_without_a_configured_identity(repo, tmp_path, monkeypatch):
    wt = attempt(repo)
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    (wt.path / "new.py").write_text("x = 1\n")
    commit = capture_work(wt.path, "anonymous work")
    assert git(repo, "log", "-1", "--format=%ae %ce", commit).split() == [FLEET_EMAIL, FLEET_EMAIL]


def test_diff_stats_counts_lines_and_binary_files(repo):
    wt = attempt(repo)
    (wt.path / "app.py").write_text("def answer():\n    return 42\n\nprint(answer())\n")
    (wt.path / "logo.png").write_bytes(b"\x89PNG\x00\x01\x02")
    (wt.path / "README.md").unlink()
    capture_work(wt.path, "work")
    stats = diff_stats(repo, wt.base_commit, wt.branch)
    by_path = {f.path: f for f in stats.files}
    assert (by_path["app.py"].status, by_path["app.py"].added, by_path["app.py"].removed) == ("modified", 3, 1)
    assert by_path["logo.png"].binary and (by_path["logo.png"].added, by_path["logo.png"].removed) == (0, 0)
    assert by_path["logo.png"].status == "added"
    assert (by_path["README.md"].status, by_path["README.md"].removed) == ("deleted", 1)
    assert (stats.files_changed, stats.added, stats.removed) == (3, 3, 2)
    assert stats.lines_changed == 5
    assert sorted(changed_files(repo, wt.base_commit, wt.branch)) == ["README.md", "app.py", "logo.png"]


def test_diff_stats_follows_renames(repo):
    wt = attempt(repo)
    git(wt.path, "mv", "app.py", "main app.py")
    capture_work(wt.path, "rename")
    stats = diff_stats(repo, wt.base_commit, wt.branch)
    assert [(f.path, f.status, f.old_path, f.added, f.removed) for f in stats.files] == [
        ("main app.py", "renamed", "app.py", 0, 0)
    ]


def test_diff_text_whole_and_per_file(repo):
    wt = attempt(repo)
    (wt.path / "app.py").write_text("def answer():\n    return 42\n")
    (wt.path / "README.md").write_text("# project\nmore\n")
    capture_work(wt.path, "work")
    whole = diff_text(repo, wt.base_commit, wt.branch)
    assert "-    return 41\n+    return 42\n" in whole and "+more\n" in whole
    one = diff_text(repo, wt.base_commit, wt.branch, "app.py")
    assert one.startswith("diff --git a/app.py b/app.py") and "README" not in one


def test_summarize_counts_passed_checks(repo):
    wt = attempt(repo)
    (wt.path / "app.py").write_text("changed\n")
    capture_work(wt.path, "work")
    checks = {
        "ok": CommandResult("ok", ["true"], 0, "", 0.1),
        "bad": CommandResult("bad", ["false"], 1, "", 0.1),
        "slow": CommandResult("slow", ["sleep"], None, "", 1.0, timed_out=True),
    }
    summary = summarize("alpha", diff_stats(repo, wt.base_commit, wt.branch), checks, 0.5, 12.0)
    assert (summary.checks_passed, summary.checks_total) == (1, 3)
    assert (summary.lines_changed, summary.files_changed, summary.has_changes) == (3, 1, True)


def test_rank_order():
    def a(name, passed, lines, cost, duration, files=1):
        return AttemptSummary(name, passed, 3, lines, cost, duration, files)

    attempts = [
        a("nothing", 3, 0, 0.01, 1, files=0),
        a("big", 3, 500, 0.10, 10),
        a("failing", 1, 5, 0.01, 1),
        a("small-dear", 3, 20, 0.90, 10),
        a("small-cheap-slow", 3, 20, 0.20, 99),
        a("small-cheap-fast", 3, 20, 0.20, 5),
        a("small-unknown-cost", 3, 20, None, 1),
        a("binary-only", 0, 0, None, 1, files=1),
    ]
    order = [x.name for x in rank(attempts)]
    assert order == [
        "small-cheap-fast",
        "small-cheap-slow",
        "small-dear",
        "small-unknown-cost",
        "big",
        "failing",
        "binary-only",
        "nothing",
    ]
    assert "more checks" in RANKING_RULE and "smaller diff" in RANKING_RULE
