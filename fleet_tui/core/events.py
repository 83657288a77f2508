"""Everything that happens is an event: typed, written to the audit store first, then broadcast.

The audit store (core/audit.py) is an append-only, hash-chained JSON-lines file
inside the repository's git directory, so it never dirties a worktree.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from fleet_tui.core.audit import GENESIS, AuditStore, _digest  # noqa: F401  (the store lives in audit.py)

log = logging.getLogger("fleet_tui.events")



class EventKind(StrEnum):
    SERVER = "server"  # the fleet server started or stopped
    SPAWNED = "spawned"
    STATUS = "status"  # a session's status changed
    PROMPT = "prompt"  # a prompt was sent to a session
    BUDGET_WARNING = "budget_warning"
    BUDGET_EXCEEDED = "budget_exceeded"
    PAUSED = "paused"
    RESUMED = "resumed"
    KILLED = "killed"
    EXITED = "exited"
    RESTARTED = "restarted"
    FANOUT = "fanout"
    CHECK = "check"
    COMPARED = "compared"
    MERGED = "merged"
    ROLLED_BACK = "rolled_back"  # a merge interrupted by a crash was undone by the next server
    DISCARDED = "discarded"
    SETUP = "setup"
    TEARDOWN = "teardown"  # a worktree's teardown commands ran before its removal
    TASK = "task"  # a task was queued, routed, handed back, finished (data.task names it)
    STAGE = "stage"  # a task's pipeline stage started or ended
    VERDICT = "verdict"  # a reviewer's (or gate agent's) verdict on a task
    APPROVAL = "approval"  # a person approved or rejected a task at a gate (data.by, ts: when)
    OVERRIDE = "override"  # a person waved a task past a failing check or a reviewer
    NOTICE = "notice"  # an agent's own desktop notification (OSC 9 / OSC 777), in its words
    ERROR = "error"
    AUDIT = "audit"  # the audit store's own notes: a torn line repaired, damage found, events lost


class Event(BaseModel):
    kind: EventKind
    message: str
    session: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    ts: float = Field(default_factory=time.time)
    seq: int = 0  # set by the store

    def wire(self) -> dict[str, Any]:
        """The event as clients receive it."""
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind.value, "session": self.session,
                "message": self.message, **({"data": self.data} if self.data else {})}


class EventBus:
    """Stores each event, keeps recent ones for clients that attach later, then tells listeners."""

    def __init__(self, store: AuditStore | None, history: int = 500):
        self.store = store
        self.recent: deque[Event] = deque(maxlen=history)
        self.listeners: list[Callable[[Event], None]] = []

    def emit(self, kind: EventKind, message: str, session: str | None = None, **data: Any) -> Event:
        event = Event(kind=kind, message=message, session=session, data=data)
        if self.store is not None:
            try:
                self.store.append(event)
            except OSError as error:  # a full disk: the event still reaches clients; the trail says how many were lost
                log.error("could not write event %s to the audit trail: %s", kind.value, error)
        self.recent.append(event)
        for listener in list(self.listeners):
            listener(event)
        return event
