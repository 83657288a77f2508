"""Racing requests on one task, against a real fleet in a real repository (in-process, so the
interleaving is exact): of two approvals one wins, a merge under way cannot be rejected, an
approval about a gate someone else passed is refused, and a task rejected mid-stage stays rejected."""

import asyncio
import textwrap
import time

import pytest

from fleet_tui.core.events import EventBus, EventKind
from fleet_tui.core.fleet import Fleet
from fleet_tui.core.pipeline import TaskRunner
from fleet_tui.core.tasks import CheckOutcome, RankedAttempt, Task
from fleet_tui.errors import UsageError
from tests.fleet.conftest import make_repo

pytestmark = pytest.mark.real

FLEET = textwrap.dedent(
    """\
    checks:
      tests: "true"
    agents:
      dev: {command: [bash, --norc, --noprofile], role: developer, count: 0}
    pipelines:
      gated:
        - do: developer
        - gate: human
        - merge: squash
      checked:
        - do: developer
        - check: [tests]
        - gate: human
        - merge: squash
    """
)


async def until(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


def run_with_runner(tmp_path, scenario) -> None:
    repo = make_repo(tmp_path / "repo", FLEET)

    async def main() -> None:
        bus = EventBus(None)
        fleet = Fleet.open(repo, bus)
        runner = TaskRunner(fleet, bus)
        runner.start()
        try:
            await scenario(runner)
            await until(lambda: all(job.done() for job in runner._jobs), "the runner's jobs ended")
        finally:
            runner.stop()
            await fleet.shutdown()

    asyncio.run(main())


def test_of_two_approvals_at_once_one_wins_and_a_merge_under_way_is_not_rejected(tmp_path):
    async def scenario(runner: TaskRunner) -> None:
        task = runner.store.add(Task(id="t1", text="x", role="developer", pipeline="gated", stage=1, state="gate",
                                     hold="gate"))
        runner.approve("t1", by="alice")
        with pytest.raises(UsageError) as second:
            runner.approve("t1", by="bob")
        assert str(second.value) == "task t1 is not waiting for approval (it is running: merging (squash))"
        with pytest.raises(UsageError, match="^task t1 is being merged right now: too late to reject it$"):
            runner.reject("t1", by="carol")
        await until(lambda: task.state != "running", "the merge stage ended")
        assert task.state == "blocked" and task.hold == "error", "nothing to merge: no worktree"
        assert [a.by for a in task.approvals] == ["alice"]
        runner.reject("t1", by="carol")  # no merge under way any more
        assert task.state == "rejected"

    run_with_runner(tmp_path, scenario)


def test_an_approval_of_a_gate_someone_else_passed_is_refused(tmp_path):
    async def scenario(runner: TaskRunner) -> None:
        task = runner.store.add(Task(id="t1", text="x", role="developer", pipeline="checked", stage=1,
                                     state="blocked", hold="checks", checks={"tests": CheckOutcome(passed=False)}))
        task.ranking, task.session = [RankedAttempt(session="a"), RankedAttempt(session="b")], "a"
        with pytest.raises(UsageError, match="--override"):
            runner.approve("t1", by="bob", pick="b")
        assert task.session == "a" and task.approvals == [], "a refused approval changes nothing"
        seen = len(task.approvals)
        runner.approve("t1", by="alice", override=True, seen=seen)
        assert task.state == "gate" and task.hold == "gate", "past the checks, at the human gate"
        for act in (lambda: runner.approve("t1", by="bob", seen=seen), lambda: runner.reject("t1", by="bob", seen=seen)):
            with pytest.raises(UsageError, match="^task t1 was approved by alice since you looked"):
                act()
        assert task.state == "gate" and [a.by for a in task.approvals] == ["alice"]
        runner.reject("t1", by="bob", seen=len(task.approvals))
        assert task.state == "rejected"

    run_with_runner(tmp_path, scenario)


def test_a_task_rejected_while_its_session_starts_stays_rejected(tmp_path):
    async def scenario(runner: TaskRunner) -> None:
        task = runner.submit("x", role="developer")
        await until(lambda: task.step.startswith("starting a session"), "routed to a new session")
        runner.reject(task.id, by="alice")
        # The session started for it is of no use: it goes, rather than work on a rejected task unbound.
        await until(lambda: any(e.kind == EventKind.DISCARDED for e in runner.bus.recent),
                    "the session started for it was discarded")
        assert [e.session for e in runner.bus.recent if e.kind in (EventKind.SPAWNED, EventKind.DISCARDED)] == ["dev", "dev"]
        assert not runner.fleet.records
        assert task.state == "rejected" and task.owed == {} and task.session is None

    run_with_runner(tmp_path, scenario)
