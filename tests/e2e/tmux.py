"""A real terminal for journey tests: one tmux server per test, typed into with send-keys and
read back with capture-pane, running `python -m fleet_tui` with the test's own interpreter."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

EXITED = "TUI-EXITED-"  # printed after the TUI, so a test tells an exit from a TUI still drawing


class Terminal:
    def __init__(self, env: dict[str, str], cwd: Path, cols: int, rows: int):
        self.env = {**env, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        for variable in ("TMUX", "TMUX_PANE"):
            self.env.pop(variable, None)
        self.cwd, self.cols, self.rows = cwd, cols, rows
        self.socket = f"ft-j-{uuid.uuid4().hex[:8]}"
        self.target = "tui:0.0"

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=check, timeout=30)

    def run(self, *fleet_args: str) -> None:
        """Start `fleet-tui ARGS` in the terminal (again, if it ran before)."""
        self.cwd.mkdir(parents=True, exist_ok=True)
        argv = " ".join([sys.executable, "-m", "fleet_tui", *fleet_args])
        command = ["env", "-i", *(f"{k}={v}" for k, v in self.env.items()), "sh", "-c",
                   f"{argv}; echo {EXITED}$?; exec sleep 600"]
        if self.tmux("has-session", "-t", "tui", check=False).returncode != 0:
            self.tmux("new-session", "-d", "-s", "tui", "-x", str(self.cols), "-y", str(self.rows),
                      "-c", str(self.cwd), "--", *command)
        else:
            self.tmux("respawn-pane", "-k", "-t", self.target, "-c", str(self.cwd), "--", *command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.target).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", self.target, *(["-l"] if literal else []), *keys)

    def wait(self, *texts: str, gone: tuple[str, ...] = (), footer: str = "", timeout: float = 60) -> str:
        """The screen once it shows every text and none of `gone`, its bottom line starting with `footer`;
        fails on a traceback or an exit.

        `gone` alone never proves a screen closed: a notification can cover its text. The footer can:
        the grid's starts with its mode (" NAV "), a screen on top has its own.
        """
        deadline = time.monotonic() + timeout
        screen = ""
        toasts: list[str] = []  # notifications come and go: kept to say why a step did nothing
        while time.monotonic() < deadline:
            screen = self.screen()
            self.check(screen)
            bottom = (screen.rstrip("\n").splitlines() or [""])[-1]
            if (all(t in screen for t in texts) and not any(t in screen for t in gone)
                    and bottom.startswith(footer)):
                return screen
            for line in screen.splitlines():
                toast = line.rpartition("▌")[2].strip(" ▌║│┃╏")
                if "▌" in line and toast and toast not in toasts:
                    toasts.append(toast)
            time.sleep(0.15)
        raise AssertionError(f"never showed {texts} (without {gone}, footer {footer!r}): a dead key?\n"
                             f"notifications meanwhile: {toasts}\n{screen}")

    def check(self, screen: str) -> None:
        if "Traceback" in screen or ("Error" in screen and "╭─" in screen and "locals" in screen):
            raise AssertionError(f"the TUI crashed:\n{screen}")

    def close(self) -> None:
        self.tmux("kill-server", check=False)
