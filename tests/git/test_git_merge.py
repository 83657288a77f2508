import pytest

from fleet_tui.core import merge as merge_module
from fleet_tui.core.compare import capture_work
from fleet_tui.core.merge import MergeConflict, base_moved, merge_attempt, merge_summary
from fleet_tui.core.worktree import create_worktree, list_worktrees, worktree_folder
from fleet_tui.errors import FleetError, UsageError

from conftest import commit_file, git, snapshot

pytestmark = pytest.mark.real

STRATEGIES = ["merge", "squash", "rebase"]
NEW_APP = "def answer():\n    return 42\n"


def attempt(repo, name="alpha", app=NEW_APP):
    """An attempt that changes app.py and adds a module, captured on its branch."""
    wt = create_worktree(repo, worktree_folder(repo), name, f"fleet/{name}")
    (wt.path / "app.py").write_text(app)
    (wt.path / "extra.py").write_text(f"NAME = {name!r}\n")
    capture_work(wt.path, f"attempt {name}")
    return wt


def conflicting_base(repo):
    """main moves on with its own change to the line the attempt changed."""
    commit_file(repo, "app.py", "def answer():\n    return 43\n", "main's own answer")


def add_untracked_and_ignored(repo):
    (repo / "scratch.txt").write_text("untracked notes\n")
    (repo / "run.log").write_text("ignored log\n")


def parents(repo, commit):
    return git(repo, "rev-list", "--parents", "-n1", commit).split()[1:]


def test_merge_makes_a_merge_commit(repo):
    wt = attempt(repo)
    add_untracked_and_ignored(repo)
    before = git(repo, "rev-parse", "main").strip()
    result = merge_attempt(repo, "main", wt.branch)
    assert result.strategy == "merge"
    assert result.commit == git(repo, "rev-parse", "main").strip()
    assert parents(repo, result.commit) == [before, git(repo, "rev-parse", wt.branch).strip()]
    assert sorted(result.files) == ["app.py", "extra.py"]
    assert (repo / "app.py").read_text() == NEW_APP
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert (repo / "scratch.txt").read_text() == "untracked notes\n"
    assert git(repo, "log", "-1", "--format=%s").strip() == "Merge attempt fleet/alpha into main"


def test_squash_makes_one_commit(repo):
    wt = attempt(repo)
    before = git(repo, "rev-parse", "main").strip()
    result = merge_attempt(repo, "main", wt.branch, "squash", message="Answer 42")
    assert parents(repo, result.commit) == [before]
    assert git(repo, "log", "-1", "--format=%s").strip() == "Answer 42"
    assert (repo / "app.py").read_text() == NEW_APP and (repo / "extra.py").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_rebase_replays_onto_a_moved_base_and_fast_forwards(repo):
    wt = attempt(repo)
    moved = commit_file(repo, "README.md", "# project\nmoved on\n", "base moves on")
    result = merge_attempt(repo, "main", wt.branch, "rebase", worktree_path=wt.path)
    assert result.commit == git(repo, "rev-parse", wt.branch).strip()  # fast-forwarded
    assert parents(repo, result.commit) == [moved]  # linear history
    assert (repo / "app.py").read_text() == NEW_APP
    assert (repo / "README.md").read_text() == "# project\nmoved on\n"
    assert sorted(result.files) == ["app.py", "extra.py"]
    assert git(wt.path, "status", "--porcelain") == ""


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_conflict_leaves_everything_as_it_was(repo, strategy):
    wt = attempt(repo)
    conflicting_base(repo)
    add_untracked_and_ignored(repo)
    base_before, attempt_before = snapshot(repo), snapshot(wt.path)
    with pytest.raises(MergeConflict, match="conflicts with main in app.py: nothing was changed") as caught:
        merge_attempt(repo, "main", wt.branch, strategy)
    assert caught.value.files == ["app.py"]
    assert snapshot(repo) == base_before
    assert snapshot(wt.path) == attempt_before
    assert len(list_worktrees(repo)) == 2


