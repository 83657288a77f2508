"""One running agent: its pty child, its emulated screen, its status and its budget meters.

A Session knows nothing of sockets or of the UI. The Fleet creates sessions,
feeds them ticks and acts on what they report (budget crossings, status changes).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet_tui.core.budget import Budget, BudgetMeter
from fleet_tui.core.proctree import ProcessTable, TreeSampler, kill_tree, pause_tree, resume_tree
from fleet_tui.core.ptyproc import PtyProcess
from fleet_tui.core.status import StatusDetector
from fleet_tui.core.terminal import Terminal
from fleet_tui.core.usage import UsageReader

# Statuses the process layer decides; the detector never overrides them.
CONTROL_STATUSES = {"paused", "exited", "killed", "over_budget"}


@dataclass
class SessionRecord:
    """What survives a server restart: enough to find the worktree and branch again."""

    name: str
    agent: str
    branch: str
    worktree: str
    base_commit: str
    run: str | None = None
    role: str | None = None
    created: float = field(default_factory=time.time)
    prompt: str | None = None
    port: int | None = None  # $PORT, held by the worktree for its whole life (core.ports)
    task: str | None = None  # the task it works on (core.pipeline), shown in its pane's title

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Session:
    def __init__(
        self,
        record: SessionRecord,
        *,
        argv: list[str],
        env: dict[str, str],
        status_rules: dict[str, Any] | None,
        budget: Budget,
        usage_format: str | None,
        usage_log: Path,
        cols: int = 120,
        rows: int = 40,
        on_change: Callable[["Session"], None] = lambda s: None,
        on_exit: Callable[["Session"], None] = lambda s: None,
    ):
        self.record = record
        self.argv = argv
        self.marker = uuid.uuid4().hex
        self.env = {**env, "FLEET_SESSION": self.marker, "FLEET_SESSION_NAME": record.name,
                    "FLEET_USAGE_LOG": str(usage_log)}
        self.status_rules = status_rules
        self.budget = budget
        self.usage_format = usage_format
        self.usage_log = usage_log
        self.terminal = Terminal(cols, rows, respond=self._respond)
        self.detector = StatusDetector(status_rules)
        self.meter = BudgetMeter(budget, time.time())
        self.proc: PtyProcess | None = None
        self.sampler: TreeSampler | None = None
        self.usage: Any = None
        self.status = "starting"
        self.reason = "just started"
        self.exit_code: int | None = None
        self.started_at = time.time()
        self.last_usage: dict[str, Any] = {}
        self._on_change = on_change
        self._on_exit = on_exit

    # -- identity ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.record.name

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.exit_code is None

    # -- process ----------------------------------------------------------------
    def start(self) -> None:
        self.terminal = Terminal(self.terminal.cols, self.terminal.rows, respond=self._respond)
        self.detector = StatusDetector(self.status_rules)
        self.status, self.reason, self.exit_code = "starting", "just started", None
        self.started_at = time.time()
        self.meter = BudgetMeter(self.budget, self.started_at)
        self.proc = PtyProcess.spawn(
            self.argv,
            cwd=self.record.worktree,
            env=self.env,
            cols=self.terminal.cols,
            rows=self.terminal.rows,
            on_output=self._output,
            on_exit=self._exited,
        )
        self.sampler = TreeSampler(self.proc.pid, self.marker)
        self.usage = UsageReader.for_format(
            self.usage_format, cwd=Path(self.record.worktree), home=Path.home(), log_path=self.usage_log
        )

    def _output(self, text: str) -> None:
        self.terminal.feed(text)
        self.detector.on_output(time.monotonic())
        self._on_change(self)

    def _respond(self, reply: str) -> None:
        # The child asked the terminal something (DA1, cursor position...): answer it.
        if self.alive:
            self.proc.write(reply.encode())

    def _exited(self, code: int) -> None:
        self.exit_code = code
        if self.status not in ("killed", "over_budget"):
            self.set_status("exited", f"the process exited with code {code}")
        self._on_change(self)
        self._on_exit(self)

    def write(self, data: bytes) -> None:
        if not self.alive:
            raise_not_running(self)
        self.proc.write(data)

    def type(self, data: bytes) -> None:
        """Input from a person (or a prompt typed for them): its echo is not the agent working."""
        self.write(data)
        self.detector.on_input(time.monotonic())

    def resize(self, cols: int, rows: int) -> None:
        cols, rows = max(2, min(cols, 500)), max(2, min(rows, 300))
        if (cols, rows) == (self.terminal.cols, self.terminal.rows):
            return
        self.terminal.resize(cols, rows)
        if self.alive:
            self.proc.resize(cols, rows)
        self._on_change(self)

    async def kill(self) -> Any:
        if self.proc is None:
            return None
        report = await asyncio.to_thread(kill_tree, self.proc.pid, self.marker)
        return report

    def pause(self) -> None:
        pause_tree(self.proc.pid, self.marker)

    def resume(self) -> None:
        resume_tree(self.proc.pid, self.marker)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.close()

    # -- status and budget ------------------------------------------------------
    def set_status(self, status: str, reason: str) -> bool:
        """Change status; True when it actually changed."""
        changed = status != self.status
        self.status, self.reason = status, reason
        return changed

    def detect_status(self) -> tuple[str, str] | None:
        """Ask the detector unless the process layer owns the status; returns a change or None."""
        if self.status in CONTROL_STATUSES or not self.alive:
            return None
        term = self.terminal
        markers = [f"{num};{text}" if num != 7501 else text for num, text in term.take_osc()]
        status, reason = self.detector.decide(time.monotonic(), term.display(), term.title, markers)
        if self.set_status(status, reason):
            return status, reason
        return None

    def measure(self, table: ProcessTable | None = None) -> list[Any]:
        """Sample CPU/memory/usage and update the meters; returns budget crossings.

        Safe off the event loop: it touches only the sampler, the usage reader and the meter.
        """
        if self.sampler is None:
            return []
        usage = self.sampler.sample(table) if self.alive else None
        tokens = cost = None
        if self.usage is not None:
            totals = self.usage.read()
            tokens, cost = totals.tokens, totals.cost
        return self.meter.update(time.time(), usage, tokens, cost, self.status)

    # -- views ------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        r = self.record
        return {
            "name": r.name,
            "agent": r.agent,
            "role": r.role,
            "status": self.status,
            "reason": self.reason,
            "pid": self.pid if self.alive else None,
            "branch": r.branch,
            "worktree": r.worktree,
            "base_commit": r.base_commit,
            "run": r.run,
            "port": r.port,
            "task": r.task,
            "cols": self.terminal.cols,
            "rows": self.terminal.rows,
            "exit_code": self.exit_code,
            "started_at": self.started_at,
            "title": self.terminal.title,
            "budget": self.meter.snapshot(),
        }


def raise_not_running(session: Session) -> None:
    from fleet_tui.errors import FleetError

    raise FleetError(
        f"session {session.name} is not running ({session.status}): "
        f"`fleet-tui restart {session.name}` starts it again"
    )
