"""Run a real program (the real `fleet-tui`, a `tmux attach` client) in a pty we own, as
the outer terminal would: keys go in through the master, every byte the program draws
comes out of it and is counted."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import struct
import subprocess
import termios
import time

from bench.harness import kill_tree


class PtyProgram:
    def __init__(self, argv: list[str], *, cols: int = 200, rows: int = 60, cwd=None, env=None):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**(env or os.environ), "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.started = time.monotonic()
        self.total = 0
        self.buffer = bytearray()  # kept only while `keep` is set
        self.keep = True
        self.waiters: list[tuple[bytes, asyncio.Future]] = []
        asyncio.get_running_loop().add_reader(self.master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 1 << 16)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
            return
        self.total += len(data)
        self.buffer += data
        if not self.keep and len(self.buffer) > 65536:  # only a tail, for error reports
            del self.buffer[:-32768]
        for needle, fut in list(self.waiters):
            if not fut.done() and needle in self.buffer:
                fut.set_result(time.perf_counter())

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    async def wait_bytes(self, needle: bytes, timeout: float) -> float:
        fut = asyncio.get_running_loop().create_future()
        self.waiters.append((needle, fut))
        try:
            if needle in self.buffer:
                return time.perf_counter()
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.waiters = [w for w in self.waiters if w[1] is not fut]

    def tail(self) -> str:
        import re

        text = re.sub(rb"\x1b\[[0-9;?]*[a-zA-Z]|\x1b[()][A-Z0-9]|\x1b[=>]", b"", bytes(self.buffer[-8000:]))
        return text.decode(errors="replace")[-2000:]

    def close(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self.master)
        except Exception:
            pass
        kill_tree(self.proc.pid)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        os.close(self.master)
