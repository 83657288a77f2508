"""Issue 12, defect 4: what crashes, full disks and bad text do to the audit trail.

A crash may tear the last line or leave the head one entry behind: the trail
must be repaired and go on, and `verify` pass. Deleting the head file or
cutting the tail must still be caught. A failed append uses no sequence number.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from fleet_tui.core.events import AuditStore, EventBus, EventKind
import pytest

pytestmark = pytest.mark.real


def filled(tmp_path, n: int = 5) -> AuditStore:
    store = AuditStore(tmp_path / "fleet" / "audit.jsonl")
    bus = EventBus(store)
    for i in range(n):
        bus.emit(EventKind.STATUS, f"event {i}", "claude", n=i)
    store.close()
    return store


def entries(store: AuditStore) -> list[dict]:
    return [json.loads(line) for line in store.path.read_text().splitlines()]


def test_a_torn_last_line_is_set_aside_and_the_chain_goes_on(tmp_path):
    store = filled(tmp_path)
    torn = b'{"seq": 6, "ts": 17000, "kind": "prompt", "mess'
    with open(store.path, "ab") as f:
        f.write(torn)
    ok, summary = AuditStore(store.path).verify()
    assert ok and "torn last line" in summary, summary

    again = AuditStore(store.path)
    EventBus(again).emit(EventKind.PROMPT, "after the crash", "claude")
    ok, summary = again.verify()
    assert ok, summary
    assert "1 torn entry repaired" in summary
    seqs = [(e["seq"], e["kind"]) for e in entries(again)]
    assert seqs[-2:] == [(6, "audit"), (7, "prompt")], "a note says what was repaired, then the chain goes on"
    assert "torn last line" in entries(again)[-2]["message"]
    assert again.torn_path.read_bytes().startswith(torn), "the fragment is kept aside, not destroyed"


def test_a_lone_surrogate_is_stored_replaced_and_uses_one_seq(tmp_path):
    store = filled(tmp_path)
    bus = EventBus(AuditStore(store.path))
    event = bus.emit(EventKind.PROMPT, "pasted \udcff here", "claude", prompt="x\ud800y")
    bus.emit(EventKind.PROMPT, "next", "claude")
    ok, summary = bus.store.verify()
    assert ok, summary
    assert [e["seq"] for e in entries(store)] == [1, 2, 3, 4, 5, 6, 7]
    assert event.seq == 6 and entries(store)[5]["message"] == "pasted \ufffd here"
    assert entries(store)[5]["data"]["prompt"] == "x\ufffdy"


FULL_DISK = textwrap.dedent(
    """\
    import resource, signal, sys
    from pathlib import Path
    from fleet_tui.core.events import AuditStore, EventBus, EventKind

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    store = AuditStore(Path(sys.argv[1]))
    bus = EventBus(store)
    bus.emit(EventKind.STATUS, "before", "s")
    size = store.path.stat().st_size
    # The file may grow by 40 more bytes only: the next entry is cut part-way, as on a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, resource.RLIM_INFINITY))
    bus.emit(EventKind.PROMPT, "x" * 300, "s")
    bus.emit(EventKind.PROMPT, "y" * 300, "s")
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    bus.emit(EventKind.STATUS, "after", "s")
    """
)


def test_a_full_disk_loses_the_events_but_no_seq_and_leaves_no_half_line(tmp_path):
    path = tmp_path / "fleet" / "audit.jsonl"
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "could not write event prompt to the audit trail" in done.stderr
    store = AuditStore(path)
    ok, summary = store.verify()
    assert ok, summary
    got = [(e["seq"], e["kind"], e["message"][:6]) for e in entries(store)]
    assert got == [(1, "status", "before"), (2, "audit", "2 even"), (3, "status", "after")]


def test_a_deleted_head_file_does_not_hide_a_cut_tail(tmp_path):
    store = filled(tmp_path)
    lines = store.path.read_text().splitlines(keepends=True)
    store.path.write_text("".join(lines[:-2]))
    store.head_path.unlink()
    ok, summary = AuditStore(store.path).verify()
    assert not ok and "head file" in summary and "missing" in summary
    # A server that starts on it writes the damage into the trail: it is never forgotten.
    again = AuditStore(store.path)
    EventBus(again).emit(EventKind.SERVER, "started")
    ok, summary = again.verify()
    assert not ok and "damage was recorded" in summary and "head file was missing" in summary


def test_a_cut_tail_is_recorded_by_the_next_server_too(tmp_path):
    store = filled(tmp_path)
    lines = store.path.read_text().splitlines(keepends=True)
    store.path.write_text("".join(lines[:-2]))
    again = AuditStore(store.path)
    EventBus(again).emit(EventKind.SERVER, "started")
    ok, summary = again.verify()
    assert not ok and "entries 4 to 5 were deleted" in summary, summary


def test_a_head_one_entry_behind_is_no_alarm(tmp_path):
    store = filled(tmp_path)
    fourth = entries(store)[3]
    store.head_path.write_text(f"4 {fourth['hash']}\n")  # the crash came between entry 5 and its head
    ok, summary = AuditStore(store.path).verify()
    assert ok, summary
    store.head_path.write_text(f"3 {fourth['hash']}\n")  # but a head that names a wrong entry is damage
    assert not AuditStore(store.path).verify()[0]


def test_the_store_is_private(fleet):
    fleet.run("status")
    folder = fleet.repo / ".git" / "fleet"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("audit.jsonl", "audit.head"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name


def test_kill_9_mid_flood_leaves_a_trail_that_verifies_and_goes_on(fleet):
    fleet.run("start", "shell")
    fleet.wait_screen("shell", "bash-")
    server = fleet.server_pid()
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(next(Path(fleet.env["XDG_RUNTIME_DIR"]).rglob("*.sock"))))
    # Requests as fast as the socket takes them, each one an event (a prompt typed into bash as a comment).
    prompt = "# flood " + "z" * 3000
    request = b"".join(
        json.dumps({"id": i, "cmd": "send", "args": {"session": "shell", "text": prompt}}).encode() + b"\n"
        for i in range(400))
    sock.setblocking(False)
    trail = fleet.repo / ".git" / "fleet" / "audit.jsonl"
    start = trail.stat().st_size
    sent = 0
    deadline = time.monotonic() + 20
    while trail.stat().st_size < start + 200_000 and time.monotonic() < deadline:
        try:
            sent += sock.send(request[sent:]) if sent < len(request) else 0
        except BlockingIOError:
            pass
        try:
            sock.recv(1 << 20)
        except BlockingIOError:
            pass
    os.kill(server, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(server)], timeout=10) if psutil.pid_exists(server) else None
    sock.close()
    verified = fleet.run("audit", "verify", check=False)
    assert verified.returncode == 0, verified.stdout
    fleet.run("status")  # a new server appends on top of whatever the kill left
    fleet.run("down")
    verified = fleet.run("audit", "verify", check=False)
    assert verified.returncode == 0, verified.stdout
    kinds = [json.loads(line)["kind"] for line in trail.read_text().splitlines()]
    assert kinds.count("prompt") > 20 and kinds[-1] == "server"
