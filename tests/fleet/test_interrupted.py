"""Issue 12, defect 3: a server stopped (down) or killed (kill -9) during a merge or a compare.

A real git hook (reference-transaction, which git runs just before it moves a
branch) holds the merge at its most delicate point, so the interruption lands
exactly there every time instead of by luck.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.fleet.conftest import FleetCli, make_repo
from tests.fleet.test_races import RACE_FLEET, branches, fan_out, git, merges_on_main

pytestmark = pytest.mark.real


def hold_main_updates(repo: Path, seconds: float) -> Path:
    """Make git pause `seconds` before it moves main; returns the file that says it is pausing."""
    mark = repo.parent / "main-is-moving"
    hook = repo / ".git" / "hooks" / "reference-transaction"
    hook.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        [ "$1" = prepared ] || exit 0
        if grep -q ' refs/heads/main$'; then
            touch '{mark}'
            sleep {seconds}
        fi
        """))
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    return mark


def wait_for(predicate, timeout: float = 30, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.05)


def start_client(cli: FleetCli, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fleet_tui", *args], cwd=cli.repo, env=cli.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def merge_held_before_main_moves(cli: FleetCli, seconds: float) -> tuple[str, str, subprocess.Popen]:
    """Fan out two attempts, start merging the first, return once git pauses before moving main."""
    winner, loser = fan_out(cli)
    mark = hold_main_updates(cli.repo, seconds)
    merging = start_client(cli, "merge", winner, "--yes")
    wait_for(mark.exists, what="the merge reaching git")
    return winner, loser, merging


def events(cli: FleetCli) -> list[dict]:
    """The audit trail as written (no server needed to read it)."""
    trail = cli.repo / ".git" / "fleet" / "audit.jsonl"
    return [json.loads(line) for line in trail.read_text().splitlines()]


@pytest.fixture
def racing(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", RACE_FLEET), runtime_dir)
    yield cli
    cli.shut_down()


def test_down_during_a_merge_lets_it_finish_and_says_so(racing):
    cli = racing
    winner, loser, merging = merge_held_before_main_moves(cli, 2)
    server = cli.server_pid()
    down = cli.run("down", check=False)
    out, err = merging.communicate(timeout=60)
    assert down.returncode == 0, down.stderr
    assert merging.returncode == 0, f"the merge's client heard: {err}"
    assert f"merged {winner} into main" in out and f"discarded {loser}" in out
    wait_for(lambda: pid_gone(server), timeout=10, what="the server exiting")
    assert merges_on_main(cli.repo) == 1 and branches(cli.repo) == {f"fleet/{winner}"}
    kinds = [(e["kind"], e["session"]) for e in events(cli)]
    assert ("merged", winner) in kinds and ("discarded", loser) in kinds
    assert cli.run("audit", "verify").returncode == 0


def test_kill_9_mid_merge_the_next_server_finishes_it(racing):
    cli = racing
    winner, loser, merging = merge_held_before_main_moves(cli, 2)
    os.kill(cli.server_pid(), signal.SIGKILL)  # git itself is left running, as after an OOM kill
    merging.communicate(timeout=30)
    assert merging.returncode != 0, "its client lost the server"
    journal = cli.repo / ".git" / "fleet" / "merge-journal.json"
    assert json.loads(journal.read_text())["session"] == winner
    # The next server (started by any command) waits for that git, sees main has the merge,
    # and finishes the rest: the event, the loser's worktree, the winner's worktree.
    assert cli.status() == []
    assert not journal.exists()
    assert merges_on_main(cli.repo) == 1 and branches(cli.repo) == {f"fleet/{winner}"}
    assert git(cli.repo, "status", "--porcelain", "--untracked-files=no") == ""
    merged = [e for e in events(cli) if e["kind"] == "merged"]
    assert len(merged) == 1 and merged[0]["session"] == winner and merged[0]["data"]["recovered"]
    assert "finished after a restart" in merged[0]["message"]
    assert any(e["kind"] == "discarded" and e["session"] == loser for e in events(cli))
    assert cli.run("audit", "verify").returncode == 0


def test_power_cut_mid_merge_is_rolled_back_and_the_trail_says_so(racing):
    cli = racing
    before = git(cli.repo, "rev-parse", "main").strip()
    winner, loser, merging = merge_held_before_main_moves(cli, 30)
    # Everything dies at once, git included, as in a power cut: git leaves its lock behind.
    server = psutil.Process(cli.server_pid())
    doomed = [server, *server.children(recursive=True)]
    for proc in doomed:
        try:
            proc.kill()
        except psutil.NoSuchProcess:  # a git command that ended between the listing and the kill
            pass
    psutil.wait_procs(doomed, timeout=10)
    merging.communicate(timeout=30)
    (cli.repo / ".git" / "hooks" / "reference-transaction").unlink()
    stale = list((cli.repo / ".git").glob("refs/heads/*.lock")) + list((cli.repo / ".git").glob("*.lock"))
    assert stale, "git was killed holding its lock"
    # The next server will not guess: it says which lock is in the way and keeps the journal.
    cli.status()
    error = [e for e in events(cli) if e["kind"] == "error"][-1]
    assert "was interrupted and git still holds" in error["message"] and str(stale[0]) in error["message"]
    assert (cli.repo / ".git" / "fleet" / "merge-journal.json").exists()
    cli.run("down")
    for lock in stale:  # what the message tells the user to do, once no git runs
        lock.unlink()
    statuses = {s["name"] for s in cli.status()}
    assert statuses == {winner, loser}, "the attempts are kept: nothing was merged"
    assert git(cli.repo, "rev-parse", "main").strip() == before
    assert git(cli.repo, "status", "--porcelain", "--untracked-files=no") == "", "no half merge is left"
    assert not (cli.repo / f"{winner}.txt").exists()
    rolled = [e for e in events(cli) if e["kind"] == "rolled_back"]
    assert len(rolled) == 1 and "rolled back" in rolled[0]["message"] and before[:10] in rolled[0]["message"]
    assert not any(e["kind"] == "merged" for e in events(cli))
    # And the attempt merges cleanly now.
    assert f"merged {winner} into main" in cli.run("merge", winner, "--yes").stdout


SLOW_CHECK_FLEET = RACE_FLEET + textwrap.dedent(
    """\
    checks:
      slow: "{python} -c 'import time; time.sleep(40)'"
    """
)


def alive(proc: psutil.Process) -> bool:
    """Running, not a zombie (an orphan's zombie waits for an init that may never reap it)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pid_gone(pid: int) -> bool:
    try:
        return not alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


def slow_checks(server: psutil.Process) -> list[psutil.Process]:
    found = []
    for proc in server.children(recursive=True):
        try:
            if "time.sleep(40)" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.Error:  # a process that just ended (a git of the compare, say)
            pass
    return found


def test_down_during_a_long_check_kills_it_and_stops_cleanly(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", SLOW_CHECK_FLEET), runtime_dir)
    try:
        fan_out(cli)
        server = psutil.Process(cli.server_pid())
        comparing = start_client(cli, "compare")

        wait_for(lambda: len(slow_checks(server)) == 2, what="both checks starting")
        running = slow_checks(server)
        started = time.monotonic()
        down = cli.run("down", check=False)
        assert down.returncode == 0, down.stderr
        assert time.monotonic() - started < 10
        assert not alive(server)
        assert not any(alive(p) for p in running), "the checks were killed, not left running"
        out, err = comparing.communicate(timeout=30)
        assert comparing.returncode == 1
        assert "the fleet server is stopping" in err, err
    finally:
        cli.run("down", check=False)


def test_kill_9_mid_compare_the_next_server_ends_its_checks_and_keeps_the_attempts(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", SLOW_CHECK_FLEET), runtime_dir)
    try:
        first, second = fan_out(cli)
        server = psutil.Process(cli.server_pid())
        comparing = start_client(cli, "compare")
        wait_for(lambda: len(slow_checks(server)) == 2, what="both checks starting")
        running = slow_checks(server)
        server.kill()
        comparing.communicate(timeout=30)
        assert comparing.returncode == 1
        assert all(p.is_running() for p in running), "checks run in sessions of their own: they outlive it"
        # The next server ends them, keeps both attempts, and git is whole in each worktree.
        assert {s["name"] for s in cli.status()} == {first, second}
        wait_for(lambda: not any(alive(p) for p in running), timeout=10, what="the checks ending")
        for name in (first, second):
            worktree = Path(cli.session(name)["worktree"])
            assert git(worktree, "status", "--porcelain") == "", "the work was captured as a commit"
            assert f"fleet: work of {name}" in git(worktree, "log", "-1", "--format=%s")
        ended = [e for e in events(cli) if e["kind"] == "killed" and "check processes" in e["message"]]
        assert len(ended) == 1 and sorted(ended[0]["data"]["pids"]) == sorted(p.pid for p in running)
        assert cli.run("audit", "verify").returncode == 0
    finally:
        cli.run("down", check=False)


MERGE_FETCHED = """\
import asyncio, sys
from pathlib import Path
from fleet_tui.client import FleetClient

async def main():
    client = await FleetClient.connect(Path(sys.argv[1]))
    print(await client.call("merge_branch", branch=sys.argv[2], label=sys.argv[3]))

asyncio.run(main())
"""


def test_kill_9_mid_merge_of_an_attempt_fetched_from_another_machine_is_finished(racing):
    """A remote attempt lands through the same journal: the next server finishes it, and says so."""
    cli = racing
    fetched = "machines/far/alpha"  # what remote_merge fetches a remote attempt into
    git(cli.repo, "checkout", "-q", "-b", fetched)
    (cli.repo / "far.txt").write_text("made on another machine\n")
    git(cli.repo, "add", "far.txt")
    git(cli.repo, "commit", "-q", "-m", "far work")
    git(cli.repo, "checkout", "-q", "main")
    assert cli.status() == []  # a server is up
    mark = hold_main_updates(cli.repo, 2)
    merging = subprocess.Popen([sys.executable, "-c", MERGE_FETCHED, str(cli.repo), fetched, "far:alpha"],
                               cwd=cli.repo, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(mark.exists, what="the merge reaching git")
    journal = cli.repo / ".git" / "fleet" / "merge-journal.json"
    assert json.loads(journal.read_text())["session"] == "far:alpha"
    os.kill(cli.server_pid(), signal.SIGKILL)
    merging.communicate(timeout=30)
    assert merging.returncode != 0, "its client lost the server"

    assert cli.status() == []  # the next server finishes the merge before it answers
    assert not journal.exists()
    assert merges_on_main(cli.repo) == 1 and (cli.repo / "far.txt").exists()
    assert git(cli.repo, "status", "--porcelain", "--untracked-files=no") == ""
    merged = [e for e in events(cli) if e["kind"] == "merged"]
    assert len(merged) == 1 and merged[0]["session"] == "far:alpha" and merged[0]["data"]["recovered"]
    assert cli.run("audit", "verify").returncode == 0
