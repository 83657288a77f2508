"""The combined fleet of two machines as the TUI sees it (MultiClient over a real sshd): remote
sessions in the same stream as local ones, steering them, a fan-out across both machines, a remote
winner merged locally, and an ssh link killed mid-stream that comes back by itself with every
remote agent alive and every screen restored."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from fleet_tui.client import FleetClient
from fleet_tui.machines import load_machines
from fleet_tui.multiclient import UNREACHABLE, MultiClient
from fleet_tui.protocol import ScreenMirror
from fleet_tui.remote import connect_machine

pytestmark = pytest.mark.real


class Watcher:
    """Applies a MultiClient's messages as the app does: screens, the session list, the feed."""

    def __init__(self, client: MultiClient):
        self.client = client
        self.mirrors: dict[str, ScreenMirror] = {}
        self.sessions: dict[str, dict] = {}
        self.events: list[dict] = []
        self.machine_states: list[tuple[str, str]] = []
        self.full_screens: list[str] = []
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for message in self.client.messages():
            kind = message.get("t")
            if kind == "screen":
                self.mirrors.setdefault(message["s"], ScreenMirror(message["s"])).apply(message)
                if message.get("full"):
                    self.full_screens.append(message["s"])
            elif kind == "sessions":
                self.sessions = {s["name"]: s for s in message["sessions"]}
            elif kind == "event":
                self.events.append(message["event"])
            elif kind == "machine":
                self.machine_states.append((message["machine"], message["state"]))

    def screen(self, name: str) -> str:
        mirror = self.mirrors.get(name)
        return "\n".join(mirror.text()) if mirror else ""

    async def until(self, what, timeout: float = 30, why: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {why or what}; sessions "
                                     f"{ {n: s['status'] for n, s in self.sessions.items()} }")
            await asyncio.sleep(0.05)


@pytest.fixture
def env(two_machines, monkeypatch):
    for key in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "FLEET_SSH_CONFIG", "FLEET_DEMO_SPEED"):
        monkeypatch.setenv(key, two_machines.local.env[key])
    monkeypatch.delenv("CI", raising=False)
    return two_machines


async def combined(cli) -> tuple[MultiClient, Watcher]:
    """The local fleet and every configured machine's, attached, as the TUI opens them."""
    client = MultiClient(await FleetClient.connect(cli.repo), list(load_machines().machines.values()),
                         connect_machine)
    watcher = Watcher(client)
    await client.attach()
    return client, watcher


