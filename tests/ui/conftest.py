"""A recorded fleet: the client API answered from real recorded screens, for fast, deterministic UI tests."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import time
from pathlib import Path
from typing import Any

import pytest

from fleet_tui import wire
from fleet_tui.client import FleetApi
from fleet_tui.errors import FleetError

FIXTURE = Path(__file__).parent / "fixtures" / "fleet.json"
# A real run of the demo fleet (fan-out, compare, diffs, merge summaries): make_run_fixture.py.
RUN_FIXTURE = Path(__file__).parent / "fixtures" / "run.json"


class RecordedFleet(FleetApi):
    """Stands in for FleetClient (its typed methods are FleetApi's, over `call`): replays recorded protocol messages and records every call.

    Built from tests/ui/fixtures/fleet.json (real agent recordings fed through the real
    emulator); commands change its session list the way the server would and push the
    resulting messages, so the app under test sees exactly the wire protocol.
    """

    def __init__(self, fixture: Path = FIXTURE, *, sessions: int | None = None, **config: Any) -> None:
        data = json.loads(fixture.read_text(encoding="utf-8"))
        self.config = {**data["config"], **config}
        self.agent_list = data["agents"]
        self.sessions = {info["name"]: info for info in data["sessions"][:sessions]}
        self.screens = [screen for screen in data["screens"] if screen["s"] in self.sessions]
        self.events = data["events"]
        self.run = json.loads(RUN_FIXTURE.read_text(encoding="utf-8"))
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.closed = False
        self._pushed: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._called = asyncio.Event()

    # ---------------------------------------------------------------- client API
    async def call(self, cmd: str, **args: Any) -> Any:
        self.calls.append((cmd, args))
        self._called.set()
        handler = getattr(self, f"cmd_{cmd}", None)
        if handler is None:
            raise FleetError(f"unknown command {cmd!r}")
        wire.REQUESTS[cmd].model_validate(args)  # what the real server would refuse, this one does too
        return handler(**args)

    async def attach(self, *, focus: str | None = None) -> None:
        self.push_sessions()
        for screen in self.screens:
            self.push(screen)
        for event in self.events:
            self.push({"t": "event", "event": event})

    async def messages(self):
        while (message := await self._pushed.get()) is not None:
            yield message

    async def close(self) -> None:
        self.closed = True
        self._pushed.put_nowait(None)

    # ---------------------------------------------------------------- commands
    def cmd_config(self, **_: Any) -> dict[str, Any]:
        return self.config

    def cmd_agents(self, **_: Any) -> dict[str, Any]:
        return {"agents": self.agent_list}

    def cmd_status(self, **_: Any) -> dict[str, Any]:
        return {"sessions": list(self.sessions.values())}

    def cmd_input(self, session: str, data: str, **_: Any) -> None:
        self._session(session)

    def cmd_resize(self, session: str, cols: int, rows: int, **_: Any) -> None:
        self._session(session).update(cols=cols, rows=rows)

    def cmd_focus(self, session: str, **_: Any) -> None:
        self._session(session)

    def cmd_kill(self, session: str, **_: Any) -> dict[str, Any]:
        self.set_status(session, "killed")
        return {"session": session, "seconds": 0.1}

    def cmd_pause(self, session: str, **_: Any) -> None:
        self.set_status(session, "paused")

    def cmd_resume(self, session: str, **_: Any) -> None:
        self.set_status(session, "working")

    def cmd_restart(self, session: str, **_: Any) -> dict[str, Any]:
        self.set_status(session, "starting")
        return {"session": session}

    def cmd_start(self, agents: list[str], count: int | None = None, **_: Any) -> dict[str, Any]:
        names = []
        for agent in agents * (count or 1):
            name = f"{agent}-{len(self.sessions) + 1}"
            info = copy.deepcopy(next(iter(self.sessions.values())))
            info.update(name=name, agent=agent, status="starting", branch=f"fleet/{name}")
            self.sessions[name] = info
            names.append(name)
        self.push_sessions()
        return {"sessions": names}

    def cmd_fanout(self, prompt: str, agents: list[str] | None = None, count: int = 1,
                   sessions: list[str] | None = None, role: str | None = None, **_: Any) -> dict[str, Any]:
        if role is not None:
            sessions = [n for n, info in self.sessions.items() if info.get("role") == role]
        if not sessions:
            sessions = self.cmd_start(agents or [], count)["sessions"]
        return {"run": "r1", "sessions": sessions, "base_commit": self.run["compare"]["base_commit"]}

    def cmd_compare(self, run: str | None = None, **_: Any) -> dict[str, Any]:
        return copy.deepcopy(self.run["compare"])

    def cmd_diff(self, session: str, path: str | None = None, **_: Any) -> dict[str, Any]:
        return {"diff": self.run["diffs"][session][path or ""]}

    def cmd_merge_summary(self, session: str, **_: Any) -> dict[str, Any]:
        return copy.deepcopy(self.run["merge_summaries"][session])

    def cmd_merge(self, session: str, strategy: str = "merge", keep: bool = False, **_: Any) -> dict[str, Any]:
        summary = self.run["merge_summaries"][session]
        return {"base": summary["base"], "strategy": strategy, "commit": "0" * 40, "files": summary["files"],
                "discarded": [] if keep else summary["discard"]}

    def cmd_log(self, limit: int = 100, **_: Any) -> dict[str, Any]:
        return {"events": self.events[-limit:]}

    # ---------------------------------------------------------------- test side
    def _session(self, name: str) -> dict[str, Any]:
        if name not in self.sessions:
            raise FleetError(f"no session named {name!r}")
        return self.sessions[name]

    def push(self, message: dict[str, Any]) -> None:
        self._pushed.put_nowait(message)

    def push_sessions(self) -> None:
        self.push({"t": "sessions", "sessions": copy.deepcopy(list(self.sessions.values()))})

    def set_status(self, session: str, status: str) -> None:
        self._session(session)["status"] = status
        self.push_sessions()
        # As the server words it: the detector's reason, with the status in the data.
        event = {"seq": len(self.events) + 1, "ts": self.events[-1]["ts"] + 1, "kind": "status",
                 "session": session, "message": f"{status}: title \"✳ agent\" matches title_{status}",
                 "data": {"status": status}}
        self.events.append(event)
        self.push({"t": "event", "event": event})

    def calls_of(self, cmd: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == cmd]

    def typed(self, session: str) -> str:
        """Everything sent to a session's pty, in order."""
        return "".join(args["data"] for args in self.calls_of("input") if args["session"] == session)

    async def wait_for(self, cmd: str, **expected: Any) -> dict[str, Any]:
        """The first call of `cmd` with these arguments, waiting for it if need be.

        Event-driven, not timed: pytest-timeout is the only clock.
        """
        while True:
            for args in self.calls_of(cmd):
                if all(args.get(key) == value for key, value in expected.items()):
                    return args
            self._called.clear()
            await self._called.wait()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests in a fresh event loop (the project has no asyncio plugin)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
        return True
    return None


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Never read or write the user's real settings; event times print the same everywhere."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield tmp_path / "config"
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def fleet() -> RecordedFleet:
    return RecordedFleet()


async def until_ready(pilot, count: int | None = None) -> None:
    """Let the app take in the attach burst until `count` panes are drawn."""
    from fleet_tui.ui.widgets.terminal_pane import TerminalPane

    app = pilot.app
    expected = len(app._client_source.sessions) if count is None else count
    for _ in range(200):
        await pilot.pause()
        if len(app.query(TerminalPane)) == expected and app.focused is not None:
            break
    await pilot.pause()
