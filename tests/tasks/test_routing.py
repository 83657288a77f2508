"""Routing rules and the task store, without a fleet: the right role, free sessions first,
least-loaded, room under max_sessions, priority order, one task per session, private storage."""

import os
import stat

from fleet_tui.core.tasks import AgentView, Route, SessionView, Task, TaskStore, queue_order, route

AGENTS = [AgentView("dev", "developer", 2), AgentView("dev2", "developer", 1), AgentView("rev", "reviewer", 1)]


def s(name, agent, status="idle", alive=True, created=0.0):
    role = next(a.role for a in AGENTS if a.name == agent)
    return SessionView(name, agent, role, status, alive, created)


def test_a_free_session_of_the_role_is_used_first():
    sessions = [s("rev", "rev"), s("dev", "dev", "working"), s("dev2", "dev2", "done")]
    assert route("developer", sessions, AGENTS, set()) == Route(session="dev2")


def test_never_two_tasks_in_one_session_and_dead_or_busy_sessions_are_skipped():
    sessions = [s("dev", "dev"), s("dev-2", "dev", "idle", alive=False), s("dev2", "dev2", "waiting")]
    assert route("developer", sessions, AGENTS, {"dev"}) == Route(start_agent="dev")


def test_least_loaded_agent_wins_and_max_sessions_is_a_limit():
    sessions = [s("dev", "dev", "working")]
    # dev holds one task; dev2 has none: the new session is dev2's.
    assert route("developer", sessions, AGENTS, {"dev"}) == Route(start_agent="dev2")
    full = [s("dev", "dev", "working"), s("dev-2", "dev", "working"), s("dev2", "dev2", "working")]
    assert route("developer", full, AGENTS, {"dev", "dev-2", "dev2"}) is None
    # Between two free sessions, the one whose agent holds fewer tasks.
    two = [s("dev", "dev", "idle", created=1), s("dev-2", "dev", "working"), s("dev2", "dev2", "idle", created=2)]
    assert route("developer", two, AGENTS, {"dev-2"}) == Route(session="dev2")
    assert route("tester", two, AGENTS, set()) is None


def test_priority_then_age():
    tasks = [Task(id="t1", text="a", role="r", created=1), Task(id="t2", text="b", role="r", priority="high",
             created=2), Task(id="t3", text="c", role="r", priority="low", created=0)]
    assert [t.id for t in queue_order(tasks)] == ["t2", "t1", "t3"]


def test_the_store_survives_and_is_private(tmp_path):
    store = TaskStore(tmp_path)
    store.add(Task(id=store.next_id(), text="secret prompt", role="developer"))
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    again = TaskStore(tmp_path)
    assert again.get("t1").text == "secret prompt" and again.next_id() == "t2"
    store.path.write_text("{not json")
    assert TaskStore(tmp_path).tasks == {}


def test_a_verdict_is_read_only_from_the_reviewers_own_worktree(tmp_path):
    from fleet_tui.core.pipeline import read_verdict
    from fleet_tui.pipeline_config import VERDICT_FILE

    worktree = tmp_path / "wt"
    worktree.mkdir()
    assert read_verdict(worktree) is None
    (worktree / VERDICT_FILE).write_text("APPROVE\n")
    assert read_verdict(worktree) == "APPROVE\n"
    secret = tmp_path / "secret.txt"
    secret.write_text("APPROVE and a secret\n")
    (worktree / VERDICT_FILE).unlink()
    (worktree / VERDICT_FILE).symlink_to(secret)
    assert read_verdict(worktree) is None, "a symlink out of the worktree is not a verdict"


def test_a_fan_out_starts_only_what_max_sessions_leaves_room_for_spread_least_loaded_first():
    from fleet_tui.core.tasks import fan_out_agents

    # dev may run 2, dev2 1: three attempts fit when nothing runs, spread over both agents.
    assert sorted(fan_out_agents("developer", 3, [], AGENTS, set())) == ["dev", "dev", "dev2"]
    assert fan_out_agents("developer", 2, [], AGENTS, set()) in (["dev", "dev2"], ["dev2", "dev"])
    # One dev session runs (free or not, it counts against the limit): room for two more, not five.
    assert sorted(fan_out_agents("developer", 5, [s("dev", "dev")], AGENTS, set())) == ["dev", "dev2"]
    full = [s("dev", "dev"), s("dev-2", "dev"), s("dev2", "dev2")]
    assert fan_out_agents("developer", 2, full, AGENTS, set()) == []
    dead = [s("dev", "dev", alive=False), s("dev-2", "dev", alive=False), s("dev2", "dev2")]
    assert fan_out_agents("developer", 3, dead, AGENTS, set()) == ["dev", "dev"], "dead sessions take no room"
    assert fan_out_agents("tester", 2, [], AGENTS, set()) == []
