"""A port per worktree, unique on the machine across every repository's fleet.

Each session gets `$PORT` (and `FLEET_PORT`) so several dev servers run side by
side. The assignment belongs to the worktree, not to the process: it survives
restarts of the agent and of the fleet server, and is released when the worktree
is removed. Fleets of different repositories share one small registry in the
user's state folder (`$XDG_STATE_HOME/fleet-tui/ports.json`), changed only under
an exclusive lock; an entry whose worktree folder is gone is free again, and a
new port is taken only if nothing on the machine listens on it already.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fleet_tui.errors import FleetError

DEFAULT_RANGE = (3100, 3199)


def registry_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "fleet-tui" / "ports.json"


def port_is_free(port: int) -> bool:
    """Nothing listens on the port, on any address (a dev server often binds 0.0.0.0)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("0.0.0.0", port))
        return True
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        probe.close()


class PortRegistry:
    """Which worktree holds which port, for every fleet of this user."""

    def __init__(self, path: Path | None = None):
        self.path = path or registry_path()

    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict]]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = json.loads(self.path.read_text())
                if not isinstance(entries, dict):
                    entries = {}
            except (OSError, ValueError):
                entries = {}
            before = json.dumps(entries, sort_keys=True)
            yield entries
            if json.dumps(entries, sort_keys=True) != before:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))
                os.replace(tmp, self.path)

    def assign(self, worktree: Path | str, port_range: tuple[int, int] = DEFAULT_RANGE, owner: str = "") -> int:
        """The worktree's port: the one it already holds, else the lowest free one in the range."""
        key = str(Path(worktree).resolve())
        first, last = port_range
        with self._locked() as entries:
            for held, entry in entries.items():
                if entry.get("worktree") == key:
                    return int(held)
            for held, entry in list(entries.items()):
                if not Path(entry.get("worktree", "")).is_dir():
                    del entries[held]  # its worktree is gone (removed by hand, or a crash)
            for port in range(first, last + 1):
                if str(port) not in entries and port_is_free(port):
                    entries[str(port)] = {"worktree": key, "owner": owner, "since": time.time()}
                    return port
        raise FleetError(
            f"no free port left in {first}-{last} for {owner or key}: widen `ports:` in fleet.yaml, "
            "or remove worktrees you no longer need (`fleet-tui prune`)"
        )

    def port_of(self, worktree: Path | str) -> int | None:
        key = str(Path(worktree).resolve())
        with self._locked() as entries:
            return next((int(port) for port, entry in entries.items() if entry.get("worktree") == key), None)

    def release(self, worktree: Path | str) -> int | None:
        """Give the worktree's port back; the port it held, if any."""
        key = str(Path(worktree).resolve())
        with self._locked() as entries:
            for port, entry in list(entries.items()):
                if entry.get("worktree") == key:
                    del entries[port]
                    return int(port)
        return None
