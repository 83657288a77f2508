"""Tasks that move between agents by themselves: routing, pipeline stages, gates, merge.

The TaskRunner listens to the fleet's events. A task's stage starts when the event that
ends the previous one arrives: an agent's turn ended (status `done`, or idle after working,
after the prompt went in), checks finished, a verdict file was read, a person approved. A
session that dies, is killed or goes over budget while it owes a task a turn hands the task
back to the queue. Every start and end of a stage, verdict, approval and override is an
event (so it is in the audit trail) carrying `task`, which is how `fleet-tui log --task`
tells one task's story.
"""

from __future__ import annotations

import asyncio
import fnmatch
import getpass
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fleet_tui.core import compare, gitrepo
from fleet_tui.core.checks import CHECK_MARKER, run_checks_in
from fleet_tui.core.events import Event, EventBus, EventKind
from fleet_tui.core.status import Status
from fleet_tui.core.tasks import (FREE_STATUSES, AgentView, Approval, CheckOutcome, Priority, RankedAttempt,
                                  SessionView, Task, TaskStore, Verdict, agent_with_room, fan_out_agents, queue_order,
                                  route)
from fleet_tui.errors import FleetError, UsageError
from fleet_tui.wire import TaskView
from fleet_tui.pipeline_config import VERDICT_FILE, Stage

OUTPUT_TAIL = 4000  # characters of a failing check's output an agent is shown
DIFF_LIMIT = 60_000  # characters of diff a reviewer is shown
QUIET_TURN_END = 2.0  # seconds of quiet that end a turn too short for the status tick to see working
READY_TIMEOUT = 90.0
VERDICT_LIMIT = 16_000  # bytes of a verdict file read


@dataclass
class Turn:
    """A session owes a task a turn; `then` says what its end means."""

    task: str
    then: str  # advance, recheck, rework, verdict, fanout
    prompted_at: float | None = None  # monotonic time the prompt went in
    seen_working: bool = False


