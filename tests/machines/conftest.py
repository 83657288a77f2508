"""A real OpenSSH server on a loopback port, as a second machine with a second repository.

The server runs from a throwaway sshd_config with its own host key and accepts one throwaway user
key for the current user (as root, in CI, only through that key: PermitRootLogin
prohibit-password in this config alone). The client side gets an ssh_config of its own through
FLEET_SSH_CONFIG, so the user's ~/.ssh is never read or written. FLEET_TEST_RUN and the XDG
folders travel over the link (SendEnv/SetEnv, AcceptEnv), so processes started on the "remote"
side are private to the test and caught by the suite's leftover-process guard.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from bench import loopback_sshd
from bench.loopback_sshd import HOST
from fleet_tui.demo.repo import create_demo_repo
from tests.fleet.conftest import FleetCli, UNATTENDED_DEMO_FLEET

FLEET = UNATTENDED_DEMO_FLEET + "  shell: {command: [bash, --norc, --noprofile]}\n"


@pytest.fixture(scope="module")
def sshd():
    if not loopback_sshd.available():
        pytest.skip("OpenSSH's server is not installed (apt-get install openssh-server)")
    remote = Path(tempfile.mkdtemp(prefix="ftremote-"))
    (remote / "rt").mkdir(mode=0o700)
    server = loopback_sshd.start_sshd(
        ["FLEET_TEST_RUN"], {"XDG_RUNTIME_DIR": str(remote / "rt"), "XDG_STATE_HOME": str(remote / "state"),
                             "XDG_CONFIG_HOME": str(remote / "config"), "FLEET_DEMO_SPEED": "40"})
    yield server
    server.stop()
    shutil.rmtree(remote, ignore_errors=True)


def remote_command() -> str:
    """fleet-tui as installed beside the interpreter running the tests (a venv's bin/)."""
    path = Path(sys.executable).parent / "fleet-tui"
    if not path.exists():
        pytest.skip(f"{path} is missing: install fleet_tui into the tests' venv (pip install -e .)")
    return str(path)


class TwoMachines:
    """The local repository's CLI, a second repository reached over ssh as machine `build`."""

    def __init__(self, local: FleetCli, remote_repo: Path, server: loopback_sshd.LoopbackSshd):
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
    # The shared ssh connection (a background ssh master) goes with the test.
    subprocess.run([sys.executable, "-c", f"from fleet_tui.ssh import close_master; close_master({HOST!r})"],
                   env=local.env, check=True, timeout=30)
    shutil.rmtree(runtime, ignore_errors=True)
