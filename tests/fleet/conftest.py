"""A real git repository with a fleet.yaml, and the real `fleet-tui` command run against it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

THREE_AGENTS = textwrap.dedent(
    """\
    # three plain commands: enough to drive the whole engine without any agent CLI
    agents:
      shell:
        command: [bash, --norc, --noprofile]
      echo:
        command: [python3, -u, -c, "import sys\\nfor line in sys.stdin: print('got:', line.strip())"]
      stubborn:
        # ignores TERM and leaves a grandchild in a session of its own that ignores TERM too, and a
        # runaway with nothing of the session left but its folder (env -i, setsid, double fork)
        command: [sh, -c, "trap '' TERM; setsid sh -c 'trap \\"\\" TERM; sleep 300' &
                  env -i setsid -f sh -c 'trap \\"\\" TERM HUP; exec sleep 301'; sleep 300"]
    """
)


# The demo fleet approving its own edits, so a run finishes unattended.
UNATTENDED_DEMO_FLEET = textwrap.dedent(
    """\
    checks:
      tests: "{python} -m unittest -q"
    agents:
      careful: {preset: demo, args: [--style, clean], auto_approve: true}
      thorough: {preset: demo, args: [--style, big], auto_approve: true}
      hasty: {preset: demo, args: [--style, sloppy], auto_approve: true}
    """
)


def make_repo(path: Path, fleet_yaml: str | None = THREE_AGENTS) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(path), "-c", "user.name=Test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "README.md").write_text("demo\n")
    if fleet_yaml is not None:
        (path / "fleet.yaml").write_text(fleet_yaml)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)
    return path


class FleetCli:
    """Runs `python -m fleet_tui` in a repository, with a private runtime folder for its socket."""

    def __init__(self, repo: Path, runtime: Path):
        self.repo = repo
        # Agents are interactive programs: under CI=true some (Gemini CLI) refuse their dialogs, and an
        # activated venv's PS1 changes bash's prompt. Neither belongs to the fleet under test.
        inherited = {k: v for k, v in os.environ.items() if k not in ("CI", "PS1")}
        # XDG_STATE_HOME: the machine-wide port registry (core.ports) stays private to the test.
        self.env = {**inherited, "XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(runtime / "config"),
                    "XDG_STATE_HOME": str(runtime / "state")}

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "fleet_tui", *args], cwd=self.repo, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"fleet-tui {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def status(self) -> list[dict]:
        return json.loads(self.run("status", "--json").stdout)

    def session(self, name: str) -> dict:
        return next(s for s in self.status() if s["name"] == name)

    def screen(self, name: str) -> str:
        return self.run("screen", name).stdout

    def wait_screen(self, name: str, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen(name)
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on {name}'s screen:\n{screen}")

    def wait_status(self, name: str, status: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        info = {}
        while time.monotonic() < deadline:
            info = self.session(name)
            if info["status"] == status:
                return info
            time.sleep(0.1)
        raise AssertionError(f"{name} never became {status}: {info}")

    def shut_down(self) -> None:
        """`down`, then kill the server if it outlived that (a test's teardown: never fails)."""
        pid = self.server_pid()
        self.run("down", check=False)
        if pid and psutil.pid_exists(pid):
            psutil.Process(pid).kill()

    def server_pid(self) -> int | None:
        pid_file = self.repo / ".git" / "fleet" / "server.pid"
        return int(pid_file.read_text()) if pid_file.exists() else None


def wait_for_child(pid: int, argv: list[str], timeout: float = 30) -> psutil.Process:
    """The descendant of `pid` running `argv`, once it runs: `send` returns when the text is in the
    pty, not when the shell has read it and started the command (a key sent before then reaches the
    shell, not the command)."""
    deadline = time.monotonic() + timeout
    while True:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                if child.cmdline() == argv:
                    return child
            except psutil.Error:
                continue
        if time.monotonic() > deadline:
            raise AssertionError(f"{' '.join(argv)!r} never ran under pid {pid}")
        time.sleep(0.05)


@pytest.fixture
def runtime_dir():
    # Short: unix socket paths are limited to ~108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="ft-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def fleet(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo"), runtime_dir)
    yield cli
    cli.shut_down()
