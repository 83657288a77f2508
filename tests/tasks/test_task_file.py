"""The task file across versions: typed checks, verdict, ranking and approvals, a file written by
the previous version (loose dicts) loads, and nothing in it is dropped or overwritten unread."""

import json

from fleet_tui.core.tasks import Approval, CheckOutcome, RankedAttempt, Task, TaskStore, Verdict
from fleet_tui.wire import TasksAnswer, TaskView

# A tasks.json as the version before typed models wrote it (checks, verdict, ranking, approvals as dicts).
OLD_FILE = {"tasks": [{
    "id": "t1", "text": "add a greet function", "role": "developer", "pipeline": "hotfix", "priority": "normal",
    "state": "gate", "stage": 3, "step": "risky", "session": "r1-dev-2", "reviewer": None, "run": "r1",
    "fanout": ["r1-dev", "r1-dev-2"], "fanout_done": ["r1-dev", "r1-dev-2"], "hold": "risk",
    "created": 1700000000.0, "updated": 1700000100.0, "requeues": 0, "check_attempts": 0, "review_rounds": 0,
    "reminded": False,
    "checks": {"tests": {"passed": False, "exit_code": 1, "timed_out": False, "duration": 0.12,
                         "output": "FAILED (failures=1)"}},
    "verdict": {"by": "rev", "approved": False, "first_line": "CHANGES", "notes": "add a docstring",
                "at": 1700000050.0},
    "ranking": [{"session": "r1-dev", "rank": 1, "checks_passed": 0, "checks_total": 1, "added": 2, "removed": 0},
                {"session": "r1-dev-2", "rank": 2, "checks_passed": 0, "checks_total": 1, "added": 2, "removed": 0}],
    "overridden": ["tests"],
    "approvals": [{"by": "bob", "at": 1700000060.0, "stage": 2, "hold": "checks", "pick": "r1-dev-2",
                   "override": True}],
    "risk": ["a person overrode tests"], "reason": "risky", "merged": None}]}


def test_a_task_file_of_the_previous_version_loads_typed_and_is_written_back_the_same(tmp_path):
    (tmp_path / "tasks.json").write_text(json.dumps(OLD_FILE))
    store = TaskStore(tmp_path)
    task = store.get("t1")
    assert task is not None and not store.problems
    assert task.checks["tests"] == CheckOutcome(passed=False, exit_code=1, duration=0.12, output="FAILED (failures=1)")
    assert isinstance(task.verdict, Verdict) and task.verdict.notes == "add a docstring"
    assert [r.session for r in task.ranking] == ["r1-dev", "r1-dev-2"] and isinstance(task.ranking[0], RankedAttempt)
    assert task.approvals == [Approval(by="bob", at=1700000060.0, stage=2, hold="checks", pick="r1-dev-2",
                                       override=True)]
    store.save()
    saved = json.loads((tmp_path / "tasks.json").read_text())["tasks"][0]
    assert {k: saved[k] for k in OLD_FILE["tasks"][0]} == OLD_FILE["tasks"][0], "same keys, same values"
    assert saved["owed"] == {}, "the one new key: the turns it waits for (none known)"


def test_the_wire_json_keeps_the_keys_clients_read():
    task = Task.model_validate(OLD_FILE["tasks"][0])
    view = TaskView.model_validate({**task.model_dump(), "stage_name": "human gate", "stages": [], "agent": None})
    sent = TasksAnswer(tasks=[view]).wire()
    got = TasksAnswer.model_validate(json.loads(json.dumps(sent))).tasks[0].wire()  # what `tasks --json` prints
    assert got["ranking"][1]["session"] == "r1-dev-2" and got["verdict"]["approved"] is False
    assert got["checks"]["tests"]["passed"] is False and got["approvals"][0]["by"] == "bob"
    assert {k: got[k] for k in OLD_FILE["tasks"][0]} == OLD_FILE["tasks"][0]


def test_a_task_this_version_cannot_read_is_kept_and_its_id_never_reused(tmp_path):
    newer = {"id": "t7", "text": "x", "role": "developer", "state": "someday"}  # a state from a newer version
    (tmp_path / "tasks.json").write_text(json.dumps({"tasks": [OLD_FILE["tasks"][0], newer]}))
    store = TaskStore(tmp_path)
    assert list(store.tasks) == ["t1"] and "task t7" in store.problems[0]
    assert store.next_id() == "t8"
    store.add(Task(id=store.next_id(), text="y", role="developer"))
    saved = json.loads((tmp_path / "tasks.json").read_text())["tasks"]
    assert [t["id"] for t in saved] == ["t1", "t8", "t7"] and saved[-1] == newer, "written back untouched"


def test_an_unreadable_task_file_is_moved_aside_not_overwritten(tmp_path):
    (tmp_path / "tasks.json").write_text('{"tasks": [{"id": "t1", "text": "half a wr')
    store = TaskStore(tmp_path)
    assert store.tasks == {} and "could not be read" in store.problems[0]
    aside = list(tmp_path.glob("tasks.json.unreadable-*"))
    assert len(aside) == 1 and "half a wr" in aside[0].read_text()
    store.add(Task(id=store.next_id(), text="new", role="developer"))
    assert "half a wr" in aside[0].read_text()
