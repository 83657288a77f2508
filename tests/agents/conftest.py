"""The real agent CLIs (Claude Code, Codex, Gemini CLI, aider) in fleet_tui panes, with tmux as the bar.

Where the CLIs come from: FLEET_AGENT_BIN (one folder, or several joined with ':'), else
/tmp/agents/node_modules/.bin and /tmp/aider-venv/bin (what scripts/install-agent-clis.sh
installs by default). A CLI found in none of them makes its tests skip, saying so.

Every CLI runs offline with a dummy API key and a private HOME, so it reads none of this
machine's configuration and stops at its first-start dialog. The fleet's copy and the tmux
copy of a CLI share the worktree (same cwd, same screen text) but not the HOME, so one
answering its trust dialog does not change what the other sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.fleet.conftest import FleetCli

COLS, ROWS = 120, 40
DEFAULT_BINS = ("/tmp/agents/node_modules/.bin", "/tmp/aider-venv/bin")


def agent_bin_dirs() -> list[str]:
    configured = os.environ.get("FLEET_AGENT_BIN")
    dirs = configured.split(os.pathsep) if configured else list(DEFAULT_BINS)
    return [d for d in dirs if d and Path(d).is_dir()]


def agent_path() -> str:
    return os.pathsep.join([*agent_bin_dirs(), os.environ.get("PATH", "")])


def find_cli(name: str) -> str | None:
    return shutil.which(name, path=agent_path())


def require_cli(name: str) -> str:
    exe = find_cli(name)
    if exe is None:
        where = os.environ.get("FLEET_AGENT_BIN") or " or ".join(DEFAULT_BINS)
        pytest.skip(f"{name} is not installed (looked on PATH and in {where}); "
                    f"scripts/install-agent-clis.sh installs it")
    return exe


# -- what each CLI needs to reach its first-start dialog offline -------------------------------

def _claude_home(home: Path) -> None:
    # Without this Claude runs its onboarding, which checks connectivity and exits offline.
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))


def _codex_home(home: Path) -> None:
    # OPENAI_API_KEY in the environment alone still shows the sign-in menu; auth.json skips it.
    (home / ".codex").mkdir()
    (home / ".codex" / "auth.json").write_text(json.dumps({"OPENAI_API_KEY": "sk-test-dummy"}))


@dataclass
class AgentCase:
    name: str
    env: dict[str, str]
    prepare_home: object = None
    extra_yaml: list[str] = field(default_factory=list)


CASES = {
    "claude": AgentCase("claude", {"ANTHROPIC_API_KEY": "sk-ant-test-dummy"}, _claude_home),
    "codex": AgentCase("codex", {"OPENAI_API_KEY": "sk-test-dummy"}, _codex_home),
    "gemini": AgentCase("gemini", {"GEMINI_API_KEY": "test-dummy"}),
    # aider asks a random share of new users about analytics (by a random id in HOME): say no up front.
    "aider": AgentCase("aider", {"OPENAI_API_KEY": "sk-test-dummy", "AIDER_ANALYTICS": "false"}),
}


def fleet_yaml(names: list[str], homes: dict[str, Path]) -> str:
    lines = ["agents:"]
    for name in names:
        lines += [f"  {name}:", f"    preset: {name}", "    env:", f"      HOME: {homes[name]}"]
        lines += [f"      {k}: {v}" for k, v in CASES[name].env.items()]
    return "\n".join(lines) + "\n"


# -- tmux, the reference terminal --------------------------------------------------------------

TMUX_KEYS = {"enter": "Enter", "down": "Down", "up": "Up", "left": "Left", "right": "Right",
             "escape": "Escape", "tab": "Tab", "space": "Space"}


class Tmux:
    """A private tmux server (its own socket, no config file)."""

    def __init__(self) -> None:
        self.socket = f"ft-agents-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=check, timeout=30)

    def start(self, window: str, cwd: str, env: dict[str, str], argv: list[str]) -> None:
        # env -i: the pane's program gets exactly `env`, not tmux's TERM/TMUX/TMUX_PANE.
        command = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
        if self.run("has-session", check=False).returncode != 0:
            self.run("new-session", "-d", "-s", "ref", "-n", window, "-x", str(COLS), "-y", str(ROWS),
                     "-c", cwd, "--", *command)
            self.run("set-option", "-g", "remain-on-exit", "on")
        else:
            self.run("new-window", "-d", "-t", "ref", "-n", window, "-c", cwd, "--", *command)
        self.run("resize-window", "-t", f"ref:{window}", "-x", str(COLS), "-y", str(ROWS))

    def screen(self, window: str) -> list[str]:
        return self.run("capture-pane", "-p", "-t", f"ref:{window}").stdout.split("\n")

    def cursor(self, window: str) -> tuple[int, int]:
        x, y = self.run("display-message", "-p", "-t", f"ref:{window}", "#{cursor_x} #{cursor_y}").stdout.split()
        return int(x), int(y)

    def keys(self, window: str, keys: list[str]) -> None:
        self.run("send-keys", "-t", f"ref:{window}", *(TMUX_KEYS.get(k, k) for k in keys))

    def kill(self) -> None:
        self.run("kill-server", check=False)


def rows(lines: list[str]) -> list[str]:
    """A screen as ROWS rows with trailing blanks dropped: how capture-pane prints it."""
    out = [line.rstrip() for line in lines[:ROWS]]
    return out + [""] * (ROWS - len(out))


def cli_screen(cli: FleetCli, name: str) -> list[str]:
    """What `fleet-tui screen NAME` prints, as rows."""
    return rows(cli.run("screen", name).stdout.split("\n"))


class Peek:
    """A fast read-only look at the fleet server (one socket round trip, no new process), for
    polling; what is asserted is then read again through the real `fleet-tui` command."""

    def __init__(self, cli: FleetCli):
        root = str(cli.repo.resolve())
        digest = hashlib.sha256(root.encode()).hexdigest()[:16]
        self.path = str(Path(cli.env["XDG_RUNTIME_DIR"]) / "fleet-tui" / f"{digest}.sock")

    def call(self, cmd: str, **args) -> dict:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(self.path)
            sock.sendall(json.dumps({"id": 1, "cmd": cmd, "args": args}).encode() + b"\n")
            buffer = b""
            while True:
                chunk = sock.recv(65536)
                assert chunk, "the fleet server closed the connection"
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    reply = json.loads(line)
                    if reply.get("t") == "reply" and reply.get("id") == 1:
                        assert reply["ok"], reply
                        return reply["result"]

    def screen(self, name: str) -> list[str]:
        return rows(self.call("screen", session=name)["lines"])


def settle_both(ours, theirs, expect: str, timeout: float = 60.0, quiet: float = 1.2) -> None:
    """Poll both screens until each shows `expect` and neither has changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = (ours(), theirs())
        if now != last:
            last, since = now, time.monotonic()
        elif all(any(expect in row for row in screen) for screen in now) and time.monotonic() - since >= quiet:
            return
        time.sleep(0.15)
    raise AssertionError(f"{expect!r} never settled on both screens:\n--- fleet\n" + "\n".join(last[0])
                         + "\n--- tmux\n" + "\n".join(last[1]))


