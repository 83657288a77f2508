"""What a fleet keeps on disk so a later server finds it again: its runs and its sessions' records.

The runs (prompts included, so the file is private) live in state.json in the fleet's state
folder; each session's record is a file of its own (session_store.py), written the moment it
changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet_tui.core.session import SessionRecord
from fleet_tui.core.session_store import SessionStore, record_from_dict, write_private
from fleet_tui.errors import FleetError, UsageError

STATE_FILE = "state.json"
SESSIONS_FOLDER = "sessions"


class FleetState:
    """The runs and the session records of one fleet, as loaded from and saved to `state_dir`."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.store = SessionStore(state_dir / SESSIONS_FOLDER)
        self.runs: dict[str, dict[str, Any]] = {}
        self.records: dict[str, SessionRecord] = {}
        self.gone: dict[str, str] = {}  # discarded sessions: why, for a request that names one later
        self._load()

    @property
    def path(self) -> Path:
        return self.state_dir / STATE_FILE

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        self.runs = data.get("runs", {})
        records = self.store.load_all()
        if not records and data.get("sessions"):  # an older server kept them in state.json
            records = {r.name: r for r in map(record_from_dict, data["sessions"]) if r is not None}
            for record in records.values():
                self.store.save(record)
        self.records = {name: r for name, r in records.items() if Path(r.worktree).is_dir()}

    def save_runs(self) -> None:
        """The runs (prompts included, so private); each session's record is saved on its own."""
        write_private(self.path, json.dumps({"runs": self.runs}, indent=1).encode())

    def add(self, record: SessionRecord) -> None:
        self.records[record.name] = record
        self.persist(record)

    def persist(self, record: SessionRecord) -> None:
        """Write one session's record now: a server killed the next moment must still find it."""
        if self.records.get(record.name) is record:
            self.store.save(record)

    def forget(self, name: str, why: str) -> None:
        """A discarded session: its record goes, and a later request naming it is told `why`."""
        del self.records[name]
        self.store.remove(name)
        self.gone[name] = why
        self.save_runs()

    def record_of(self, name: str) -> SessionRecord:
        if name not in self.records:
            if name in self.gone:
                raise FleetError(f"session {name} is gone: {self.gone[name]}")
            raise UsageError(f"no session named {name!r} (sessions: {', '.join(self.records) or 'none'})")
        return self.records[name]
