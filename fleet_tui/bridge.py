"""`fleet-tui bridge`: run by ssh on a remote machine, it joins ssh's stdin/stdout to the fleet
server of a repository there, starting that server first if needed.

The first line it writes is a hello: {"t": "hello", "ok": true, "protocol": N, "version": "...",
"root": "..."}, or ok false with an "error" the client shows as is (not a repository, a broken
fleet.yaml, another protocol version). After a successful hello, bytes pass through unchanged
in both directions: the same newline-delimited protocol as on the unix socket. The server
outlives the bridge, so a dropped link stops nothing but the bridge.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from fleet_tui import __version__, protocol
from fleet_tui.errors import FleetError

CHUNK = 64 * 1024


def hello(ok: bool, **fields: Any) -> dict[str, Any]:
    return {"t": "hello", "ok": ok, "protocol": protocol.PROTOCOL_VERSION, "version": __version__, **fields}


def run_bridge(directory: str, client_protocol: int | None = None, probe: bool = False,
               start_server: bool = True) -> int:
    """Serve one link on stdin/stdout; returns the exit code. `probe` only says hello."""
    from fleet_tui.client import _accepts, start_server_process
    from fleet_tui.core import gitrepo
    from fleet_tui.paths import socket_path

    out = sys.stdout.buffer
    if client_protocol is not None and client_protocol != protocol.PROTOCOL_VERSION:
        return _say(out, hello(False, error=f"fleet-tui {__version__} here speaks protocol "
                                            f"{protocol.PROTOCOL_VERSION}, the client {client_protocol}"))
    try:
        root = gitrepo.find_repo_root(Path(directory).expanduser())
        if probe:
            return _say(out, hello(True, root=str(root)), code=0)
        path = socket_path(root)
        if not _accepts(path):
            if not start_server:
                raise FleetError("no fleet server is running for this repository: `fleet-tui start` starts one")
            start_server_process(root)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
    except (FleetError, OSError) as error:
        return _say(out, hello(False, error=str(error)))
    _say(out, hello(True, root=str(root)), code=0)
    _pump(sock)
    return 0


def _say(out, message: dict[str, Any], code: int = 1) -> int:
    out.write(protocol.encode(message))
    out.flush()
    return code


def _pump(sock: socket.socket) -> None:
    """Copy stdin -> socket in a thread and socket -> stdout here, until either side ends."""

    def upstream() -> None:
        try:
            while data := os.read(0, CHUNK):
                sock.sendall(data)
        except OSError:
            pass
        try:
            sock.shutdown(socket.SHUT_WR)  # the server sees the client leave and closes its side
        except OSError:
            pass

    threading.Thread(target=upstream, daemon=True).start()
    try:
        while data := sock.recv(CHUNK):
            view = memoryview(data)
            while view:
                view = view[os.write(1, view):]
    except OSError:  # the link went away (EPIPE) or the server did
        pass
    finally:
        sock.close()
