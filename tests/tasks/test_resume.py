"""A runner that starts (as after a server restart) while a task's session still runs its turn:
the task stays with that session and waits, and the session's end still hands it back."""

import asyncio

import pytest

from fleet_tui.core.events import EventBus, EventKind
from fleet_tui.core.fleet import Fleet
from fleet_tui.core.pipeline import TaskRunner
from fleet_tui.core.tasks import Task
from tests.fleet.conftest import make_repo
from tests.tasks.test_races import FLEET, until

pytestmark = pytest.mark.real


def test_a_runner_starting_beside_a_running_turn_waits_for_it_instead_of_starting_over(tmp_path):
    repo = make_repo(tmp_path / "repo", FLEET)

    async def main() -> None:
        bus = EventBus(None)
        fleet = Fleet.open(repo, bus)
        runner = TaskRunner(fleet, bus)
        try:
            [session] = await fleet.start_agent("dev")
            task = runner.store.add(Task(id="t1", text="x", role="developer", state="running", step="working",
                                         session=session.name, owed={session.name: "advance"}))
            runner.start()
            assert task.session == session.name and task.state == "running" and task.requeues == 0
            assert session.name in runner.turns, "its turn is awaited"
            assert any(e.kind == EventKind.TASK and "still waiting for" in e.message for e in bus.recent)
            await until(lambda: all(job.done() for job in runner._jobs), "the routing pass after the start")
            assert list(fleet.sessions) == [session.name], "no second session took the task"
            await fleet.kill(session.name)
            await until(lambda: task.requeues == 1, "the task handed back when its session was killed")
            assert task.session != session.name
            await until(lambda: task.state == "running" and task.owed, "the task routed to a new session")
            await until(lambda: all(job.done() for job in runner._jobs), "the runner's jobs ended")
        finally:
            runner.stop()
            await fleet.shutdown()

    asyncio.run(main())
