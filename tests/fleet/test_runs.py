"""Issue 4 through the real CLI and server: fan out one prompt to demo agents in fresh
worktrees, run the same checks on every attempt, rank them, merge the winner, clean up
the rest; and the ways a merge is refused without losing anything."""

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fleet_tui.demo.repo import create_demo_repo
from tests.fleet.conftest import UNATTENDED_DEMO_FLEET, FleetCli, make_repo

pytestmark = pytest.mark.real

FLEET = UNATTENDED_DEMO_FLEET + "  shell: {command: [bash, --norc, --noprofile], role: helper}\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def demo(tmp_path, runtime_dir):
    repo = create_demo_repo(tmp_path / "calc")
    (repo / "fleet.yaml").write_text(FLEET)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "test fleet")
    cli = FleetCli(repo, runtime_dir)
    cli.env["FLEET_DEMO_SPEED"] = "40"
    yield cli
    cli.run("down", check=False)


def fan_out_and_finish(cli: FleetCli, agents: str = "careful,thorough,hasty") -> dict:
    run = json.loads(cli.run("fanout", "fix the median bug", "--agents", agents, "--json").stdout)
    for name in run["sessions"]:
        cli.wait_screen(name, "Cost: $", timeout=30)
        cli.wait_status(name, "done", timeout=15)  # finished its turn, nobody looked yet
    return run


def test_fanout_compare_merge_cleans_up(demo):
    run = fan_out_and_finish(demo)
    assert run["run"] == "r1"
    assert run["sessions"] == ["r1-careful", "r1-thorough", "r1-hasty"]
    infos = {s["name"]: s for s in demo.status()}
    assert {infos[n]["base_commit"] for n in run["sessions"]} == {run["base_commit"]}, "one base for all"

    # Who got which prompt when is on the record.
    events = [json.loads(line) for line in demo.run("log", "--json", "-n", "0").stdout.splitlines()]
    prompted = {e["session"] for e in events if e["kind"] == "prompt"}
    assert prompted == set(run["sessions"])

    result = json.loads(demo.run("compare", "--json").stdout)
    order = [a["session"] for a in result["attempts"]]
    assert order == ["r1-careful", "r1-thorough", "r1-hasty"], result["ranking_rule"]
    best, bigger, broken = result["attempts"]
    assert best["checks"]["tests"]["passed"] and bigger["checks"]["tests"]["passed"]
    assert not broken["checks"]["tests"]["passed"] and "FAILED" in broken["checks"]["tests"]["output"]
    assert best["added"] + best["removed"] < bigger["added"] + bigger["removed"]
    assert best["cost"] and best["cost"] > 0, "spend comes from the agent's usage log"
    assert not result["base_moved"]
    text = demo.run("compare").stdout
    assert "r1-careful" in text and "ranking:" in text

    assert best["wall"] and best["wall"] >= (best["active"] or 0), "wall and active time told apart"
    out = demo.run("merge", "r1-careful", "--strategy", "squash", "--yes").stdout
    assert "merged r1-careful into main" in out
    assert "1 commit, 1 file," in out, "singular when there is one"
    events = [json.loads(line) for line in demo.run("log", "--json", "-n", "0").stdout.splitlines()]
    assert {e["session"] for e in events if e["kind"] == "discarded"} == set(run["sessions"])
    assert not [e for e in events if e["kind"] == "exited"], "sessions the fleet stopped itself did not fail"
    tests = subprocess.run([sys.executable, "-m", "unittest", "-q"], cwd=demo.repo, capture_output=True)
    assert tests.returncode == 0, "the winner's fix is on the base branch"
    branches = git(demo.repo, "branch", "--list", "fleet/*").split()
    assert "fleet/r1-thorough" not in branches and "fleet/r1-hasty" not in branches
    assert "fleet/r1-careful" in branches, "the winner's branch is kept as a record"
    for name in run["sessions"]:
        assert not Path(next(iter([]), "") or (demo.repo.parent / "calc.worktrees" / name)).exists()
    assert demo.status() == []


