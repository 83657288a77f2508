"""A real OpenSSH server on a loopback port, as a second machine with a second repository.

The server runs from a throwaway sshd_config with its own host key and accepts one throwaway user
key for the current user (as root, in CI, only through that key: PermitRootLogin
prohibit-password in this config alone). The client side gets an ssh_config of its own through
FLEET_SSH_CONFIG, so the user's ~/.ssh is never read or written. FLEET_TEST_RUN and the XDG
folders travel over the link (SendEnv/SetEnv, AcceptEnv), so processes started on the "remote"
side are private to the test and caught by the suite's leftover-process guard.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from fleet_tui.demo.repo import create_demo_repo
from tests.fleet.conftest import FleetCli, UNATTENDED_DEMO_FLEET

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
HOST = "fleet-test-remote"  # the Host alias in the test's ssh_config
FLEET = UNATTENDED_DEMO_FLEET + "  shell: {command: [bash, --norc, --noprofile]}\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleet-test", "-f", str(path)],
                   check=True)
    return (path.with_suffix(".pub")).read_text().strip()


@dataclass
class SshServer:
    folder: Path
    port: int
    process: subprocess.Popen
    ssh_config: Path
    remote_env: dict[str, str]


@pytest.fixture(scope="module")
def sshd():
    if not os.path.exists(SSHD):
        pytest.skip("OpenSSH's server is not installed (apt-get install openssh-server)")
    folder = Path(tempfile.mkdtemp(prefix="ftssh-"))
    os.chmod(folder, 0o700)
    host_key = _keygen(folder / "host_key")
    user_key = _keygen(folder / "user_key")
    (folder / "authorized_keys").write_text(user_key + "\n")
    port = _free_port()
    user = getpass.getuser()
    remote_rt = folder / "remote-rt"
    remote_rt.mkdir(mode=0o700)
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder}/host_key\nPidFile {folder}/sshd.pid\n"
        f"AuthorizedKeysFile {folder}/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PermitRootLogin {'prohibit-password' if os.getuid() == 0 else 'no'}\nAllowUsers {user}\n"
        "AcceptEnv FLEET_TEST_RUN FLEET_DEMO_SPEED XDG_RUNTIME_DIR XDG_STATE_HOME XDG_CONFIG_HOME\nX11Forwarding no\n"
        "AllowTcpForwarding no\nLogLevel ERROR\n")
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key.split()[:2])}\n")
    ssh_config = folder / "ssh_config"
    ssh_config.write_text(
        f"Host {HOST}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {folder}/user_key\n"
        f"  IdentitiesOnly yes\n  UserKnownHostsFile {folder}/known_hosts\n  StrictHostKeyChecking yes\n"
        "  SendEnv FLEET_TEST_RUN\n"
        f"  SetEnv XDG_RUNTIME_DIR={remote_rt} XDG_STATE_HOME={folder}/remote-state "
        f"XDG_CONFIG_HOME={folder}/remote-config FLEET_DEMO_SPEED=40\n  LogLevel ERROR\n")
    os.chmod(ssh_config, 0o600)
    if os.getuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")],
                               stdout=subprocess.DEVNULL, stderr=open(folder / "sshd.log", "wb"))
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"sshd did not start: {(folder / 'sshd.log').read_text()}")
            time.sleep(0.05)
    yield SshServer(folder, port, process, ssh_config, {})
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(folder, ignore_errors=True)


def remote_command() -> str:
    """fleet-tui as installed beside the interpreter running the tests (a venv's bin/)."""
    path = Path(sys.executable).parent / "fleet-tui"
    if not path.exists():
        pytest.skip(f"{path} is missing: install fleet_tui into the tests' venv (pip install -e .)")
    return str(path)


class TwoMachines:
    """The local repository's CLI, a second repository reached over ssh as machine `build`."""

    def __init__(self, local: FleetCli, remote_repo: Path, server: SshServer):
        self.local = local
        self.remote_repo = remote_repo
        self.server = server

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.local.run(*args, **kwargs)

    def remote_server_pid(self) -> int | None:
        pid_file = self.remote_repo / ".git" / "fleet" / "server.pid"
        return int(pid_file.read_text()) if pid_file.exists() else None


@pytest.fixture
def two_machines(sshd, tmp_path):
    runtime = Path(tempfile.mkdtemp(prefix="ft-"))
    repo = create_demo_repo(tmp_path / "local repo")
    (repo / "fleet.yaml").write_text(FLEET)
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "test fleet"], check=True)
    local = FleetCli(repo, runtime)
    local.env["FLEET_SSH_CONFIG"] = str(sshd.ssh_config)
    local.env["FLEET_DEMO_SPEED"] = "40"
    # The remote repository is a clone (the same history), at a path a shell would mangle.
    remote_repo = tmp_path / "remote's repo $HOME"
    subprocess.run(["git", "clone", "-q", str(repo), str(remote_repo)], check=True)
    local.run("machines", "add", "build", HOST, str(remote_repo), "--command", remote_command())
    machines = TwoMachines(local, remote_repo, sshd)
    yield machines
    for pid, cli_args in ((machines.remote_server_pid(), ("down", "--machine", "build")),
                          (local.server_pid(), ("down",))):
        if pid:
            local.run(*cli_args, check=False)
            if psutil.pid_exists(pid):
                psutil.Process(pid).kill()
    subprocess.run(["ssh", "-F", str(sshd.ssh_config), "-o", f"ControlPath={runtime}/ssh/%C", "-O", "exit", HOST],
                   capture_output=True)
    shutil.rmtree(runtime, ignore_errors=True)
