"""The server's typed API (fleet_tui/wire.py) on a real server: the typed client's answer models,
and the one-line refusals of requests the command table does not accept."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from fleet_tui import protocol, wire
from fleet_tui.client import FleetClient
from fleet_tui.errors import UsageError
from fleet_tui.paths import socket_path
from tests.fleet.conftest import FleetCli

pytestmark = [pytest.mark.real, pytest.mark.timeout(120)]


@pytest.fixture
def in_process(fleet: FleetCli, monkeypatch) -> FleetCli:
    """The `fleet` repository, with this process's environment pointing at its private server too."""
    for key in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(key, fleet.env[key])
    return fleet


async def _until(what: str, check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} never happened"
        await asyncio.sleep(0.05)


def test_the_typed_client_speaks_to_a_real_server_and_gets_answer_models(in_process):
    async def go() -> None:
        client = await FleetClient.connect(in_process.repo)
        try:
            ping = await client.ping()
            assert ping.protocol == protocol.PROTOCOL_VERSION and Path(ping.root) == in_process.repo.resolve()
            assert {a.name for a in (await client.agents()).agents} == {"shell", "echo", "stubborn"}
            assert (await client.settings()).base == "main"

            name = (await client.start(["shell"])).sessions[0]
            [view] = (await client.status()).sessions
            assert isinstance(view, wire.SessionView) and (view.name, view.agent) == (name, "shell")
            assert view.worktree.endswith(name) and view.port is not None

            await client.send(name, "echo typed-$((6*7))")
            screen = await _until("the echo", lambda: _screen_with(client, name, "typed-42"))
            assert screen.cols > 0 and len(screen.lines) == screen.rows
            await client.resize(name, 100, 30)
            assert (await client.screen(name)).cols == 100
            history = await client.history(name, 0, 10)
            assert isinstance(history, protocol.HistorySlice) and history.extent.pushed >= history.extent.first
            found = await client.search(name, "typed-42", line=history.extent.pushed + 30, backward=True)
            assert found.match is not None and found.match.width == len("typed-42")

            explained = await client.explain(name)
            assert explained.name == name and explained.status
            assert (await client.diff(name)).diff == ""
            [worktree] = (await client.worktrees()).worktrees
            assert worktree.session == name and worktree.merged
            assert (await client.worktree_disk()).worktrees == 1
            events = (await client.log(limit=5)).events
            assert events and all(isinstance(event, wire.EventView) and event.kind for event in events)
            assert (await client.tasks()).tasks == []

            killed = await client.kill(name)
            assert killed.session == name and killed.seconds is not None
            assert (await client.restart(name)).session == name
            await client.discard(name)
            assert (await client.status()).sessions == []
        finally:
            await client.close()

    asyncio.run(go())


async def _screen_with(client: FleetClient, name: str, text: str) -> wire.ScreenAnswer | None:
    screen = await client.screen(name)
    return screen if any(text in line for line in screen.lines) else None


def test_an_unknown_command_or_a_malformed_request_gets_one_line_and_the_server_goes_on(in_process):
    async def refusal(client: FleetClient, cmd: str, **args) -> str:
        with pytest.raises(UsageError) as refused:
            await client.call(cmd, **args)
        return str(refused.value)

    async def go() -> None:
        client = await FleetClient.connect(in_process.repo)
        try:
            unknown = await refusal(client, "launch")
            assert unknown.startswith("unknown command 'launch' (commands: ack, agents, approve,")
            assert await refusal(client, "kill") == "bad kill request: session: Field required"
            wrong_type = await refusal(client, "resize", session="shell-1", cols="wide", rows=3)
            assert wrong_type.startswith("bad resize request: cols: Input should be a valid integer")
            misspelt = await refusal(client, "status", verbose=True)
            assert misspelt == "bad status request: verbose: Extra inputs are not permitted"
            two = await refusal(client, "merge_branch")
            assert two == "bad merge_branch request: branch: Field required (and 1 more)"
            for text in (unknown, wrong_type, misspelt):
                assert "\n" not in text and "Traceback" not in text
            assert (await client.ping()).pid > 0, "the server answers the next request"
        finally:
            await client.close()

    asyncio.run(go())


def test_a_client_of_another_protocol_version_is_told_what_to_do(in_process):
    in_process.run("start", "shell")

    async def go() -> dict:
        reader, writer = await asyncio.open_unix_connection(str(socket_path(in_process.repo)))
        try:
            writer.write(protocol.encode({"id": 1, "v": protocol.PROTOCOL_VERSION + 1, "cmd": "status", "args": {}}))
            await writer.drain()
            return json.loads(await asyncio.wait_for(reader.readline(), 30))
        finally:
            writer.close()

    reply = asyncio.run(go())
    assert reply["ok"] is False and reply["exit_code"] == 2
    assert f"speaks protocol {protocol.PROTOCOL_VERSION} and the client {protocol.PROTOCOL_VERSION + 1}" in reply["error"]
    assert "fleet-tui down" in reply["error"]
    # A client from before requests carried a version spoke protocol 1: it is still answered.
    assert in_process.run("status").returncode == 0
