"""The TUI's side of tasks: the tasks panel beside the feed (gates first), the working pane's
title naming its task, and a gate approved from one screen showing diff, checks and verdict."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from textual.widgets import Button, Checkbox, Select, Static

from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.screens.gate import GateScreen
from fleet_tui.ui.widgets.tasks_panel import TasksPanel

from .conftest import RecordedFleet, until_ready

pytestmark = pytest.mark.timeout(30)
SIZE = (160, 50)
DIFF = "diff --git a/greet.py b/greet.py\n--- a/greet.py\n+++ b/greet.py\n@@ -1 +1,2 @@\n+def greet(name):\n"


def a_task(task_id: str, state: str, session: str | None, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "text": f"the work of {task_id} [not markup]", "role": "developer", "state": state,
            "session": session,
            "stage_name": {"gate": "human gate", "running": "check tests", "blocked": "check tests"}.get(state, state),
            "agent": session, "created": time.time() - 120, "priority": "normal", "hold": extra.pop("hold", ""),
            "stages": ["do developer", "check tests", "review by reviewer", "human gate", "merge (squash)"],
            "checks": {}, "verdict": None, "risk": [], "ranking": [], "reason": "", "step": state, **extra}


class TaskFleet(RecordedFleet):
    """The recorded fleet plus a task runner's answers."""

    def __init__(self) -> None:
        super().__init__(pipelines=["feature"])
        self.task_list = [
            a_task("t2", "gate", "codex-1", hold="gate", reason="waiting for a person",
                   checks={"tests": {"passed": True, "duration": 0.4, "output": ""},
                           "lint": {"passed": False, "duration": 0.2, "output": "E501 line too long\n"}},
                   verdict={"by": "rev", "approved": True, "first_line": "APPROVE", "notes": "Looks good."},
                   risk=["touches migrations/0002.py"]),
            a_task("t1", "running", "claude-1"),
        ]
        for task in self.task_list:
            self.sessions[task["session"]]["task"] = task["id"]

    async def attach(self, *, focus: str | None = None) -> None:
        await super().attach(focus=focus)
        self.push({"t": "tasks", "tasks": copy.deepcopy(self.task_list)})

    def cmd_diff(self, session: str, path: str | None = None) -> dict[str, Any]:
        return {"diff": DIFF}

    def cmd_task(self, text: str, **args: Any) -> dict[str, Any]:
        queued = a_task(f"t{len(self.task_list) + 1}", "queued", None, step="waiting for a session")
        queued["text"] = text
        self.task_list.append(queued)
        self.push({"t": "tasks", "tasks": copy.deepcopy(self.task_list)})
        return queued

    def cmd_approve(self, task: str, **args: Any) -> dict[str, Any]:
        found = next(t for t in self.task_list if t["id"] == task)
        found.update(state="running", stage_name="merge (squash)", hold="")
        self.push({"t": "tasks", "tasks": copy.deepcopy(self.task_list)})
        return found


async def test_no_tasks_no_panel(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        assert not app.query_one(TasksPanel).display, "a fleet without tasks looks as it always did"


async def test_tasks_panel_pane_titles_and_the_gate_screen():
    fleet = TaskFleet()
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.pause()
        panel = app.query_one(TasksPanel)
        assert panel.display and panel.has_class("-waiting")
        assert panel.border_title == "tasks · 1 waiting for you (a)"
        lines = str(panel.render()).splitlines()
        assert lines[0].startswith("t2 ⏸ human gate · codex-1") and lines[2].startswith("t1 ▶ check tests")
        title = app.pane("claude-1").border_title
        assert "▸ t1" in title and "the work of t1 \\[not markup]" in title

        await pilot.press("a")
        await pilot.pause()
        gate = app.screen
        assert isinstance(gate, GateScreen) and gate.task_info.id == "t2"
        for _ in range(50):
            if gate.diff is not None:
                break
            await pilot.pause(0.02)
        await pilot.pause()
        summary = str(gate.query_one("#gate-summary", Static).render())
        assert "✔ tests" in summary and "✘ lint" in summary and "E501 line too long" in summary
        assert "rev: APPROVED" in summary and "Looks good." in summary and "touches migrations" in summary
        shown = app.export_screenshot()
        assert gate.diff == DIFF and "greet(name)" in shown, "the diff is on the same screen"
        assert "E501" in shown and "Looks" in shown
        assert not gate.query_one("#gate-override", Checkbox).display, "nothing to override at a plain gate"
        gate.query_one("#gate-approve", Button).press()
        await pilot.pause()
        for _ in range(50):
            if not isinstance(app.screen, GateScreen):
                break
            await pilot.pause(0.02)
        assert not isinstance(app.screen, GateScreen)
        # No override (a default, so not sent); the approvals it saw, so a gate passed meanwhile is not approved.
        assert fleet.calls_of("approve") == [{"task": "t2", "seen": 0}]
        await pilot.pause(0.3)
        assert not panel.has_class("-waiting") and panel.border_title == "tasks"


async def test_the_prompt_bar_queues_a_task_for_a_role_or_through_a_pipeline():
    fleet = TaskFleet()
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("slash")
        target = app.query_one("#target", Select)
        values = [value for _, value in target._options]
        assert "task:coder" in values and "task:reviewer" in values and "pipeline:feature" in values
        target.value = "pipeline:feature"
        for char in "add greet":
            await pilot.press("space" if char == " " else char)
        await pilot.press("ctrl+s")
        for _ in range(50):
            if fleet.calls_of("task"):
                break
            await pilot.pause(0.02)
        assert fleet.calls_of("task") == [{"text": "add greet", "pipeline": "feature"}]
        assert fleet.calls_of("fanout") == [], "a task is queued, not sent to anyone"
        await pilot.pause(0.2)
        assert "t3" in str(app.query_one(TasksPanel).render())