def git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_one_stream_steering_and_a_link_that_drops_and_comes_back(env):
    cli = env.local
    cli.run("start", "shell")
    cli.run("start", "shell", "--machine", "build")
    remote_pid = json.loads(cli.run("status", "--json", "--machine", "build").stdout)[0]["pid"]

    async def scenario() -> None:
        client, watcher = await combined(cli)
        try:
            await watcher.until(lambda: {"shell", "build:shell"} <= set(watcher.sessions), why="both machines")
            assert watcher.sessions["build:shell"]["machine"] == "build"
            await client.call("send", session="build:shell", text="echo remote-$((6*7))")
            await client.call("send", session="shell", text="echo local-$((6*7))")
            await watcher.until(lambda: "remote-42" in watcher.screen("build:shell"), why="the remote echo")
            await watcher.until(lambda: "local-42" in watcher.screen("shell"), why="the local echo")
            assert "remote-42" not in watcher.screen("shell")
            # Output streams while the link is killed: a loop printing a counter over there.
            await client.call("send", session="build:shell",
                              text="for i in $(seq 1 400); do echo tick-$i; sleep 0.05; done")
            await watcher.until(lambda: "tick-5" in watcher.screen("build:shell"), why="ticking")

            link = client.links["build"]
            ssh_process = link.client.process
            os.kill(ssh_process.pid, signal.SIGKILL)  # the ssh client of the link, mid-stream
            await watcher.until(lambda: ("build", UNREACHABLE) in watcher.machine_states, why="unreachable")
            await watcher.until(lambda: watcher.sessions.get("build:shell", {}).get("status") == UNREACHABLE,
                                why="the remote pane marked unreachable")
            assert "shell" in watcher.sessions and watcher.sessions["shell"]["status"] != UNREACHABLE
            with pytest.raises(Exception, match="unreachable"):
                await client.call("send", session="build:shell", text="lost")
            assert psutil.pid_exists(remote_pid), "the remote agent does not depend on the link"

            reattached = len(watcher.full_screens)
            await watcher.until(lambda: watcher.machine_states[-1] == ("build", "up"), timeout=30, why="reconnect")
            await watcher.until(lambda: "build:shell" in watcher.full_screens[reattached:],
                                why="the remote screen sent again")
            await watcher.until(lambda: watcher.sessions["build:shell"]["status"] != UNREACHABLE)
            assert watcher.sessions["build:shell"]["pid"] == remote_pid
            assert psutil.Process(remote_pid).is_running()
            await watcher.until(lambda: "tick-" in watcher.screen("build:shell"))
            assert any("build is unreachable" in e["message"] for e in watcher.events)
            assert any("build is connected" in e["message"] for e in watcher.events)
            # Steering works again over the new link.
            await client.call("keys", session="build:shell", keys=["ctrl+c"])
            await client.call("send", session="build:shell", text="echo back-$((2+3))")
            await watcher.until(lambda: "back-5" in watcher.screen("build:shell"), why="steering after reconnect")
            assert psutil.pid_exists(remote_pid)

            # A server stopped on purpose there is not started again by the link.
            await asyncio.to_thread(cli.run, "down", "--machine", "build")
            await watcher.until(lambda: watcher.sessions["build:shell"]["status"] == UNREACHABLE, why="down")
            await watcher.until(lambda: "no fleet server is running" in client.links["build"].error,
                                why="the reason")
            await asyncio.sleep(2)  # a few reconnection attempts
            assert env.remote_server_pid() is None
        finally:
            await client.close()
            watcher.task.cancel()

    asyncio.run(scenario())


def test_fan_out_across_machines_compare_as_one_run_and_merge_the_remote_winner(env):
    cli, local_repo, remote_repo = env.local, env.local.repo, env.remote_repo

    async def scenario() -> None:
        client, watcher = await combined(cli)
        try:
            await client.links["build"].connected.wait()
            agents = (await client.call("agents"))["agents"]
            assert {"careful", "hasty", "build:careful", "build:hasty"} <= {a["name"] for a in agents}
            run = await client.call("fanout", prompt="fix the median bug", agents=["hasty", "build:careful"])
            assert run["sessions"] == ["r1-hasty", "build:r1-careful"] and run["run"] == "r1 + build:r1"
            for name in run["sessions"]:
                await watcher.until(lambda: "Cost: $" in watcher.screen(name)
                                    and watcher.sessions.get(name, {}).get("status") in ("idle", "done"),
                                    timeout=60, why=f"{name} to finish")
            compared = await client.call("compare")
            assert [a["session"] for a in compared["attempts"]] == ["build:r1-careful", "r1-hasty"]
            assert compared["attempts"][0]["checks"]["tests"]["passed"]
            summary = await client.call("merge_summary", session="build:r1-careful")
            assert summary["discard"] == ["r1-hasty"] and summary["conflicts"] == []
            result = await client.call("merge", session="build:r1-careful")
            assert result["discarded"] == ["r1-hasty"]
            await watcher.until(lambda: not watcher.sessions, why="both attempts cleaned up")
        finally:
            await client.close()
            watcher.task.cancel()

    asyncio.run(scenario())
    tests = subprocess.run(["python3", "-m", "unittest", "-q"], cwd=local_repo, capture_output=True)
    assert tests.returncode == 0, "the remote winner's fix is on the local base branch"
    assert "merge attempt build:r1-careful" in git(local_repo, "log", "-1", "--format=%s").lower()
    assert git(local_repo, "branch", "--list", "fleet/*").strip() == "", "the local loser was discarded"
    assert git(remote_repo, "branch", "--list", "fleet/*").split() == ["fleet/r1-careful"]
