"""A throwaway OpenSSH server on a loopback port, for tests and benchmarks of remote machines.

Its own sshd_config, host key and one user key for the current user (as root, only through that
key: PermitRootLogin prohibit-password in this config alone); listening on 127.0.0.1 only. The
client side gets an ssh_config naming it HOST, used through FLEET_SSH_CONFIG, so the user's
~/.ssh is never read or written. `send_env` variables travel over the link (SendEnv/AcceptEnv)
and `set_env` ones are set there (SetEnv), e.g. private XDG folders for the "remote" side.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
HOST = "fleet-test-remote"  # the Host alias in the generated ssh_config


def available() -> bool:
    return os.path.exists(SSHD)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleet-test", "-f", str(path)],
                   check=True)
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class LoopbackSshd:
    folder: Path
    port: int
    process: subprocess.Popen
    ssh_config: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_sshd(send_env: list[str], set_env: dict[str, str]) -> LoopbackSshd:
    folder = Path(tempfile.mkdtemp(prefix="ftssh-"))
    os.chmod(folder, 0o700)
    host_key = _keygen(folder / "host_key")
    (folder / "authorized_keys").write_text(_keygen(folder / "user_key") + "\n")
    port = _free_port()
    user = getpass.getuser()
    accepted = " ".join([*send_env, *set_env])
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder}/host_key\nPidFile {folder}/sshd.pid\n"
        f"AuthorizedKeysFile {folder}/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PermitRootLogin {'prohibit-password' if os.getuid() == 0 else 'no'}\nAllowUsers {user}\n"
        + (f"AcceptEnv {accepted}\n" if accepted else "") + "X11Forwarding no\nAllowTcpForwarding no\nLogLevel ERROR\n")
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key.split()[:2])}\n")
    ssh_config = folder / "ssh_config"
    lines = [f"Host {HOST}", "  HostName 127.0.0.1", f"  Port {port}", f"  User {user}",
             f"  IdentityFile {folder}/user_key", "  IdentitiesOnly yes", f"  UserKnownHostsFile {folder}/known_hosts",
             "  StrictHostKeyChecking yes", "  LogLevel ERROR"]
    if send_env:
        lines.append("  SendEnv " + " ".join(send_env))
    if set_env:
        lines.append("  SetEnv " + " ".join(f"{k}={v}" for k, v in set_env.items()))
    ssh_config.write_text("\n".join(lines) + "\n")
    os.chmod(ssh_config, 0o600)
    if os.getuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    with open(folder / "sshd.log", "wb") as log:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")],
                                   stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return LoopbackSshd(folder, port, process, ssh_config)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"sshd did not start: {(folder / 'sshd.log').read_text()}") from None
            time.sleep(0.05)
