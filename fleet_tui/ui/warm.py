"""The warm UI process: Textual, pydantic and the UI imported once, a fork per `fleet-tui`.

The fleet server starts it (fleet_tui/warm_host.py) after a TUI first attached, with a pipe on
its stdin (end of file: the server is gone, so is this). It imports what opening the TUI
imports, builds the wire models' validators, then waits on a unix socket beside the server's
(0600 in the private 0700 runtime folder; the peer's uid is checked too). For each launcher
(fleet_tui/launch.py) it forks a child that takes the launcher's terminal, environment, folder
and argv and runs the ordinary `fleet-tui` (`fleet_tui.cli.main`) on them: the exit code goes
back to the launcher, which exits with it. Nothing runs here but this loop: no thread, no event
loop, so a fork inherits nothing half-done.

    python -m fleet_tui.ui.warm --socket PATH
"""

from __future__ import annotations

import argparse
import array
import gc
import io
import json
import locale
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any, NoReturn

from fleet_tui.warm_protocol import LEAVE_APPLICATION_MODE, MAGIC, STALE_EXIT, import_time_environment

MAX_PAYLOAD = 1 << 20  # an environment is a few KB
RESTORE_TIMEOUT = 1.0  # a child whose launcher died gives the terminal back this long, then ends
RECEIVE_TIMEOUT = 2.0  # a launcher sends at once; one that stalls must not hold the next
_RETIRED: list[Any] = []  # the streams the process started with: closing them would close fds 0-2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fleet_tui.ui.warm")
    parser.add_argument("--socket", required=True)
    args = parser.parse_args(argv)
    gc.disable()  # the imports make ~100,000 long-lived objects and little garbage
    import_ui()
    open_app_once()
    gc.collect()
    gc.freeze()  # nor does a child's collector touch (and so copy) what they share
    listener = listen(args.socket)
    inode = os.stat(args.socket).st_ino
    try:
        return WarmProcess(listener, args.socket).serve()
    finally:
        _unlink_if_ours(args.socket, inode)


def import_ui() -> None:
    """What `fleet-tui` imports on its way to the first frame, and the wire models it validates."""
    import fleet_tui.cli  # noqa: F401
    import fleet_tui.client  # noqa: F401
    import fleet_tui.machines  # noqa: F401
    import fleet_tui.ui.app  # noqa: F401
    from fleet_tui import wire
    from pydantic import BaseModel

    for value in vars(wire).values():  # their validators are built on first use otherwise (defer_build)
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == wire.__name__:
            value.model_rebuild(force=True)


def open_app_once() -> None:
    """Open the app headless once: Textual imports much of itself on first use (the compositor,
    renderables, widget modules) and fills its caches (CSS tokens, colours, styles) as it draws.
    Its event loop is closed afterwards; no thread is left running."""
    import asyncio

    from fleet_tui.ui import theme
    from fleet_tui.ui.app import FleetApp

    async def no_server() -> Any:
        await asyncio.Event().wait()  # cancelled when the app exits

    async def open_and_close() -> None:
        app = FleetApp(no_server)
        async with app.run_test(size=(200, 60)) as pilot:
            await pilot.pause()
            theme.rich_colours(app.get_css_variables())  # what the first tasks message asks

    asyncio.run(open_and_close())


def listen(path: str) -> socket.socket:
    """Bind under a temporary name and rename into place: a launcher never meets a half-made socket."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fresh = f"{path}.{os.getpid()}"
    old_umask = os.umask(0o177)  # 0600: only its user can connect
    try:
        listener.bind(fresh)
    finally:
        os.umask(old_umask)
    listener.listen(16)
    os.rename(fresh, path)
    return listener


def _unlink_if_ours(path: str, inode: int) -> None:
    """Remove the socket unless a newer warm process has put its own in its place."""
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


def module_stamps() -> dict[str, int]:
    """Our modules' files and when they changed: an upgrade or an edit makes this process stale."""
    stamps = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.split(".")[0] == "fleet_tui" and path:
            try:
                stamps[path] = os.stat(path).st_mtime_ns
            except OSError:
                pass
    return stamps


class Refused(Exception):
    pass


class WarmProcess:
    def __init__(self, listener: socket.socket, path: str) -> None:
        self.listener = listener
        self.path = path
        self.stamps = module_stamps()
        self.children: set[int] = set()
        self.import_env = import_time_environment(os.environ)

    def serve(self) -> int:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)  # a child's end wakes the loop: reaped at once, no zombie
        signal.signal(signal.SIGCHLD, lambda *_: None)
        listening = self.listener.fileno()
        while True:
            readable, _, _ = select.select([listening, 0, wake_read], [], [])
            if wake_read in readable:
                os.read(wake_read, 512)
            self.reap()
            if 0 in readable and not os.read(0, 512):
                return 0  # the server is gone
            if listening in readable:
                code = self.accept()
                if code is not None:
                    return code

    def reap(self) -> None:
        while self.children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.discard(pid)

    def accept(self) -> int | None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return None
        with conn:
            try:
                conn.settimeout(RECEIVE_TIMEOUT)
                if not same_user(conn):
                    return None
                request, fds = receive(conn)
            except (OSError, ValueError):
                return None
            try:
                self.check(request)
            except Refused as refusal:
                _say(conn, f"no {refusal}")
                _close(fds)
                return STALE_EXIT if str(refusal) == "stale" else None
            pid = os.fork()
            if pid == 0:
                run_child(conn, fds, request, self.listener)
            self.children.add(pid)
            _close(fds)
        return None

    def check(self, request: dict[str, Any]) -> None:
        from fleet_tui import __version__

        if (request.get("version"), request.get("python"), request.get("prefix")) != (__version__, sys.version, sys.prefix):
            raise Refused("another fleet-tui or Python")
        if request.get("fs_encoding") != sys.getfilesystemencoding():
            raise Refused("another file system encoding")
        env = request.get("env")
        if not isinstance(env, dict):
            raise Refused("no environment")
        theirs = import_time_environment(env)
        if theirs != self.import_env:
            differ = sorted(name for name in theirs.keys() | self.import_env.keys()
                            if theirs.get(name) != self.import_env.get(name))
            raise Refused(f"another {differ[0]}: Textual or Python read it when this process started")
        if request.get("argv") not in ([], ["up"]) or not isinstance(request.get("cwd"), str):
            raise Refused("not a request to open the TUI")
        if module_stamps() != self.stamps:
            raise Refused("stale")


