"""Shared plumbing for the benchmarks: a private sandbox, a real git repository with a
fleet.yaml, the real fleet server, a private tmux server, and small statistics helpers.

Every benchmark runs in its own temporary folder with its own XDG_RUNTIME_DIR (the
fleet socket), XDG_CONFIG_HOME and TMUX_TMPDIR + `tmux -L` socket, and tears all of it
down in `finally`, so a benchmark never touches the user's fleets or tmux sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
GEN = str(BENCH / "_gen.py")
ECHO_CMD = ["sh", "-c", "stty raw -echo; exec cat"]  # echoes every key from user space


def busy_cmd(rate: float, counter_dir: Path | None = None) -> list[str]:
    """A generator writing `rate` bytes/s of coloured lines; counts what it wrote."""
    if counter_dir is None:
        return [PY, GEN, str(int(rate))]
    # each session writes its own counter file (named after the session's env var)
    return ["sh", "-c", f'exec {shlex.quote(PY)} {shlex.quote(GEN)} {int(rate)} '
            f'{shlex.quote(str(counter_dir))}/"$FLEET_SESSION_NAME"']


class Sandbox:
    """A temporary folder with private runtime dirs; `os.environ` points at them while open."""

    def __init__(self, name: str, base: str | None = None):
        self.path = Path(tempfile.mkdtemp(prefix=f"fleet-bench-{name}-", dir=base))
        self.runtime = self.path / "run"
        self.runtime.mkdir(mode=0o700)
        self._saved: dict[str, str | None] = {}

    def __enter__(self) -> "Sandbox":
        for key, value in {"XDG_RUNTIME_DIR": str(self.runtime), "XDG_CONFIG_HOME": str(self.path / "config"),
                           "TMUX_TMPDIR": str(self.runtime)}.items():
            self._saved[key] = os.environ.get(key)
            os.environ[key] = value
        os.environ.pop("TMUX", None)
        return self

    def __exit__(self, *exc) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(self.path, ignore_errors=True)


def yaml_agents(agents: dict[str, list[str]], setup: list[str] | None = None) -> str:
    lines = ["agents:"]
    for name, argv in agents.items():
        lines.append(f"  {name}:")
        lines.append(f"    command: {json.dumps(argv)}")
    if setup:
        lines.append("setup:")
        lines += [f"  - {json.dumps(cmd)}" for cmd in setup]
    return "\n".join(lines) + "\n"


def make_repo(path: Path, fleet_yaml: str, nfiles: int = 0) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(path), "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "README.md").write_text("bench\n")
    (path / "fleet.yaml").write_text(fleet_yaml)
    for i in range(nfiles):
        folder = path / "src" / f"d{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05d}.py").write_text(f"# file {i}\nVALUE = {i}\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)
    return path


class FleetServer:
    """The real fleet server of `repo`, started as `fleet-tui` starts it (a detached process)."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.client = None
        self.pid: int | None = None

    async def start(self):
        from fleet_tui.client import FleetClient

        self.client = await FleetClient.connect(self.repo)
        self.pid = (await self.client.call("ping"))["pid"]
        return self.client

    @property
    def process(self) -> psutil.Process:
        return psutil.Process(self.pid)

    async def stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.call("down"), 10)
            with contextlib.suppress(Exception):
                await self.client.close()
        if self.pid is not None:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(self.pid)
                try:
                    proc.wait(8)
                except psutil.TimeoutExpired:
                    proc.kill()


async def wait_for(predicate, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


class Tmux:
    """A private tmux server (own -L socket under the sandbox's TMUX_TMPDIR, no user config)."""

    def __init__(self, name: str = "bench"):
        self.socket = f"fleet-{name}-{os.getpid()}"

    def argv(self, *args: str) -> list[str]:
        return ["tmux", "-L", self.socket, "-f", "/dev/null", *args]

    def __call__(self, *args: str, check: bool = True) -> str:
        return subprocess.run(self.argv(*args), check=check, capture_output=True, text=True).stdout

    def server_pid(self) -> int:
        return int(self("display-message", "-p", "#{pid}").strip())

    def kill(self) -> None:
        subprocess.run(self.argv("kill-server"), capture_output=True)


def sh(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells[1:]]
    return "\n".join(out)


def fmt(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def kill_tree(pid: int) -> None:
    """Kill a process we started and its children (by pid, never by name)."""
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        procs = proc.children(recursive=True) + [proc]
        for p in procs:
            with contextlib.suppress(psutil.Error):
                p.send_signal(signal.SIGKILL)


def runqueue_wait(pid: int) -> float:
    """Seconds the process's threads spent runnable but waiting for a core (/proc schedstat)."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[1])
    except OSError:
        pass
    return total / 1e9