def differing_rows(ours: list[str], theirs: list[str]) -> list[int]:
    return [i for i in range(ROWS) if ours[i] != theirs[i]]


def describe_diff(ours: list[str], theirs: list[str]) -> str:
    out = []
    for i in differing_rows(ours, theirs):
        out += [f"row {i + 1:2}  fleet: {ours[i]!r}", f"        tmux:  {theirs[i]!r}"]
    return "\n".join(out)


# -- one repository, one fleet, one tmux server for every installed CLI ------------------------

class AgentsFleet:
    def __init__(self, root: Path, names: list[str]):
        from tests.fleet.conftest import make_repo

        self.root = root
        self.names = names
        self.homes = {n: root / f"h-fleet-{n}" for n in names}
        self.tmux_homes = {n: root / f"h-tmux-{n}" for n in names}
        for n in names:
            for home in (self.homes[n], self.tmux_homes[n]):
                home.mkdir()
                if CASES[n].prepare_home:
                    CASES[n].prepare_home(home)
        repo = make_repo(root / "repo", fleet_yaml(names, self.homes))
        # aider writes a placeholder identity into a repository that has none (and says so), which
        # would make the first of two copies print two lines more than the second.
        for key, value in (("user.name", "Test"), ("user.email", "test@example.com")):
            subprocess.run(["git", "-C", str(repo), "config", key, value], check=True)
        runtime = root / "run"
        runtime.mkdir()
        self.cli = FleetCli(repo, runtime)
        self.cli.env["PATH"] = agent_path()
        self.tmux = Tmux()
        self.peek = Peek(self.cli)
        self.sessions: dict[str, dict] = {}

    def start(self) -> None:
        out = self.cli.run("start").stdout
        assert {f"started {n}" for n in self.names} <= set(out.split("\n")), out
        for info in self.cli.status():
            self.sessions[info["name"]] = info
        for n in self.names:
            info = self.sessions[n]
            # The very environment the fleet gave its child, with the tmux copy's own HOME.
            env = {k: v for k, v in psutil.Process(info["pid"]).environ().items() if not k.startswith("FLEET_")}
            env["HOME"] = str(self.tmux_homes[n])
            argv = psutil.Process(info["pid"]).cmdline()
            self.tmux.start(n, info["worktree"], env, argv)

    def close(self) -> None:
        self.cli.shut_down()
        self.tmux.kill()
        # Codex leaves a daemon in a session of its own; end whatever still runs with one of our HOMEs.
        kill_processes_with_home([*self.homes.values(), *self.tmux_homes.values()])


def kill_processes_with_home(homes) -> None:
    """End every process still running with one of the tests' private HOMEs (Codex's daemon)."""
    homes = {str(h) for h in homes}
    leftovers = [p for p in psutil.process_iter(["environ"])
                 if (p.info.get("environ") or {}).get("HOME") in homes and p.pid != os.getpid()]
    for proc in leftovers:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(leftovers, timeout=5)


@pytest.fixture(scope="module")
def agents_fleet():
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (it is the reference terminal)")
    only = os.environ.get("FLEET_TEST_AGENTS")  # e.g. "aider,codex" to try a few while editing
    names = [n for n in CASES if find_cli(n) and (not only or n in only.split(","))]
    if not names:
        pytest.skip("none of claude, codex, gemini, aider is installed; scripts/install-agent-clis.sh installs them")
    root = Path(__import__("tempfile").mkdtemp(prefix="fa-"))  # short: socket paths are limited
    fleet = AgentsFleet(root, names)
    try:
        fleet.start()
        yield fleet
    finally:
        fleet.close()
        shutil.rmtree(root, ignore_errors=True)
