"""One child program running in a pseudo-terminal, driven by an asyncio loop.

The child is started with posix_spawn (no Python code runs between fork and exec,
which matters in a multi-threaded server), in a new session whose controlling
terminal is the pty slave, so ctrl+c and job control behave as in a real terminal.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import fcntl
import os
import shutil
import signal
import struct
import termios
import weakref
from pathlib import Path
from typing import Any, Callable

from fleet_tui.errors import FleetError

READ_SIZE = 65536
# Bytes taken from one pty per wake-up: a child that writes faster than it can be emulated
# would otherwise keep its reader busy forever, and every other session, the clients' screens
# and the keys typed would wait. The rest is read on the next turn of the loop.
READ_BUDGET = 16384  # ~3 ms of emulation
# A read shorter than this most likely emptied the pty (its line discipline hands out up to 4 KB
# a read while more waits).
SHORT_READ = 2048
# A child whose pty was last found empty less than this long ago is streaming (see _pace).
STREAMING_GAP = 0.1
# After input, reads are not paused for this long: the echo, and the agent's answer to a key,
# come a moment after the key, behind whatever the child was streaming.
INPUT_WINDOW = 1.0
# After the child exits, wait this long for the pty to report EOF (a background
# grandchild may keep the slave open forever) before reporting the exit anyway.
EOF_WAIT = 0.5
# `env -C DIR -- ARGV...` changes directory and execs ARGV (posix_spawn has no cwd in 3.11).
ENV_PROGRAM = shutil.which("env", path="/usr/bin:/bin") or "env"


def _winsize(cols: int, rows: int) -> bytes:
    return struct.pack("HHHH", rows, cols, 0, 0)


def _inheritable_fds() -> list[int]:
    """Descriptors above stderr that would survive exec; the child gets none of them."""
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2:
            continue
        try:
            if os.get_inheritable(fd):
                fds.append(fd)
        except OSError:  # the directory listing's own fd, already closed
            pass
    return fds


def check_command(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Raise a FleetError naming the program when `argv` cannot be started in `cwd` with `env`."""
    if not argv:
        raise FleetError("empty command — set the agent's command in fleet.yaml")
    program = argv[0]
    if os.sep in program:
        found = os.access(cwd / program, os.X_OK)
    else:
        found = shutil.which(program, path=env.get("PATH", os.defpath)) is not None
    if not found:
        raise FleetError(
            f"command not found: {program} — install it or fix the agent's command in fleet.yaml"
        )


# Paused ptys due within this much of one another are read on the same timer (one wake-up, one
# screen collection for all of them) rather than each on its own.
PACE_SLACK = 0.01


class _PausedReads:
    """The ptys of one event loop whose reading is paused (see PtyProcess._pace), read again on one timer.

    A paused pty is not in the loop's selector: at its due time it is read directly, and only if it
    was empty does it go back to the selector. A child that streams on stays out of it, so each of
    its reads costs no selector registration, no timer of its own and no wake-up of its own:
    sixteen streaming panes are read together, one timer every pause.
    """

    _of_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _PausedReads]" = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[PtyProcess, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> "_PausedReads":
        paused = cls._of_loop.get(loop)
        if paused is None:
            paused = cls._of_loop[loop] = cls(loop)
        return paused

    def add(self, proc: "PtyProcess", when: float) -> None:
        self._due[proc] = when
        self._wake_by(when)

    def _wake_by(self, when: float) -> None:
        """The timer fires by `when` (one already due within PACE_SLACK of it will do)."""
        timer = self._timer
        if timer is None or timer.when() > when + PACE_SLACK:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(when, self._fire)

    def discard(self, proc: "PtyProcess") -> None:
        self._due.pop(proc, None)

    def _fire(self) -> None:
        self._timer = None
        ready = self._loop.time() + PACE_SLACK
        due = [proc for proc, when in self._due.items() if when <= ready]
        for proc in due:
            del self._due[proc]
        for proc in due:
            proc._resume_reading()  # may pause it again (add): a timer for then, maybe later than the rest
        if self._due:
            self._wake_by(min(self._due.values()))


