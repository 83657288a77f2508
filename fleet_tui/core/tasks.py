"""The task queue: what tasks exist, where each one stands, and which session gets the next one.

Tasks are kept in <git dir>/fleet/tasks.json (written whole, atomically, mode 0600: it holds
prompts), so a server restart finds them again. Routing is a pure function of the queue and
the sessions, so its rules (right role, free, least-loaded, priority order, one task per
session) are stated once and tested without a fleet.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from fleet_tui.core.status import Status

Priority = Literal["high", "normal", "low"]
PRIORITY_ORDER = {"high": 0, "normal": 1, "low": 2}
TaskState = Literal["queued", "running", "gate", "blocked", "done", "failed", "rejected"]
FINISHED = ("done", "failed", "rejected")
FREE_STATUSES = (Status.IDLE, Status.DONE)  # a session between turns: it may take a task


class CheckOutcome(BaseModel):
    """One check's result in a task's worktree (the wire's CheckView is this, tolerant of extras)."""

    passed: bool
    exit_code: int | None = None
    duration: float = 0.0
    timed_out: bool = False
    output: str = ""  # its tail: what the agent is shown


class Verdict(BaseModel):
    """What a reviewer (or gate agent) wrote in its verdict file."""

    by: str  # the reviewer session
    approved: bool
    first_line: str = ""
    notes: str = ""
    at: float = 0.0


class RankedAttempt(BaseModel):
    """One attempt of a fan-out stage, as its compare ranked it."""

    session: str
    rank: int = 0
    checks_passed: int = 0
    checks_total: int = 0
    added: int = 0
    removed: int = 0


class Approval(BaseModel):
    """Who let a task go on at a gate or block, and when."""

    by: str  # a person, or "agent NAME" for a gate agent
    at: float
    stage: int
    hold: str  # what it waited on: gate, risk, checks, review, merge, error
    pick: str | None = None  # the fan-out attempt chosen
    override: bool = False  # a failing check or a reviewer was waved through

    @property
    def by_person(self) -> bool:
        return not self.by.startswith("agent ")


class Task(BaseModel):
    id: str
    text: str
    role: str  # the role of the agents that do the work
    pipeline: str | None = None
    priority: Priority = "normal"
    state: TaskState = "queued"
    stage: int = 0  # index into the task's stages
    step: str = "waiting for a session"  # what the current stage is doing, in words
    session: str | None = None  # the developer session that holds the task's work
    reviewer: str | None = None  # a reviewer (or gate agent) session, while it reviews
    run: str | None = None  # a fan-out stage's run
    fanout: list[str] = Field(default_factory=list)  # a fan-out stage's sessions
    fanout_done: list[str] = Field(default_factory=list)  # ... those whose turn has ended
    # Sessions that owe the task a turn, and what its end means (advance, recheck, rework, verdict,
    # fanout): kept so that a restarted server waits for the same turns instead of starting over.
    owed: dict[str, str] = Field(default_factory=dict)
    hold: str = ""  # what a gate or block waits on: gate, risk, checks, review, merge, error
    created: float = Field(default_factory=time.time)
    updated: float = Field(default_factory=time.time)
    requeues: int = 0  # times its agent died and it went back to the queue
    check_attempts: int = 0  # check failures sent back in the current round
    review_rounds: int = 0  # reviews that asked for changes
    reminded: bool = False  # the reviewer was told once that it wrote no verdict
    checks: dict[str, CheckOutcome] = Field(default_factory=dict)  # the latest results
    verdict: Verdict | None = None  # the latest review verdict
    ranking: list[RankedAttempt] = Field(default_factory=list)  # a fan-out's compared attempts
    overridden: list[str] = Field(default_factory=list)  # failing checks a person waved through
    approvals: list[Approval] = Field(default_factory=list)  # who approved which gate, when
    risk: list[str] = Field(default_factory=list)  # why a person must approve before merging
    reason: str = ""  # why it waits at a gate, is blocked or failed
    merged: str | None = None  # the commit it landed as

    @property
    def active(self) -> bool:
        return self.state not in FINISHED

    def touch(self) -> None:
        self.updated = time.time()


def queue_order(tasks: list[Task]) -> list[Task]:
    """Higher priority first, then first come, first served."""
    return sorted(tasks, key=lambda t: (PRIORITY_ORDER[t.priority], t.created, t.id))


class TaskStore:
    """The tasks of one fleet, saved after every change."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "tasks.json"
        self.tasks: dict[str, Task] = {}
        # Tasks this version cannot read (a newer one wrote them): kept as they are and written
        # back on every save, never dropped; `problems` says what was found, for the feed.
        self.unreadable: list[dict] = []
        self.problems: list[str] = []
        self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return
        try:
            raw = json.loads(text)
        except ValueError:
            raw = None
        items = raw.get("tasks") if isinstance(raw, dict) else None
        if not isinstance(items, list):
            # Moved aside, not overwritten by the next save: whatever it held can still be read by hand.
            aside = self.path.with_name(f"tasks.json.unreadable-{int(time.time())}")
            os.replace(self.path, aside)
            self.problems.append(f"the task list {self.path} could not be read; it was moved to {aside.name}")
            return
        for item in items:
            try:
                task = Task.model_validate(item)
            except ValidationError as error:
                self.unreadable.append(item)
                name = item.get("id", "?") if isinstance(item, dict) else "?"
                self.problems.append(f"task {name} in {self.path.name} could not be read and is kept as it is: "
                                     f"{error.errors()[0]['msg'] if error.errors() else error}")
                continue
            self.tasks[task.id] = task

    def save(self) -> None:
        items = [t.model_dump() for t in self.tasks.values()] + self.unreadable
        data = json.dumps({"tasks": items}, indent=1)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # a crash right after the rename must not leave an empty list
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def next_id(self) -> str:
        ids = [*self.tasks, *(str(item.get("id", "")) for item in self.unreadable if isinstance(item, dict))]
        numbers = [int(t[1:]) for t in ids if t[1:].isdigit()]
        return f"t{max(numbers, default=0) + 1}"

    def add(self, task: Task) -> Task:
        self.tasks[task.id] = task
        self.save()
        return task

    def get(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)

    def active(self) -> list[Task]:
        return [t for t in self.tasks.values() if t.active]

    def bound_sessions(self) -> set[str]:
        """Sessions an unfinished task holds: none of them takes another task."""
        return {name for t in self.active() for name in (t.session, t.reviewer, *t.fanout) if name}


# -- routing -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionView:
    name: str
    agent: str
    role: str | None
    status: str
    alive: bool
    created: float = 0.0


@dataclass(frozen=True)
class AgentView:
    name: str
    role: str | None
    max_sessions: int


@dataclass(frozen=True)
class Route:
    """Where a task goes: a free running session, or a new session of an agent."""

    session: str | None = None
    start_agent: str | None = None


def route(role: str, sessions: list[SessionView], agents: list[AgentView], bound: set[str]) -> Route | None:
    """A free session of the role, else a new session of the least-loaded agent of the role with room,
    else None (the task waits).

    Load is the number of an agent's sessions held by tasks; among equals, the agent with fewer
    sessions running, then the oldest session, goes first.
    """
    running = [s for s in sessions if s.alive]
    load = {a.name: sum(1 for s in running if s.agent == a.name and s.name in bound) for a in agents}
    free = [s for s in running if s.role == role and s.status in FREE_STATUSES and s.name not in bound]
    if free:
        best = min(free, key=lambda s: (load.get(s.agent, 0), _size(running, s.agent), s.created, s.name))
        return Route(session=best.name)
    agent = agent_with_room(role, sessions, agents, load)
    return Route(start_agent=agent) if agent else None


def agent_with_room(role: str, sessions: list[SessionView], agents: list[AgentView],
                    load: dict[str, int] | None = None) -> str | None:
    """The least-loaded agent of the role that may start one more session, if any."""
    running = [s for s in sessions if s.alive]
    room = [a for a in agents if a.role == role and _size(running, a.name) < a.max_sessions]
    if not room:
        return None
    return min(room, key=lambda a: ((load or {}).get(a.name, 0), _size(running, a.name), a.name)).name


def fan_out_agents(role: str, count: int, sessions: list[SessionView], agents: list[AgentView],
                   bound: set[str]) -> list[str]:
    """The agents to start a fan-out's new sessions of, one name per session: up to `count`, as many
    as `max_sessions` leaves room for, each the least-loaded of the role counting those picked before."""
    running = [s for s in sessions if s.alive]
    load = {a.name: sum(1 for s in running if s.agent == a.name and s.name in bound) for a in agents}
    picks: list[str] = []
    for i in range(count):
        agent = agent_with_room(role, running, agents, load)
        if agent is None:
            break
        picks.append(agent)
        running.append(SessionView(f"(attempt {i + 1})", agent, role, Status.STARTING, True))
        load[agent] = load.get(agent, 0) + 1
    return picks


def _size(running: list[SessionView], agent: str) -> int:
    return sum(1 for s in running if s.agent == agent)
