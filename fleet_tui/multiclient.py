"""One client over the fleets of several machines, for the TUI's single grid.

The local fleet keeps its session names; a session of machine `build` is called `build:NAME`
everywhere above this module (panes, feed, commands), and every request naming one is routed to
that machine's server with the plain name. Each remote machine is a MachineLink: it reconnects by
itself with backoff when the ssh link drops, shows its sessions as `unreachable` meanwhile, and
reattaches (the server sends every screen again), while the agents there keep running: they
belong to the remote server, not to the link.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, overload

from fleet_tui.client import FleetApi, FleetClient
from fleet_tui.core.compare import AttemptSummary, rank
from fleet_tui.core.status import Status
from fleet_tui.errors import FleetError, UsageError
from fleet_tui.machines import LOCAL, Machine, split_target

BACKOFF_FIRST = 0.5  # seconds before the first reconnection attempt
BACKOFF_MAX = 15.0
UNREACHABLE = Status.UNREACHABLE  # the status a remote session shows while its machine cannot be reached

Connect = Callable[..., Awaitable[FleetClient]]  # (start_server=bool) -> a connected client
Message = dict[str, Any]


@overload
def qualify(machine: str, name: str) -> str: ...
@overload
def qualify(machine: str, name: None) -> None: ...
def qualify(machine: str, name: str | None) -> str | None:
    return name if name is None or machine == LOCAL else f"{machine}:{name}"


def qualify_message(machine: str, message: Message) -> Message:
    """A server's message with its session names made machine:session (local ones unchanged)."""
    if machine == LOCAL:
        return message
    kind = message.get("t")
    if kind == "screen":
        return {**message, "s": qualify(machine, message["s"])}
    if kind == "sessions":
        return {**message, "sessions": [{**s, "name": qualify(machine, s["name"]), "machine": machine}
                                        for s in message.get("sessions", [])]}
    if kind == "event":
        event = message["event"]
        return {**message, "event": {**event, "session": qualify(machine, event.get("session")) or machine}}
    if "session" in message:
        return {**message, "session": qualify(machine, message["session"])}
    return message