class TaskRunner:
    def __init__(self, fleet: Any, bus: EventBus):
        self.fleet = fleet
        self.bus = bus
        self.store = TaskStore(fleet.state_dir)
        self.turns: dict[str, Turn] = {}  # session name -> the turn it owes
        self._prompted: dict[str, float] = {}  # session name -> when its last prompt went in
        self._releasing: set[str] = set()  # sessions we stop ourselves: their end is no loss
        self._merging: set[str] = set()  # tasks whose merge stage is under way: too late to reject
        self._dispatching = asyncio.Lock()
        self._again = False
        self._jobs: set[asyncio.Task] = set()
        self._watchdog: asyncio.Task | None = None
        self.on_change: Callable[[], None] = lambda: None

    # -- life ---------------------------------------------------------------------------
    def start(self) -> None:
        self.bus.listeners.append(self._on_event)
        for problem in self.store.problems:
            self.bus.emit(EventKind.ERROR, problem)
        for task in self.store.active():
            self._resume(task)
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_quiet_turns())
        self._kick()

    def stop(self) -> None:
        """Stop listening first: the sessions the server kills on its way out lose no task."""
        if self._on_event in self.bus.listeners:
            self.bus.listeners.remove(self._on_event)
        if self._watchdog:
            self._watchdog.cancel()
        for job in list(self._jobs):
            job.cancel()

    def _spawn(self, coro) -> None:
        job = asyncio.get_running_loop().create_task(self._guarded(coro))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _guarded(self, coro) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as error:  # one task's trouble must not stop the others
            self.bus.emit(EventKind.ERROR, f"internal error moving a task: {error!r}")

    # -- requests -----------------------------------------------------------------------
    def submit(self, text: str, role: str | None = None, pipeline: str | None = None,
               priority: str = "normal") -> Task:
        config = self.fleet.config
        if not text.strip():
            raise UsageError("the task is empty: say what to do, e.g. fleet-tui task \"fix the date test\"")
        if priority not in ("high", "normal", "low"):
            raise UsageError(f"priority {priority!r} is not one of high, normal, low")
        if pipeline is not None and pipeline not in config.pipelines:
            known = ", ".join(config.pipelines) or "none: add a pipelines: section to fleet.yaml"
            raise UsageError(f"no pipeline named {pipeline!r} (pipelines: {known})")
        roles = sorted({a.role for a in config.agents.values() if a.role})
        role = role or (config.pipelines[pipeline][0].do if pipeline else None) or "developer"
        if role not in roles:
            raise UsageError(f"no agent has the role {role!r} (roles: {', '.join(roles) or 'none'}): "
                             "give one a role: in fleet.yaml, or pass --role")
        task = self.store.add(Task(id=self.store.next_id(), text=text.strip(), role=role, pipeline=pipeline,
                                   priority=cast(Priority, priority)))  # checked above
        self._emit(EventKind.TASK, task, f"queued ({priority} priority, role {role}"
                   + (f", pipeline {pipeline}" if pipeline else "") + f"): {_preview(task.text)}",
                   text=task.text, role=role, pipeline=pipeline, priority=priority)
        self._enter_stage(task)
        return task

    def get(self, task_id: str) -> Task:
        task = self.store.get(task_id)
        if task is None:
            raise UsageError(f"no task {task_id!r} (tasks: {', '.join(self.store.tasks) or 'none yet'})")
        return task

    def views(self) -> list[TaskView]:
        """Every task, those waiting for a person first, then the active ones in queue order, then the rest."""
        tasks = list(self.store.tasks.values())
        waiting = [t for t in tasks if t.state in ("gate", "blocked")]
        active = [t for t in queue_order([t for t in tasks if t.state in ("queued", "running")])]
        finished = sorted([t for t in tasks if not t.active], key=lambda t: -t.updated)
        return [self.view(t) for t in waiting + active + finished]

    def view(self, task: Task) -> TaskView:
        stages = self.stages(task)
        stage = stages[task.stage].describe() if task.stage < len(stages) else "finished"
        return TaskView.model_validate({**task.model_dump(), "stage_name": stage, "stages": [s.describe() for s in stages],
                                        "agent": task.reviewer or task.session or (", ".join(task.fanout) or None)})

    def approve(self, task_id: str, by: str | None = None, override: bool = False, pick: str | None = None,
                seen: int | None = None) -> Task:
        """Let a task waiting at a gate or blocked go on. `seen`: the approvals the approver saw on it;
        when someone approved it since, this approval is refused (it was about a gate already passed)."""
        task = self.get(task_id)
        by = by or _user()
        if task.state not in ("gate", "blocked"):
            raise UsageError(f"task {task.id} is not waiting for approval (it is {task.state}: {task.step})")
        self._unchanged_since(task, seen)
        if pick is not None:
            names = [row.session for row in task.ranking] or task.fanout
            if pick not in names:
                raise UsageError(f"{pick!r} is not one of task {task.id}'s attempts ({', '.join(names) or 'none'})")
        if task.hold == "checks" and not override:
            raise UsageError(f"task {task.id}'s checks fail ({task.reason}); pass --override to go on anyway")
        if pick is not None:
            task.session = pick
        task.approvals.append(Approval(by=by, at=time.time(), stage=task.stage, hold=task.hold, pick=pick,
                                       override=task.hold in ("checks", "review")))
        if task.hold in ("checks", "review"):
            failing = [n for n, c in task.checks.items() if not c.passed] if task.hold == "checks" else []
            task.overridden += failing or [f"review {task.stage}"]
            what = f"failing checks ({', '.join(failing)})" if failing else f"the reviewer ({task.reason})"
            self._emit(EventKind.OVERRIDE, task, f"{by} overrode {what}", by=by, what=task.hold, checks=failing)
        self._emit(EventKind.APPROVAL, task, f"approved by {by}" + (f", picking {pick}" if pick else ""),
                   by=by, approved=True, hold=task.hold, pick=pick)
        hold, task.hold, task.reason = task.hold, "", ""
        if hold in ("merge", "error", "risk"):
            self._enter_stage(task)  # the same stage again: the merge retried, or past the risk gate
        else:
            self._stage_ended(task, "approved")
        return task

    def reject(self, task_id: str, by: str | None = None, reason: str = "", seen: int | None = None) -> Task:
        task = self.get(task_id)
        by = by or _user()
        if not task.active:
            raise UsageError(f"task {task.id} is already {task.state}")
        if task.id in self._merging:
            raise UsageError(f"task {task.id} is being merged right now: too late to reject it")
        self._unchanged_since(task, seen)
        self._emit(EventKind.APPROVAL, task, f"rejected by {by}" + (f": {reason}" if reason else ""),
                   by=by, approved=False, hold=task.hold, reason=reason)
        self._finish(task, "rejected", f"rejected by {by}" + (f": {reason}" if reason else ""))
        return task

    @staticmethod
    def _unchanged_since(task: Task, seen: int | None) -> None:
        if seen is None or seen == len(task.approvals):
            return
        who = f" by {task.approvals[-1].by}" if len(task.approvals) > seen else ""
        raise UsageError(f"task {task.id} was approved{who} since you looked (it is now {task.state}: "
                         f"{task.step}); look again with `fleet-tui tasks`")

    # -- stages ---------------------------------------------------------------------------
    def stages(self, task: Task) -> list[Stage]:
        if task.pipeline and task.pipeline in self.fleet.config.pipelines:
            return list(self.fleet.config.pipelines[task.pipeline])
        return [Stage(do=task.role)]

    def _role_of(self, task: Task, stage: Stage) -> str:
        first_do = next(i for i, s in enumerate(self.stages(task)) if s.do is not None)
        return task.role if task.stage == first_do or stage.do is None else stage.do

    def _enter_stage(self, task: Task) -> None:
        if not task.active:
            return  # rejected (or failed) while a stage was under way
        stages = self.stages(task)
        if task.stage >= len(stages):
            self._finish(task, "done", "every stage passed")
            return
        stage = stages[task.stage]
        self._emit(EventKind.STAGE, task, f"stage {task.stage + 1}/{len(stages)} started: {stage.describe()}",
                   stage_kind=stage.kind, phase="start")
        kind = stage.kind
        if kind == "do":
            session = self.fleet.sessions.get(task.session) if task.session else None
            if session is not None and session.alive and (stage.count or 1) == 1:
                self._set(task, "running", "working")
                self._spawn(self._prompt(task, session.name, self.fleet.config.prompts.fill("task", task=task.text),
                                         "advance"))
            else:
                self._set(task, "queued", "waiting for a session")
                self._kick()
        elif kind == "check":
            self._set(task, "running", f"running checks: {', '.join(stage.check or [])}")
            self._spawn(self._run_checks(task, stage))
        elif kind == "review" or (kind == "gate" and stage.gate == "agent"):
            self._set(task, "queued", "waiting for a reviewer")
            self._kick()
        elif kind == "gate":
            self._hold(task, "gate", "gate", "waiting for a person: `fleet-tui approve "
                       f"{task.id}` or `fleet-tui reject {task.id}`")
        else:
            self._merging.add(task.id)  # from now until the merge is done or refused, a reject is refused
            self._set(task, "running", f"merging ({stage.merge})")
            self._spawn(self._merge(task, stage))

    def _stage_ended(self, task: Task, outcome: str, next_stage: int | None = None) -> None:
        if not task.active:
            return
        stage = self.stages(task)[task.stage]
        self._emit(EventKind.STAGE, task, f"stage {task.stage + 1} ended ({stage.describe()}): {outcome}",
                   stage_kind=stage.kind, phase="end", outcome=outcome)
        task.stage = task.stage + 1 if next_stage is None else next_stage
        self._enter_stage(task)

    def _set(self, task: Task, state: str, step: str) -> None:
        if not task.active or (task.state, task.step) == (state, step):
            return  # a queued task routed again and still waiting: nothing to save or tell
        task.state, task.step = state, step  # type: ignore[assignment]
        task.touch()
        self.store.save()
        self.on_change()

    def _hold(self, task: Task, state: str, hold: str, reason: str) -> None:
        if not task.active:
            return
        task.hold, task.reason = hold, reason
        self._set(task, state, reason)
        self._emit(EventKind.STAGE, task, f"{'waiting at a gate' if state == 'gate' else 'blocked'}: {reason}",
                   phase="hold", hold=hold)

    def _finish(self, task: Task, state: str, why: str) -> None:
        if not task.active:
            return
        for name in (task.session, task.reviewer, *task.fanout, *task.owed):
            if name:
                self._settle(name)
                self._tag(name, None)
        if task.reviewer and state != "done":
            self._spawn(self._discard(task.reviewer))
        task.reviewer = None
        task.reason = why if state != "done" else ""
        self._set(task, state, why)
        self._emit(EventKind.TASK, task, f"{state}: {why}", state=state)
        self._kick()

    # -- routing --------------------------------------------------------------------------
    def _kick(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._spawn(self._dispatch())

    async def _dispatch(self) -> None:
        """Give queued tasks, highest priority first, to free sessions or new ones; never two to one."""
        if self._dispatching.locked():
            self._again = True
            return
        async with self._dispatching:
            self._again = True
            while self._again:
                self._again = False
                for task in queue_order([t for t in self.store.active() if t.state == "queued"]):
                    if task.state == "queued":
                        await self._route(task)

    def _views(self) -> tuple[list[SessionView], list[AgentView]]:
        sessions = [SessionView(s.name, s.record.agent, s.record.role, s.status, s.alive, s.record.created)
                    for s in self.fleet.sessions.values()]
        agents = [AgentView(name, a.role, a.max_sessions) for name, a in self.fleet.config.agents.items()]
        return sessions, agents

    async def _route(self, task: Task) -> None:
        stage = self.stages(task)[task.stage]
        sessions, agents = self._views()
        try:
            if stage.kind == "do" and (stage.count or 1) > 1:
                await self._fan_out(task, stage, sessions, agents)
            elif stage.kind == "do":
                where = route(self._role_of(task, stage), sessions, agents, self.store.bound_sessions())
                if where is None:
                    self._set(task, "queued", f"waiting for a free {self._role_of(task, stage)} session")
                    return
                prompt = self.fleet.config.prompts.fill("task", task=task.text)
                if where.session:
                    self._bind(task, where.session)
                    self._set(task, "running", "working")
                    self._emit(EventKind.TASK, task, f"routed to {where.session}", session=where.session)
                    await self._prompt(task, where.session, prompt, "advance")
                else:
                    agent = where.start_agent
                    assert agent is not None  # route() names a free session or an agent to start
                    self._set(task, "running", f"starting a session of {agent}")
                    name = await self._start(task, agent, prompt, "advance")
                    if not task.active:
                        return
                    self._emit(EventKind.TASK, task, f"routed to a new session {name}", session=name)
                    self._set(task, "running", "working")
            else:
                if task.session not in self.fleet.records:
                    self._hold(task, "blocked", "error", f"nothing to review: the worktree of {task.session} is gone")
                    return
                role = stage.review or stage.role or "reviewer"
                agent = agent_with_room(role, sessions, agents)
                if agent is None:
                    self._set(task, "queued", f"waiting for room to start a {role} session")
                    return
                await self._start_reviewer(task, stage, agent)
        except FleetError as error:
            self._hold(task, "blocked", "error", f"could not start the stage: {error}")

    async def _start(self, task: Task, agent: str, prompt: str, then: str, base_ref: str | None = None,
                     reviewer: bool = False) -> str:
        before = time.monotonic()
        started = await self.fleet.start_agent(agent, prompt=prompt, base_ref=base_ref)
        name = started[0].name
        if not task.active:  # rejected while it started: a new session holding only the task's prompt goes
            self._spawn(self._discard(name))
            return name
        if reviewer:
            task.reviewer = name
            self._tag(name, task.id)
        else:
            self._bind(task, name)
        prompted = self._prompted.get(name, -1.0) >= before
        self._owe(task, name, then, time.monotonic() if prompted else None)
        return name

    def _owe(self, task: Task, name: str, then: str, prompted_at: float | None) -> None:
        """`name` owes `task` a turn: when its prompt went in is kept here, what the turn's end
        means in the task file too, so a restarted server knows whose turn a task waits for."""
        self.turns[name] = Turn(task.id, then, prompted_at)
        task.owed[name] = then
        self.store.save()

    def _settle(self, name: str) -> Turn | None:
        """`name` owes no turn any more: it ended, or the session is gone."""
        turn = self.turns.pop(name, None)
        for task in self.store.active():
            if task.owed.pop(name, None) is not None:
                self.store.save()
        return turn

    def _bind(self, task: Task, name: str) -> None:
        task.session = name
        self._tag(name, task.id)

    def _tag(self, name: str, task_id: str | None) -> None:
        record = self.fleet.records.get(name)
        if record is not None and getattr(record, "task", None) != task_id:
            record.task = task_id
            self.fleet.on_sessions_change()

    async def _prompt(self, task: Task, name: str, text: str, then: str) -> None:
        """Type a prompt into the task's session (started again if it stopped) and await its turn."""
        await self._ensure_running(name)
        if not task.active:
            return
        self._owe(task, name, then, time.monotonic())
        await self.fleet.send(name, text)

    async def _ensure_running(self, name: str) -> None:
        session = self.fleet.sessions.get(name)
        if session is not None and session.alive:
            return
        if name not in self.fleet.records:
            raise FleetError(f"session {name} is gone")
        self._releasing.add(name)
        try:
            session = await self.fleet.restart(name)
        finally:
            self._releasing.discard(name)
        deadline = time.monotonic() + READY_TIMEOUT
        while session.alive and session.status not in FREE_STATUSES and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    async def _fan_out(self, task: Task, stage: Stage, sessions: list[SessionView], agents: list[AgentView]) -> None:
        role = self._role_of(task, stage)
        wanted = stage.count or 1
        picks = fan_out_agents(role, wanted, sessions, agents, self.store.bound_sessions())
        if not picks:
            full = ", ".join(f"{a.name} {sum(1 for s in sessions if s.alive and s.agent == a.name)}/{a.max_sessions}"
                             for a in agents if a.role == role)
            self._set(task, "queued", f"waiting for room to start {role} sessions (running/max_sessions: {full})")
            return
        short = f" of {wanted}: max_sessions leaves room for {len(picks)}" if len(picks) < wanted else ""
        self._set(task, "running", f"fanning out to {len(picks)} sessions{short}")
        before = time.monotonic()
        result = await self.fleet.fanout(self.fleet.config.prompts.fill("task", task=task.text), agents=picks)
        if not task.active:
            return
        task.run, task.fanout, task.fanout_done, task.session = result.run, list(result.sessions), [], None
        for name in task.fanout:
            self._tag(name, task.id)
            prompted = self._prompted.get(name, -1.0) >= before
            self._owe(task, name, "fanout", time.monotonic() if prompted else None)
        self._emit(EventKind.TASK, task, f"fanned out as run {task.run}: {', '.join(task.fanout)}{short}",
                   run=task.run, sessions=task.fanout, asked=wanted)
        self._set(task, "running", f"{len(task.fanout)} attempts working{short}")

    # -- turns ----------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        name = event.session
        if name is None or event.kind in (EventKind.TASK, EventKind.STAGE, EventKind.VERDICT,
                                          EventKind.APPROVAL, EventKind.OVERRIDE):
            return
        if event.kind == EventKind.PROMPT:
            self._prompted[name] = time.monotonic()
            turn = self.turns.get(name)
            if turn is not None and turn.prompted_at is None:
                turn.prompted_at = time.monotonic()
        elif event.kind == EventKind.STATUS:
            status = event.data.get("status")
            turn = self.turns.get(name)
            if turn is not None:
                if status in (Status.WORKING, Status.WAITING):
                    turn.seen_working = True
                elif turn.prompted_at is not None and (status == Status.DONE or (status == Status.IDLE and turn.seen_working)):
                    self._turn_ended(name)
            if status in FREE_STATUSES:
                self._kick()
            elif status in (Status.LOST, Status.STOPPED) and name not in self.fleet.sessions:
                self._lost(name, "ended (it ran on from the last fleet server)")  # an orphan's processes are gone
            elif status == Status.OVER_BUDGET:
                self._lost(name, "went over its budget")
        elif event.kind == EventKind.BUDGET_EXCEEDED:
            self._lost(name, f"went over its {event.data.get('meter', '')} budget".replace("  ", " "))
        elif event.kind in (EventKind.EXITED, EventKind.KILLED, EventKind.DISCARDED):
            self._lost(name, {EventKind.EXITED: "exited", EventKind.KILLED: "was killed",
                              EventKind.DISCARDED: "was discarded"}[event.kind])
            self._kick()

    async def _watch_quiet_turns(self) -> None:
        """A turn so short that no status tick saw it working still ends: output after the prompt, then quiet.

        Queued tasks are routed again now and then too: a session killed for its budget leaves
        no event when its process is finally gone, and its room must not be lost.
        """
        n = 0
        while True:
            await asyncio.sleep(0.5)
            n += 1
            if n % 4 == 0 and any(t.state == "queued" for t in self.store.active()):
                self._kick()
            now = time.monotonic()
            for name, turn in list(self.turns.items()):
                session = self.fleet.sessions.get(name)
                if session is None or turn.prompted_at is None or turn.seen_working:
                    continue
                last_output = getattr(getattr(session, "detector", None), "last_output", None)
                if (session.status in FREE_STATUSES and last_output is not None and last_output > turn.prompted_at
                        and now - last_output > QUIET_TURN_END and now - turn.prompted_at > QUIET_TURN_END):
                    self._turn_ended(name)

    def _turn_ended(self, name: str) -> None:
        turn = self._settle(name)
        task = self.store.get(turn.task) if turn else None
        if turn is None or task is None or not task.active:
            return
        self._emit(EventKind.STAGE, task, f"{name} finished its turn", session=name, phase="turn")
        if turn.then == "advance":
            self._stage_ended(task, f"{name} finished")
        elif turn.then == "recheck":
            self._enter_stage(task)
        elif turn.then == "rework":
            self._stage_ended(task, "changes made; checking and reviewing again", self._rework_from(task))
        elif turn.then == "verdict":
            self._spawn(self._read_verdict(task))
        elif turn.then == "fanout":
            self._attempt_done(task, name)

    def _attempt_done(self, task: Task, name: str) -> None:
        """An attempt of a fan-out stage ended its turn (or its session): once all have, they are compared."""
        task.fanout_done.append(name)
        self.store.save()  # a restart must not wait for a turn that is over
        if set(task.fanout) <= set(task.fanout_done):
            self._spawn(self._compare(task))

    def _lost(self, name: str, why: str) -> None:
        """A session stopped: a task that was owed a turn by it goes back to the queue (or finds a new reviewer)."""
        if name in self._releasing:
            return
        task = next((t for t in self.store.active() if name in (t.session, t.reviewer, *t.fanout)), None)
        if task is None or (name not in self.turns and name != task.reviewer):
            return  # it owed no turn (say, the task waits at a gate): its worktree and branch are all it needs
        self._settle(name)
        if name in task.fanout:
            if name not in task.fanout_done:
                self._emit(EventKind.TASK, task, f"attempt {name} {why}; the others go on", session=name)
                self._attempt_done(task, name)
            return
        task.requeues += 1
        limit = self.fleet.config.task_retries
        if task.requeues > limit:
            self._finish(task, "failed", f"{name} {why}, and the task was already handed back {limit} times")
            return
        self._tag(name, None)
        if name == task.reviewer:
            task.reviewer = None
            self._spawn(self._discard(name))  # a reviewer's worktree holds nothing but its verdict
            self._emit(EventKind.TASK, task, f"reviewer {name} {why}: a new reviewer takes over "
                       f"(retry {task.requeues} of {limit})", session=name)
            self._enter_stage(task)
            return
        self._emit(EventKind.TASK, task, f"handed back to the queue: {name} {why} mid-task "
                   f"(retry {task.requeues} of {limit})", session=name)
        task.session, task.check_attempts, task.review_rounds = None, 0, 0
        task.stage = next(i for i, s in enumerate(self.stages(task)) if s.do is not None)
        self._enter_stage(task)

    # -- checks -----------------------------------------------------------------------------
    async def _run_checks(self, task: Task, stage: Stage) -> None:
        record = self.fleet.records.get(task.session or "")
        if record is None:
            self._hold(task, "blocked", "error", f"the worktree of {task.session} is gone")
            return
        names = stage.check or []  # a check stage always names some
        self._set(task, "running", f"running checks: {', '.join(names)}")
        configured = self.fleet.run_ops.checks()
        commands = {name: configured[name] for name in names if name in configured}
        # Marked and stoppable like compare's checks: a stopping server ends them, a later one finds leftovers.
        results = (await asyncio.to_thread(run_checks_in, {record.name: record.worktree}, commands,
                                           self.fleet.config.check_timeout, 2, self.fleet.stop_checks,
                                           {**os.environ, CHECK_MARKER: str(self.fleet.state_dir)})
                   ).get(record.name, {})
        if not task.active:
            return
        task.checks = {}
        for name, result in results.items():
            task.checks[name] = CheckOutcome(passed=result.passed, exit_code=result.exit_code,
                                             timed_out=result.timed_out, duration=round(result.duration, 2),
                                             output=result.output[-OUTPUT_TAIL:])
            self._emit(EventKind.CHECK, task, f"check {name} {'passed' if result.passed else 'FAILED'} "
                       f"in {result.duration:.1f}s", session=record.name, check=name, passed=result.passed)
        failing = [name for name, c in task.checks.items() if not c.passed]
        if not failing:
            self._stage_ended(task, "checks passed")
            return
        retries = stage.retry or 0
        if task.check_attempts < retries:
            task.check_attempts += 1
            report = "\n\n".join(f"$ {name} (exit code {task.checks[name].exit_code})\n{task.checks[name].output}"
                                 for name in failing)
            self._set(task, "running", f"{record.name} fixing {', '.join(failing)} "
                      f"(retry {task.check_attempts} of {retries})")
            self._emit(EventKind.STAGE, task, f"checks failed ({', '.join(failing)}): output sent back to "
                       f"{record.name} (retry {task.check_attempts} of {retries})", phase="retry", failing=failing)
            await self._prompt(task, record.name, self.fleet.config.prompts.fill(
                "check_failed", task=task.text, checks=report), "recheck")
            return
        self._hold(task, "blocked", "checks", f"checks fail: {', '.join(failing)}"
                   + (f" after {retries} retries" if retries else "")
                   + f"; `fleet-tui approve {task.id} --override` goes on anyway, `reject` gives up")

    # -- review ------------------------------------------------------------------------------
    async def _start_reviewer(self, task: Task, stage: Stage, agent: str) -> None:
        record = self.fleet.records[task.session]
        root = self.fleet.root
        await asyncio.to_thread(compare.capture_work, record.worktree, f"fleet: work on task {task.id}")
        head = await asyncio.to_thread(gitrepo.head_commit, root, record.branch)
        diff = await asyncio.to_thread(compare.diff_text, root, record.base_commit, record.branch)
        if len(diff) > DIFF_LIMIT:
            diff = diff[:DIFF_LIMIT] + f"\n... ({len(diff) - DIFF_LIMIT} more characters)"
        checks = "\n".join(f"{n}: {'passed' if c.passed else 'FAILED'}" for n, c in task.checks.items()) or "none"
        template = "review" if stage.kind == "review" else "gate_agent"
        prompt = self.fleet.config.prompts.fill(template, task=task.text, diff=diff, checks=checks,
                                                verdict_file=VERDICT_FILE, approve_when=stage.verdict_word)
        task.reminded = False
        self._set(task, "running", f"starting a {agent} session to review")
        name = await self._start(task, agent, prompt, "verdict", base_ref=head, reviewer=True)
        if not task.active:
            return
        self._emit(EventKind.STAGE, task, f"{name} reviews {record.branch} at {head[:10]} in a fresh worktree",
                   session=name, phase="review", commit=head)
        self._set(task, "running", f"{name} reviewing")

    async def _read_verdict(self, task: Task) -> None:
        stage = self.stages(task)[task.stage]
        name = task.reviewer
        record = self.fleet.records.get(name or "")
        text = read_verdict(Path(record.worktree)) if record else None
        if text is None or not text.strip():
            if not task.reminded and name:
                task.reminded = True
                await self._prompt(task, name, self.fleet.config.prompts.fill(
                    "verdict_missing", verdict_file=VERDICT_FILE, approve_when=stage.verdict_word), "verdict")
                return
            await self._drop_reviewer(task)
            self._hold(task, "blocked", "review", f"{name} wrote no verdict to {VERDICT_FILE}; approve "
                       f"or reject {task.id} yourself")
            return
        lines = [line.strip() for line in text.strip().splitlines()]
        approved = lines[0] == stage.verdict_word
        notes = "\n".join(lines[1:] if lines[0].split()[0].upper() in ("CHANGES", "REJECT") or approved
                          else lines).strip()
        task.verdict = Verdict(by=name or "", approved=approved, first_line=lines[0], notes=notes, at=time.time())
        self._emit(EventKind.VERDICT, task, f"{name}: {'APPROVED' if approved else 'asks for changes'}"
                   + (f": {_preview(notes)}" if notes else ""), session=name, approved=approved, notes=notes)
        await self._drop_reviewer(task)
        if approved:
            if stage.kind == "gate":
                task.approvals.append(Approval(by=f"agent {name}", at=time.time(), stage=task.stage, hold="gate",
                                               pick=None, override=False))
            self._stage_ended(task, f"approved by {name}")
        elif stage.kind == "gate":
            self._hold(task, "blocked", "review", f"gate agent {name} refused: {_preview(notes)}; approve "
                       f"or reject {task.id} yourself")
        else:
            task.review_rounds += 1
            rounds = 2 if stage.retry is None else stage.retry
            if task.review_rounds > rounds:
                self._hold(task, "blocked", "review", f"the reviewer still asks for changes after {rounds} rounds; "
                           f"approve or reject {task.id} yourself")
                return
            developer = task.session
            assert developer is not None  # a review stage reviews the work of the task's session
            self._set(task, "running", f"{developer} making the reviewer's changes (round {task.review_rounds})")
            await self._prompt(task, developer, self.fleet.config.prompts.fill(
                "changes", task=task.text, changes=notes or lines[0]), "rework")

    async def _drop_reviewer(self, task: Task) -> None:
        name, task.reviewer = task.reviewer, None
        if name:
            self._settle(name)
            await self._discard(name)

    async def _discard(self, name: str) -> None:
        self._releasing.add(name)
        try:
            if name in self.fleet.records:
                await self.fleet.discard(name)
        except FleetError as error:  # e.g. a merge holds its worktree: it stays, and says so
            self.bus.emit(EventKind.ERROR, f"could not discard {name}: {error}", name)
        finally:
            self._releasing.discard(name)

    def _rework_from(self, task: Task) -> int:
        """After changes: the stages after the last do stage before the review run again (checks, review)."""
        stages = self.stages(task)
        last_do = max(i for i in range(task.stage + 1) if stages[i].do is not None)
        task.check_attempts = 0
        return last_do + 1

    # -- fan-out compare, risk, merge --------------------------------------------------------
    async def _compare(self, task: Task) -> None:
        self._set(task, "running", f"comparing run {task.run}")
        result = await self.fleet.compare(task.run)
        if not task.active:
            return
        task.ranking = [RankedAttempt(session=a.session, rank=a.rank, checks_passed=a.checks_passed,
                                      checks_total=a.checks_total, added=a.added, removed=a.removed)
                        for a in result.attempts]
        if task.ranking:
            task.session = task.ranking[0].session
        self._stage_ended(task, f"compared; best is {task.session}")

    def risks(self, task: Task) -> list[str]:
        record = self.fleet.records.get(task.session or "")
        rules = self.fleet.config.risk
        found = []
        if record is not None:
            stats = compare.diff_stats(self.fleet.root, record.base_commit, record.branch)
            touched = [f.path for f in stats.files if any(fnmatch.fnmatch(f.path, p) for p in rules.paths)]
            if touched:
                found.append(f"touches {', '.join(touched[:3])}")
            if rules.max_lines is not None and stats.lines_changed > rules.max_lines:
                found.append(f"{stats.lines_changed} lines changed (more than {rules.max_lines})")
        if rules.overridden_check and task.overridden:
            found.append(f"a person overrode {', '.join(task.overridden)}")
        return found

    async def _merge(self, task: Task, stage: Stage) -> None:
        try:
            await self._merge_now(task, stage)
        finally:
            self._merging.discard(task.id)

    async def _merge_now(self, task: Task, stage: Stage) -> None:
        record = self.fleet.records.get(task.session or "")
        if record is None:
            self._hold(task, "blocked", "error", f"the worktree of {task.session} is gone")
            return
        await asyncio.to_thread(compare.capture_work, record.worktree, f"fleet: work on task {task.id}")
        task.risk = await asyncio.to_thread(self.risks, task)
        # Only a person's approval at a gate answers a risk; an override is what may have caused it.
        if task.risk and not any(a.hold in ("gate", "risk") and a.by_person for a in task.approvals):
            self._hold(task, "gate", "risk", f"risky ({'; '.join(task.risk)}): a person must approve: "
                       f"`fleet-tui approve {task.id}`")
            return
        name = record.name
        self._releasing.update([name, *task.fanout])
        try:
            result = await self.fleet.merge(name, stage.merge)
        except FleetError as error:
            self._hold(task, "blocked", "merge", f"merge refused: {error}; fix it, then `fleet-tui approve {task.id}`")
            return
        finally:
            self._releasing.difference_update([name, *task.fanout])
        task.merged = result.commit
        self._emit(EventKind.STAGE, task, f"merged {name} into {result.base} ({stage.merge}, "
                   f"{result.commit[:10]})", session=name, phase="merged", commit=result.commit)
        self._stage_ended(task, "merged")

    # -- after a restart ----------------------------------------------------------------------
    def _resume(self, task: Task) -> None:
        """The server stopped mid-task. A session that owed the task a turn keeps it: one still
        running is waited for; one whose processes run on from the last server (orphaned, its
        screen out of reach) holds the task until it ends; one that is gone hands the task back
        like any session that died mid-task. A stage that owed no turn (checks, compare, merge,
        a session being started) starts again."""
        if task.state != "running":
            return
        if task.owed:
            for session, then in list(task.owed.items()):
                if task.active:
                    self._resume_turn(task, session, then)
            return
        if self._merge_finished_at_start(task):
            return
        stage = self.stages(task)[min(task.stage, len(self.stages(task)) - 1)]
        if stage.kind == "do" and task.fanout and set(task.fanout) <= set(task.fanout_done):
            # Every attempt had finished: the compare was cut short, not the work. Compared again, not redone.
            self._emit(EventKind.TASK, task, f"resumed after a server restart: comparing run {task.run} again")
            self._spawn(self._compare(task))
            return
        if task.reviewer:
            self._spawn(self._discard(task.reviewer))
            task.reviewer = None
        if stage.kind == "do":
            for name in (task.session, *task.fanout):
                if name:
                    self._tag(name, None)
            task.session, task.fanout, task.fanout_done = None, [], []
        self._emit(EventKind.TASK, task, f"resumed after a server restart at stage {task.stage + 1}")
        self._enter_stage(task)

    def _merge_finished_at_start(self, task: Task) -> bool:
        """The last server died in the middle of the task's merge, or just after it, before the task
        was saved: the merge stage is over, not to be run again on a worktree that is gone.

        Either this server finished the merge from the merge journal before the runner started
        (core/mergejournal.py), or the last one had finished it: the audit trail holds its `merged`
        event (written before the worktree went, and a session belongs to one task)."""
        stages = self.stages(task)
        if task.stage >= len(stages) or stages[task.stage].kind != "merge" or task.session is None:
            return False
        landed = next((e for e in reversed(self.bus.recent) if e.kind == EventKind.MERGED
                       and e.session == task.session and e.data.get("recovered")), None)
        if landed is not None:
            task.merged = landed.data.get("commit")
            how = "this server finished it"
        else:
            entry = self._merged_in_trail(task.session)
            if entry is None:
                return False
            task.merged = (entry.get("data") or {}).get("commit")
            how = "the task was not saved as merged before that server stopped"
        self._emit(EventKind.STAGE, task, f"the merge of {task.session} the last server started landed "
                   f"({(task.merged or '')[:10]}); {how}", session=task.session,
                   phase="merged", commit=task.merged)
        self._stage_ended(task, "merged")
        return True

    def _merged_in_trail(self, session: str) -> dict | None:
        """The audit trail's last `merged` entry for `session`, if the record of it is gone (merged
        work leaves no worktree behind): read only after a restart, for a task caught at its merge."""
        if session in self.fleet.records or self.bus.store is None:
            return None
        try:
            entries = self.bus.store.read()
        except OSError:
            return None
        return next((e for e in reversed(entries)
                     if e.get("kind") == EventKind.MERGED.value and e.get("session") == session), None)

    def _resume_turn(self, task: Task, name: str, then: str) -> None:
        session = self.fleet.sessions.get(name)
        if session is not None and session.alive:
            self.turns[name] = Turn(task.id, then, time.monotonic(),
                                    seen_working=session.status in (Status.WORKING, Status.WAITING))
            self._emit(EventKind.TASK, task, f"after a server restart, still waiting for {name}'s turn",
                       session=name)
        elif name in self.fleet.orphans:
            self.turns[name] = Turn(task.id, then, None)  # nothing to watch: only its end or a kill moves the task
            self._set(task, "running", f"{name} runs on from the last fleet server, out of reach: the task waits "
                      f"for it to end (`fleet-tui kill {name}` hands the task back)")
            self._emit(EventKind.TASK, task, f"{name} still runs from the last fleet server: the task stays with it",
                       session=name)
        else:
            self.turns[name] = Turn(task.id, then, None)
            self._lost(name, "stopped with the last fleet server")

    # -- events ------------------------------------------------------------------------------
    def _emit(self, kind: EventKind, task: Task, message: str, session: str | None = None, **data: Any) -> None:
        self.bus.emit(kind, f"{task.id}: {message}", session, task=task.id, stage=task.stage, **data)
        self.on_change()


def read_verdict(worktree: Path) -> str | None:
    """The verdict file a reviewer wrote in its worktree, or None.

    Never through a symlink or out of the worktree: a reviewer must not make the fleet
    read (and record in the audit trail) a file from elsewhere.
    """
    path = worktree / VERDICT_FILE
    try:
        if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(worktree.resolve()):
            return None
        with path.open("rb") as f:
            return f.read(VERDICT_LIMIT).decode("utf-8", "replace")
    except OSError:
        return None


def _preview(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"
