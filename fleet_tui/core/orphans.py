"""Sessions a dead server left running, found by the markers it wrote down.

When a fleet server dies without stopping its sessions (kill -9, a crash, the OOM
killer), the pty master dies with it. Most agents leave on the SIGHUP that follows,
but one that ignores it (or its setsid'd children) runs on, attached to nothing. The
next server reads each session's record (core/session_store.py) and looks for the
processes carrying its FLEET_SESSION marker, and for its pty child by pid *and*
start time (a pid reused by a stranger never matches). Those it finds are the
session's orphans: reported, killable, never started a second time beside.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from fleet_tui.core.proctree import Escape, KillReport, ProcessTable, kill_tree
from fleet_tui.core.session import SessionRecord
from fleet_tui.core.status import Status

START_TIME_SLACK = 0.05  # seconds: psutil's create time is rounded to clock ticks


def start_time(pid: int) -> float | None:
    """When process `pid` started (what tells it apart from a later one with the same pid)."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def same_process(pid: int | None, started: float | None) -> bool:
    """True when `pid` still names the process that started at `started`, and it has not ended."""
    if pid is None or started is None:
        return False
    try:
        proc = psutil.Process(pid)
        return (abs(proc.create_time() - started) <= START_TIME_SLACK
                and proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


@dataclass
class Orphan:
    """A session's processes still running after the server that started them died."""

    name: str
    marker: str | None
    leader: int | None  # its pty child, while that same process runs
    procs: list[psutil.Process]
    escape: Escape | None = None  # where its detached runaways may be found when killing

    def refresh(self) -> bool:
        """Forget the processes that ended; True while any is left."""
        self.procs = [proc for proc in self.procs if _running(proc)]
        if self.leader is not None and all(proc.pid != self.leader for proc in self.procs):
            self.leader = None
        return bool(self.procs)

    @property
    def pids(self) -> list[int]:
        return sorted(proc.pid for proc in self.procs)

    def kill(self) -> KillReport:
        """End every process of the session (blocking: run it in a worker thread)."""
        return kill_tree(self.leader, self.marker, escape=self.escape)


def find_orphans(records: Iterable[SessionRecord]) -> dict[str, Orphan]:
    """The sessions among `records` whose processes still run, from one look at the process table."""
    records = [r for r in records if r.marker or r.pid]
    if not records:
        return {}
    table = ProcessTable()
    found: dict[str, Orphan] = {}
    for record in records:
        leader = record.pid if same_process(record.pid, record.pid_started) else None
        procs = table.members(leader, record.marker) if (leader or record.marker) else []
        if procs:
            escape = Escape(record.worktree, record.pid_started) if record.pid_started else None
            found[record.name] = Orphan(record.name, record.marker, leader, procs, escape)
    return found


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def resting_state(record: SessionRecord, orphan: Orphan | None) -> tuple[str, str]:
    """Status and reason of a session this server is not running.

    orphaned: its processes run on, attached to nothing; lost: they were running when the
    last server died and are gone now (a crash, a reboot); stopped: they ended before.
    """
    if orphan is not None:
        return (Status.ORPHANED, f"still running (pids {', '.join(map(str, orphan.pids))}) after the server that "
                f"held its terminal died: `fleet-tui kill {record.name}` ends it, "
                f"`fleet-tui restart {record.name}` replaces it")
    if record.marker is not None and record.ended is None:
        return (Status.LOST, f"its processes ended with the last fleet server; its worktree is intact: "
                f"`fleet-tui restore {record.name}` (or R) starts it again")
    how = f" ({record.ended})" if record.ended else ""
    return Status.STOPPED, f"not running{how}: `fleet-tui restart {record.name}` starts it again"
