import shutil
import sys
from pathlib import Path

import psutil
import pytest

from fleet_tui.core.gitrepo import (
    current_branch,
    find_repo_root,
    fleet_state_dir,
    head_commit,
    is_dirty,
)
from fleet_tui.core.worktree import (
    create_worktree,
    list_worktrees,
    remove_worktree,
    run_setup,
    session_branch,
    worktree_folder,
)
from fleet_tui.errors import FleetError, UsageError

from conftest import git, init_repo

pytestmark = pytest.mark.real


def make(repo: Path, name: str = "alpha", **kwargs):
    return create_worktree(repo, worktree_folder(repo), name, session_branch(name), **kwargs)


def test_not_a_repository_is_a_clear_error(tmp_path):
    with pytest.raises(FleetError, match="is not inside a git repository.*git init"):
        find_repo_root(tmp_path)


def test_repository_without_commits_is_a_clear_error(tmp_path):
    empty = init_repo(tmp_path / "empty")
    assert find_repo_root(empty) == empty.resolve()
    for ask in (current_branch, head_commit):
        with pytest.raises(FleetError, match="has no commits yet: make a first commit"):
            ask(empty)
    with pytest.raises(FleetError, match="no commits yet"):
        create_worktree(empty, tmp_path / "wt", "alpha", "fleet/alpha")


def test_repo_facts(repo):
    assert find_repo_root(repo / ".") == repo.resolve()
    assert current_branch(repo) == "main"
    assert head_commit(repo) == git(repo, "rev-parse", "HEAD").strip()
    assert fleet_state_dir(repo) == (repo / ".git" / "fleet").resolve()
    assert is_dirty(repo) == []
    (repo / "app.py").write_text("changed\n")
    (repo / "new.txt").write_text("untracked does not count\n")
    assert is_dirty(repo) == ["app.py"]
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(FleetError, match="detached HEAD.*git switch"):
        current_branch(repo)


def test_worktree_is_created_outside_the_repo_with_copied_env(repo):
    (repo / "logs").mkdir()
    (repo / "logs" / "a.log").write_text("log\n")
    wt = make(repo, copy_files=[".env", "logs", "*.cfg"])
    assert wt.path == repo.parent / "project.worktrees" / "alpha"
    assert not wt.path.is_relative_to(repo)
    assert wt.branch == "fleet/alpha"
    assert wt.base_commit == head_commit(repo)
    assert git(wt.path, "rev-parse", "--abbrev-ref", "HEAD").strip() == "fleet/alpha"
    assert (wt.path / ".env").read_text() == "TOKEN=secret\n"
    assert (wt.path / "logs" / "a.log").read_text() == "log\n"
    assert wt.copied == [".env", "logs"]
    assert wt.missing == ["*.cfg"]
    assert is_dirty(wt.path) == []  # copied files are ignored ones
    assert git(repo, "status", "--porcelain") == ""  # the main checkout sees nothing
    listed = {entry.path.resolve(): entry for entry in list_worktrees(repo)}
    assert listed[wt.path].branch == "fleet/alpha" and not listed[wt.path].is_main
    assert listed[repo.resolve()].is_main


def test_worktree_from_another_base_ref(repo):
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    wt = create_worktree(repo, worktree_folder(repo), "beta", "fleet/run1/beta", base_ref=first)
    assert wt.base_commit == first
    assert not (wt.path / "app.py").exists()


def test_configured_folder_inside_the_repo_is_excluded(repo):
    folder = worktree_folder(repo, ".fleet/worktrees")
    assert folder == (repo / ".fleet" / "worktrees").resolve()
    wt = create_worktree(repo, folder, "alpha", "fleet/alpha")
    assert wt.path.is_relative_to(repo)
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_existing_branch_or_folder_is_refused(repo):
    make(repo)
    # The message no longer suggests deleting the branch: it may hold an agent's commits.
    with pytest.raises(FleetError, match=r"branch fleet/alpha already exists and may hold .*git log fleet/alpha"):
        make(repo)
    (repo.parent / "project.worktrees" / "gamma").mkdir()
    with pytest.raises(FleetError, match="gamma already exists"):
        make(repo, "gamma")
    assert "fleet/gamma" not in git(repo, "branch", "--list")


