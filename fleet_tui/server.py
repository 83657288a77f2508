"""The fleet server: one per repository, the single source of truth.

It is started on demand by any client, detached into its own session so it
outlives the shell (and the SSH link) that started it, and stopped by
`fleet-tui down`. Clients send requests; attached clients also receive every
event and their sessions' screens: a full snapshot first, then changed lines,
the focused session at once (at most every FOCUS_INTERVAL while it streams) and the
others at most every OTHER_INTERVAL, each on its own phase.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fleet_tui import __version__, backlog, protocol, wire
from fleet_tui.backlog import Backlog
from fleet_tui.protocol import ALREADY_RUNNING
from fleet_tui.core import gitrepo, scrollback
from fleet_tui.core.audit import AUDIT_FILE
from fleet_tui.core.compare import diff_text
from fleet_tui.core.events import AuditStore, Event, EventBus, EventKind
from fleet_tui.core.fleet import UNWATCHED_READ_PAUSE, Fleet
from fleet_tui.core.pipeline import TaskRunner
from fleet_tui.core.session import Session
from fleet_tui.core.status import Status
from fleet_tui.errors import FleetError, UsageError
from fleet_tui.paths import socket_path
from fleet_tui.scope import LINGER_ADVICE, SYSTEMD_DIR, own_scope
from fleet_tui.warm_host import WarmUi

# The first change after a pause goes out at once (a keystroke's echo); a pane streaming output
# goes out at most this often, which is faster than the eye and spares the client a frame per read.
FOCUS_INTERVAL = 1 / 120
OTHER_INTERVAL = 0.2  # the rest at most five times a second: 16 busy panes must not starve typing
SESSIONS_INTERVAL = 0.2  # session lists (status, meters) coalesced
READ_LEAD = 0.003  # an unfocused pane is read this long before its screen goes out
MAX_BUFFERED = backlog.SOFT_LIMIT  # a client this far behind gets its screens later, coalesced

log = logging.getLogger("fleet_tui.server")

STOP_WAIT_FOR_GIT = 30.0  # seconds `down` lets a merge under way finish
_HELD_LOCKS: list[Any] = []  # the repository's server lock, open for the life of the process


class AlreadyRunning(FleetError):
    pass


class ClientConnection:
    """One connected client and what it has yet to receive."""

    def __init__(self, server: "FleetServer", reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.attached = False
        self.focus: str | None = None
        self.pending: dict[str, set[int]] = {}
        self.next_due: dict[str, float] = {}  # when each session may be sent again
        self.earliest_due = 0.0  # no pending session may be sent before this (flush's shortcut)
        self.phase: dict[str, float] = {}  # each session's offset within OTHER_INTERVAL
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.backlog = Backlog()  # what is held back while the client does not read

    def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        waiting = self.writer.transport.get_write_buffer_size()
        if waiting > backlog.HARD_LIMIT:
            log.warning("disconnecting a client that stopped reading (%d bytes waiting)", waiting)
            self.closed = True
            self.writer.transport.abort()
            return
        if waiting > backlog.SOFT_LIMIT and self.backlog.hold(message):
            self._flush_later(0.05)
            return
        self.writer.write(protocol.encode(message))

    # -- screens --------------------------------------------------------------------
    def mark(self, name: str, rows: set[int] | None) -> None:
        """Rows of a session to send; None means the whole screen."""
        if rows is None:
            self.pending[name] = set(range(self.server.fleet.sessions[name].terminal.rows)) | {-1}
        else:
            self.pending.setdefault(name, set()).update(rows)
        due = self.next_due.get(name, 0.0)
        if due < self.earliest_due:
            self.earliest_due = due

    def send_soon(self, name: str) -> None:
        """Send the session's pending rows at the next flush, whatever its slot (it was just focused)."""
        self.next_due.pop(name, None)
        self.earliest_due = 0.0

    def _timer_fired(self) -> None:
        self.timer = None
        self.flush()

    def flush(self) -> None:
        if self.closed or not (self.pending or self.backlog.holding):
            return
        if self.timer is not None and not self.backlog.holding and time.monotonic() < self.earliest_due:
            # Nothing is due yet and the timer comes back for it: a busy pty's every read calls
            # flush (a thousand times a second with sixteen busy panes), most find nothing to send.
            return
        transport = self.writer.transport
        if transport.get_write_buffer_size() > MAX_BUFFERED:
            self._flush_later(0.05)
            return
        for message in self.backlog.release():
            self.send(message)
        now = time.monotonic()
        wait = None
        for name in list(self.pending):
            session = self.server.fleet.sessions.get(name)
            if session is None:
                del self.pending[name]
                continue
            due = self.next_due.get(name, 0.0)
            if now < due:
                wait = due - now if wait is None else min(wait, due - now)
                continue
            self.next_due[name] = now + FOCUS_INTERVAL if name == self.focus else self._next_slot(name, now)
            self.send(screen_message(session, self.pending.pop(name)))
        self.earliest_due = now + wait if wait is not None else 0.0
        if wait is not None:
            self._flush_later(wait)

    def _next_slot(self, name: str, now: float) -> float:
        """The session's next send time on its own grid of OTHER_INTERVAL.

        Each session's grid is offset by a different phase (golden-ratio spacing spreads any
        number of them evenly), so sixteen busy panes arrive one or two at a time instead of
        all in the same frame, which would hold up the focused pane's echo behind them.
        """
        if name not in self.phase:
            self.phase[name] = (len(self.phase) * 0.6180339887) % 1.0 * OTHER_INTERVAL
        due = now + OTHER_INTERVAL - (now - self.phase[name]) % OTHER_INTERVAL
        return due if due - now >= OTHER_INTERVAL / 2 else due + OTHER_INTERVAL

    def _flush_later(self, delay: float) -> None:
        """One timer per client, at the earliest time something is due (flush also runs on every change)."""
        loop = asyncio.get_running_loop()
        if self.timer is not None:
            if self.timer.when() <= loop.time() + delay:
                return
            self.timer.cancel()
        self.timer = loop.call_later(delay, self._timer_fired)


