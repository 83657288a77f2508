"""Issue 12, defect 5: a client that stops reading cannot grow the server without bound.

A real client socket attaches and then never reads, as `fleet-tui log -f | sleep 3600` or a
TUI suspended with ctrl+z does, while other clients make the server push ~50 MB of events.
The server's memory (RSS, from psutil) must stay bounded, and the client must hear, once it
reads again, how many events it missed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from fleet_tui.client import FleetClient
from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

# A session that swallows whatever is typed, without echo: events, but no screen traffic.
SINK_FLEET = textwrap.dedent(
    """\
    agents:
      sink:
        command: [sh, -c, "stty raw -echo; exec cat > /dev/null"]
    """
)
PROMPT = "p" * 20_000  # each prompt event carries its text: 20 KB a message
EVENTS = 2500  # ~50 MB pushed to every attached client


@pytest.fixture
def sink(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", SINK_FLEET), runtime_dir)
    cli.run("start", "sink")
    yield cli
    cli.run("down", check=False)


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 1e6


async def flood(root: Path, events: int, connections: int = 8) -> None:
    """Send `events` prompts to the sink from several clients at once, each waiting for its answers."""
    async def one(count: int) -> None:
        client = await FleetClient.connect(root, start_server=False)
        try:
            for _ in range(count):
                await client.call("send", session="sink", text=PROMPT)
        finally:
            await client.close()

    await asyncio.gather(*(one(events // connections) for _ in range(connections)))


def test_a_client_that_never_reads_does_not_grow_the_server(sink, monkeypatch):
    for key, value in sink.env.items():
        monkeypatch.setenv(key, value)
    server = sink.server_pid()
    stalled = socket.socket(socket.AF_UNIX)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(str(next(Path(sink.env["XDG_RUNTIME_DIR"]).rglob("*.sock"))))
    stalled.sendall(b'{"id": 1, "cmd": "attach", "args": {}}\n')
    time.sleep(0.5)
    before = rss_mb(server)
    started = time.monotonic()
    asyncio.run(flood(sink.repo, EVENTS))
    grew = rss_mb(server) - before
    print(f"{EVENTS} events of {len(PROMPT) // 1000} KB in {time.monotonic() - started:.1f}s: "
          f"server RSS {before:.0f} MB -> +{grew:.0f} MB with a client that never reads")
    # Without a cap the never-read backlog alone is ~50 MB; what is left is the 500 recent
    # events the server keeps for new clients (~10 MB) and the held-back snapshots.
    assert grew < 30, f"the server grew by {grew:.0f} MB"

    # Once it reads again it is told what it missed, and gets the current session list.
    stalled.settimeout(10)
    received = b""
    deadline = time.monotonic() + 20
    while b"events were not sent to this client" not in received and time.monotonic() < deadline:
        try:
            chunk = stalled.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            break
        received += chunk
    stalled.close()
    notes = [json.loads(line) for line in received.splitlines() if b"were not sent" in line]
    assert notes, "the client was told it missed events"
    assert "`fleet-tui log` shows them all" in notes[0]["event"]["message"]
