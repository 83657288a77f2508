"""What a new worktree gets from the main checkout: .worktreeinclude, copy:, link:, never through a link out."""

import os
from pathlib import Path

import pytest

from fleet_tui.core.worktree import create_worktree, session_branch, worktree_folder
from fleet_tui.errors import UsageError

from conftest import commit_file, git

pytestmark = pytest.mark.real


def make(repo: Path, name: str = "alpha", **kwargs):
    return create_worktree(repo, worktree_folder(repo), name, session_branch(name), **kwargs)


def test_worktreeinclude_copies_only_files_that_match_and_are_ignored(repo):
    commit_file(repo, ".gitignore", ".env\n*.log\nconfig/*.local\nbuild/\n")
    commit_file(repo, ".worktreeinclude", "# what a worktree needs to run\n.env\nconfig/\n*.local\n!skip.local\n")
    commit_file(repo, "config/settings.toml", "tracked = true\n")
    (repo / "config" / "db.local").write_text("db=dev\n")
    (repo / "config" / "notes.txt").write_text("untracked, not ignored\n")  # matches config/, not ignored
    (repo / "skip.local").write_text("negated\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.bin").write_text("ignored but not included\n")
    (repo / "app.log").write_text("ignored, not included\n")
    wt = make(repo)
    assert (wt.path / ".env").read_text() == "TOKEN=secret\n"
    assert (wt.path / "config" / "db.local").read_text() == "db=dev\n"
    assert not (wt.path / "config" / "notes.txt").exists()
    assert not (wt.path / "skip.local").exists()
    assert not (wt.path / "build").exists() and not (wt.path / "app.log").exists()
    assert sorted(wt.copied) == [".env", "config/db.local"]
    assert git(wt.path, "status", "--porcelain") == ""  # only ignored files came in


def test_no_worktreeinclude_copies_nothing_but_copy_entries(repo):
    wt = make(repo, copy_files=[".env"])
    assert wt.copied == [".env"]
    wt2 = make(repo, "beta")
    assert wt2.copied == [] and not (wt2.path / ".env").exists()


def test_link_makes_a_symlink_to_the_main_checkout_and_git_ignores_it(repo):
    commit_file(repo, ".gitignore", ".env\nnode_modules/\n")
    commit_file(repo, ".worktreeinclude", "node_modules/\n.env\n")
    (repo / "node_modules" / "left-pad").mkdir(parents=True)
    (repo / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1\n")
    wt = make(repo, link=["node_modules"])
    linked = wt.path / "node_modules"
    assert linked.is_symlink() and linked.resolve() == (repo / "node_modules").resolve()
    assert (linked / "left-pad" / "index.js").read_text() == "module.exports = 1\n"
    assert wt.linked == ["node_modules"]
    assert wt.copied == [".env"]  # nothing copied on top of the link
    assert (repo / "node_modules" / "left-pad" / "index.js").is_file()  # the original is untouched


def test_link_refuses_a_tracked_path_and_reports_missing_ones(repo):
    wt = make(repo, link=["app.py", "node_modules"])
    assert not (wt.path / "app.py").is_symlink()
    assert any(line.startswith("app.py:") for line in wt.skipped)
    assert wt.missing == ["node_modules"]


def test_links_out_of_the_repository_are_never_followed(repo, tmp_path):
    outside = tmp_path / "outside"
    (outside / "secrets").mkdir(parents=True)
    (outside / "secrets" / "id_rsa").write_text("PRIVATE\n")
    (outside / "lib").mkdir()
    commit_file(repo, ".gitignore", ".env\ndata/\nescape\nabs\nvendor\ninside-link\nshared/\n")
    commit_file(repo, ".worktreeinclude", "data/\nescape\nabs\ninside-link\n")
    (repo / "data").mkdir()
    (repo / "data" / "ok.txt").write_text("fine\n")
    os.symlink("../../outside/secrets", repo / "data" / "up")  # relative, but leaves the repository
    os.symlink("ok.txt", repo / "data" / "same")  # relative, stays inside: kept as a link
    os.symlink("../outside/secrets/id_rsa", repo / "escape")
    os.symlink(str(outside / "secrets" / "id_rsa"), repo / "abs")
    os.symlink("app.py", repo / "inside-link")
    os.symlink(str(outside / "lib"), repo / "vendor")  # a folder that is a link elsewhere
    os.symlink(str(outside / "secrets"), repo / "shared")
    wt = make(repo, copy_files=["shared/id_rsa"], link=["vendor"])
    assert (wt.path / "data" / "ok.txt").read_text() == "fine\n"
    assert os.readlink(wt.path / "data" / "same") == "ok.txt"
    assert os.readlink(wt.path / "inside-link") == "app.py"
    for gone in ("data/up", "escape", "abs", "vendor", "shared"):
        assert not os.path.lexists(wt.path / gone), gone
    assert not list(wt.path.rglob("id_rsa"))
    skipped = "\n".join(wt.skipped)
    for name in ("data/up", "escape", "abs", "vendor", "shared/id_rsa"):
        assert name + ":" in skipped, name


def test_a_tracked_link_in_the_worktree_is_never_written_through(repo, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(str(outside), repo / "out")
    git(repo, "add", "out")
    git(repo, "commit", "-q", "-m", "a tracked link to a folder outside")
    # In the main checkout `out` is that link too, so `out/x` would be outside already; make the
    # main checkout's copy a real folder to tempt the copier.
    (repo / "out").unlink()
    (repo / "out").mkdir()
    (repo / "out" / "x.env").write_text("would land outside\n")
    commit_file(repo, ".gitignore", ".env\n*.env\n")
    wt = make(repo, copy_files=["out/x.env"])
    assert (wt.path / "out").is_symlink()
    assert not (outside / "x.env").exists()
    assert any(line.startswith("out/x.env:") for line in wt.skipped)


def test_bad_link_entries_are_usage_errors(repo):
    for bad in ("../up", "/etc", ""):
        with pytest.raises(UsageError, match="link entry"):
            make(repo, link=[bad])
    assert not (repo.parent / "project.worktrees" / "alpha").exists()


def test_a_file_inside_an_ignored_folder_is_included_by_its_own_pattern(repo):
    commit_file(repo, ".gitignore", "node_modules/\n")
    commit_file(repo, ".worktreeinclude", "node_modules/dep/config.json\n")
    (repo / "node_modules" / "dep").mkdir(parents=True)
    (repo / "node_modules" / "dep" / "config.json").write_text("{}\n")
    (repo / "node_modules" / "dep" / "index.js").write_text("big\n")
    wt = make(repo)
    assert wt.copied == ["node_modules/dep/config.json"]
    assert not (wt.path / "node_modules" / "dep" / "index.js").exists()


def test_a_worktreeinclude_that_is_a_link_out_of_the_repository_is_not_read(repo, tmp_path):
    (tmp_path / "elsewhere.include").write_text(".env\n")
    os.symlink(str(tmp_path / "elsewhere.include"), repo / ".worktreeinclude")
    commit_file(repo, ".gitignore", ".env\n.worktreeinclude\n")
    wt = make(repo)
    assert wt.copied == [] and not (wt.path / ".env").exists()