def screen_message(session: Session, rows: set[int]) -> dict[str, Any]:
    term = session.terminal
    full = -1 in rows
    wanted = range(term.rows) if full else sorted(y for y in rows if 0 <= y < term.rows)
    return protocol.screen_update(
        session.name,
        full=full,
        cols=term.cols,
        rows=term.rows,
        lines=[(y, term.line(y)) for y in wanted],
        cursor=(term.cursor_x, term.cursor_y, term.cursor_visible),
        title=term.title,
        modes=term.modes(),
        history=scrollback.extent(term),
    )


class FleetServer:
    def __init__(self, root: Path, fleet: Fleet, bus: EventBus, store: AuditStore):
        self.root = root
        self.fleet = fleet
        self.bus = bus
        self.store = store
        self.clients: set[ClientConnection] = set()
        self.stopping = asyncio.Event()
        self.answering = 0  # requests being answered now
        self._changed: set[str] = set()
        self._collect_scheduled = False
        self._sessions_timer: asyncio.TimerHandle | None = None
        self._tasks_timer: asyncio.TimerHandle | None = None
        self.tasks = TaskRunner(fleet, bus)
        self.tasks.on_change = self._tasks_changed
        self.warm = WarmUi(root)  # the warm UI process, once a TUI asks for it
        fleet.on_screen_change = self._screen_changed
        fleet.on_sessions_change = self._sessions_changed
        fleet.is_watched = lambda name: any(c.attached and c.focus == name for c in self.clients)
        fleet.unwatched_pause = self._until_sent
        bus.listeners.append(self._broadcast_event)
        self.commands = self._command_table()

    # -- fan-out of changes to attached clients ----------------------------------------
    def _until_sent(self, name: str) -> float:
        """How long an unfocused streaming session may go unread: until just before its screen next goes out.

        Read then, its screen goes out as fresh as the read makes it, in one read instead of one every
        UNWATCHED_READ_PAUSE. A send due sooner than that takes what was just read: the next one counts.
        """
        now = time.monotonic()
        wait = min((c.next_due.get(name, 0.0) - now for c in self.clients if c.attached), default=OTHER_INTERVAL)
        if wait < UNWATCHED_READ_PAUSE:
            wait += OTHER_INTERVAL
        return max(UNWATCHED_READ_PAUSE, min(wait - READ_LEAD, OTHER_INTERVAL))

    def _screen_changed(self, session: Session) -> None:
        self._changed.add(session.name)
        if not self._collect_scheduled:
            self._collect_scheduled = True
            asyncio.get_running_loop().call_soon(self._collect)

    def _collect(self) -> None:
        # Many pty reads between two loop turns become one set of dirty rows per session.
        self._collect_scheduled = False
        changed, self._changed = self._changed, set()
        attached = [c for c in self.clients if c.attached]
        for name in changed:
            session = self.fleet.sessions.get(name)
            if session is None:
                continue
            rows = session.terminal.take_dirty()
            for client in attached:
                client.mark(name, rows)
        for client in attached:
            client.flush()

    def _sessions_changed(self) -> None:
        if self._sessions_timer is None:
            self._sessions_timer = asyncio.get_running_loop().call_later(SESSIONS_INTERVAL, self._send_sessions)

    def _send_sessions(self) -> None:
        self._sessions_timer = None
        message = {"t": "sessions", "sessions": [view.wire() for view in self.fleet.status()]}
        for client in self.clients:
            if client.attached:
                client.send(message)

    def _tasks_changed(self) -> None:
        if self._tasks_timer is None:
            self._tasks_timer = asyncio.get_running_loop().call_later(SESSIONS_INTERVAL, self._send_tasks)

    def _send_tasks(self) -> None:
        self._tasks_timer = None
        message = {"t": "tasks", "tasks": [view.wire() for view in self.tasks.views()]}
        for client in self.clients:
            if client.attached:
                client.send(message)

    def _broadcast_event(self, event: Event) -> None:
        message = {"t": "event", "event": event.wire()}
        for client in self.clients:
            if client.attached:
                client.send(message)

    # -- connections ----------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not _same_user(writer):
            writer.close()
            return
        client = ClientConnection(self, reader, writer)
        self.clients.add(client)
        try:
            while not reader.at_eof():
                try:
                    line = await reader.readline()
                except (ConnectionError, ValueError):
                    break
                if not line:
                    break
                await self._answer(client, line)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            client.closed = True
            if client.timer:
                client.timer.cancel()
            self.clients.discard(client)
            writer.close()

    async def finish_requests(self, timeout: float) -> None:
        """Let requests under way send their answers (a merge's, a stopped compare's) before clients close."""
        deadline = time.monotonic() + timeout
        while self.answering and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def _answer(self, client: ClientConnection, line: bytes) -> None:
        self.answering += 1
        try:
            await self._answer_one(client, line)
        finally:
            self.answering -= 1

    async def _answer_one(self, client: ClientConnection, line: bytes) -> None:
        request_id = None
        try:
            message = protocol.decode(line)
            request_id = message.get("id")
            command, request = self._parse(message)
            result = await command.handler(client, request)
            result = _answer_wire(request, result)
            client.send({"t": "reply", "id": request_id, "ok": True, "result": result})
        except FleetError as error:
            client.send({"t": "reply", "id": request_id, "ok": False, "error": str(error),
                         "exit_code": error.exit_code})
        except (ValueError, TypeError) as error:
            client.send({"t": "reply", "id": request_id, "ok": False, "error": f"bad request: {error}",
                         "exit_code": 2})
        except Exception as error:  # the server must survive any one request
            log.exception("request failed")
            client.send({"t": "reply", "id": request_id, "ok": False, "error": f"internal error: {error!r}"})

    def _parse(self, message: dict[str, Any]) -> tuple[Command, wire.Request]:
        """The command a message asks for and its arguments, checked; a UsageError says what is wrong."""
        version = message.get("v", protocol.PROTOCOL_VERSION)  # clients before versioned requests spoke 1
        if version != protocol.PROTOCOL_VERSION:
            raise UsageError(f"this fleet server ({__version__}) speaks protocol {protocol.PROTOCOL_VERSION} and "
                             f"the client {version}: stop it with `fleet-tui down` and start it with the "
                             "same fleet-tui as the client")
        name = message.get("cmd")
        command = self.commands.get(name) if isinstance(name, str) else None
        if command is None:
            raise UsageError(f"unknown command {name!r} (commands: {', '.join(sorted(self.commands))})")
        args = message.get("args") or {}
        if not isinstance(args, dict):
            raise UsageError(f"bad {name} request: its args must be a JSON object")
        try:
            return command, command.request.model_validate(args)
        except ValidationError as error:
            raise UsageError(f"bad {name} request: {wire.describe_error(error)}") from None

    # -- commands ---------------------------------------------------------------------
    def _command_table(self) -> dict[str, Command]:
        """Every command: its request model (which names its answer model) and its handler."""
        table = [
            Command(wire.Ping, self.ping), Command(wire.Status, self.status), Command(wire.Explain, self.explain),
            Command(wire.Agents, self.agents), Command(wire.Config, self.config), Command(wire.Start, self.start),
            Command(wire.Screen, self.screen), Command(wire.History, self.history),
            Command(wire.Search, self.search), Command(wire.Input, self.input), Command(wire.Send, self.send),
            Command(wire.Keys, self.keys), Command(wire.Resize, self.resize), Command(wire.Focus, self.focus),
            Command(wire.Ack, self.ack), Command(wire.RunState, self.run_state), Command(wire.Kill, self.kill),
            Command(wire.Pause, self.pause), Command(wire.Resume, self.resume),
            Command(wire.Restart, self.restart), Command(wire.Restore, self.restore), Command(wire.Log, self.log),
            Command(wire.Fanout, self.fanout), Command(wire.Compare, self.compare), Command(wire.Diff, self.diff),
            Command(wire.MergeSummaryRequest, self.merge_summary), Command(wire.Merge, self.merge),
            Command(wire.MergeBranchSummary, self.merge_branch_summary),
            Command(wire.MergeBranch, self.merge_branch), Command(wire.Discard, self.discard),
            Command(wire.Worktrees, self.worktrees), Command(wire.Prune, self.prune),
            Command(wire.WorktreeDisk, self.worktree_disk), Command(wire.SubmitTask, self.task),
            Command(wire.Tasks, self.list_tasks), Command(wire.Approve, self.approve),
            Command(wire.Reject, self.reject), Command(wire.Attach, self.attach), Command(wire.Down, self.down),
            Command(wire.WarmUi, self.warm_ui),
        ]
        return {command.request.command: command for command in table}

    async def ping(self, client: ClientConnection, request: wire.Ping) -> wire.PingAnswer:
        return wire.PingAnswer(pid=os.getpid(), root=str(self.root), version=__version__,
                               protocol=protocol.PROTOCOL_VERSION)

    async def status(self, client: ClientConnection, request: wire.Status) -> wire.StatusAnswer:
        return wire.StatusAnswer(sessions=self.fleet.status(), base=self.fleet.base_branch)

    async def explain(self, client: ClientConnection, request: wire.Explain) -> wire.ExplainAnswer:
        return self.fleet.explain(request.session)

    async def agents(self, client: ClientConnection, request: wire.Agents) -> wire.AgentsAnswer:
        self.fleet.reload_config()
        return wire.AgentsAnswer(agents=self.fleet.agents_info())

    async def config(self, client: ClientConnection, request: wire.Config) -> wire.ClientSettings:
        return self.fleet.client_settings()

    async def start(self, client: ClientConnection, request: wire.Start) -> wire.StartAnswer:
        self.fleet.reload_config()
        started = await self.fleet.start_agents(request.agents or [], count=request.count,
                                                missing_only=request.missing_only)
        return wire.StartAnswer(sessions=[s.name for s in started])

    async def screen(self, client: ClientConnection, request: wire.Screen) -> wire.ScreenAnswer:
        term = self.fleet.get(request.session).terminal
        return wire.ScreenAnswer(lines=term.display(), cols=term.cols, rows=term.rows,
                                 cursor=[term.cursor_x, term.cursor_y], title=term.title)

    async def history(self, client: ClientConnection, request: wire.History) -> Any:
        return scrollback.read(self.fleet.get(request.session).terminal, request.start, request.count).wire()

    async def search(self, client: ClientConnection, request: wire.Search) -> Any:
        term = self.fleet.get(request.session).terminal
        return scrollback.search(term, request.query, request.line, request.col, request.backward).wire()

    async def input(self, client: ClientConnection, request: wire.Input) -> None:
        self.fleet.input(request.session, request.data.encode("utf-8", "surrogateescape"))

    async def send(self, client: ClientConnection, request: wire.Send) -> None:
        await self.fleet.send(request.session, request.text)

    async def keys(self, client: ClientConnection, request: wire.Keys) -> None:
        self.fleet.keys(request.session, request.keys)

    async def resize(self, client: ClientConnection, request: wire.Resize) -> None:
        self.fleet.get(request.session).resize(request.cols, request.rows)

    async def focus(self, client: ClientConnection, request: wire.Focus) -> None:
        session = client.focus = request.session
        if session is not None:
            client.send_soon(session)  # the newly focused pane may be waiting for its slot
            client.flush()
            if session in self.fleet.sessions:
                self.fleet.sessions[session].read_soon()  # an unfocused pane's reads may be paused
                self.fleet.ack(session)  # looked at: a finished turn is no longer news

    async def ack(self, client: ClientConnection, request: wire.Ack) -> wire.AckAnswer:
        return wire.AckAnswer(session=request.session, was_done=self.fleet.ack(request.session))

    async def run_state(self, client: ClientConnection, request: wire.RunState) -> wire.RunStateAnswer:
        run_id = self.fleet.run(request.run)["id"]
        sessions = [wire.RunSessionState(name=n, status=s.status if s else Status.STOPPED,
                                         turns=s.turns_finished if s else 0)
                    for n in self.fleet.runs[run_id]["sessions"] for s in [self.fleet.sessions.get(n)]]
        return wire.RunStateAnswer(run=run_id, finished=self.fleet.run_finished(run_id), sessions=sessions)

    async def kill(self, client: ClientConnection, request: wire.Kill) -> wire.KillAnswer:
        return await self.fleet.kill(request.session)

    async def pause(self, client: ClientConnection, request: wire.Pause) -> None:
        self.fleet.pause(request.session)

    async def resume(self, client: ClientConnection, request: wire.Resume) -> None:
        self.fleet.resume(request.session)

    async def restart(self, client: ClientConnection, request: wire.Restart) -> wire.RestartAnswer:
        return wire.RestartAnswer(session=(await self.fleet.restart(request.session)).name)

    async def restore(self, client: ClientConnection, request: wire.Restore) -> wire.RestoreAnswer:
        self.fleet.reload_config()
        return wire.RestoreAnswer(results=await self.fleet.restore(request.sessions or []))

    async def log(self, client: ClientConnection, request: wire.Log) -> Any:
        entries = self.store.read()
        if request.task is not None:
            self.tasks.get(request.task)  # an unknown task is an error, not an empty story
            entries = [e for e in entries if (e.get("data") or {}).get("task") == request.task]
        entries = entries[-request.limit:] if request.limit else entries
        return {"events": [{k: v for k, v in e.items() if k not in ("prev", "hash")} for e in entries]}

    async def fanout(self, client: ClientConnection, request: wire.Fanout) -> wire.FanoutAnswer:
        self.fleet.reload_config()
        return await self.fleet.fanout(request.prompt, agents=request.agents, count=request.count,
                                       sessions=request.sessions, role=request.role)

    async def compare(self, client: ClientConnection, request: wire.Compare) -> wire.CompareAnswer:
        if request.last:
            return self.fleet.last_compare(request.run)
        self.fleet.reload_config()
        return await self.fleet.compare(request.run)

    async def diff(self, client: ClientConnection, request: wire.Diff) -> wire.DiffAnswer:
        record = self.fleet.record_of(request.session)
        diff = await asyncio.to_thread(diff_text, self.root, record.base_commit, record.branch, request.path)
        return wire.DiffAnswer(diff=diff)

    async def merge_summary(self, client: ClientConnection, request: wire.MergeSummaryRequest) -> wire.MergeSummary:
        return await self.fleet.merge_summary(request.session)

    async def merge(self, client: ClientConnection, request: wire.Merge) -> wire.MergeAnswer:
        return await self.fleet.merge(request.session, request.strategy, request.keep)

    async def merge_branch_summary(self, client: ClientConnection,
                                   request: wire.MergeBranchSummary) -> wire.MergeSummary:
        return await self.fleet.merge_branch_summary(request.branch)

    async def merge_branch(self, client: ClientConnection, request: wire.MergeBranch) -> wire.MergeAnswer:
        return await self.fleet.merge_branch(request.branch, request.label, request.strategy)

    async def discard(self, client: ClientConnection, request: wire.Discard) -> None:
        await self.fleet.discard(request.session, request.keep_branch)

    async def worktrees(self, client: ClientConnection, request: wire.Worktrees) -> wire.WorktreesAnswer:
        return wire.WorktreesAnswer(worktrees=await self.fleet.worktrees(), base=self.fleet.base_branch)

    async def prune(self, client: ClientConnection, request: wire.Prune) -> wire.PruneAnswer:
        return wire.PruneAnswer(results=await self.fleet.prune(request.paths, request.confirmed or []))

    async def worktree_disk(self, client: ClientConnection, request: wire.WorktreeDisk) -> wire.DiskAnswer:
        return await self.fleet.worktree_disk()

    async def task(self, client: ClientConnection, request: wire.SubmitTask) -> wire.TaskView:
        self.fleet.reload_config()
        return self.tasks.view(self.tasks.submit(request.text, request.role, request.pipeline, request.priority))

    async def list_tasks(self, client: ClientConnection, request: wire.Tasks) -> wire.TasksAnswer:
        return wire.TasksAnswer(tasks=self.tasks.views())

    async def approve(self, client: ClientConnection, request: wire.Approve) -> wire.TaskView:
        return self.tasks.view(self.tasks.approve(request.task, request.by, request.override, request.pick,
                                                  request.seen))

    async def reject(self, client: ClientConnection, request: wire.Reject) -> wire.TaskView:
        return self.tasks.view(self.tasks.reject(request.task, request.by, request.reason, request.seen))

    async def attach(self, client: ClientConnection, request: wire.Attach) -> None:
        client.attached, client.focus = True, request.focus
        client.send({"t": "sessions", "sessions": [view.wire() for view in self.fleet.status()]})
        for name in self.fleet.sessions:
            client.mark(name, None)
        client.flush()  # the screens before the feed's backlog: a reattaching UI draws its panes first
        client.send({"t": "tasks", "tasks": [view.wire() for view in self.tasks.views()]})
        for event in list(self.bus.recent)[-100:]:
            client.send({"t": "event", "event": event.wire()})

    async def warm_ui(self, client: ClientConnection, request: wire.WarmUi) -> None:
        self.warm.want()

    async def down(self, client: ClientConnection, request: wire.Down) -> wire.DownAnswer:
        asyncio.get_running_loop().call_later(0.05, self.stopping.set)
        return wire.DownAnswer(stopped=len([s for s in self.fleet.sessions.values() if s.alive]), pid=os.getpid())


