"""`fleet-tui`'s entry point: hand the terminal to the warm UI process when there is one.

Opening the TUI costs ~0.5 s of Python importing Textual and pydantic and building the app.
The fleet server keeps a warm UI process (fleet_tui/ui/warm.py) with all that done; `fleet-tui`
with no command sends it this terminal (stdin, stdout and stderr, by SCM_RIGHTS), its argv,
folder and environment, and a child forked from it runs the ordinary TUI on them. This module
imports almost nothing (os, sys, socket; signal once attached): any failure, from no warm
process to a refusal, falls through silently to the ordinary path, `fleet_tui.cli.main`.

Messages (fleet_tui/ui/warm.py is the other side): the launcher sends MAGIC, the payload's
length (4 bytes, big-endian) and the payload, its fds attached to the first byte; the
warm side answers `ok PID` (the child runs the TUI) or `no REASON`, then `exit CODE`. The payload
is a Python literal (a dict of strings, lists and an int), read with `ast.literal_eval`.
"""

import os
import sys

from fleet_tui.warm_protocol import LEAVE_APPLICATION_MODE, MAGIC, warm_ui_enabled

REPLY_LIMIT = 200  # a reply line is short; anything longer is not ours


def main() -> int:
    folder = tui_folder(sys.argv[1:])
    if folder is not None and warm_ui_enabled(os.environ):
        code = attach_warm(folder)
        if code is not None:
            return code
    from fleet_tui.cli import main as cli_main

    return cli_main()


def tui_folder(argv: list) -> str | None:
    """Where `fleet-tui` opens the TUI when that is all argv asks: the current folder, or `-C DIR`
    (README's way back to the demo), which is `cd DIR && fleet-tui`; None for any other command."""
    if argv in ([], ["up"]):
        return os.getcwd()
    if argv[:1] == ["-C"] and (len(argv) == 2 or argv[2:] == ["up"]):
        folder = os.path.abspath(argv[1])
        return folder if os.path.isdir(folder) else None  # a missing one: the ordinary path says so
    return None


def repo_root_guess(folder: str) -> str | None:
    """The nearest folder holding `.git`, as `git rev-parse --show-toplevel` finds it in the usual
    case. Only to find a warm process: the child works out the repository from its folder and
    environment itself, with git, as `fleet-tui` always does (a warm process only lends it
    the modules it imported, which are the same for every repository)."""
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def attach_warm(cwd: str) -> int | None:
    """Run the TUI in a child of the warm process on this terminal; its exit code, or None when
    the ordinary path must run (nothing has been drawn then)."""
    try:
        if not all(os.isatty(fd) for fd in (0, 1, 2)) or _in_background():
            return None  # not a terminal, or started in the background: the ordinary path decides
        root = repo_root_guess(cwd)
        if root is None:
            return None
        from fleet_tui import rundir

        path = rundir.warm_ui_socket(root)
        import _socket as socket  # the C module: socket.py's wrappers and enums cost ~4 ms more
        import termios

        saved = termios.tcgetattr(0)  # put back if the child dies without restoring it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5.0)  # a warm process that does not answer must not hang the user
        sock.connect(path)
        payload = _payload([], cwd)  # the child opens the TUI in cwd, as `fleet-tui` there would
        header = MAGIC + len(payload).to_bytes(4, "big")
        sock.sendmsg([header], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _fds())])
        sock.sendall(payload)
        reply = _read_line(sock)
        if not reply.startswith(b"ok "):
            sock.close()
            _debug(f"the warm UI process said: {reply.decode(errors='replace')}")
            return None
        pid = int(reply[3:])
    except Exception as error:  # noqa: BLE001 - whatever went wrong, the ordinary path works as before
        _debug(f"no warm UI process: {error!r}")
        return None
    return _follow(sock, pid, saved)


def _in_background() -> bool:
    try:
        return os.tcgetpgrp(0) != os.getpgrp()
    except OSError:  # not our controlling terminal (a pty handed to us): no job control to respect
        return False


def _debug(text: str) -> None:
    """FLEET_DEBUG=1 says why `fleet-tui` took the ordinary path."""
    if os.environ.get("FLEET_DEBUG"):
        sys.stderr.write(f"fleet-tui: {text}; opening the ordinary way\n")


def _fds() -> bytes:
    import array

    return array.array("i", [0, 1, 2]).tobytes()


def _payload(argv: list, cwd: str) -> bytes:
    from fleet_tui import __version__

    umask = os.umask(0o022)  # read it (the only way), and put it back
    os.umask(umask)
    # A Python literal (the warm side reads it with ast.literal_eval): json would cost ~2.5 ms to import.
    return repr({
        "version": __version__, "python": sys.version, "prefix": sys.prefix, "argv": argv,
        "cwd": cwd, "umask": umask, "env": dict(os.environ), "fs_encoding": sys.getfilesystemencoding(),
        "encodings": [sys.stdin.encoding, sys.stdout.encoding, sys.stderr.encoding],
        "errors": [sys.stdin.errors, sys.stdout.errors, sys.stderr.errors],
    }).encode("utf-8")


def _read_line(sock) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk or len(line) > REPLY_LIMIT:
            raise ConnectionError("no answer")
        line += chunk
    return line.strip()


def _follow(sock, pid: int, saved: list) -> int:
    """While the child runs the TUI: forward what the terminal sends us (this process is the tty's
    foreground process, the child is not), and return the child's exit code."""
    import signal

    try:
        target = os.pidfd_open(pid)  # signals reach this child even if its pid were reused

        def send(sig: int) -> None:
            signal.pidfd_send_signal(target, sig)
    except (AttributeError, OSError):
        def send(sig: int) -> None:
            os.kill(pid, sig)

    def forward(sig: int, _frame) -> None:
        try:
            send(sig)
        except OSError:
            pass

    signal.signal(signal.SIGWINCH, forward)  # the app measures the terminal again
    signal.signal(signal.SIGINT, forward)  # ctrl+c before the app has the terminal raw: it stops, 130
    # ctrl+z before the app has the terminal raw would stop this process alone while the child
    # draws on: ignored (the app reads ctrl+z as a key once it runs, as it always has).
    for sig in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_IGN)
    sock.settimeout(None)
    try:
        reply = _read_line(sock)
        if reply.startswith(b"exit "):
            return int(reply[5:])
    except (OSError, ValueError):
        pass
    # The child died without a word (killed): the terminal may still be raw and on its
    # alternate screen.
    _restore_terminal(saved)
    sys.stderr.write("fleet-tui: the UI process ended unexpectedly\n")
    return 1


def _restore_terminal(saved: list) -> None:
    import termios

    try:
        termios.tcsetattr(0, termios.TCSANOW, saved)
        os.write(1, LEAVE_APPLICATION_MODE)
    except (OSError, termios.error):
        pass
