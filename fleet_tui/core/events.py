"""Everything that happens is an event: typed, written to the audit store first, then broadcast.

The audit store is an append-only JSON-lines file inside the repository's git
directory (so it never dirties a worktree). Each entry carries the hash of the
one before it and its own hash, so editing, deleting or reordering an entry
breaks the chain; a small head file remembers the last entry, so cutting the
tail off shows too.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

GENESIS = "0" * 64


class EventKind(StrEnum):
    SERVER = "server"  # the fleet server started or stopped
    SPAWNED = "spawned"
    STATUS = "status"  # a session's status changed
    PROMPT = "prompt"  # a prompt was sent to a session
    INPUT = "input"  # keys typed into a session from a client (counted, not recorded verbatim)
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
    ERROR = "error"


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


def _digest(entry: dict[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditStore:
    """Append-only, hash-chained event log."""

    def __init__(self, path: Path):
        self.path = path
        self.head_path = path.with_suffix(".head")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.seq, self.last_hash = self._read_tail()

    def _read_tail(self) -> tuple[int, str]:
        if not self.path.exists():
            return 0, GENESIS
        seq, last = 0, GENESIS
        with self.path.open("rb") as f:
            for raw in f:
                try:
                    entry = json.loads(raw)
                    seq, last = int(entry["seq"]), str(entry["hash"])
                except (ValueError, KeyError, TypeError):
                    continue  # verify() reports damage; appending goes on after the last good entry
        return seq, last

    def append(self, event: Event) -> Event:
        self.seq += 1
        event.seq = self.seq
        entry = {"seq": event.seq, "ts": event.ts, "kind": event.kind.value, "session": event.session,
                 "message": event.message, "data": event.data, "prev": self.last_hash}
        entry["hash"] = _digest(entry)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.last_hash = entry["hash"]
        tmp = self.head_path.with_suffix(".head.tmp")
        tmp.write_text(f"{self.seq} {self.last_hash}\n")
        os.replace(tmp, self.head_path)
        return event

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        entries = []
        for raw in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entries.append(json.loads(raw))
            except ValueError:
                continue
        return entries

    def verify(self) -> tuple[bool, str]:
        """(True, summary) for an intact trail, else (False, what is wrong at the first bad entry)."""
        if not self.path.exists():
            return True, "no audit trail yet (0 entries)"
        prev, expected_seq = GENESIS, 1
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        for lineno, raw in enumerate(lines, start=1):
            try:
                entry = json.loads(raw)
                claimed = entry.pop("hash")
                seq = int(entry["seq"])
            except (ValueError, KeyError, TypeError, AttributeError):
                return False, f"entry at line {lineno} is not a valid audit record"
            if seq != expected_seq:
                return False, f"entry at line {lineno} has seq {seq}, expected {expected_seq} (entries deleted or reordered)"
            if entry.get("prev") != prev:
                return False, f"entry {seq} (line {lineno}) does not follow entry {seq - 1} (the chain is broken)"
            if _digest(entry) != claimed:
                return False, f"entry {seq} (line {lineno}) was modified (its hash does not match its content)"
            prev, expected_seq = claimed, expected_seq + 1
        count = expected_seq - 1
        if self.head_path.exists():
            try:
                head_seq, head_hash = self.head_path.read_text().split()
                if int(head_seq) != count or head_hash != prev:
                    return False, f"the trail ends at entry {count} but {head_seq} entries were written (entries after {count} were deleted)"
            except ValueError:
                return False, "the audit head file is damaged"
        return True, f"audit trail intact: {count} entries"


class EventBus:
    """Stores each event, keeps recent ones for clients that attach later, then tells listeners."""

    def __init__(self, store: AuditStore | None, history: int = 500):
        self.store = store
        self.recent: deque[Event] = deque(maxlen=history)
        self.listeners: list[Callable[[Event], None]] = []

    def emit(self, kind: EventKind, message: str, session: str | None = None, **data: Any) -> Event:
        event = Event(kind=kind, message=message, session=session, data=data)
        if self.store is not None:
            self.store.append(event)
        self.recent.append(event)
        for listener in list(self.listeners):
            listener(event)
        return event