def _answer_wire(request: wire.Request, result: Any) -> Any:
    """The handler's result checked against the command's answer model, as it travels."""
    answer = request.answer
    if answer is None or result is None:
        return None if answer is None else result
    try:
        return (result if isinstance(result, answer) else answer.model_validate(result)).wire()
    except ValidationError as error:  # the server's own mistake, not the client's
        raise RuntimeError(f"the answer to {request.command} does not fit {answer.__name__}: "
                           f"{wire.describe_error(error)}") from None


@dataclass(frozen=True)
class Command:
    """A row of the server's command table: the request model (which names the answer) and its handler."""

    request: type[wire.Request]
    handler: Callable[[ClientConnection, Any], Awaitable[Any]]


def _same_user(writer: asyncio.StreamWriter) -> bool:
    """The socket folder is private already; also check the peer's uid (SO_PEERCRED)."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


async def serve(root: Path, config_path: Path | None = None) -> None:
    root = gitrepo.find_repo_root(root)
    state_dir = gitrepo.fleet_state_dir(root)
    lock = open(state_dir / "server.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise AlreadyRunning(f"another fleet server already runs for {root}") from None
    # Held until the process exits, not until serve() returns: asyncio.run still waits for worker
    # threads (a check, a git command) after that, and no second server may start beside them.
    _HELD_LOCKS.append(lock)
    store = AuditStore(state_dir / AUDIT_FILE)
    bus = EventBus(store)
    fleet = Fleet.open(root, bus, config_path)
    await fleet.end_leftover_checks()  # checks a killed server left running
    await fleet.finish_interrupted_merge()  # a merge the last server did not see through
    server = FleetServer(root, fleet, bus, store)
    path = socket_path(root)
    if path.exists():
        path.unlink()
    old_umask = os.umask(0o177)  # the socket is created 0600: only its user can connect
    try:
        listener = await asyncio.start_unix_server(server.handle, path=str(path), limit=protocol.MAX_MESSAGE_BYTES)
    finally:
        os.umask(old_umask)
    (state_dir / "server.pid").write_text(str(os.getpid()))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stopping.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)  # a lost terminal must not stop the fleet
    bus.emit(EventKind.SERVER, f"fleet server {__version__} started (pid {os.getpid()})")
    _report_scope(bus)
    fleet.report_leftovers()
    fleet.start_ticking()
    server.tasks.start()
    try:
        await server.stopping.wait()
    finally:
        # Stop listening at once, so a new client starts a new server instead of reaching this one.
        listener.close()
        path.unlink(missing_ok=True)
        await server.warm.stop()  # no new TUI starts from this server's warm process
        # A merge under way finishes (its client gets its answer); running checks are killed.
        fleet.git_ops.stopping = True
        fleet.stop_checks.set()
        try:  # bounded: a git hook that never returns must not keep the server up for good
            await asyncio.wait_for(fleet.git_ops.idle(), STOP_WAIT_FOR_GIT)
        except asyncio.TimeoutError:
            log.warning("stopping with a git operation still under way; its journal lets the next server finish it")
        await server.finish_requests(timeout=2.0)
        for client in list(server.clients):
            client.writer.close()  # their handlers see EOF and finish before the loop ends
        server.tasks.stop()  # before the sessions die: a stopping server hands no task back
        await fleet.shutdown()
        bus.emit(EventKind.SERVER, "fleet server stopped")
        store.close()  # the last entries synced and named by the head
        (state_dir / "server.pid").unlink(missing_ok=True)


def _report_scope(bus: EventBus) -> None:
    """Say whether an SSH logout could take the server (see fleet_tui/scope.py)."""
    unit = own_scope()
    if unit is not None:
        bus.emit(EventKind.SERVER, f"running in its own systemd user scope {unit}: a logout does not stop it")
    elif SYSTEMD_DIR.is_dir():
        bus.emit(EventKind.SERVER, f"not in a systemd scope of its own: {LINGER_ADVICE}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fleet_tui.server")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(args.root, args.config))
    except AlreadyRunning as error:
        print(f"fleet-tui server: {error}", file=sys.stderr)
        return ALREADY_RUNNING
    except FleetError as error:
        print(f"fleet-tui server: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
