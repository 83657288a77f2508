"""Running commands on another machine through the user's own `ssh`.

ssh joins the words after the destination into one line for the remote user's shell, so the
remote argv is quoted here with shlex.quote (one string, nothing left for the shell to expand)
and the destination comes after `--`, so it can never be read as an option. Every connection to
a destination shares one ssh master (ControlMaster, its socket in a private 0700 folder), which
makes the second and later connections take milliseconds instead of a full handshake.

FLEET_SSH_CONFIG, when set, is passed as `ssh -F` (an ssh_config used instead of ~/.ssh/config).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from fleet_tui.paths import runtime_dir

CONTROL_PERSIST = "10m"  # the shared connection outlives its last user this long
CONNECT_TIMEOUT = 10  # seconds to reach the host
# ssh's exit status when the connection itself failed (any remote command's status is passed on).
SSH_FAILED = 255
# The shell's status when the remote command does not exist.
COMMAND_NOT_FOUND = 127


def control_dir() -> Path:
    folder = runtime_dir() / "ssh"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def ssh_options() -> list[str]:
    """The options every ssh of ours passes: connection sharing, no prompts, dead links noticed."""
    options = []
    config = os.environ.get("FLEET_SSH_CONFIG")
    if config:
        options += ["-F", config]
    options += [
        "-o", "ControlMaster=auto",
        "-o", f"ControlPath={control_dir()}/%C",
        "-o", f"ControlPersist={CONTROL_PERSIST}",
        "-o", "BatchMode=yes",  # a password prompt would hang a background link: fail instead
        "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
        "-o", "ServerAliveInterval=5",
        "-o", "ServerAliveCountMax=3",
    ]
    return options


def ssh_command() -> list[str]:
    """ssh with our options, for git's core.sshCommand (git appends the host and its own command)."""
    return ["ssh", *ssh_options()]


def ssh_argv(dest: str, remote_argv: list[str]) -> list[str]:
    """The local argv that runs `remote_argv` on `dest`, every word reaching it unchanged."""
    return ["ssh", *ssh_options(), "-T", "--", dest, shlex.join(remote_argv)]


def run(dest: str, remote_argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a command there and wait. stderr goes to a file, not a pipe: a master that ssh puts in the
    background keeps the pipes it was started with open, which would make a reader wait for it."""
    import tempfile

    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        try:
            process = subprocess.run(ssh_argv(dest, remote_argv), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err, timeout=timeout)
            code = process.returncode
        except subprocess.TimeoutExpired:
            code = SSH_FAILED
            err.write(f"ssh: no answer from {dest} within {timeout:.0f}s".encode())
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(remote_argv, code, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def close_master(dest: str) -> None:
    """Stop the shared connection to `dest` (no error if there is none)."""
    subprocess.run(["ssh", *ssh_options(), "-O", "exit", "--", dest], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