def same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The launcher's request and the three terminal fds attached to it."""
    header_size = len(MAGIC) + 4
    fd_space = socket.CMSG_SPACE(3 * array.array("i").itemsize)
    data, ancillary, _flags, _addr = conn.recvmsg(header_size, fd_space, socket.MSG_CMSG_CLOEXEC)
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received = array.array("i")
            received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
            fds.extend(received)
    try:
        while len(data) < header_size:
            chunk = conn.recv(header_size - len(data))
            if not chunk:
                raise ValueError("short header")
            data += chunk
        if not data.startswith(MAGIC) or len(fds) != 3:
            raise ValueError("not a launcher")
        size = int.from_bytes(data[len(MAGIC):], "big")
        if size > MAX_PAYLOAD:
            raise ValueError("too big")
        body = b""
        while len(body) < size:
            chunk = conn.recv(size - len(body))
            if not chunk:
                raise ValueError("short payload")
            body += chunk
        request = json.loads(body.decode("utf-8", "surrogateescape"))
        if not isinstance(request, dict):
            raise ValueError("not a request")
        return request, fds
    except BaseException:
        _close(fds)
        raise


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def _say(conn: socket.socket, line: str) -> None:
    try:
        conn.sendall(line.encode("utf-8", "replace") + b"\n")
    except OSError:
        pass


# -- the child: one `fleet-tui` on the launcher's terminal ------------------------------------

def run_child(conn: socket.socket, fds: list[int], request: dict[str, Any], listener: socket.socket) -> NoReturn:
    try:
        adopt(fds, request, listener)
        saved = _terminal_attributes()
        conn.settimeout(None)
        _say(conn, f"ok {os.getpid()}")
    except BaseException:  # noqa: BLE001 - nothing drawn yet: the launcher runs the ordinary path
        _say(conn, "no the child could not start")
        os._exit(1)
    _end_with_launcher(conn, saved)
    code = 1
    try:
        from fleet_tui.cli import open_tui_here

        code = open_tui_here()  # the request was checked to be `fleet-tui` or `fleet-tui up`
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 - as an uncaught error would end the ordinary path
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        _say(conn, f"exit {code}")
        os._exit(code)


def adopt(fds: list[int], request: dict[str, Any], listener: socket.socket) -> None:
    """Become the launcher's process as far as the app can tell: its terminal as 0/1/2 (and as
    sys.std*, which Textual draws on and reads), its environment, its folder, its argv."""
    os.setsid()  # out of the server's session; the terminal is not our controlling one (no SIGTTOU)
    listener.close()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    encodings, errors = request["encodings"], request["errors"]
    _RETIRED.extend([sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__])
    streams = {
        "stdin": io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)),
                                  encoding=encodings[0], errors=errors[0]),
        "stdout": open(1, "w", buffering=1, encoding=encodings[1], errors=errors[1], closefd=False),  # noqa: SIM115
        "stderr": open(2, "w", buffering=1, encoding=encodings[2], errors=errors[2], closefd=False),  # noqa: SIM115
    }
    for name, stream in streams.items():  # Textual reads sys.__stdin__ and draws on sys.__stderr__
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    os.environ.clear()
    os.environ.update(request["env"])
    # What Python derived from the environment when the warm process started: the time zone
    # (event times), the locale's character type (files opened without an encoding).
    time.tzset()
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:
        pass
    os.chdir(request["cwd"])
    os.umask(int(request.get("umask", 0o022)) & 0o777)  # files it writes (settings) as the user's shell would
    sys.argv = ["fleet-tui", *request["argv"]]


def _terminal_attributes() -> list[Any] | None:
    import termios

    try:
        return termios.tcgetattr(0)
    except termios.error:
        return None


def _end_with_launcher(conn: socket.socket, saved: list[Any] | None) -> None:
    """The launcher killed, or its terminal closed (it dies of the SIGHUP): this child ends too,
    and leaves the terminal as it found it if the terminal is still there."""

    def restore(attributes: list[Any]) -> None:
        import termios

        try:
            termios.tcsetattr(0, termios.TCSANOW, attributes)
            os.write(1, LEAVE_APPLICATION_MODE)
        except (OSError, termios.error):
            pass

    def watch() -> None:
        try:
            while conn.recv(64):
                pass
        except OSError:
            pass
        if saved is not None:  # bounded: a terminal nobody reads any more must not keep us alive
            restoring = threading.Thread(target=restore, args=(saved,), name="fleet-restore-terminal", daemon=True)
            restoring.start()
            restoring.join(RESTORE_TIMEOUT)
        os._exit(128 + signal.SIGHUP)

    threading.Thread(target=watch, name="fleet-launcher-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
