"""The warm UI process (issue 17's reattach): the real `fleet-tui` console script in real ptys.

The first `fleet-tui` starts the server, whose warm UI process comes up once the TUI attached;
the next `fleet-tui` is a thin launcher that hands its terminal to a child forked from it. Each
test proves which way the TUI went (the process drawing is the warm process's child, reading
the launcher's pty) and that a terminal user cannot tell the difference: panes drawn, resizes,
quitting, a killed launcher or a closed terminal, and the ordinary path whenever the warm one
cannot serve.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import psutil
import pytest

from fleet_tui import rundir
from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

FLEET_TUI = str(Path(sys.executable).with_name("fleet-tui"))  # the console script users run
READY = b"-READY"
IDLE_FLEET = ('agents:\n  idle:\n    command: [sh, -c, \'printf "%s-READY\\r\\n" "$FLEET_SESSION_NAME"; '
              'exec cat\']\n')
CTRL_Q = b"\x11"


class Tty:
    """`fleet-tui` on a pty that is its controlling terminal, as in a terminal emulator: resizing
    it makes the kernel signal the foreground process (the launcher)."""

    def __init__(self, cwd: Path, env: dict[str, str], cols: int = 120, rows: int = 40, umask: int = 0o022,
                 args: tuple[str, ...] = ()):
        self.master, slave = pty.openpty()
        self.resize(cols, rows)
        self.slave_name = os.ttyname(slave)
        self.proc = subprocess.Popen([FLEET_TUI, *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True,
                                     preexec_fn=lambda: (fcntl.ioctl(0, termios.TIOCSCTTY, 0), os.umask(umask)))
        os.close(slave)
        self.output = bytearray()
        # Read all the time, as a terminal does: a pty nobody reads blocks the program's writes.
        self._reader = threading.Thread(target=self._read_forever, daemon=True)
        self._reader.start()

    def _read_forever(self) -> None:
        master = self.master
        while True:
            try:
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    data = os.read(master, 1 << 16)
                    if not data:
                        return
                    self.output += data
            except (OSError, ValueError):  # closed: every holder of the slave is gone, or by close()
                return

    def resize(self, cols: int, rows: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def wait_output(self, needle: bytes, timeout: float = 60, since: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output[since:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never drawn; the terminal got:\n{bytes(self.output[-1500:])!r}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError("fleet-tui did not exit")
            time.sleep(0.05)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        self._reader.join(5)


def until(condition, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened")
        time.sleep(0.05)


def warm_process(cli: FleetCli) -> psutil.Process | None:
    """The server's warm UI process once its socket is up (the server removes a dead one's socket
    before it starts the next, which makes its own once it listens)."""
    server = psutil.Process(cli.server_pid())
    for child in server.children():
        try:
            if "fleet_tui.ui.warm" in " ".join(child.cmdline()) and os.path.exists(warm_socket(cli)):
                return child
        except psutil.Error:
            continue
    return None


def warm_socket(cli: FleetCli) -> str:
    folder = os.path.join(cli.env["XDG_RUNTIME_DIR"], "fleet-tui")
    return os.path.join(folder, f"{rundir.repo_key(str(cli.repo.resolve()))}.ui.sock")


def umask_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)


def tui_children(warm: psutil.Process) -> list[psutil.Process]:
    return [child for child in warm.children() if child.status() != psutil.STATUS_ZOMBIE]


def gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def warm_fleet(tmp_path_factory):
    """A fleet whose first `fleet-tui` started the server and so its warm UI process."""
    runtime = Path(tempfile_dir())
    cli = FleetCli(make_repo(tmp_path_factory.mktemp("warm") / "repo", IDLE_FLEET), runtime)
    cli.env["TERM"] = "xterm-256color"
    first = Tty(cli.repo, cli.env)
    try:
        first.wait_output(READY)  # the first start: server, its configured agent, the TUI
        assert until(lambda: warm_process(cli), what="the warm UI process")
        os.write(first.master, CTRL_Q)
        first.wait_exit()
    finally:
        first.close()
    yield cli
    warm = warm_process(cli)
    cli.shut_down()
    if warm is not None:  # `down` ends it with the server
        psutil.wait_procs([warm], timeout=10)
        assert not warm.is_running() or gone(warm)
        assert not os.path.exists(warm_socket(cli))
    import shutil

    shutil.rmtree(runtime, ignore_errors=True)


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="ft-w-")  # short: unix socket paths are limited to ~108 bytes


def attach(cli: FleetCli, umask: int = 0o022, **env: str) -> Tty:
    tty = Tty(cli.repo, {**cli.env, **env}, umask=umask)
    tty.wait_output(READY)
    return tty


def test_a_second_fleet_tui_runs_in_a_child_of_the_warm_process_and_quits_with_its_code(warm_fleet):
    cli = warm_fleet
    warm = warm_process(cli)
    tty = attach(cli, umask=0o077)
    try:
        (child,) = until(lambda: tui_children(warm), what="a TUI child of the warm process")
        assert child.pid != tty.proc.pid
        # It draws on the launcher's terminal: its stdin is the launcher's pty, its folder the repo.
        assert os.readlink(f"/proc/{child.pid}/fd/0") == tty.slave_name
        assert Path(child.cwd()).resolve() == cli.repo.resolve()
        assert child.environ().get("XDG_RUNTIME_DIR") == cli.env["XDG_RUNTIME_DIR"]
        assert umask_of(child.pid) == 0o077 != umask_of(warm.pid)  # the files it writes are as private
        assert len(warm.threads()) == 1  # nothing but its loop: a fork inherits nothing half-done
        os.write(tty.master, CTRL_Q)
        assert tty.wait_exit() == 0
        until(lambda: gone(child), 10, "the child's end")
    finally:
        tty.close()


def test_a_resize_reaches_the_app_in_the_child(warm_fleet):
    cli = warm_fleet
    (session,) = cli.status()
    tty = attach(cli)
    try:
        until(lambda: tui_children(warm_process(cli)))
        before = cli.session(session["name"])
        tty.resize(70, 24)  # the kernel sends SIGWINCH to the launcher, which passes it on
        after = until(lambda: (info := cli.session(session["name"]))["cols"] < before["cols"] and info,
                      what="the pane shrinking with the terminal")
        assert after["cols"] < 70 < before["cols"]
        os.write(tty.master, CTRL_Q)
        assert tty.wait_exit() == 0
    finally:
        tty.close()


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGKILL])
def test_a_killed_launcher_or_a_closed_terminal_leaves_no_child(warm_fleet, sig):
    cli = warm_fleet
    warm = warm_process(cli)
    tty = attach(cli)
    try:
        (child,) = until(lambda: tui_children(warm))
        tty.proc.send_signal(sig)
        if sig == signal.SIGHUP:
            os.close(tty.master)  # the terminal window closed, too
            tty.master = -1
        tty.proc.wait(10)
        until(lambda: gone(child), 15, "the orphaned TUI's end")
        until(lambda: not tui_children(warm), 15, "the warm process reaping it")
    finally:
        tty.close()


def test_two_attaches_at_once_get_two_children(warm_fleet):
    cli = warm_fleet
    warm = warm_process(cli)
    ttys = [Tty(cli.repo, cli.env), Tty(cli.repo, cli.env)]
    try:
        for tty in ttys:
            tty.wait_output(READY)
        children = until(lambda: len(found := tui_children(warm)) == 2 and found)
        assert {os.readlink(f"/proc/{c.pid}/fd/0") for c in children} == {t.slave_name for t in ttys}
        for tty in ttys:
            os.write(tty.master, CTRL_Q)
            assert tty.wait_exit() == 0
    finally:
        for tty in ttys:
            tty.close()


def test_a_child_that_dies_is_reported_and_the_terminal_given_back(warm_fleet):
    cli = warm_fleet
    warm = warm_process(cli)
    tty = attach(cli)
    try:
        (child,) = until(lambda: tui_children(warm))
        child.kill()
        assert tty.wait_exit() == 1
        tty.wait_output(b"the UI process ended unexpectedly")
        tty.wait_output(b"\x1b[?1049l")  # off the alternate screen
    finally:
        tty.close()


def test_the_ordinary_path_when_the_warm_process_cannot_serve(warm_fleet):
    cli = warm_fleet
    warm = warm_process(cli)
    # Textual reads TEXTUAL_* when imported: the warm process, imported without it, refuses.
    refused = attach(cli, TEXTUAL_ANIMATIONS="none")
    try:
        assert not tui_children(warm)
        os.write(refused.master, CTRL_Q)
        assert refused.wait_exit() == 0
    finally:
        refused.close()
    off = attach(cli, FLEET_WARM_UI="0")  # turned off by the user
    try:
        assert not tui_children(warm)
        os.write(off.master, CTRL_Q)
        assert off.wait_exit() == 0
    finally:
        off.close()
    # Gone: its socket is left behind, nobody listens; the server starts another.
    warm.kill()
    psutil.wait_procs([warm], timeout=10)
    orphan_socket = attach(cli)
    try:
        os.write(orphan_socket.master, CTRL_Q)
        assert orphan_socket.wait_exit() == 0
    finally:
        orphan_socket.close()
    fresh = until(lambda: (found := warm_process(cli)) and found.pid != warm.pid and found, 60,
                  "a new warm process")
    assert fresh.ppid() == cli.server_pid()


def test_the_socket_and_its_folder_are_private(warm_fleet):
    cli = warm_fleet
    path = warm_socket(cli)
    info = os.stat(path)
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert info.st_uid == os.getuid()


def test_the_launcher_imports_neither_textual_nor_pydantic():
    probe = ("import sys, fleet_tui.launch, fleet_tui.rundir; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'pydantic', 'rich', 'yaml')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_child_shows_times_in_the_launchers_time_zone(warm_fleet):
    cli = warm_fleet
    warm = warm_process(cli)
    # POSIX "FAR-5" is UTC+5; the warm process and this test run in another zone. The feed's event
    # times (HH:MM:SS) must read as UTC+5 times of the last minutes.
    now = int(time.time())
    far = {time.strftime("%H:%M:%S", time.gmtime(t + 5 * 3600)).encode() for t in range(now - 900, now + 120)}
    here = {time.strftime("%H:%M:%S", time.localtime(t)).encode() for t in range(now - 900, now + 120)}
    assert not far & here
    tty = attach(cli, TZ="FAR-5", FLEET_DEBUG="1")  # FLEET_DEBUG: the launcher says why it went the other way
    try:
        until(lambda: tui_children(warm), 10, f"the warm path: {bytes(tty.output[:300])!r}")

        def times_drawn() -> set[bytes]:
            return set(re.findall(rb"\d\d:\d\d:\d\d", re.sub(rb"\x1b\[[0-9;?<>=$]*[a-zA-Z]", b"", bytes(tty.output))))

        until(lambda: times_drawn() & far, 30, "an event time in the launcher's zone")
        assert not times_drawn() & here
        os.write(tty.master, CTRL_Q)
        assert tty.wait_exit() == 0
    finally:
        tty.close()


def test_fleet_tui_dash_c_from_another_folder_is_served_warm_too(warm_fleet, tmp_path):
    # README's way back to the demo: `fleet-tui -C ~/.cache/fleet-tui/demo/calc`.
    cli = warm_fleet
    warm = until(lambda: warm_process(cli), what="the warm UI process")
    tty = Tty(tmp_path, cli.env, args=("-C", str(cli.repo)))
    try:
        tty.wait_output(READY)
        (child,) = until(lambda: tui_children(warm), what="a TUI child of the warm process")
        assert Path(child.cwd()).resolve() == cli.repo.resolve()
        os.write(tty.master, CTRL_Q)
        assert tty.wait_exit() == 0
    finally:
        tty.close()


def test_a_warm_process_whose_code_changed_on_disk_steps_aside_and_is_replaced(warm_fleet):
    # Last in the module: it leaves a fresh warm process behind. An upgrade or an edit of fleet_tui
    # while the server runs: the warm process's modules are not what `fleet-tui` would import now.
    import fleet_tui.warm_protocol

    cli = warm_fleet
    warm = warm_process(cli)
    path = fleet_tui.warm_protocol.__file__
    before = os.stat(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    try:
        tty = attach(cli, FLEET_DEBUG="1")
        try:
            assert b"the warm UI process said: no stale" in tty.output
            os.write(tty.master, CTRL_Q)
            assert tty.wait_exit() == 0
        finally:
            tty.close()
        psutil.wait_procs([warm], timeout=10)
        assert gone(warm)
        fresh = until(lambda: (found := warm_process(cli)) and found.pid != warm.pid and found, 60,
                      "a warm process with the code on disk")
        served = attach(cli)
        try:
            until(lambda: tui_children(fresh), 10, "the fresh warm process serving")
            os.write(served.master, CTRL_Q)
            assert served.wait_exit() == 0
        finally:
            served.close()
    finally:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

