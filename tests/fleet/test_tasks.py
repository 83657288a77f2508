"""Issue 15 through the real CLI and server, with scripted demo agents as developer and reviewer:
a task through every stage of a pipeline (a check failure fed back, a reviewer asking for changes,
a human approval, a merge), a session killed mid-task whose task is re-routed, and the audit story."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

BAD = 'def greet(name):\n    return "Hi " + name\n'
GOOD = 'def greet(name):\n    return f"Hello, {name}!"\n'
DOCUMENTED = 'def greet(name):\n    """Say hello to name."""\n    return f"Hello, {name}!"\n'
TEST = textwrap.dedent(
    """\
    import unittest

    from greet import greet


    class GreetTest(unittest.TestCase):
        def test_greet(self):
            self.assertEqual(greet("Ann"), "Hello, Ann!")
    """
)

DEVELOPER = [
    {"match": "reviewer asks for changes", "write": {"greet.py": DOCUMENTED}, "say": "Added the docstring.",
     "seconds": 1},
    {"match": "checks failed", "write": {"greet.py": GOOD}, "say": "Fixed the greeting.", "seconds": 1},
    {"match": "sleepy", "say": "Thinking for a long time.", "seconds": 30},
    {"match": "dozing", "say": "Dozing off for a good while.", "seconds": 2400},
    {"write": {"greet.py": BAD}, "say": "Wrote greet().", "seconds": 1},
]
REVIEWER = [
    {"match": "Say hello", "write": {"fleet-verdict.txt": "APPROVE\nLooks good.\n"}, "seconds": 1},
    {"write": {"fleet-verdict.txt": "CHANGES\nadd a docstring to greet()\n"}, "seconds": 1},
]


def fleet_yaml(scripts: Path, extra: str = "") -> str:
    return extra + textwrap.dedent(
        f"""\
        checks:
          tests: "{{python}} -m unittest -q"
        agents:
          dev:
            preset: demo
            args: [--script, "{scripts / 'dev.json'}"]
            auto_approve: true
            role: developer
            count: 0
            max_sessions: 2
          rev:
            preset: demo
            args: [--script, "{scripts / 'rev.json'}"]
            auto_approve: true
            role: reviewer
            count: 0
        pipelines:
          feature:
            - do: developer
            - check: [tests]
              retry: 2
            - review: reviewer
              approve_when: APPROVE
            - gate: human
            - merge: squash
          hotfix:
            - do: developer
              count: 2
            - check: [tests]
            - merge: merge
        risk:
          paths: ["secrets/**"]
        """
    )


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def tasks_fleet(tmp_path, runtime_dir):
    yield from make_tasks_fleet(tmp_path, runtime_dir)


def make_tasks_fleet(tmp_path: Path, runtime_dir: Path, extra: str = ""):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "dev.json").write_text(json.dumps(DEVELOPER))
    (scripts / "rev.json").write_text(json.dumps(REVIEWER))
    repo = make_repo(tmp_path / "repo", fleet_yaml(scripts, extra))
    (repo / "test_greet.py").write_text(TEST)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a test for greet")
    cli = FleetCli(repo, runtime_dir)
    cli.env["FLEET_DEMO_SPEED"] = "40"
    yield cli
    cli.shut_down()


def task(cli: FleetCli, task_id: str) -> dict:
    return next(t for t in json.loads(cli.run("tasks", "--json").stdout) if t["id"] == task_id)


def wait_task(cli: FleetCli, task_id: str, state: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    info = {}
    while time.monotonic() < deadline:
        info = task(cli, task_id)
        if info["state"] == state:
            return info
        if info["state"] in ("failed", "rejected") and state not in ("failed", "rejected"):
            break
        time.sleep(0.3)
    story = cli.run("log", "--task", task_id, check=False).stdout
    raise AssertionError(f"task {task_id} never became {state}: {info}\n{story}")


def story(cli: FleetCli, task_id: str) -> list[dict]:
    return [json.loads(line) for line in cli.run("log", "--task", task_id, "--json").stdout.splitlines()]


def test_a_task_goes_through_every_stage_from_the_cli(tasks_fleet):
    cli = tasks_fleet
    out = cli.run("task", "add a greet function", "--pipeline", "feature")
    assert out.stdout.strip() == "t1"
    gate = wait_task(cli, "t1", "gate")
    assert gate["stage_name"] == "human gate" and gate["verdict"]["approved"]
    assert gate["checks"]["tests"]["passed"] and gate["review_rounds"] == 1 and gate["check_attempts"] == 0
    listing = cli.run("tasks").stdout
    assert "t1" in listing and "human gate" in listing

    events = story(cli, "t1")
    messages = [e["message"] for e in events]
    text = "\n".join(messages)
    # The first attempt failed its check; the output went back to the same developer session.
    failed = [e for e in events if e["kind"] == "check" and not e["data"]["passed"]]
    assert failed and failed[0]["session"] == gate["session"]
    assert "output sent back to " + gate["session"] in text
    # The reviewer asked for changes once, in its own fresh worktree, then approved.
    verdicts = [e for e in events if e["kind"] == "verdict"]
    assert [v["data"]["approved"] for v in verdicts] == [False, True]
    assert "add a docstring" in verdicts[0]["data"]["notes"]
    assert all(v["session"].startswith("rev") for v in verdicts)
    reviewed = [e["data"]["commit"] for e in events if e["data"].get("phase") == "review"]
    assert len(reviewed) == 2 and reviewed[0] != reviewed[1], "each review is of the developer's latest commit"
    # Reviewers are gone again; the developer's session is the only one left.
    assert [s["name"] for s in cli.status()] == [gate["session"]]
    assert cli.session(gate["session"])["task"] == "t1"

    cli.run("approve", "t1", "--by", "alice")
    done = wait_task(cli, "t1", "done", timeout=30)
    assert done["merged"]
    assert (cli.repo / "greet.py").read_text() == DOCUMENTED, "the reviewed work landed on main"
    tests = subprocess.run([sys.executable, "-m", "unittest", "-q"], cwd=cli.repo, capture_output=True)
    assert tests.returncode == 0
    events = story(cli, "t1")
    approval = next(e for e in events if e["kind"] == "approval")
    assert approval["data"]["by"] == "alice" and approval["data"]["approved"] and approval["ts"]
    starts = [e["data"]["stage_kind"] for e in events if e["kind"] == "stage" and e["data"].get("phase") == "start"]
    assert starts[:2] == ["do", "check"] and starts[-2:] == ["gate", "merge"]
    assert starts.count("review") == 2 and starts.count("check") == 3
    assert events[-1]["kind"] == "task" and "done" in events[-1]["message"]
    assert cli.run("audit", "verify").returncode == 0


def test_a_session_killed_mid_task_hands_it_back_and_it_is_rerouted(tasks_fleet):
    cli = tasks_fleet
    cli.run("task", "be sleepy about it", "--role", "developer")
    first = wait_task(cli, "t1", "running")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (first.get("session") and
                                                cli.session(first["session"])["status"] == "working"):
        time.sleep(0.2)
        first = task(cli, "t1")
    victim = first["session"]
    cli.run("kill", victim)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = task(cli, "t1")
        if now["session"] not in (None, victim) and now["requeues"] == 1:
            break
        time.sleep(0.2)
    assert now["session"] not in (None, victim) and now["requeues"] == 1, now
    text = cli.run("log", "--task", "t1").stdout
    assert f"handed back to the queue: {victim} was killed mid-task (retry 1 of 2)" in text
    feed = cli.run("log", "-n", "30").stdout
    assert "handed back to the queue" in feed, "the feed says so too"
    cli.run("reject", "t1", "--reason", "enough")
    assert task(cli, "t1")["state"] == "rejected"


def test_bad_task_requests_are_one_line_errors(tasks_fleet):
    cli = tasks_fleet
    bad = cli.run("task", "x", "--pipeline", "nope", check=False)
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "fleet-tui: no pipeline named 'nope' (pipelines: feature, hotfix)")
    bad = cli.run("task", "x", "--role", "tester", check=False)
    assert bad.returncode == 2 and "no agent has the role 'tester'" in bad.stderr
    assert cli.run("approve", "t9", check=False).returncode == 2


def test_fan_out_override_and_a_risk_gate_survive_a_server_restart(tasks_fleet):
    cli = tasks_fleet
    cli.run("task", "add a greet function", "--pipeline", "hotfix")
    blocked = wait_task(cli, "t1", "blocked")
    assert blocked["hold"] == "checks" and len(blocked["ranking"]) == 2 and len(blocked["fanout"]) == 2
    best, other = [row["session"] for row in blocked["ranking"]]
    assert blocked["session"] == best, "the compare's best attempt goes on by default"
    refused = cli.run("approve", "t1", check=False)
    assert refused.returncode == 2 and "--override" in refused.stderr
    cli.run("approve", "t1", "--override", "--pick", other, "--by", "bob")
    # A person overrode a failing check: the risk rules force a human gate before the merge.
    gate = wait_task(cli, "t1", "gate")
    assert gate["hold"] == "risk" and "bob overrode" not in gate["reason"] and "overrode tests" in gate["reason"]
    assert gate["session"] == other

    cli.run("down")
    again = task(cli, "t1")  # a new server, the same task, still waiting for a person
    assert again["state"] == "gate" and again["hold"] == "risk"
    cli.run("approve", "t1", "--by", "carol")
    done = wait_task(cli, "t1", "done", timeout=30)
    assert (cli.repo / "greet.py").read_text() == BAD, "the picked attempt landed, failing check and all"
    assert f"fleet/{best}" not in git(cli.repo, "branch", "--list", "fleet/*").split(), "the other attempt is gone"
    events = story(cli, "t1")
    override = next(e for e in events if e["kind"] == "override")
    assert override["data"]["by"] == "bob" and override["data"]["checks"] == ["tests"]
    assert [e["data"]["by"] for e in events if e["kind"] == "approval"] == ["bob", "carol"]
    assert done["risk"] and done["merged"]


SLOW_FLEET = textwrap.dedent(
    """\
    task_retries: 1
    """
)


@pytest.fixture
def slow_fleet(tmp_path, runtime_dir):
    yield from make_tasks_fleet(tmp_path, runtime_dir, SLOW_FLEET)


def test_over_budget_mid_task_hands_it_back_until_the_retry_limit(slow_fleet):
    cli = slow_fleet
    # A sleeper whose whole budget is four seconds of wall time: every attempt dies mid-task.
    text = (cli.repo / "fleet.yaml").read_text().replace(
        "agents:\n", "agents:\n  sleeper:\n    preset: demo\n    args: [--script, \"%s\"]\n"
        "    role: sleeper\n    count: 0\n    budget: {time: 4s, on_exceed: kill}\n"
        % (cli.repo.parent / "scripts" / "dev.json"), 1)
    (cli.repo / "fleet.yaml").write_text(text)
    cli.run("task", "be sleepy", "--role", "sleeper")
    failed = wait_task(cli, "t1", "failed", timeout=60)
    assert failed["requeues"] == 2 and "already handed back 1 times" in failed["reason"]
    text = cli.run("log", "--task", "t1").stdout
    assert "went over its time budget mid-task (retry 1 of 1)" in text


def test_agent_gate_refuses_and_the_queue_keeps_priority_order(tasks_fleet):
    cli = tasks_fleet
    text = (cli.repo / "fleet.yaml").read_text().replace("pipelines:\n", "pipelines:\n  quick:\n"
                                                         "    - do: developer\n    - gate: agent\n"
                                                         "    - merge: squash\n", 1)
    (cli.repo / "fleet.yaml").write_text(text.replace("max_sessions: 2", "max_sessions: 1"))
    cli.run("task", "add a greet function", "--pipeline", "quick")
    cli.run("task", "later", "--priority", "low")
    cli.run("task", "sooner", "--priority", "high")
    # t1 may already be past its developer turn and queued for a reviewer: it keeps its session.
    deadline = time.monotonic() + 30
    while "waiting for a free developer session" not in task(cli, "t3")["step"]:
        assert time.monotonic() < deadline, task(cli, "t3")
        time.sleep(0.2)
    listed = json.loads(cli.run("tasks", "--json").stdout)
    queued = [t["id"] for t in listed if t["state"] == "queued" and t["id"] != "t1"]
    assert queued == ["t3", "t2"], "high priority first; the only developer session is taken"
    assert "developer" not in next(t for t in listed if t["id"] == "t1")["step"]
    # The gate agent (a reviewer) finds no docstring and refuses: the task waits for a person.
    blocked = wait_task(cli, "t1", "blocked")
    assert blocked["hold"] == "review" and "refused" in blocked["reason"]
    assert blocked["verdict"]["approved"] is False
    cli.run("reject", "t1", "--reason", "no docstring")
    events = story(cli, "t1")
    assert [e["data"]["approved"] for e in events if e["kind"] == "verdict"] == [False]
    assert events[-1]["message"] == "t1: rejected: rejected by " + events[-2]["data"]["by"] + ": no docstring"


def test_a_fan_out_starts_no_more_sessions_than_max_sessions_allows(tasks_fleet):
    cli = tasks_fleet
    text = (cli.repo / "fleet.yaml").read_text()
    (cli.repo / "fleet.yaml").write_text(text.replace("max_sessions: 2", "max_sessions: 1"))
    cli.run("start", "dev", "-n", "1")  # a session of the user's: it takes the agent's only place
    held = cli.status()[0]["name"]
    cli.run("task", "add a greet function", "--pipeline", "hotfix")
    deadline = time.monotonic() + 30
    while "waiting for room to start developer sessions" not in task(cli, "t1")["step"]:
        assert time.monotonic() < deadline, task(cli, "t1")
        time.sleep(0.2)
    waiting = task(cli, "t1")
    assert waiting["state"] == "queued" and "dev 1/1" in waiting["step"] and not waiting["fanout"]
    assert [s["name"] for s in cli.status()] == [held], "no session started beyond the limit"
    cli.run("kill", held)
    blocked = wait_task(cli, "t1", "blocked")
    assert len(blocked["fanout"]) == 1 and len(blocked["ranking"]) == 1
    assert blocked["session"] == blocked["fanout"][0]
    text = cli.run("log", "--task", "t1").stdout
    assert "of 2: max_sessions leaves room for 1" in text
    alive = [s["name"] for s in cli.status() if s["agent"] == "dev" and s["status"] not in ("killed", "stopped", "exited")]
    assert alive == blocked["fanout"]


def wait_working(cli: FleetCli, task_id: str) -> dict:
    """The task, once its session is working on it."""
    deadline = time.monotonic() + 30
    info = task(cli, task_id)
    while not (info.get("session") and cli.session(info["session"])["status"] == "working"):
        assert time.monotonic() < deadline, info
        time.sleep(0.2)
        info = task(cli, task_id)
    return info


def wait_handed_back(cli: FleetCli, task_id: str, victim: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        now = task(cli, task_id)
        if now["session"] not in (None, victim) and now["requeues"] == 1:
            return now
        assert time.monotonic() < deadline, now
        time.sleep(0.2)


def test_a_task_mid_turn_is_handed_back_once_when_its_session_stopped_with_the_server(tasks_fleet):
    cli = tasks_fleet
    cli.run("task", "keep dozing", "--role", "developer")
    victim = wait_working(cli, "t1")["session"]
    assert task(cli, "t1")["owed"] == {victim: "advance"}, "the turn it waits for is in the task file"
    cli.run("down")  # the session stops with the server, mid-turn
    now = wait_handed_back(cli, "t1", victim)  # any command starts a new server
    story_text = cli.run("log", "--task", "t1").stdout
    assert (f"handed back to the queue: {victim} stopped with the last fleet server mid-task (retry 1 of 2)"
            in story_text)
    assert "handed back to the queue" in cli.run("log", "-n", "40").stdout, "the feed says so"
    sessions = {s["name"]: s for s in cli.status()}
    assert sessions[victim]["status"] == "stopped", "the old session was not started again and re-prompted"
    assert [n for n, s in sessions.items() if s["task"] == "t1"] == [now["session"]], "one session holds the task"
    assert now["owed"] == {now["session"]: "advance"}
    cli.run("reject", "t1")


HARDY = textwrap.dedent(
    """\
    import os, signal, time
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        try:
            os.write(1, b"\\rworking %.1f " % time.time())
        except OSError:  # no terminal any more: it works on regardless
            pass
        time.sleep(0.2)
    """
)


def test_a_task_stays_with_a_session_that_runs_on_after_a_server_crash(tasks_fleet):
    cli = tasks_fleet
    # An agent that ignores the hangup its terminal's end sends (it outlives a crashed server) and
    # keeps printing (its turn never looks over).
    hardy = cli.repo.parent / "hardy.py"
    hardy.write_text(HARDY)
    text = (cli.repo / "fleet.yaml").read_text().replace(
        "agents:\n", f"agents:\n  hardy:\n    command: [python3, -u, \"{hardy}\"]\n    role: hardy\n    count: 0\n", 1)
    (cli.repo / "fleet.yaml").write_text(text)
    cli.run("task", "hold on", "--role", "hardy")
    info = wait_working(cli, "t1")
    assert info["owed"] == {info["session"]: "advance"}
    victim = info["session"]
    pid = cli.session(victim)["pid"]
    try:
        server = cli.server_pid()
        assert server is not None
        os.kill(server, signal.SIGKILL)
        try:
            psutil.Process(server).wait(10)
        except psutil.NoSuchProcess:
            pass
        again = task(cli, "t1")  # a new server: the agent runs on, out of its reach
        assert again["session"] == victim and again["requeues"] == 0 and again["state"] == "running", again
        assert "runs on from the last fleet server" in again["step"]
        assert psutil.Process(pid).is_running()
        assert [s["name"] for s in cli.status()] == [victim], "no second session took the task beside it"
        psutil.Process(pid).kill()  # it ends by itself, as far as the server can tell
        now = wait_handed_back(cli, "t1", victim)
        assert (f"handed back to the queue: {victim} ended (it ran on from the last fleet server) mid-task "
                "(retry 1 of 2)") in cli.run("log", "--task", "t1").stdout
        assert now["owed"] == {now["session"]: "advance"}
        cli.run("reject", "t1")
    finally:
        if psutil.pid_exists(pid):
            psutil.Process(pid).kill()


def with_gated_pipeline(cli: FleetCli) -> FleetCli:
    """Adds `gated` (work, a human gate, a merge) to fleet.yaml, committed: a merge needs a clean checkout."""
    text = (cli.repo / "fleet.yaml").read_text().replace("pipelines:\n", "pipelines:\n  gated:\n"
                                                         "    - do: developer\n    - gate: human\n"
                                                         "    - merge: squash\n", 1)
    (cli.repo / "fleet.yaml").write_text(text)
    git(cli.repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "a gated pipeline")
    return cli


def test_two_people_approving_one_gate_at_once_one_wins_the_other_is_told(tasks_fleet):
    cli = with_gated_pipeline(tasks_fleet)
    cli.run("task", "add a greet function", "--pipeline", "gated")
    wait_task(cli, "t1", "gate")
    before = git(cli.repo, "rev-list", "--count", "main")
    racers = [subprocess.Popen([sys.executable, "-m", "fleet_tui", "approve", "t1", "--by", who], cwd=cli.repo,
                               env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for who in ("alice", "bob")]
    results = [(p.wait(60), *p.communicate()) for p in racers]
    assert sorted(code for code, _, _ in results) == [0, 2], (results, cli.run("log", "--task", "t1").stdout)
    loser = next(err for code, _, err in results if code == 2)
    assert loser.count("\n") == 1 and loser.startswith("fleet-tui: task t1 "), loser
    assert "Traceback" not in loser
    done = wait_task(cli, "t1", "done", timeout=30)
    assert len(done["approvals"]) == 1 and done["merged"]
    assert int(git(cli.repo, "rev-list", "--count", "main")) == int(before) + 1, "merged once"
    assert [e["data"]["by"] for e in story(cli, "t1") if e["kind"] == "approval"] == [done["approvals"][0]["by"]]


def test_a_task_whose_merge_the_next_server_finished_after_a_crash_is_done(tasks_fleet):
    from tests.fleet.test_interrupted import hold_main_updates, wait_for

    cli = with_gated_pipeline(tasks_fleet)
    cli.run("task", "add a greet function", "--pipeline", "gated")
    work = wait_task(cli, "t1", "gate")["session"]
    mark = hold_main_updates(cli.repo, 2)
    cli.run("approve", "t1")
    wait_for(mark.exists, what="the task's merge reaching git")
    server = cli.server_pid()
    assert server is not None
    os.kill(server, signal.SIGKILL)  # git goes on and lands the merge; the next server finishes the rest
    done = wait_task(cli, "t1", "done", timeout=60)
    assert done["merged"] and git(cli.repo, "rev-parse", "main").strip() == done["merged"]
    assert (cli.repo / "greet.py").read_text() == BAD
    assert f"the merge of {work} the last server started landed" in cli.run("log", "--task", "t1").stdout


def test_a_fan_out_cut_short_in_its_compare_by_a_crash_is_compared_again_not_redone(tasks_fleet):
    cli = tasks_fleet
    text = (cli.repo / "fleet.yaml").read_text().replace(
        "checks:\n", "checks:\n  slow: '{python} -c \"import time; time.sleep(5)\"'\n", 1)
    (cli.repo / "fleet.yaml").write_text(text)
    cli.run("task", "add a greet function", "--pipeline", "hotfix")
    deadline = time.monotonic() + 60
    while "comparing run" not in (info := task(cli, "t1"))["step"]:
        assert time.monotonic() < deadline and info["state"] in ("queued", "running"), info
        time.sleep(0.2)
    attempts = info["fanout"]
    assert len(attempts) == 2 and set(info["fanout_done"]) == set(attempts)
    server = cli.server_pid()
    assert server is not None
    os.kill(server, signal.SIGKILL)  # mid-compare: the slow check is still running
    blocked = wait_task(cli, "t1", "blocked", timeout=90)
    assert blocked["run"] == info["run"] and blocked["fanout"] == attempts, "the same attempts, not a new fan-out"
    assert {row["session"] for row in blocked["ranking"]} == set(attempts)
    assert f"comparing run {info['run']} again" in cli.run("log", "--task", "t1").stdout
    assert sorted(s["name"] for s in cli.status()) == sorted(attempts), "no session started beside them"


def test_a_task_whose_merge_landed_just_before_a_crash_is_done_not_blocked(tasks_fleet):
    # The last server merged the task's work (its `merged` event is in the trail, its worktree is
    # gone) and died before it saved the task as done: on disk, the task is still at its merge.
    cli = with_gated_pipeline(tasks_fleet)
    cli.run("task", "add a greet function", "--pipeline", "gated")
    wait_task(cli, "t1", "gate")
    cli.run("approve", "t1")
    done = wait_task(cli, "t1", "done", timeout=60)
    head = git(cli.repo, "rev-parse", "main").strip()
    server = cli.server_pid()
    assert server is not None
    os.kill(server, signal.SIGKILL)
    tasks_file = cli.repo / ".git" / "fleet" / "tasks.json"
    saved = json.loads(tasks_file.read_text())
    [item] = [t for t in saved["tasks"] if t["id"] == "t1"]
    item.update(state="running", stage=2, step="merging", merged=None)
    tasks_file.write_text(json.dumps(saved))
    after = wait_task(cli, "t1", "done", timeout=60)  # the next server starts with this command
    assert after["merged"] == done["merged"] and git(cli.repo, "rev-parse", "main").strip() == head, "merged once"
    assert "the task was not saved as merged before that server stopped" in cli.run("log", "--task", "t1").stdout