class MachineLink:
    """A machine's fleet server kept connected and attached, whatever happens to the link."""

    def __init__(self, name: str, connect: Connect, out: asyncio.Queue):
        self.name = name
        self._connect = connect
        self._out = out
        self.client: FleetClient | None = None
        self.state = "connecting"
        self.error = ""
        self.sessions: list[dict[str, Any]] = []  # the last list the server sent, names qualified
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def connect_once(self) -> None:
        """Connect without attaching or reconnecting (a one-shot command line request)."""
        self.client = await self._connect()
        self.state = "up"

    async def call(self, cmd: str, **args: Any) -> Any:
        if self.client is None:
            raise FleetError(f"machine {self.name} is unreachable ({self.error or 'connecting'}); "
                             "it reconnects by itself")
        return await self.client.call(cmd, **args)

    async def _run(self) -> None:
        delay = BACKOFF_FIRST
        first = True
        while True:
            try:
                # The first connection starts the server there, as opening the TUI does here; later
                # ones only reconnect: a server stopped on purpose (`down`) stays stopped.
                client = await self._connect(start_server=first)
                first = False
            except FleetError as error:
                self._set_state(UNREACHABLE, str(error), retry=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            self.client = client
            try:
                await client.attach()
            except FleetError as error:
                self.client = None
                await client.close()
                self._set_state(UNREACHABLE, str(error), retry=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            delay = BACKOFF_FIRST
            self._set_state("up", "")
            async for message in client.messages():
                message = qualify_message(self.name, message)
                if message.get("t") == "sessions":
                    self.sessions = message["sessions"]
                    message = {"t": "sessions_of", "machine": self.name}
                self._out.put_nowait(message)
            self.client = None
            await client.close()
            self._set_state(UNREACHABLE, "the ssh link dropped", retry=delay)
            await asyncio.sleep(delay)

    def _set_state(self, state: str, error: str, retry: float | None = None) -> None:
        changed = state != self.state or error != self.error
        self.state, self.error = state, error
        if state == "up":
            self.connected.set()
        else:
            self.connected.clear()
        if not changed:
            return
        if state == UNREACHABLE:
            text = f"{self.name} is unreachable: {error}; reconnecting" + (f" in {retry:.1f}s" if retry else "")
            # Its panes stay, showing the last screen, marked unreachable until the link is back.
            self.sessions = [{**s, "status": UNREACHABLE} for s in self.sessions]
            self._out.put_nowait({"t": "sessions_of", "machine": self.name})
        else:
            text = f"{self.name} is connected"
        self._out.put_nowait({"t": "event", "event": {"seq": 0, "ts": time.time(), "kind": "server",
                                                      "session": self.name, "message": text}})
        self._out.put_nowait({"t": "machine", "machine": self.name, "state": state, "error": error})


class MultiClient(FleetApi):
    """FleetClient's interface (the typed commands, attach, messages, close) over the local fleet and remote
    ones: `call` routes each request by the machine its session names, and merges the answers of requests
    about every machine (status, agents, a fan-out's compare)."""

    def __init__(self, local: FleetClient, machines: list[Machine], connect: Callable[..., Awaitable[FleetClient]]):
        self.local = local
        self.root: Path = local.root
        self.machines = {m.name: m for m in machines}
        self._out: asyncio.Queue[Message | None] = asyncio.Queue()
        self.links = {m.name: MachineLink(m.name, lambda m=m, **kw: connect(m, **kw), self._out) for m in machines}
        self._local_sessions: list[dict[str, Any]] = []
        self._last_runs: dict[str, str] = {}  # machine -> run id of the latest fan-out made here
        self._pump: asyncio.Task | None = None

    # -- routing ------------------------------------------------------------------------
    def _target(self, machine: str | None) -> FleetClient | MachineLink:
        if machine in (None, LOCAL):
            return self.local
        if machine not in self.links:
            raise UsageError(f"no machine named {machine!r} (machines: {', '.join(self.links) or 'none'})")
        return self.links[machine]

    async def call(self, cmd: str, **args: Any) -> Any:
        special = getattr(self, "_call_" + cmd, None)
        if special is not None:
            return await special(**args)
        if isinstance(args.get("session"), str):
            machine, args["session"] = split_target(args["session"])
            return await self._target(machine).call(cmd, **args)
        return await self.local.call(cmd, **args)

    async def _gather(self, cmd: str, key: str, **args: Any) -> Any:
        """The local answer to `cmd` with every reachable machine's `key` list appended, names qualified."""
        result = await self.local.call(cmd, **args)
        for name, link in self.links.items():
            try:
                remote = await link.call(cmd, **args)
            except FleetError:
                continue
            result[key] += [{**item, "name": qualify(name, item["name"]), "machine": name} for item in remote[key]]
        return result

    async def _call_status(self, **args: Any) -> Any:
        return await self._gather("status", "sessions", **args)

    async def _call_agents(self, **args: Any) -> Any:
        return await self._gather("agents", "agents", **args)

    async def _call_start(self, agents: list[str] | None = None, **args: Any) -> Any:
        started: list[str] = []
        for machine, names in _group(agents or []).items():
            result = await self._target(machine).call("start", agents=names, **args)
            started += [qualify(machine, s) for s in result["sessions"]]
        if not agents:
            started += (await self.local.call("start", agents=[], **args))["sessions"]
        return {"sessions": started}

    async def _call_fanout(self, prompt: str, agents: list[str] | None = None, sessions: list[str] | None = None,
                           role: str | None = None, **args: Any) -> Any:
        """One prompt to sessions of several machines: one run per machine, reported as one."""
        if role is not None:
            groups: dict[str, dict[str, Any]] = {LOCAL: {"role": role},
                                                 **{m: {"role": role} for m, l in self.links.items() if l.client}}
        elif sessions:
            groups = {m: {"sessions": names} for m, names in _group(sessions).items()}
        else:
            groups = {m: {"agents": names} for m, names in _group(agents or []).items()} or {LOCAL: {}}
        runs, started, errors = {}, [], []
        for machine, target in groups.items():
            try:
                result = await self._target(machine).call("fanout", prompt=prompt, **target, **args)
            except UsageError as error:
                if role is None:
                    raise
                errors.append(str(error))
                continue
            runs[machine] = result["run"]
            started += [qualify(machine, s) for s in result["sessions"]]
        if not runs:
            raise UsageError(errors[0] if errors else "nothing to send the prompt to")
        self._last_runs = runs
        return {"run": _run_label(runs), "runs": runs, "sessions": started}

    async def _call_compare(self, run: str | None = None, **args: Any) -> Any:
        """A run of one machine, or the latest fan-out across machines ranked as one run."""
        runs = self._last_runs if run is None or run == _run_label(self._last_runs) else None
        if not runs:
            machine, run_id = split_target(run) if run else (None, None)
            result = await self._target(machine).call("compare", run=run_id, **args)
            if machine in (None, LOCAL):
                return result
            return {**result, "run": qualify(machine, result["run"]),
                    "attempts": [{**a, "session": qualify(machine, a["session"])} for a in result["attempts"]]}
        parts = {machine: await self._target(machine).call("compare", run=run_id, **args)
                 for machine, run_id in runs.items()}
        first = next(iter(parts.values()))
        rows = [{**a, "session": qualify(machine, a["session"])} for machine, part in parts.items()
                for a in part["attempts"]]
        order = [s.name for s in rank(AttemptSummary(
            name=row["session"], checks_passed=row["checks_passed"], checks_total=row["checks_total"],
            lines_changed=row["added"] + row["removed"], cost=row["cost"], duration=row["duration"] or 0.0,
            files_changed=row["files_changed"]) for row in rows)]
        rows.sort(key=lambda row: order.index(row["session"]))
        for i, row in enumerate(rows, start=1):
            row["rank"] = i
        names = list(dict.fromkeys(n for part in parts.values() for n in part["check_names"]))
        return {**first, "run": _run_label(runs), "attempts": rows, "check_names": names,
                "base_moved": any(part["base_moved"] for part in parts.values())}

    async def _call_merge_summary(self, session: str, **args: Any) -> Any:
        machine, name = split_target(session)
        if machine in (None, LOCAL):
            return await self.local.call("merge_summary", session=name, **args)
        from fleet_tui.remote_merge import fetch_attempt

        summary = await fetch_attempt(self.local, self._remote_client(machine), self.machines[machine], name)
        return {**summary.wire(), "discard": summary.discard + self._local_siblings(machine)}

    async def _call_merge(self, session: str, strategy: str = "merge", keep: bool = False, **args: Any) -> Any:
        machine, name = split_target(session)
        if machine in (None, LOCAL):
            result = await self.local.call("merge", session=name, strategy=strategy, keep=keep, **args)
            discard = [] if keep else [s for s in self._sibling_attempts(LOCAL)]
        else:
            from fleet_tui.remote_merge import merge_remote

            result = (await merge_remote(self.local, self._remote_client(machine), self.machines[machine], name,
                                         strategy, keep)).wire()
            discard = [] if keep else self._local_siblings(machine) + [
                s for m in self._last_runs if m not in (LOCAL, machine) for s in self._sibling_attempts(m)]
        # The rest of a run spread over machines goes too, as it would for a one-machine run.
        for target in discard:
            other, other_name = split_target(target)
            try:
                await self._target(other).call("discard", session=other_name)
                result.setdefault("discarded", []).append(target)
            except FleetError:
                pass
        return result

    def _remote_client(self, machine: str) -> FleetClient:
        link = self._target(machine)
        assert isinstance(link, MachineLink)
        if link.client is None:
            raise FleetError(f"machine {machine} is unreachable ({link.error or 'connecting'}); try again once "
                             "it is back")
        return link.client

    def _sibling_attempts(self, machine: str) -> list[str]:
        """The sessions of the latest multi-machine run on `machine`, when the winner is elsewhere."""
        if len(self._last_runs) < 2 or machine not in self._last_runs:
            return []
        run = self._last_runs[machine]
        sessions = self._local_sessions if machine == LOCAL else self.links[machine].sessions
        return [s["name"] for s in sessions if s.get("run") == run]

    def _local_siblings(self, winner_machine: str) -> list[str]:
        return self._sibling_attempts(LOCAL) if winner_machine != LOCAL else []

    async def connect_once(self) -> None:
        """Reach every machine once, for a command line request (no attach, no reconnection)."""
        for link in self.links.values():
            await link.connect_once()

    # -- attach and messages --------------------------------------------------------------
    async def attach(self, *, focus: str | None = None) -> None:
        await self.local.attach(focus=focus)
        self._pump = asyncio.get_running_loop().create_task(self._pump_local())
        for link in self.links.values():
            link.start()

    async def _pump_local(self) -> None:
        async for message in self.local.messages():
            if message.get("t") == "sessions":
                self._local_sessions = message["sessions"]
                message = {"t": "sessions_of", "machine": LOCAL}
            self._out.put_nowait(message)
        self._out.put_nowait(None)  # the local server went away: the app says so

    def _all_sessions(self) -> Message:
        sessions = list(self._local_sessions)
        for link in self.links.values():
            sessions += link.sessions
        return {"t": "sessions", "sessions": sessions}

    async def messages(self) -> AsyncIterator[Message]:
        while True:
            message = await self._out.get()
            if message is None:
                return
            if message.get("t") == "sessions_of":
                message = self._all_sessions()  # every machine's list replaces only its part of the grid
            yield message

    async def stop_server(self, timeout: float = 45.0) -> int:
        """Stop this machine's fleet server; the other machines' fleets keep running."""
        return await self.local.stop_server(timeout)

    async def close(self) -> None:
        for link in self.links.values():
            await link.stop()
        if self._pump is not None:
            self._pump.cancel()
        await self.local.close()


def _group(targets: list[str]) -> dict[str, list[str]]:
    """['careful', 'build:hasty', 'build:hasty'] -> {'local': ['careful'], 'build': ['hasty', 'hasty']}."""
    groups: dict[str, list[str]] = {}
    for target in targets:
        machine, name = split_target(target)
        groups.setdefault(machine or LOCAL, []).append(name)
    return groups


def _run_label(runs: dict[str, str]) -> str:
    return " + ".join(qualify(machine, run) or run for machine, run in runs.items())
