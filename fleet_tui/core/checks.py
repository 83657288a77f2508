"""Run commands (checks, setup steps) in a worktree: no shell, a timeout, output kept in full.

Each command runs in its own process group, so a timeout kills everything it
started, not only the first process. Output goes to a temporary file rather
than a pipe: a grandchild that keeps the pipe open can never hang us.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil

from fleet_tui.errors import UsageError

Command = str | list[str]
# Output kept per command: its tail (where a test runner's verdict is). A check printing 50 MB
# must not make the compare answer larger than a client accepts (protocol.MAX_MESSAGE_BYTES).
MAX_OUTPUT_BYTES = 256 * 1024
STOP_POLL = 0.1  # how often a running command looks whether it was asked to stop


@dataclass(frozen=True)
class CommandResult:
    """What one command did. `exit_code` is None when it timed out or could not start."""

    name: str
    argv: list[str]
    exit_code: int | None
    output: str  # stdout and stderr interleaved, as the command wrote them
    duration: float  # seconds
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


# A check is a command whose result ranks an attempt.
CheckResult = CommandResult


def to_argv(command: Command) -> list[str]:
    """A command as an argv list: strings are split like a shell would, but no shell runs."""
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as error:
            raise UsageError(
                f"command {command!r} cannot be parsed ({error}): check its quotes"
            ) from None
    else:
        argv = [str(part) for part in command]
    if not argv:
        raise UsageError("a command is empty: give a program to run, e.g. 'pytest -q'")
    return argv


def run_command(
    path: Path | str, command: Command, timeout: float, name: str | None = None,
    env: dict[str, str] | None = None, stop: threading.Event | None = None,
) -> CommandResult:
    """Run `command` in folder `path` (with `env`, default ours); failures and timeouts are reported.

    Setting `stop` kills the command (and everything it started) within STOP_POLL seconds.
    """
    argv = to_argv(command)
    name = name or shlex.join(argv)
    started = time.monotonic()
    if not Path(path).is_dir():
        return CommandResult(name, argv, None, f"folder {path} does not exist\n", 0.0)
    if stop is not None and stop.is_set():
        return CommandResult(name, argv, None, "[fleet-tui: not run: the fleet server is stopping]\n", 0.0, True)
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(
                argv,
                cwd=path,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        except OSError as error:
            message = f"could not start {argv[0]!r}: {error.strerror or error}\n"
            return CommandResult(name, argv, None, message, time.monotonic() - started)
        exit_code, timed_out, stopped = _wait(process, timeout, stop)
        duration = time.monotonic() - started
        text = _tail(output)
    if timed_out:
        text += f"\n[fleet-tui: killed after {timeout:g} s timeout]\n"
    if stopped:
        text += "\n[fleet-tui: killed: the fleet server is stopping]\n"
    return CommandResult(name, argv, exit_code, text, duration, timed_out or stopped)


def _wait(process: subprocess.Popen, timeout: float, stop: threading.Event | None) -> tuple[int | None, bool, bool]:
    """(exit code, timed out, stopped): waits for the command, killing its group on timeout or stop."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            return process.wait(timeout=max(0.0, min(left, STOP_POLL if stop else left))), False, False
        except subprocess.TimeoutExpired:
            pass
        if stop is not None and stop.is_set():
            _kill_group(process)
            return None, False, True
        if time.monotonic() >= deadline:
            _kill_group(process)
            return None, True, False


def _tail(output) -> str:
    """The command's output, or its last MAX_OUTPUT_BYTES with a note saying how much was cut."""
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - MAX_OUTPUT_BYTES))
    return keep_tail(output.read().decode(errors="replace"), MAX_OUTPUT_BYTES, size)


def keep_tail(text: str, limit: int, size: int | None = None) -> str:
    """`text` if it has at most `limit` bytes, else its last whole lines within `limit`, said so.

    `size` is the size of the whole output when `text` is already only its end.
    """
    size = len(text.encode()) if size is None else size
    if size <= limit:
        return text
    tail = text.encode()[-limit:].decode(errors="ignore")
    tail = tail[tail.find("\n") + 1:] or tail  # start at a whole line
    return (f"[fleet-tui: the output was {size / 1e6:.1f} MB; only its last "
            f"{len(tail.encode()) // 1024} KB is kept]\n{tail}")


def run_checks(
    path: Path | str, checks: dict[str, Command], timeout: float
) -> dict[str, CheckResult]:
    """Run every check in `path` at the same time; results keep the order of `checks`."""
    argvs = {name: to_argv(command) for name, command in checks.items()}  # bad input fails first
    if not argvs:
        return {}
    with ThreadPoolExecutor(max_workers=len(argvs)) as pool:
        futures = {
            name: pool.submit(run_command, path, argv, timeout, name) for name, argv in argvs.items()
        }
        return {name: future.result() for name, future in futures.items()}


def run_checks_in(
    paths: Mapping[str, Path | str],
    checks: Mapping[str, Command],
    timeout: float,
    max_parallel: int | None = None,
    stop: threading.Event | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, dict[str, CheckResult]]:
    """The same checks in several worktrees at once: {attempt name: {check name: result}}.

    `max_parallel` caps how many commands run together (default: all of them);
    on a small machine a cap keeps timings comparable between attempts. Setting
    `stop` kills the running commands and skips the rest; it returns once all have ended.
    """
    argvs = {name: to_argv(command) for name, command in checks.items()}
    jobs = [(attempt, check) for attempt in paths for check in argvs]
    results: dict[str, dict[str, CheckResult]] = {attempt: {} for attempt in paths}
    if not jobs:
        return results
    with ThreadPoolExecutor(max_workers=max_parallel or len(jobs)) as pool:
        futures = {
            job: pool.submit(run_command, paths[job[0]], argvs[job[1]], timeout, job[1], env, stop)
            for job in jobs
        }
        for (attempt, check), future in futures.items():
            results[attempt][check] = future.result()
    return results


def _kill_group(process: subprocess.Popen) -> None:
    # The leader is not reaped yet, so its process group id cannot have been reused.
    members = [p for p in psutil.process_iter() if _in_group(p, process.pid)]
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    # SIGKILL lands asynchronously: return only once the whole group is gone.
    psutil.wait_procs(members, timeout=2)


def _in_group(proc: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(proc.pid) == pgid
    except (ProcessLookupError, PermissionError):
        return False


# Set in every check's environment: a server killed mid-compare leaves its checks running
# (each in a session of its own); the next server finds them by this and ends them.
CHECK_MARKER = "FLEET_CHECK"


def kill_leftover_checks(token: str) -> list[int]:
    """Kill the process groups of checks whose environment has FLEET_CHECK=<token>; their pids."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.uids().real == os.getuid() and proc.environ().get(CHECK_MARKER) == token:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    for proc in found:
        try:
            os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    psutil.wait_procs(found, timeout=2)
    return [proc.pid for proc in found]