def test_compare_wait_waits_for_every_attempt_and_done_turns_idle_when_seen(demo):
    run = json.loads(demo.run("fanout", "fix the median bug", "--agents", "careful,hasty", "--json").stdout)
    started = time.monotonic()
    result = json.loads(demo.run("compare", "--wait", "--json", timeout=120).stdout)
    assert time.monotonic() - started > 1.0, "the demo agents take a while: compare must have waited"
    infos = {s["name"]: s for s in demo.status()}
    assert all(infos[n]["status"] == "done" and infos[n]["turns"] == 1 for n in run["sessions"]), infos
    assert all(a["added"] > 0 for a in result["attempts"]), "compared after the work was done"
    events = [json.loads(line) for line in demo.run("log", "--json", "-n", "0").stdout.splitlines()]
    assert any("run r1: all 2 attempts are done" in e["message"] for e in events)
    # Looked at: focusing the pane (the TUI) or `fleet-tui ack` turns done into idle.
    from tests.agents.conftest import Peek

    careful, hasty = run["sessions"]
    Peek(demo).call("focus", session=careful)
    assert demo.session(careful)["status"] == "idle"
    assert demo.run("ack", hasty).stdout.strip() == f"{hasty}: seen"
    assert demo.session(hasty)["status"] == "idle"
    assert "no unseen finished turn" in demo.run("ack", hasty).stdout


def test_dirty_base_and_conflicts_are_refused_and_nothing_is_lost(demo):
    run = fan_out_and_finish(demo, "careful,hasty")
    # A dirty base checkout is never overwritten.
    calc = demo.repo / "calc.py"
    calc.write_text(calc.read_text() + "\n# my local edit\n")
    before = calc.read_text()
    result = demo.run("merge", "r1-careful", "--yes", check=False)
    assert result.returncode != 0 and "calc.py" in result.stderr and "Traceback" not in result.stderr
    assert calc.read_text() == before
    git(demo.repo, "checkout", "calc.py")

    # Merge one attempt, keep the other; the second then conflicts on calc.py.
    demo.run("merge", "r1-careful", "--yes", "--keep")
    head = git(demo.repo, "rev-parse", "HEAD")
    status = git(demo.repo, "status", "--porcelain")
    result = demo.run("merge", "r1-hasty", "--yes", check=False)
    assert result.returncode != 0 and "calc.py" in result.stderr
    assert git(demo.repo, "rev-parse", "HEAD") == head
    assert git(demo.repo, "status", "--porcelain") == status
    assert "r1-hasty" in {s["name"] for s in demo.status()}, "the conflicting attempt is still there"


def test_fanout_to_running_sessions_and_discard(demo):
    demo.run("start", "shell")
    demo.run("start", "shell")
    run = json.loads(demo.run("fanout", "echo hello-from-fanout", "--role", "helper", "--json").stdout)
    assert sorted(run["sessions"]) == ["shell", "shell-2"]
    for name in run["sessions"]:
        demo.wait_screen(name, "hello-from-fanout\n")
    worktree = Path(demo.session("shell-2")["worktree"])
    demo.run("discard", "shell-2", "--keep-branch")
    assert not worktree.exists()
    assert "fleet/shell-2" in git(demo.repo, "branch", "--list", "fleet/*")
    assert [s["name"] for s in demo.status()] == ["shell"]
    result = demo.run("fanout", "x", "--agents", "nobody", check=False)
    assert result.returncode == 2 and "unknown agent" in result.stderr



# Takes its prompt, then spends once told to (a file `go`) without a word on its screen: a quiet fleet,
# which the tick measures only every few seconds.
SPENDER_FLEET = textwrap.dedent(
    """\
    agents:
      spender:
        preset: demo
        command: [sh, -c, 'echo "ctrl+d to quit"; read prompt; while [ ! -e go ]; do sleep 0.05; done; echo "{\\"output_tokens\\": 7, \\"cost\\": 0.25}" >> "$FLEET_USAGE_LOG"; touch spent; exec sleep 600']
    """
)


def test_compare_reads_the_spend_logged_just_before_it(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", SPENDER_FLEET), runtime_dir)
    try:
        run = json.loads(cli.run("fanout", "spend a quarter", "--agents", "spender", "--json").stdout)
        (name,) = run["sessions"]
        cli.wait_status(name, "done", timeout=30)
        worktree = Path(cli.session(name)["worktree"])
        (worktree / "go").touch()
        deadline = time.monotonic() + 30
        while not (worktree / "spent").exists():
            assert time.monotonic() < deadline, f"{name} never spent:\n{cli.screen(name)}"
            time.sleep(0.02)
        (attempt,) = json.loads(cli.run("compare", "--json").stdout)["attempts"]
        assert attempt["cost"] == 0.25, "compare shows the spend up to now, not as of the last quiet tick"
        assert attempt["tokens"] == 7
    finally:
        cli.run("down", check=False)