@pytest.mark.parametrize("name", ["../x", "/etc", "a/b", ".", "..", "", "Upper", "x" * 41])
def test_names_that_could_escape_are_refused(repo, name):
    folder = worktree_folder(repo)
    with pytest.raises(UsageError):
        create_worktree(repo, folder, name, "fleet/safe")
    with pytest.raises(UsageError):
        session_branch(name)
    assert not folder.exists() or list(folder.iterdir()) == []
    assert "fleet/safe" not in git(repo, "branch", "--list")


@pytest.mark.parametrize("pattern", ["../secret", "/etc/passwd"])
def test_copy_files_outside_the_repo_are_refused(repo, pattern):
    with pytest.raises(UsageError, match="relative to the repository"):
        make(repo, copy_files=[pattern])
    assert "fleet/alpha" not in git(repo, "branch", "--list")


def test_session_branch_names():
    assert session_branch("alpha") == "fleet/alpha"
    assert session_branch("alpha", "run-7") == "fleet/run-7/alpha"


def test_setup_runs_commands_in_the_worktree(repo):
    wt = make(repo)
    results = run_setup(wt.path, ["touch installed.txt", [sys.executable, "-c", "print('ok')"]], 30)
    assert [r.passed for r in results] == [True, True]
    assert (wt.path / "installed.txt").exists()
    assert results[1].output.strip() == "ok"


def test_setup_stops_at_a_failure_without_raising(repo):
    wt = make(repo)
    results = run_setup(wt.path, ["sh -c 'echo broken >&2; exit 3'", "touch never.txt"], 30)
    assert len(results) == 1
    assert results[0].exit_code == 3 and not results[0].passed
    assert "broken" in results[0].output
    assert not (wt.path / "never.txt").exists()
    missing = run_setup(wt.path, ["no-such-program-xyz"], 30)
    assert missing[0].exit_code is None and "could not start" in missing[0].output


def test_setup_timeout_kills_the_whole_process_group(repo):
    wt = make(repo)
    script = "sleep 60 & echo $! > child.pid; wait"
    results = run_setup(wt.path, [["sh", "-c", script], "touch never.txt"], 0.5)
    assert len(results) == 1 and results[0].timed_out and not results[0].passed
    child = int((wt.path / "child.pid").read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_remove_deletes_worktree_and_branch(repo):
    wt = make(repo)
    (wt.path / "work.txt").write_text("uncommitted work\n")
    remove_worktree(repo, wt.path, wt.branch)
    assert not wt.path.exists()
    assert "fleet/alpha" not in git(repo, "branch", "--list")
    assert len(list_worktrees(repo)) == 1


def test_remove_can_keep_the_branch(repo):
    wt = make(repo)
    remove_worktree(repo, wt.path, wt.branch, keep_branch=True)
    assert not wt.path.exists()
    assert "fleet/alpha" in git(repo, "branch", "--list")


def test_remove_of_a_folder_deleted_by_hand(repo):
    wt = make(repo)
    shutil.rmtree(wt.path)
    remove_worktree(repo, wt.path, wt.branch)
    assert len(list_worktrees(repo)) == 1
    assert "fleet/alpha" not in git(repo, "branch", "--list")


def test_remove_refuses_what_is_not_a_worktree_of_this_repo(repo, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine\n")
    with pytest.raises(FleetError, match="is not a worktree of"):
        remove_worktree(repo, precious, "main")
    with pytest.raises(FleetError, match="main checkout"):
        remove_worktree(repo, repo, "main")
    # A worktree of another repository (think: a submodule's checkout) is not ours either.
    other = init_repo(tmp_path / "other")
    git(other, "commit", "-q", "--allow-empty", "-m", "x")
    git(other, "worktree", "add", "-q", "-b", "side", str(tmp_path / "other-wt"))
    with pytest.raises(FleetError, match="is not a worktree of"):
        remove_worktree(repo, tmp_path / "other-wt", "side")
    wt = make(repo)
    with pytest.raises(FleetError, match="not main: nothing was removed"):
        remove_worktree(repo, wt.path, "main")
    assert (precious / "keep.txt").exists() and (tmp_path / "other-wt").exists() and wt.path.exists()
    assert "main" in git(repo, "branch", "--list")
