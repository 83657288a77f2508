"""Running commands on another machine through the user's own `ssh`.

ssh joins the words after the destination into one line for the remote user's shell, so the
remote argv is quoted here with shlex.quote (one string, nothing left for the shell to expand)
and the destination comes after `--`, so it can never be read as an option. Every connection to
a destination shares one ssh master (ControlMaster, its socket in a private 0700 folder), which
makes the second and later connections take milliseconds instead of a full handshake.

FLEET_SSH_CONFIG, when set, is passed as `ssh -F` (an ssh_config used instead of ~/.ssh/config).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
import subprocess
import tempfile
from pathlib import Path

from fleet_tui.errors import FleetError
from fleet_tui.paths import runtime_dir

CONTROL_PERSIST = "10m"  # the shared connection outlives its last user this long
CONNECT_TIMEOUT = 10  # seconds to reach the host
# ssh's exit status when the connection itself failed (any remote command's status is passed on).
SSH_FAILED = 255
# The shell's status when the remote command does not exist.
COMMAND_NOT_FOUND = 127


# A unix socket path has ~107 bytes; ssh adds a 17-character temporary suffix while it creates one.
MAX_CONTROL_DIR = 107 - 17 - 1 - 16


def control_dir() -> Path:
    """A private 0700 folder for the shared connections' sockets, short enough for a socket path."""
    folder = runtime_dir() / "ssh"
    if len(str(folder)) > MAX_CONTROL_DIR:  # a deep XDG_RUNTIME_DIR: fall back to a short private one
        folder = Path(tempfile.gettempdir()) / f"fleet-ssh-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
        raise FleetError(f"{folder} belongs to another user: set XDG_RUNTIME_DIR to a private folder")
    os.chmod(folder, 0o700)
    return folder


def control_path(dest: str) -> Path:
    """One socket per destination (and ssh config): ssh's own %C is 40 characters, too long here."""
    key = f"{dest}\0{os.environ.get('FLEET_SSH_CONFIG', '')}"
    return control_dir() / hashlib.sha256(key.encode()).hexdigest()[:16]


def ssh_options(dest: str) -> list[str]:
    """The options every ssh of ours passes: connection sharing, no prompts, dead links noticed."""
    options = []
    config = os.environ.get("FLEET_SSH_CONFIG")
    if config:
        options += ["-F", config]
    options += [
        "-o", "ControlMaster=auto",
        "-o", f"ControlPath={control_path(dest)}",
        "-o", f"ControlPersist={CONTROL_PERSIST}",
        "-o", "BatchMode=yes",  # a password prompt would hang a background link: fail instead
        "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
        "-o", "ServerAliveInterval=5",
        "-o", "ServerAliveCountMax=3",
    ]
    return options


def ssh_command(dest: str) -> list[str]:
    """ssh with our options for `dest`, for git's core.sshCommand (git appends the host and its command)."""
    return ["ssh", *ssh_options(dest)]


def ssh_argv(dest: str, remote_argv: list[str]) -> list[str]:
    """The local argv that runs `remote_argv` on `dest`, every word reaching it unchanged."""
    return ["ssh", *ssh_options(dest), "-T", "--", dest, shlex.join(remote_argv)]


def run(dest: str, remote_argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a command there and wait. stderr goes to a file, not a pipe: a master that ssh puts in the
    background keeps the pipes it was started with open, which would make a reader wait for it."""
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
    subprocess.run(["ssh", *ssh_options(dest), "-O", "exit", "--", dest], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
