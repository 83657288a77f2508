"""The fleet's worktrees on disk: found by the fleet's marker only, described truthfully."""

from pathlib import Path

from fleet_tui.core import inventory, litter
from fleet_tui.core.compare import capture_work
from fleet_tui.core.merge import merge_attempt
from fleet_tui.core.worktree import create_worktree, session_branch, worktree_folder

from conftest import commit_file, git, init_repo
import pytest

pytestmark = pytest.mark.real


def make(repo: Path, name: str):
    return create_worktree(repo, worktree_folder(repo), name, session_branch(name))


def by_session(reports):
    return {report.session: report for report in reports}


def test_only_worktrees_the_fleet_made_are_listed(repo, tmp_path):
    ours = make(repo, "alpha")
    folder = worktree_folder(repo)
    # By hand, in the fleet's own folder and with a fleet-looking branch: still not ours.
    git(repo, "worktree", "add", "-q", "-b", "fleet/manual", str(folder / "manual"))
    git(repo, "worktree", "add", "-q", "-b", "elsewhere", str(tmp_path / "elsewhere"))
    # A submodule: its git folder lives in .git/modules and is no worktree of ours either.
    library = init_repo(tmp_path / "library")
    commit_file(library, "lib.py", "x = 1\n")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    git(repo, "commit", "-qm", "add a submodule")
    reports = inventory.survey(repo, "main", {})
    assert [r.path for r in reports] == [str(ours.path)]
    assert reports[0].session == "alpha" and reports[0].branch == "fleet/alpha"
    assert reports[0].created is not None
    # A worktree from before markers, named by a session record, is known too.
    manual = str(folder / "manual")
    assert {r.path for r in inventory.survey(repo, "main", {manual: ("old", "fleet/manual")})} == {
        str(ours.path), manual}
    # ...but not when another branch is checked out there than the record's.
    assert [r.path for r in inventory.survey(repo, "main", {manual: ("old", "fleet/old")})] == [str(ours.path)]


def test_merged_unmerged_squashed_and_uncommitted_work(repo):
    litter.install(repo, [".aider.chat.history.md"])
    empty, merged, squashed, unmerged, dirty = (make(repo, n) for n in ("empty", "merged", "squashed", "unmerged",
                                                                        "dirty"))
    (merged.path / "merged.txt").write_text("merged\n")
    capture_work(merged.path, "work")
    merge_attempt(repo, "main", merged.branch, "merge")
    (squashed.path / "squashed.txt").write_text("one\n")
    capture_work(squashed.path, "first")
    (squashed.path / "squashed.txt").write_text("two\n")
    capture_work(squashed.path, "second")
    merge_attempt(repo, "main", squashed.branch, "squash")
    (unmerged.path / "unmerged.txt").write_text("mine\n")
    capture_work(unmerged.path, "not merged")
    (dirty.path / "app.py").write_text("edited, not committed\n")
    (dirty.path / "new.txt").write_text("new\n")
    (empty.path / ".aider.chat.history.md").write_text("litter is no work\n")
    reports = by_session(inventory.survey(repo, "main", {}, running={"empty"}))
    assert reports["empty"].merged and reports["empty"].ahead == 0 and reports["empty"].uncommitted == []
    assert reports["empty"].risk == "its agent is running"
    assert reports["merged"].merged and reports["merged"].risk is None
    assert reports["squashed"].merged and reports["squashed"].ahead == 2, "a squash merge counts as merged"
    assert not reports["unmerged"].merged and reports["unmerged"].ahead == 1
    assert reports["unmerged"].risk == "1 commit not merged into the base branch"
    assert sorted(reports["dirty"].uncommitted) == ["app.py", "new.txt"]
    assert reports["dirty"].risk.startswith("uncommitted work in 2 files")


def test_disk_usage_counts_like_du_and_never_follows_links(repo, tmp_path):
    wt = make(repo, "alpha")
    (wt.path / "big.bin").write_bytes(b"x" * 300_000)
    big_outside = tmp_path / "outside"
    big_outside.mkdir()
    (big_outside / "huge.bin").write_bytes(b"y" * 2_000_000)
    (wt.path / "node_modules").symlink_to(big_outside)
    size = inventory.disk_usage(wt.path)
    assert 300_000 <= size < 2_000_000, "the linked folder's 2 MB are not counted"
    other = make(repo, "beta")
    (other.path / "big.bin").hardlink_to(wt.path / "big.bin")
    both = inventory.disk_usage(wt.path, other.path)
    assert both < size + inventory.disk_usage(other.path), "a file hard-linked in two worktrees counts once"
    assert inventory.disk_usage(tmp_path / "no-such-folder") == 0


def test_a_worktree_whose_folder_was_deleted_is_still_the_fleets_and_can_go(repo):
    import shutil

    from fleet_tui.core.worktree import remove_worktree

    wt = make(repo, "gone")
    shutil.rmtree(wt.path)
    (report,) = inventory.survey(repo, "main", {})
    assert report.missing and report.session == "gone" and report.size == 0 and report.risk is None
    remove_worktree(repo, report.path, report.branch)
    assert inventory.survey(repo, "main", {}) == []
    assert "fleet/gone" not in git(repo, "branch")