@pytest.mark.parametrize("strategy", ["merge", "squash"])
def test_a_conflict_found_by_git_itself_is_aborted(repo, strategy):
    # The in-memory pre-check normally catches conflicts; this is the safety net behind it.
    wt = attempt(repo)
    conflicting_base(repo)
    add_untracked_and_ignored(repo)
    before = snapshot(repo)
    with pytest.raises(MergeConflict) as caught:
        if strategy == "merge":
            merge_module._merge(repo, "main", wt.branch, None)
        else:
            merge_module._squash(repo, "main", wt.branch, git(repo, "rev-parse", "main").strip(), None)
    assert caught.value.files == ["app.py"]
    assert snapshot(repo) == before


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_dirty_base_is_refused(repo, strategy):
    wt = attempt(repo)
    (repo / "README.md").write_text("my unsaved edit\n")
    before = snapshot(repo)
    with pytest.raises(FleetError, match=r"uncommitted changes \(README.md\): commit or stash them first"):
        merge_attempt(repo, "main", wt.branch, strategy)
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", wt.branch).strip() != git(repo, "rev-parse", "main").strip()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_ignored_file_the_merge_would_overwrite_is_refused(repo, strategy):
    wt = attempt(repo)
    (wt.path / "notes.log").write_text("attempt's log\n")
    git(wt.path, "add", "-f", "notes.log")
    git(wt.path, "commit", "-q", "-m", "force-add a log")
    (repo / "notes.log").write_text("the user's own log\n")
    before = snapshot(repo)
    with pytest.raises(FleetError, match="notes.log exists in .* move it away first"):
        merge_attempt(repo, "main", wt.branch, strategy)
    assert snapshot(repo) == before


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_base_not_checked_out_anywhere_is_merged_without_touching_files(repo, strategy):
    wt = attempt(repo)
    git(repo, "switch", "-q", "-c", "dev")
    (repo / "README.md").write_text("dirty on dev, which is not the base\n")
    before = snapshot(repo)
    result = merge_attempt(repo, "main", wt.branch, strategy)
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", "main").strip() == result.commit
    assert git(repo, "show", "main:app.py") == NEW_APP
    assert len(list_worktrees(repo)) == 2  # the temporary worktree is gone


def test_rebase_finds_the_attempt_worktree_by_itself(repo):
    wt = attempt(repo)
    commit_file(repo, "README.md", "# moved\n")
    result = merge_attempt(repo, "main", wt.branch, "rebase")
    assert git(wt.path, "rev-parse", "HEAD").strip() == result.commit


def test_nothing_to_merge_and_bad_input(repo):
    wt = create_worktree(repo, worktree_folder(repo), "idle", "fleet/idle")
    with pytest.raises(FleetError, match="nothing to merge"):
        merge_attempt(repo, "main", wt.branch)
    with pytest.raises(UsageError, match="use one of merge, squash, rebase"):
        merge_attempt(repo, "main", wt.branch, "octopus")
    with pytest.raises(FleetError, match="branch fleet/nope does not exist"):
        merge_attempt(repo, "main", "fleet/nope")


def test_base_moved_and_merge_summary(repo):
    wt = attempt(repo)
    assert not base_moved(repo, "main", wt.base_commit)
    summary = merge_summary(repo, "main", wt.branch, wt.base_commit)
    assert summary["base_moved"] is False
    assert [c["subject"] for c in summary["commits"]] == ["attempt alpha"]
    assert sorted(summary["files"]) == ["app.py", "extra.py"]
    assert (summary["added"], summary["removed"], summary["conflicts"]) == (2, 1, [])
    conflicting_base(repo)
    assert base_moved(repo, "main", wt.base_commit)
    summary = merge_summary(repo, "main", wt.branch, wt.base_commit)
    assert summary["base_moved"] is True and summary["conflicts"] == ["app.py"]
