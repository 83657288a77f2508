"""`fleet-tui worktrees` and `fleet-tui prune` through the real CLI and server, on a real repository
holding worktrees of every kind: merged, empty, with uncommitted or unmerged work, made by hand,
and a submodule."""

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pexpect
import pytest

from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

FLEET = textwrap.dedent(
    """\
    agents:
      shell: {command: [bash, --norc, --noprofile]}
    """
)
GIT_ID = "git -c user.name=t -c user.email=t@t"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                           "-c", "protocol.file.allow=always", *args], check=True, capture_output=True,
                          text=True).stdout


def prune(cli: FleetCli, *args: str) -> subprocess.CompletedProcess:
    """`fleet-tui prune` as a script runs it: no terminal to ask on."""
    return subprocess.run([sys.executable, "-m", "fleet_tui", "prune", *args], cwd=cli.repo, env=cli.env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def run_in(cli: FleetCli, session: str, command: str) -> None:
    cli.run("send", session, f"{command}; echo done-$((40+2))")
    cli.wait_screen(session, "done-42")


@pytest.fixture
def fleet(tmp_path, runtime_dir):
    repo = make_repo(tmp_path / "repo", FLEET)
    library = make_repo(tmp_path / "library", None)
    git(repo, "submodule", "add", "-q", str(library), "lib")
    git(repo, "commit", "-qm", "a submodule")
    cli = FleetCli(repo, runtime_dir)
    cli.run("start", "shell", "-n", "4")
    run_in(cli, "shell", f"printf merged > merged.txt && git add -A && {GIT_ID} commit -qm work")
    run_in(cli, "shell-2", "printf 'half done' > wip.txt")
    run_in(cli, "shell-4", f"printf mine > unmerged.txt && git add -A && {GIT_ID} commit -qm unmerged")
    for name in ("shell", "shell-2", "shell-3", "shell-4"):
        cli.run("kill", name)
    git(repo, "merge", "-q", "fleet/shell")  # the user merged that one by hand
    git(repo, "worktree", "add", "-q", "-b", "fleet/by-hand", str(tmp_path / "repo.worktrees" / "by-hand"))
    yield cli
    cli.run("down", check=False)


def test_worktrees_lists_what_the_fleet_made_and_what_each_holds(fleet):
    listing = {wt["session"]: wt for wt in json.loads(fleet.run("worktrees", "--json").stdout)}
    assert set(listing) == {"shell", "shell-2", "shell-3", "shell-4"}, "not the main checkout, the hand-made one"
    assert listing["shell"]["merged"] and not listing["shell"]["uncommitted"]
    assert listing["shell-2"]["uncommitted"] == ["wip.txt"]
    assert listing["shell-3"]["merged"] and listing["shell-3"]["ahead"] == 0
    assert not listing["shell-4"]["merged"] and listing["shell-4"]["ahead"] == 1
    assert all(wt["size"] > 0 and wt["age"] >= 0 and wt["branch"] == f"fleet/{name}"
               for name, wt in listing.items())
    text = fleet.run("worktrees").stdout
    assert "MERGED INTO MAIN" in text and "no (1 commits)" in text and "4 worktrees" in text


def test_prune_removes_merged_and_empty_and_refuses_work_without_a_terminal(fleet, tmp_path):
    worktrees = tmp_path / "repo.worktrees"
    result = prune(fleet)
    assert result.returncode == 1
    assert "removed shell\n" in result.stdout and "removed shell-3\n" in result.stdout
    refused = result.stderr.strip().splitlines()
    assert len(refused) == 2
    assert refused[0].startswith("kept shell-2: uncommitted work in 1 file (wip.txt)")
    assert refused[1].startswith("kept shell-4: 1 commit not merged into the base branch")
    assert all("`fleet-tui prune --yes`" in line for line in refused)
    assert (worktrees / "shell-2" / "wip.txt").read_text() == "half done", "nothing lost"
    assert not (worktrees / "shell").exists() and not (worktrees / "shell-3").exists()
    assert "fleet/shell" not in git(fleet.repo, "branch", "--list", "fleet/shell")
    # Never the main checkout, a hand-made worktree, or the submodule and its git folder.
    assert (worktrees / "by-hand").is_dir() and "fleet/by-hand" in git(fleet.repo, "worktree", "list")
    assert (fleet.repo / ".git" / "modules" / "lib" / "HEAD").is_file()
    assert git(fleet.repo / "lib", "status", "--porcelain") == ""
    assert git(fleet.repo, "status", "--porcelain") == ""
    assert {s["name"] for s in fleet.status()} == {"shell-2", "shell-4"}


def test_prune_asks_on_a_terminal_and_yes_removes_the_rest_keeping_unmerged_branches(fleet, tmp_path):
    child = pexpect.spawn(sys.executable, ["-m", "fleet_tui", "prune"], cwd=str(fleet.repo), env=fleet.env,
                          encoding="utf-8", timeout=60)
    child.logfile_read = seen = io.StringIO()
    try:
        child.expect(r"shell-2 \(.*\): uncommitted work in 1 file \(wip.txt\)\. Remove it\? \[y/N\] ")
        child.sendline("n")
        child.expect(r"shell-4 \(.*\): 1 commit not merged into the base branch\. Remove it\? \[y/N\] ")
        child.sendline("y")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    out = seen.getvalue()
    assert child.exitstatus == 1, out
    assert "kept shell-2: you said no" in out
    assert "removed shell-4 (1 commit not merged" in out and "branch fleet/shell-4 kept" in out
    worktrees = tmp_path / "repo.worktrees"
    assert (worktrees / "shell-2" / "wip.txt").exists() and not (worktrees / "shell-4").exists()
    assert git(fleet.repo, "log", "--format=%s", "-1", "fleet/shell-4").strip() == "unmerged", "commits kept"

    result = prune(fleet, "--yes")
    assert result.returncode == 0, result.stderr
    assert "removed shell-2 (uncommitted work in 1 file (wip.txt): removed as you confirmed)" in result.stdout
    assert fleet.status() == []
    assert (worktrees / "by-hand").is_dir()
    assert json.loads(fleet.run("worktrees", "--json").stdout) == []


def test_worktrees_the_fleet_lost_track_of_are_still_found_by_their_marker_and_pruned(fleet, tmp_path):
    fleet.run("down")
    records = list((fleet.repo / ".git" / "fleet" / "sessions").glob("*.json"))
    assert len(records) == 4
    for record in records:  # say, a crash lost them
        record.unlink()
    listing = {wt["session"]: wt for wt in json.loads(fleet.run("worktrees", "--json").stdout)}
    assert set(listing) == {"shell", "shell-2", "shell-3", "shell-4"}
    assert listing["shell-2"]["uncommitted"] == ["wip.txt"]
    result = prune(fleet)
    assert result.returncode == 1 and "removed shell\n" in result.stdout and "kept shell-2" in result.stderr
    result = prune(fleet, "--yes")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "repo.worktrees").iterdir()) == ["by-hand"]
    assert "fleet/shell-4" in git(fleet.repo, "branch", "--list", "fleet/shell-4"), "unmerged: kept"
    assert "fleet/shell-2" not in git(fleet.repo, "branch", "--list", "fleet/shell-2")
