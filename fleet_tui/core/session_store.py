"""What the fleet knows about each session, on disk, so a later server finds it again.

One JSON file per session in `<git dir>/fleet/sessions/`, rewritten whenever the
session's record changes: its agent, worktree, branch and run, the marker and the
pid + start time that identify its processes, and the agent's own conversation id.
Each write is atomic and durable (a temporary file, fsync, rename, fsync of the
folder): a crash at any moment leaves either the old record or the new one, never
half of one. The files are private (0600): they hold the session's first prompt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fleet_tui.names import check_name
from fleet_tui.core.session import SessionRecord


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably, readable by its user only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename or unlink in `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SessionStore:
    """The session records of one fleet, one private file each."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.folder / f"{check_name(name, 'session')}.json"

    def save(self, record: SessionRecord) -> None:
        write_private(self._path(record.name), json.dumps(record.to_dict(), indent=1).encode())

    def remove(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)
        sync_folder(self.folder)

    def load_all(self) -> dict[str, SessionRecord]:
        """Every readable record; a file that is not one (hand-edited, foreign) is skipped, not fatal."""
        records: dict[str, SessionRecord] = {}
        for path in sorted(self.folder.glob("*.json")):
            try:
                record = record_from_dict(json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if record is not None and path.stem == record.name:
                records[record.name] = record
        return records


def record_from_dict(raw: Any) -> SessionRecord | None:
    """A SessionRecord from its JSON form; keys it does not know (a newer version's) are ignored."""
    if not isinstance(raw, dict):
        return None
    known = SessionRecord.__dataclass_fields__
    try:
        return SessionRecord(**{key: value for key, value in raw.items() if key in known})
    except TypeError:  # a required field is missing
        return None
