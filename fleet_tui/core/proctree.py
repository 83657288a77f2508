"""Finding, signalling and measuring every process that belongs to one session.

A session's processes are found three ways, because each alone misses some:
the descendants of its pty child, the processes in the child's session id (the
child is a session leader), and the processes whose environment carries the
session's FLEET_SESSION marker (which catches grandchildren that called setsid
or double-forked and were reparented to init). When killing, one more road: a
process that did all of that with an emptied environment (`env -i setsid ...`)
is still found by its working folder inside the session's worktree (`escaped`).

Nothing here reaps: a process that is a zombie counts as gone, so the pty owner
can still collect its child's exit status.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

import psutil

MARKER_VAR = "FLEET_SESSION"
POLL = 0.02


def tree(pid: int) -> list[psutil.Process]:
    """The process `pid` and all its descendants, now (empty if it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass(frozen=True)
class _Entry:
    proc: psutil.Process
    ppid: int
    sid: int | None
    marker: str | None


# A process's FLEET_SESSION is fixed when it starts (only an exec with another environment
# could change it): read each process's environment once, not on every look.
_markers: dict[tuple[int, float], str | None] = {}


class ProcessTable:
    """One look at every process: parent, session id, and (for this user's) fleet marker.

    Reading every process's environment is what finding escaped grandchildren costs; one
    table per measurement round serves every session, and markers are cached per process,
    so a round over sixteen sessions reads only the environments of processes new since
    the last one. Each session's tree comes from the same look (parents), not another walk.
    """

    def __init__(self) -> None:
        uid = os.getuid()
        self.entries: dict[int, _Entry] = {}
        self.children: dict[int, list[int]] = {}
        alive: set[tuple[int, float]] = set()
        for proc in psutil.process_iter(["uids", "ppid", "create_time"]):
            info = proc.info
            uids, ppid = info.get("uids"), info.get("ppid")
            if uids is None or ppid is None:
                continue  # vanished while we looked
            marker = None
            if uids.real == uid:  # only our own processes can carry our marker
                key = (proc.pid, info["create_time"])
                alive.add(key)
                if key not in _markers:
                    _markers[key] = _marker_of(proc)
                marker = _markers[key]
            try:
                sid = os.getsid(proc.pid)
            except OSError:
                sid = None
            self.entries[proc.pid] = _Entry(proc, ppid, sid, marker)
            self.children.setdefault(ppid, []).append(proc.pid)
        for key in [key for key in _markers if key not in alive]:
            del _markers[key]

    def marked(self, marker: str) -> list[psutil.Process]:
        return [entry.proc for entry in self.entries.values() if entry.marker == marker and _alive(entry.proc)]

    def tree(self, pid: int) -> list[psutil.Process]:
        """`pid` and all its descendants at the time of the look (empty if it was gone)."""
        if pid not in self.entries:
            return []
        found: dict[int, psutil.Process] = {}
        todo = [pid]
        while todo:
            current = todo.pop()
            if current not in found:  # a pid reused while we looked cannot make us loop
                found[current] = self.entries[current].proc
                todo += self.children.get(current, [])
        return list(found.values())

    def members(self, pid: int | None, marker: str | None = None) -> list[psutil.Process]:
        """The session's tree, the members of its session id, and its marked processes.

        The pty child is a session leader, so its pid is the session id; Linux never reuses
        a pid that still names a session, so the session id cannot catch strangers.
        With no pid (a session whose pty child is gone) only the marker finds them.
        """
        members = {proc.pid: proc for proc in self.tree(pid)} if pid is not None else {}
        for entry in self.entries.values():
            if (pid is not None and entry.sid == pid) or (marker and entry.marker == marker):
                members.setdefault(entry.proc.pid, entry.proc)
        members.pop(os.getpid(), None)  # never signal ourselves, whatever the environment says
        return [proc for proc in members.values() if _alive(proc)]


# Orphans are adopted by init, or by a user's service manager acting as subreaper.
_ADOPTERS = frozenset({"systemd", "init"})


def escaped(worktree: str, since: float, table: ProcessTable | None = None) -> list[psutil.Process]:
    """Processes that left a session by every road at once: double-forked to init, a session id
    of their own, an emptied environment. Their working folder inside the session's worktree is
    what still ties them to it. Only detached ones count (adopted by init or a service manager,
    no terminal, started after the session), so a user's own shell in the worktree is safe.
    Reads a few processes' cwd: call it when killing, not on every tick.
    """
    table = table or ProcessTable()
    root = os.path.realpath(worktree)
    found = []
    for entry in table.entries.values():
        proc = entry.proc
        if entry.marker is not None or proc.pid == os.getpid():
            continue  # a marked process is found by its marker; never ourselves
        try:
            if proc.uids().real != os.getuid() or proc.create_time() < since - 1:
                continue
            adopter = table.entries.get(entry.ppid)
            if entry.ppid != 1 and (adopter is None or adopter.proc.name() not in _ADOPTERS):
                continue
            if proc.terminal() is not None:
                continue
            cwd = os.path.realpath(proc.cwd())
        except (psutil.Error, OSError):
            continue
        if (cwd == root or cwd.startswith(root + os.sep)) and _alive(proc):
            found.append(proc)
    return found


def _marker_of(proc: psutil.Process) -> str | None:
    try:
        return proc.environ().get(MARKER_VAR)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def find_marked(marker: str) -> list[psutil.Process]:
    """Every process of this user whose environment has FLEET_SESSION=<marker>."""
    return ProcessTable().marked(marker)


def session_processes(pid: int | None, marker: str | None = None) -> list[psutil.Process]:
    """The session's tree, the members of its session id, and its marked processes, now."""
    return ProcessTable().members(pid, marker)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _signal(procs, sig: int) -> list[psutil.Process]:
    """Send `sig` to each process still alive (psutil refuses reused pids); return those reached."""
    reached = []
    for proc in procs:
        try:
            proc.send_signal(sig)
            reached.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return reached


def _wait_gone(procs, deadline: float) -> list[psutil.Process]:
    """Poll until every process is gone or a zombie, or `deadline`; return the survivors."""
    alive = list(procs)
    while True:
        alive = [proc for proc in alive if _alive(proc)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(POLL)


@dataclass(frozen=True)
class Escape:
    """Where a session's escaped processes may be found (see `escaped`)."""

    worktree: str
    since: float  # the session's start, as time.time()


def _everyone(pid: int | None, marker: str | None, escape: Escape | None) -> list[psutil.Process]:
    table = ProcessTable()
    members = table.members(pid, marker)
    if escape is not None:
        known = {proc.pid for proc in members}
        for runaway in escaped(escape.worktree, escape.since, table):
            members += [proc for proc in table.tree(runaway.pid) if proc.pid not in known and _alive(proc)]
            known.update(proc.pid for proc in members)
    return members


def _freeze(pid: int | None, marker: str | None, escape: Escape | None = None) -> dict[int, psutil.Process]:
    """SIGSTOP the session until no new member appears, so nothing forks behind our back."""
    frozen: dict[int, psutil.Process] = {}
    for _ in range(10):
        new = [proc for proc in _everyone(pid, marker, escape) if proc.pid not in frozen]
        if not new:
            break
        for proc in _signal(new, signal.SIGSTOP):
            frozen[proc.pid] = proc
    return frozen


@dataclass
class KillReport:
    """What kill_tree did: the pids it signalled, which needed SIGKILL, how long it took."""

    terminated: list[int] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    survivors: list[int] = field(default_factory=list)
    seconds: float = 0.0


def kill_tree(pid: int | None, marker: str | None = None, grace: float = 1.0,
              escape: Escape | None = None) -> KillReport:
    """End every process of the session: SIGTERM and SIGHUP, then after `grace` seconds SIGKILL.

    Blocks for up to grace + 1 s; call it from a worker thread in an event loop.
    """
    started = time.monotonic()
    procs = _freeze(pid, marker, escape)
    # TERM stays pending while a process is stopped; CONT lets it be handled.
    terminated = _signal(procs.values(), signal.SIGTERM)
    # HUP too, as a closing terminal would: interactive shells ignore TERM but leave on HUP.
    _signal(procs.values(), signal.SIGHUP)
    _signal(procs.values(), signal.SIGCONT)
    survivors = _wait_gone(procs.values(), started + grace)
    # Children forked by TERM handlers during the grace period are members too.
    for proc in _everyone(pid, marker, escape):
        procs.setdefault(proc.pid, proc)
    killed = _signal([proc for proc in procs.values() if _alive(proc)], signal.SIGKILL)
    survivors = _wait_gone(killed, time.monotonic() + 1.0)
    return KillReport(
        terminated=sorted(proc.pid for proc in terminated),
        killed=sorted(proc.pid for proc in killed),
        survivors=sorted(proc.pid for proc in survivors),
        seconds=time.monotonic() - started,
    )


def pause_tree(pid: int, marker: str | None = None) -> list[int]:
    """SIGSTOP every process of the session; returns their pids."""
    return sorted(_freeze(pid, marker))


def resume_tree(pid: int, marker: str | None = None) -> list[int]:
    """SIGCONT every process of the session; returns their pids."""
    return sorted(proc.pid for proc in _signal(session_processes(pid, marker), signal.SIGCONT))


@dataclass(frozen=True)
class Usage:
    """Resources of a whole session at one moment."""

    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    processes: int = 0


class TreeSampler:
    """Measures a session's CPU time so that the meter never goes backwards.

    A process's CPU time vanishes from the live tree when it exits. If its parent
    in the tree reaps it, the kernel adds its time to the parent's children-times,
    which we count; otherwise (reparented to init, or the root itself) we keep its
    last-seen figure in `_exited`.
    """

    def __init__(self, pid: int, marker: str | None = None) -> None:
        self.pid = pid
        self.marker = marker
        self._last: dict[tuple[int, float], tuple[int, float]] = {}  # key -> (ppid, cpu)
        self._exited = 0.0
        self._high_water = 0.0

    def sample(self, table: ProcessTable | None = None) -> Usage:
        """Measure now; pass one ProcessTable to measure many sessions at the cost of one look."""
        current: dict[tuple[int, float], tuple[int, float]] = {}
        rss = 0
        for proc in (table or ProcessTable()).members(self.pid, self.marker):
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    cpu = times.user + times.system + times.children_user + times.children_system
                    current[(proc.pid, proc.create_time())] = (proc.ppid(), cpu)
                    rss += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        live_pids = {pid for pid, _ in current}
        for key, (ppid, cpu) in self._last.items():
            if key not in current and ppid not in live_pids:
                self._exited += cpu
        self._last = current
        total = self._exited + sum(cpu for _, cpu in current.values())
        self._high_water = max(self._high_water, total)
        return Usage(cpu_seconds=self._high_water, rss_bytes=rss, processes=len(current))


def sample(pid: int, marker: str | None = None) -> Usage:
    """One-off measurement; use a TreeSampler to follow a session over time."""
    return TreeSampler(pid, marker).sample()