class PtyProcess:
    """A child process on a pty: output arrives through `on_output`, the exit through `on_exit`."""

    def __init__(self, pid: int, master: int, loop: asyncio.AbstractEventLoop,
                 on_output: Callable[[str], None], on_exit: Callable[[int], None]) -> None:
        self.pid = pid
        self.exit_code: int | None = None
        self._master: int | None = master
        self._loop = loop
        self._on_output = on_output
        self._on_exit = on_exit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = bytearray()
        self._writing = False
        self._eof = False
        self._finished = False
        self._eof_timer: asyncio.TimerHandle | None = None
        # Seconds to stop reading after a read while the child streams (0: read as output comes).
        self.read_pause: Callable[[], float] = lambda: 0.0
        self._emptied_at = float("-inf")  # when a read last found the pty empty
        self._unpaced_until = float("-inf")  # reads are not paused until then (input came)
        self._paused = _PausedReads.of(loop)
        self._selected = True  # the master is in the loop's selector (not paused)
        self._pidfd: int | None = os.pidfd_open(pid)
        loop.add_reader(master, self._on_readable)
        loop.add_reader(self._pidfd, self._on_child_exit)

    @classmethod
    def spawn(cls, argv: list[str], *, cwd: str | Path, env: dict[str, str], cols: int, rows: int,
              on_output: Callable[[str], None], on_exit: Callable[[int], None],
              loop: asyncio.AbstractEventLoop | None = None) -> "PtyProcess":
        """Start `argv` in `cwd` with exactly `env`, on a new pty of `cols` x `rows`."""
        loop = loop or asyncio.get_running_loop()
        cwd = Path(cwd)
        if not cwd.is_dir():
            raise FleetError(f"working directory does not exist: {cwd}")
        check_command(argv, cwd, env)

        master, slave = os.openpty()  # both close-on-exec
        try:
            fcntl.ioctl(master, termios.TIOCSWINSZ, _winsize(cols, rows))
            slave_path = os.ttyname(slave)
            # The child opens the slave by path after setsid (glibc runs setsid before the
            # file actions), which makes it the child's controlling terminal.
            actions: list[tuple[Any, ...]] = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds()]
            actions += [
                (os.POSIX_SPAWN_OPEN, 0, slave_path, os.O_RDWR, 0),
                (os.POSIX_SPAWN_DUP2, 0, 1),
                (os.POSIX_SPAWN_DUP2, 0, 2),
            ]
            defaults = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
            pid = os.posix_spawn(
                ENV_PROGRAM, [ENV_PROGRAM, "-C", str(cwd), "--", *argv], env,
                file_actions=actions, setsid=True, setsigmask=(), setsigdef=defaults,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            # glibc's posix_spawn returns only after the child exec'd, so the child holds its own copy.
            os.close(slave)
        os.set_blocking(master, False)
        return cls(pid, master, loop, on_output, on_exit)

    # -- input -------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue `data` for the child; never blocks (a child that does not read fills the pty)."""
        if self._master is None or not data:
            return
        self.read_soon()  # its echo should not wait out a pause
        self._pending += data
        if not self._writing:
            self._flush()

    def _flush(self) -> None:
        while self._pending and self._master is not None:
            try:
                written = os.write(self._master, self._pending)
            except BlockingIOError:
                break
            except OSError:  # the child is gone: nothing will read this
                self._pending.clear()
                break
            del self._pending[:written]
        master = self._master
        wants_writer = bool(self._pending) and master is not None
        if master is not None and wants_writer and not self._writing:
            self._loop.add_writer(master, self._flush)
        elif not wants_writer and self._writing and self._master is not None:
            self._loop.remove_writer(self._master)
        self._writing = wants_writer

    def resize(self, cols: int, rows: int) -> None:
        """Tell the child its new window size (it receives SIGWINCH)."""
        if self._master is not None:
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, _winsize(cols, rows))

    # -- output and exit -----------------------------------------------------

    def _on_readable(self, resumed: bool = False) -> None:
        emptied, got = self._read_available()
        if self._eof:
            self._deselect()
            if self.exit_code is not None:
                self._finish()
        elif resumed and not got:
            self._select()  # nothing came during the pause: wait for output in the selector
        elif emptied:
            self._pace(got, resumed)
        else:
            self._select()  # the budget ran out: more is waiting, read it on the next turn

    def _pace(self, got: int, resumed: bool) -> None:
        """Stop reading for `read_pause()` seconds when the child streams (output came during the
        last pause, or soon after the last read).

        Every wake-up costs the same fixed work however few bytes it brings (the event loop, the
        emulator call, the screen's bookkeeping): a child writing a line every 10 ms that nobody
        watches is read only about as often as its screen is sent (the server's read_pause says
        when). The first output after a quiet spell is read at once.
        """
        now = self._loop.time()
        since = now - self._emptied_at
        streaming = resumed or since < STREAMING_GAP  # output came during the pause, or soon after a read
        self._emptied_at = now
        pause = self.read_pause() if streaming and now >= self._unpaced_until else 0.0
        if pause > 0 and got:
            # A fast child must not fill the pty during a pause (it would block): at the rate it
            # wrote since the last read, a pause gathers at most half a read budget.
            pause = min(pause, READ_BUDGET / 2 * since / got)
        if pause > 0 and self._master is not None:
            self._deselect()
            self._paused.add(self, now + pause)
        else:
            self._select()

    def _resume_reading(self) -> None:
        """The pause is over: read what came meanwhile, or wait in the selector if nothing did."""
        if self._master is not None and not self._eof:
            self._on_readable(resumed=True)

    def read_soon(self) -> None:
        """End a pause in reading, and pause no more for INPUT_WINDOW: what the child writes is read
        as it comes (input's echo, a pane just focused), not behind its stream's next pause."""
        if self._master is not None and not self._eof:
            self._unpaced_until = self._loop.time() + INPUT_WINDOW
            if not self._selected:
                self._paused.discard(self)
                self._select()

    def _select(self) -> None:
        if not self._selected and self._master is not None and not self._eof:
            self._loop.add_reader(self._master, self._on_readable)
            self._selected = True

    def _deselect(self) -> None:
        if self._selected and self._master is not None:
            self._loop.remove_reader(self._master)
        self._selected = False

    def _read_available(self, budget: int = READ_BUDGET, *, to_the_end: bool = False) -> tuple[bool, int]:
        """Read until the pty is empty or `budget` bytes were read; sets `_eof` when the slave side is closed.

        Whether it stopped because the pty was (most likely) empty, and the bytes read.
        """
        got = 0
        while self._master is not None and not self._eof and got < budget:
            try:
                data = os.read(self._master, min(READ_SIZE, budget - got))
            except BlockingIOError:
                return True, got
            except OSError as exc:
                if exc.errno != errno.EIO:  # EIO: every slave fd is closed (Linux's EOF)
                    raise
                data = b""
            if not data:
                self._eof = True
                return False, got
            got += len(data)
            text = self._decoder.decode(data)
            if text:
                self._on_output(text)
            if len(data) < SHORT_READ and not to_the_end:
                # The pty is most likely empty now: a second read would only raise BlockingIOError,
                # and the reader is level-triggered, so anything that did arrive wakes it again.
                return True, got
        return False, got

    def _on_child_exit(self) -> None:
        pidfd = self._pidfd
        if pidfd is None:  # it was closed already: this exit was handled
            return
        self._loop.remove_reader(pidfd)
        try:
            _, status = os.waitpid(self.pid, 0)
            self.exit_code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped elsewhere; the status is lost
            self.exit_code = 255
        os.close(pidfd)
        self._pidfd = None
        if self._eof or self._master is None:
            self._finish()
        else:
            # EOF usually follows within microseconds, once the kernel has passed on the last bytes.
            self._eof_timer = self._loop.call_later(EOF_WAIT, self._finish)

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self._eof_timer:
            self._eof_timer.cancel()
        self._read_available(budget=1 << 62, to_the_end=True)  # the child is gone: its last words, all of them
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._on_output(tail)
        self._close_master()
        assert self.exit_code is not None  # _finish runs only once the child's exit was read
        self._on_exit(self.exit_code)

    def close(self) -> None:
        """Stop reading and writing and close the pty; does not kill. The exit is still reported."""
        self._close_master()

    def _close_master(self) -> None:
        self._paused.discard(self)
        if self._master is None:
            return
        self._deselect()
        if self._writing:
            self._loop.remove_writer(self._master)
            self._writing = False
        self._pending.clear()
        os.close(self._master)
        self._master = None
