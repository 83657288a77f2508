"""Issue 12, defect 1: requests that change a run's git state, racing from real CLI clients.

Every trial fans out two attempts that each wrote a file, then starts two real
`fleet-tui` processes at the same moment against the same server. Whatever the
interleaving, git must end up as if the requests had come one after the other:
main gets at most one merge per run, the loser is refused and says what the
winner did, the winner's branch is kept, nothing is left half removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.agents.conftest import Peek
from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

# Each attempt writes a file named after its session, then idles: non-conflicting work.
RACE_FLEET = textwrap.dedent(
    """\
    agents:
      s:
        command: [sh, -c, 'echo "$FLEET_SESSION_NAME" > "$FLEET_SESSION_NAME.txt"; exec sleep 600']
    """
)
# Without the one-at-a-time guard every one of these tests fails in its first or second trial; a few
# more trials cover the interleavings, and each costs ~7 s on a busy machine (FLEET_RACE_TRIALS for more).
TRIALS = int(os.environ.get("FLEET_RACE_TRIALS", "6"))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def merges_on_main(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "--merges", "main").strip())


@pytest.fixture
def racing(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", RACE_FLEET), runtime_dir)
    yield cli
    cli.run("down", check=False)


def fan_out(cli: FleetCli) -> tuple[str, str]:
    run = json.loads(cli.run("fanout", "race", "--agents", "s", "-n", "2", "--json").stdout)
    first, second = run["sessions"]
    peek = Peek(cli)
    worktrees = {s["name"]: Path(s["worktree"]) for s in peek.call("status")["sessions"]}
    deadline = time.monotonic() + 20
    while not all((worktrees[n] / f"{n}.txt").exists() for n in (first, second)):
        assert time.monotonic() < deadline, "the attempts never wrote their files"
        time.sleep(0.05)
    # The prompt goes to each (quiet) attempt once it reads idle; merge refuses one still working.
    # Polled over the socket: a `fleet-tui status` process per look costs half a second on a busy
    # machine, which over every trial made these tests outlast their timeout.
    statuses: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while any(statuses.get(n) != "done" for n in (first, second)):
        assert time.monotonic() < deadline, f"the attempts never finished their turn: {statuses}"
        time.sleep(0.05)
        statuses = {s["name"]: s["status"] for s in peek.call("status")["sessions"]}
    return first, second


def race(cli: FleetCli, *commands: list[str]) -> list[subprocess.CompletedProcess]:
    """Start every command at once (as separate client processes) and collect them all."""
    procs = [subprocess.Popen([sys.executable, "-m", "fleet_tui", *command], cwd=cli.repo, env=cli.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for command in commands]
    results = []
    for command, proc in zip(commands, procs):
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return results


def branches(repo: Path) -> set[str]:
    return set(git(repo, "branch", "--list", "--format=%(refname:short)", "fleet/*").split())


def assert_clean(cli: FleetCli) -> None:
    assert git(cli.repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert not (cli.repo / ".git" / "MERGE_HEAD").exists()
    # Over the socket, like the polling above: two CLI processes a trial fewer on a busy machine.
    assert Peek(cli).call("status")["sessions"] == [], "every session of the run was merged or discarded"
    listed = git(cli.repo, "worktree", "list", "--porcelain").count("worktree ")
    assert listed == 1, "only the main checkout is left"


def test_two_merges_at_once_land_exactly_one(racing):
    cli = racing
    outcomes = {"refused while under way": 0, "told it was gone": 0}
    for trial in range(TRIALS):
        before = merges_on_main(cli.repo)
        first, second = fan_out(cli)
        results = race(cli, ["merge", first, "--yes"], ["merge", second, "--yes"])
        won = [r for r in results if r.returncode == 0]
        lost = [r for r in results if r.returncode != 0]
        assert len(won) == 1 and len(lost) == 1, f"trial {trial}: {[(r.returncode, r.stderr) for r in results]}"
        assert merges_on_main(cli.repo) == before + 1, f"trial {trial}: main got another number of merges"
        winner = won[0].args[1]
        loser = second if winner == first else first
        # The loser is told what happened instead: the winner's merge.
        error = lost[0].stderr
        assert f"{winner} was merged into main" in error, error
        assert "Traceback" not in error and "internal error" not in error
        outcomes["refused while under way" if "refused" in error else "told it was gone"] += 1
        assert f"fleet/{winner}" in branches(cli.repo), "the winner's branch is kept"
        assert f"fleet/{loser}" not in branches(cli.repo)
        assert (cli.repo / f"{winner}.txt").exists() and not (cli.repo / f"{loser}.txt").exists()
        assert_clean(cli)
    print(f"{TRIALS} trials of two merges at once: {outcomes}")
    assert sum(outcomes.values()) == TRIALS


def test_merge_and_discard_of_one_attempt_at_once(racing):
    cli = racing
    for trial in range(TRIALS):
        before = merges_on_main(cli.repo)
        first, second = fan_out(cli)
        merged, discarded = race(cli, ["merge", first, "--yes"], ["discard", first])
        assert [merged.returncode, discarded.returncode].count(0) == 1, f"trial {trial}: {merged} {discarded}"
        if merged.returncode == 0:
            assert merges_on_main(cli.repo) == before + 1
            assert f"{first} was merged into main" in discarded.stderr, discarded.stderr
            assert f"fleet/{first}" in branches(cli.repo)
        else:
            assert merges_on_main(cli.repo) == before, "a discarded attempt never lands"
            assert f"{first} was discarded" in merged.stderr, merged.stderr
            assert f"fleet/{first}" not in branches(cli.repo)
            cli.run("discard", second)
        assert_clean(cli)


def test_two_discards_of_one_attempt_at_once(racing):
    cli = racing
    for trial in range(TRIALS):
        first, second = fan_out(cli)
        results = race(cli, ["discard", first], ["discard", first], ["discard", second])
        assert results[2].returncode == 0, "a discard of another attempt is not held up for good"
        a, b = results[:2]
        assert [a.returncode, b.returncode].count(0) == 1, f"trial {trial}: {a} {b}"
        refused = a if a.returncode else b
        assert f"{first} was discarded" in refused.stderr, refused.stderr
        assert merges_on_main(cli.repo) == 0
        assert branches(cli.repo) == set()
        assert_clean(cli)


CHECKED_FLEET = RACE_FLEET + textwrap.dedent(
    """\
    checks:
      slowish: "{python} -c 'import time; time.sleep(1)'"
    """
)


def test_two_compares_at_once_share_one_run_of_the_checks(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", CHECKED_FLEET), runtime_dir)
    try:
        fan_out(cli)
        results = race(cli, ["compare", "--json"], ["compare", "--json"])
        assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
        first, second = (json.loads(r.stdout) for r in results)
        assert first["attempts"] == second["attempts"], "both clients got the one answer"
        trail = cli.repo / ".git" / "fleet" / "audit.jsonl"
        checks = [line for line in trail.read_text().splitlines() if '"kind":"check"' in line.replace(" ", "")]
        assert len(checks) == 2, "the check ran once per attempt, not once per client"
    finally:
        cli.run("down", check=False)
