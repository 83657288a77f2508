"""Talking to a repository's fleet server, starting it first when it is not running."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

from fleet_tui import protocol, wire
from fleet_tui.core import gitrepo
from fleet_tui.errors import FleetError, UsageError
from fleet_tui.protocol import ALREADY_RUNNING
from fleet_tui.paths import socket_path
from fleet_tui.scope import scoped

SERVER_START_TIMEOUT = 15.0

A = TypeVar("A", bound=wire.Answer)


class FleetApi:
    """One typed method per server command (wire.py), over `call`, which sends a request by name.

    FleetClient speaks to one server; MultiClient routes the same calls over several machines.
    A refusal raises FleetError (UsageError for a usage mistake) with the server's one line.
    """

    async def call(self, cmd: str, **args: Any) -> Any:
        raise NotImplementedError

    def messages(self) -> AsyncIterator[dict[str, Any]]:
        """What the server pushes to an attached client: screens, session lists, events, tasks."""
        raise NotImplementedError

    async def stop_server(self, timeout: float = 45.0) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def ask(self, request: wire.Request, answer: type[A]) -> A:
        return answer.model_validate(await self.call(request.command, **request.args()))

    async def tell(self, request: wire.Request) -> None:
        await self.call(request.command, **request.args())

    async def ping(self) -> wire.PingAnswer:
        return await self.ask(wire.Ping(), wire.PingAnswer)

    async def status(self) -> wire.StatusAnswer:
        return await self.ask(wire.Status(), wire.StatusAnswer)

    async def explain(self, session: str) -> wire.ExplainAnswer:
        return await self.ask(wire.Explain(session=session), wire.ExplainAnswer)

    async def agents(self) -> wire.AgentsAnswer:
        return await self.ask(wire.Agents(), wire.AgentsAnswer)

    async def settings(self) -> wire.ClientSettings:
        return await self.ask(wire.Config(), wire.ClientSettings)

    async def open_ui(self) -> tuple[wire.ClientSettings, wire.AgentsAnswer]:
        """What a TUI asks first, together: one round trip before the panes come (what attaching
        pushes waits in the queue of `messages`)."""
        settings, agents, _ = await asyncio.gather(self.settings(), self.agents(), self.attach())
        return settings, agents

    async def start(self, agents: list[str] | None = None, count: int | None = None,
                    missing_only: bool = False) -> wire.StartAnswer:
        return await self.ask(wire.Start(agents=agents, count=count, missing_only=missing_only), wire.StartAnswer)

    async def screen(self, session: str) -> wire.ScreenAnswer:
        return await self.ask(wire.Screen(session=session), wire.ScreenAnswer)

    async def history(self, session: str, start: int, count: int) -> protocol.HistorySlice:
        answer = await self.ask(wire.History(session=session, start=start, count=count), wire.HistoryAnswer)
        return protocol.HistorySlice.from_wire(answer.wire())

    async def search(self, session: str, query: str, line: int, col: int = 0,
                     backward: bool = False) -> protocol.SearchResult:
        answer = await self.ask(wire.Search(session=session, query=query, line=line, col=col, backward=backward),
                                wire.SearchAnswer)
        return protocol.SearchResult.from_wire(answer.wire())

    async def input(self, session: str, data: str) -> None:
        await self.tell(wire.Input(session=session, data=data))

    async def send(self, session: str, text: str) -> None:
        await self.tell(wire.Send(session=session, text=text))

    async def keys(self, session: str, keys: list[str]) -> None:
        await self.tell(wire.Keys(session=session, keys=keys))

    async def resize(self, session: str, cols: int, rows: int) -> None:
        await self.tell(wire.Resize(session=session, cols=cols, rows=rows))

    async def focus(self, session: str | None) -> None:
        await self.tell(wire.Focus(session=session))

    async def ack(self, session: str) -> wire.AckAnswer:
        return await self.ask(wire.Ack(session=session), wire.AckAnswer)

    async def run_state(self, run: str | None = None) -> wire.RunStateAnswer:
        return await self.ask(wire.RunState(run=run), wire.RunStateAnswer)

    async def kill(self, session: str) -> wire.KillAnswer:
        return await self.ask(wire.Kill(session=session), wire.KillAnswer)

    async def pause(self, session: str) -> None:
        await self.tell(wire.Pause(session=session))

    async def resume(self, session: str) -> None:
        await self.tell(wire.Resume(session=session))

    async def restart(self, session: str) -> wire.RestartAnswer:
        return await self.ask(wire.Restart(session=session), wire.RestartAnswer)

    async def restore(self, sessions: list[str] | None = None) -> wire.RestoreAnswer:
        return await self.ask(wire.Restore(sessions=sessions), wire.RestoreAnswer)

    async def log(self, limit: int = 200, task: str | None = None) -> wire.LogAnswer:
        return await self.ask(wire.Log(limit=limit, task=task), wire.LogAnswer)

    async def fanout(self, prompt: str, agents: list[str] | None = None, count: int = 1,
                     sessions: list[str] | None = None, role: str | None = None) -> wire.FanoutAnswer:
        request = wire.Fanout(prompt=prompt, agents=agents, count=count, sessions=sessions, role=role)
        return await self.ask(request, wire.FanoutAnswer)

    async def compare(self, run: str | None = None, last: bool = False) -> wire.CompareAnswer:
        return await self.ask(wire.Compare(run=run, last=last), wire.CompareAnswer)

    async def diff(self, session: str, path: str | None = None) -> wire.DiffAnswer:
        return await self.ask(wire.Diff(session=session, path=path), wire.DiffAnswer)

    async def merge_summary(self, session: str) -> wire.MergeSummary:
        return await self.ask(wire.MergeSummaryRequest(session=session), wire.MergeSummary)

    async def merge(self, session: str, strategy: str = "merge", keep: bool = False) -> wire.MergeAnswer:
        return await self.ask(wire.Merge(session=session, strategy=strategy, keep=keep), wire.MergeAnswer)

    async def merge_branch_summary(self, branch: str) -> wire.MergeSummary:
        return await self.ask(wire.MergeBranchSummary(branch=branch), wire.MergeSummary)

    async def merge_branch(self, branch: str, label: str, strategy: str = "merge") -> wire.MergeAnswer:
        return await self.ask(wire.MergeBranch(branch=branch, label=label, strategy=strategy), wire.MergeAnswer)

    async def discard(self, session: str, keep_branch: bool = False) -> None:
        await self.tell(wire.Discard(session=session, keep_branch=keep_branch))

    async def worktrees(self) -> wire.WorktreesAnswer:
        return await self.ask(wire.Worktrees(), wire.WorktreesAnswer)

    async def prune(self, paths: list[str], confirmed: list[str] | None = None) -> wire.PruneAnswer:
        return await self.ask(wire.Prune(paths=paths, confirmed=confirmed), wire.PruneAnswer)

    async def worktree_disk(self) -> wire.DiskAnswer:
        return await self.ask(wire.WorktreeDisk(), wire.DiskAnswer)

    async def submit_task(self, text: str, role: str | None = None, pipeline: str | None = None,
                          priority: str = "normal") -> wire.TaskView:
        request = wire.SubmitTask(text=text, role=role, pipeline=pipeline, priority=priority)
        return await self.ask(request, wire.TaskView)

    async def tasks(self) -> wire.TasksAnswer:
        return await self.ask(wire.Tasks(), wire.TasksAnswer)

    async def approve(self, task: str, by: str | None = None, override: bool = False,
                      pick: str | None = None, seen: int | None = None) -> wire.TaskView:
        return await self.ask(wire.Approve(task=task, by=by, override=override, pick=pick, seen=seen), wire.TaskView)

    async def reject(self, task: str, by: str | None = None, reason: str = "",
                     seen: int | None = None) -> wire.TaskView:
        return await self.ask(wire.Reject(task=task, by=by, reason=reason, seen=seen), wire.TaskView)

    async def attach(self, *, focus: str | None = None) -> None:
        await self.tell(wire.Attach(focus=focus))

    async def warm_ui(self) -> None:
        await self.tell(wire.WarmUi())

    async def down(self) -> wire.DownAnswer:
        return await self.ask(wire.Down(), wire.DownAnswer)


class FleetClient(FleetApi):
    """One connection to a fleet server: over its unix socket, or through a `fleet-tui bridge`
    run by ssh on another machine (`process` is then that ssh, ended on close)."""

    def __init__(self, root: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 process: asyncio.subprocess.Process | None = None):
        self.root = root
        self.process = process
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pushed: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._pump = asyncio.get_running_loop().create_task(self._read_forever())
        self._opening: asyncio.Future[tuple[wire.ClientSettings, wire.AgentsAnswer]] | None = None

    def open_ui_early(self) -> None:
        """Send open_ui's requests now, before the app runs: the server's answers and the first
        screens wait in the socket while Textual builds its first frame, instead of being asked
        for after it."""
        self._opening = asyncio.ensure_future(super().open_ui())

    async def open_ui(self) -> tuple[wire.ClientSettings, wire.AgentsAnswer]:
        opening, self._opening = self._opening, None
        return await (opening if opening is not None else super().open_ui())

    @classmethod
    async def connect(cls, root: Path, *, start_server: bool = True, config_path: Path | None = None) -> "FleetClient":
        root = gitrepo.find_repo_root(root)
        path = socket_path(root)
        try:
            reader, writer = await _open(path)
        except (FileNotFoundError, ConnectionRefusedError):
            if not start_server:
                raise FleetError("no fleet server is running for this repository: `fleet-tui start` starts one")
            await asyncio.to_thread(start_server_process, root, config_path)
            reader, writer = await _open(path)
        return cls(root, reader, writer)

    async def call(self, cmd: str, **args: Any) -> Any:
        """Send one request by name and wait for its answer (the typed methods of FleetApi wrap this)."""
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._writer.write(protocol.encode({"id": request_id, "v": protocol.PROTOCOL_VERSION, "cmd": cmd,
                                            "args": args}))
        await self._writer.drain()
        reply = await future
        if not reply.get("ok"):
            error_type = UsageError if reply.get("exit_code") == 2 else FleetError
            raise error_type(reply.get("error", "the fleet server refused the request"))
        return reply.get("result")

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            message = await self._pushed.get()
            if message is None:
                return
            yield message

    async def stop_server(self, timeout: float = 45.0) -> int:
        """Stop the server and its sessions; returns once it has exited, with how many sessions it stopped.

        The wait covers a merge under way, which the server lets finish (up to 30 s).
        """
        result = await self.down()
        if self.process is not None:  # a pid on another machine: its server hangs up once it stops
            await asyncio.wait([self._pump], timeout=timeout)
        else:
            await asyncio.to_thread(_wait_gone, result.pid, timeout)
        return result.stopped

    async def close(self) -> None:
        self._pump.cancel()
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass
        if self.process is not None:
            if self.process.returncode is None:
                self.process.terminate()
            # Read its output to the end: asyncio closes a subprocess's transport only then.
            await asyncio.wait_for(self.process.communicate(), 10)

    async def _read_forever(self) -> None:
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                message = protocol.decode(line)
                request_id = message.get("id")
                if message.get("t") == "reply" and isinstance(request_id, int):
                    future = self._waiting.pop(request_id, None)
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    self._pushed.put_nowait(message)
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            lost = {"ok": False, "error": "the fleet server went away (`fleet-tui` starts it again)"}
            for future in self._waiting.values():
                if not future.done():
                    future.set_result(lost)
            self._waiting.clear()
            self._pushed.put_nowait(None)


async def _open(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(str(path), limit=protocol.MAX_MESSAGE_BYTES)


def start_server_process(root: Path, config_path: Path | None = None) -> None:
    """Start the repository's server detached (own session, no terminal) and wait until it listens."""
    from fleet_tui.config import CONFIG_NAME, load_config
    from fleet_tui.core.worktree import worktree_folder

    config = load_config(config_path or root / CONFIG_NAME)  # a broken fleet.yaml is reported here, exit 2
    worktree_folder(root, config.worktrees)  # so is a `worktrees:` that names a file
    state_dir = gitrepo.fleet_state_dir(root)
    log_path = state_dir / "server.log"
    argv = [sys.executable, "-m", "fleet_tui.server", "--root", str(root)]
    if config_path is not None:
        argv += ["--config", str(Path(config_path).resolve())]
    argv, _ = scoped(argv, root)  # its own systemd user scope where there is one: a logout must not take it
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    with open(log_path, "ab") as log:
        start = log.tell()
    process = _spawn_server(argv, root, log_path)
    path = socket_path(root)
    while time.monotonic() < deadline:
        if _accepts(path):
            # The server outlives this client, but while this process lives (a TUI) it is the
            # server's parent: reap it when it stops, or it lingers as a zombie and `down` waits.
            threading.Thread(target=process.wait, name="reap-fleet-server", daemon=True).start()
            return
        code = process.poll()
        if code == ALREADY_RUNNING:
            # A server that is still stopping holds the lock: start ours once it has gone.
            time.sleep(0.1)
            process = _spawn_server(argv, root, log_path)
        elif code is not None:
            break
        time.sleep(0.02)
    last = _last_line(log_path, start)
    raise FleetError(f"the fleet server did not start: {last or 'see ' + str(log_path)}")


def _spawn_server(argv: list[str], root: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        return subprocess.Popen(argv, cwd=root, stdin=devnull, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)


def _accepts(path: Path) -> bool:
    """True when a server listens on the socket (a leftover file from a dead one does not count)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _wait_gone(pid: int, timeout: float) -> None:
    """Return once the server has exited; one that exited but is not reaped yet counts as gone."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        if time.monotonic() >= deadline:
            raise FleetError(f"the fleet server (pid {pid}) is still stopping; check again with `fleet-tui status`")
        time.sleep(0.02)


def _last_line(path: Path, start: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(start)
            lines = [line.strip() for line in f.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""
