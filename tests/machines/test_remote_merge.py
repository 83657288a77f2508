"""Attempts made on another machine: fanned out there, compared there, the winner fetched over the
same ssh with git's own transport and merged into the local repository, conflicts changing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import pytest

pytestmark = pytest.mark.real


def git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def wait_finished(cli, targets: list[str], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    pending = list(targets)
    while pending and time.monotonic() < deadline:
        target = pending[0]
        machine, _, name = target.rpartition(":")
        extra = ("--machine", machine) if machine else ()
        sessions = {s["name"]: s for s in json.loads(cli.run("status", "--json", *extra).stdout)}
        if "Cost: $" in cli.run("screen", target).stdout and sessions[name]["status"] in ("idle", "done"):
            pending.pop(0)
        else:
            time.sleep(0.3)
    assert not pending, f"{pending} never finished"


def test_merge_a_remote_winner_into_the_local_repository(two_machines):
    cli, remote_repo, local_repo = two_machines.local, two_machines.remote_repo, two_machines.local.repo
    run = json.loads(cli.run("fanout", "fix the median bug", "--agents", "careful,hasty", "--machine", "build",
                             "--json").stdout)
    assert run["sessions"] == ["r1-careful", "r1-hasty"]
    wait_finished(cli, ["build:r1-careful", "build:r1-hasty"])
    compared = json.loads(cli.run("compare", "--machine", "build", "--json").stdout)
    assert [a["session"] for a in compared["attempts"]] == ["r1-careful", "r1-hasty"]
    assert "fleet-tui merge build:r1-careful" in cli.run("compare", "--machine", "build").stdout

    # Local work on another file: the remote winner merges on top of it.
    (local_repo / "NOTES.md").write_text("local notes\n")
    git(local_repo, "add", "NOTES.md")
    git(local_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "local notes")
    before = git(local_repo, "rev-parse", "HEAD").strip()

    out = cli.run("merge", "build:r1-careful", "--yes").stdout
    assert "merged build:r1-careful into main" in out and "discarded build:r1-hasty" in out, out
    assert git(local_repo, "rev-parse", "HEAD^1").strip() == before, "merged on top of the local base"
    tests = subprocess.run([sys.executable, "-m", "unittest", "-q"], cwd=local_repo, capture_output=True)
    assert tests.returncode == 0, "the remote winner's fix is on the local base branch"
    assert "machines/build/r1-careful" in git(local_repo, "branch", "--list", "machines/*")
    assert git(local_repo, "status", "--porcelain") == ""
    # Over there: the loser is gone, the winner's worktree too, its branch kept as a record.
    assert json.loads(cli.run("status", "--json", "--machine", "build").stdout) == []
    assert git(remote_repo, "branch", "--list", "fleet/*").split() == ["fleet/r1-careful"]
    events = [json.loads(line) for line in cli.run("log", "--json", "-n", "0").stdout.splitlines()]
    assert any(e["kind"] == "merged" and e["session"] == "build:r1-careful" for e in events)


def test_a_conflicting_remote_attempt_leaves_the_local_base_untouched(two_machines):
    cli, local_repo = two_machines.local, two_machines.local.repo
    cli.run("fanout", "fix the median bug", "--agents", "hasty", "--machine", "build")
    wait_finished(cli, ["build:r1-hasty"])
    # The local base rewrites every line of the file the attempt changed.
    calc = local_repo / "calc.py"
    calc.write_text("".join(f"{line.rstrip()}  # reviewed\n" if line.strip() else line
                            for line in calc.read_text().splitlines(keepends=True)))
    git(local_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "local median change")
    head, tree = git(local_repo, "rev-parse", "HEAD"), calc.read_text()

    result = cli.run("merge", "build:r1-hasty", "--yes", check=False)
    assert result.returncode == 1 and "calc.py" in result.stderr and "nothing was changed" in result.stderr, \
        result.stderr
    assert "Traceback" not in result.stderr
    assert git(local_repo, "rev-parse", "HEAD") == head and calc.read_text() == tree
    assert git(local_repo, "status", "--porcelain") == ""
    remote = json.loads(cli.run("status", "--json", "--machine", "build").stdout)
    assert [s["name"] for s in remote] == ["r1-hasty"], "the attempt is still there to fix"


def test_one_fanout_command_across_machines(two_machines):
    cli = two_machines.local
    run = json.loads(cli.run("fanout", "fix the median bug", "--agents", "careful,build:hasty", "--json").stdout)
    assert run["sessions"] == ["r1-careful", "build:r1-hasty"] and run["run"] == "r1 + build:r1"
    local = json.loads(cli.run("status", "--json").stdout)
    remote = json.loads(cli.run("status", "--json", "--machine", "build").stdout)
    assert [s["name"] for s in local] == ["r1-careful"] and [s["name"] for s in remote] == ["r1-hasty"]
    assert local[0]["base_commit"] == remote[0]["base_commit"], "both attempts start from the same commit"
    result = cli.run("fanout", "x", "--agents", "nosuch:careful", check=False)
    assert result.returncode == 2 and "no machine named 'nosuch'" in result.stderr
