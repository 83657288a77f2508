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
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil

from fleet_tui.errors import UsageError

Command = str | list[str]


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
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run `command` in folder `path` (with `env`, default ours); failures and timeouts are reported."""
    argv = to_argv(command)
    name = name or shlex.join(argv)
    started = time.monotonic()
    if not Path(path).is_dir():
        return CommandResult(name, argv, None, f"folder {path} does not exist\n", 0.0)
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
        timed_out = False
        try:
            exit_code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            exit_code = None
        duration = time.monotonic() - started
        output.seek(0)
        text = output.read().decode(errors="replace")
    if timed_out:
        text += f"\n[fleet-tui: killed after {timeout:g} s timeout]\n"
    return CommandResult(name, argv, exit_code, text, duration, timed_out)


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
    paths: dict[str, Path | str],
    checks: dict[str, Command],
    timeout: float,
    max_parallel: int | None = None,
) -> dict[str, dict[str, CheckResult]]:
    """The same checks in several worktrees at once: {attempt name: {check name: result}}.

    `max_parallel` caps how many commands run together (default: all of them);
    on a small machine a cap keeps timings comparable between attempts.
    """
    argvs = {name: to_argv(command) for name, command in checks.items()}
    jobs = [(attempt, check) for attempt in paths for check in argvs]
    results: dict[str, dict[str, CheckResult]] = {attempt: {} for attempt in paths}
    if not jobs:
        return results
    with ThreadPoolExecutor(max_workers=max_parallel or len(jobs)) as pool:
        futures = {
            job: pool.submit(run_command, paths[job[0]], argvs[job[1]], timeout, job[1])
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
