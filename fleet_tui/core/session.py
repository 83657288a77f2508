"""One running agent: its pty child, its emulated screen, its status and its budget meters.

A Session knows nothing of sockets or of the UI. The Fleet creates sessions,
feeds them ticks and acts on what they report (budget crossings, status changes).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from fleet_tui.config import Budget
from fleet_tui.core.budget import BudgetMeter
from fleet_tui.core.hooks import HookChannel
from fleet_tui.core.proctree import Escape, ProcessTable, TreeSampler, kill_tree, pause_tree, resume_tree
from fleet_tui.core.ptyproc import PtyProcess
from fleet_tui.core.status import ANSWER_KEYS, INTERRUPT_KEYS, LookPacer, Status, StatusDetector, layered
from fleet_tui.core.terminal import Terminal
from fleet_tui.core.usage import UsageReader
from fleet_tui.errors import FleetError
from fleet_tui.wire import SessionView

# A prompt the fleet typed reads as working this long, until the agent's hooks or screen say so.
PROMPT_GRACE = 1.5
PROMPT_HOLD_HOOKS = 10.0
# A turn that ends this soon after Escape or Ctrl-C typed in the pane was ended by the user.
INTERRUPT_SEEN = 5.0

# Statuses the process layer decides; the detector never overrides them.
CONTROL_STATUSES = {Status.PAUSED, Status.EXITED, Status.KILLED, Status.OVER_BUDGET}


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
    conversation_id: str | None = None  # the agent's own id for its conversation, to resume it
    # The processes of its latest start, so a later server can find them (core/restore.py):
    marker: str | None = None  # the FLEET_SESSION value in every process's environment
    pid: int | None = None
    pid_started: float | None = None  # the pty child's start time: a reused pid never matches it
    ended: str | None = None  # None while its processes run; else how they ended (exited, killed, stopped)
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
        hooks: HookChannel | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.record = record
        self.argv = argv
        self.marker = uuid.uuid4().hex
        self.env = {**env, "FLEET_SESSION": self.marker, "FLEET_SESSION_NAME": record.name,
                    "FLEET_USAGE_LOG": str(usage_log), **(hooks.env() if hooks else {})}
        self.hooks = hooks
        self.clock = clock  # monotonic; a replay of a recorded session gives its own
        self.status_rules = status_rules
        self.budget = budget
        self.usage_format = usage_format
        self.usage_log = usage_log
        self.terminal = Terminal(cols, rows, respond=self._respond)
        self.detector = StatusDetector(status_rules, started=clock())
        self.pacer = LookPacer()
        self.meter = BudgetMeter(budget, time.time())
        self.proc: PtyProcess | None = None
        self.sampler: TreeSampler | None = None
        self.usage: Any = None
        self.status = Status.STARTING
        self.reason = "just started"
        self.exit_code: int | None = None
        self.started_at = time.time()
        self.last_usage: dict[str, Any] = {}
        # The tick and a compare may measure at once: usage readers count each new log line once.
        self._measuring = threading.Lock()
        self.queued_prompt: str | None = None  # a prompt waiting for the agent to get ready
        self._title = ""  # the window title as of the last output
        self._title_says: Status | None = None  # ... and its meaning
        self._rows: list[str] | None = None  # the screen as text, as of the last status round
        self._reset_layers()
        self._on_change = on_change
        # Seconds to leave a streaming child's pty unread between reads (see PtyProcess._pace).
        self.read_pause: Callable[[], float] = lambda: 0.0
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

    def _reset_layers(self) -> None:
        self.layer = "process"  # which layer gave the status: process, hooks, screen, title, osc, activity
        self.screen_verdict: tuple[Status, str] = (Status.STARTING, "just started")
        self.screen_since = self.clock()
        self.turn_open = False  # a prompt went in and its turn has not finished yet
        self.unseen_turn_end = False  # finished a turn that nobody has looked at: status done
        self.turns_finished = 0
        self.acked_at = 0.0
        self.prompted_at = 0.0
        self.turn_seen = False  # the agent's own signals showed the open turn (not just our prompt)

    # -- process ----------------------------------------------------------------
    def start(self) -> None:
        self.terminal = Terminal(self.terminal.cols, self.terminal.rows, respond=self._respond)
        self.detector = StatusDetector(self.status_rules, started=self.clock())
        self.pacer = LookPacer()
        self._reset_layers()
        self._rows = None
        self.status, self.reason, self.exit_code = Status.STARTING, "just started", None
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
        self.proc.read_pause = self.read_pause
        self.sampler = TreeSampler(self.proc.pid, self.marker)
        self.usage = UsageReader.for_format(
            self.usage_format, cwd=Path(self.record.worktree), home=Path.home(), log_path=self.usage_log,
            env=self.env)

    def _output(self, text: str) -> None:
        self.terminal.feed(text)
        self._rows = None  # the screen changed: read it again at the next status round
        now = self.clock()
        self.detector.on_output(now)
        self._on_change(self)
        self.pacer.output(now)  # a dialog is a burst of output, then quiet: read it once it settles
        title = self.terminal.title
        if title != self._title:
            # A title that now says something else (Gemini's "◇  Ready" at the end of a turn) is
            # looked at on the next round, not once the output settles; a spinner frame is not.
            said = self.detector.title_says(title)
            if said != self._title_says:
                self.pacer.again(now, 0.0)
            self._title, self._title_says = title, said

    def _respond(self, reply: str) -> None:
        # The child asked the terminal something (DA1, cursor position...): answer it.
        if self.proc is not None and self.alive:
            self.proc.write(reply.encode())

    def _exited(self, code: int) -> None:
        self.exit_code = code
        if self.status not in (Status.KILLED, Status.OVER_BUDGET):
            self.set_status(Status.EXITED, f"the process exited with code {code}")
        self._on_change(self)
        self._on_exit(self)

    def write(self, data: bytes) -> None:
        self._running().write(data)

    def _running(self) -> PtyProcess:
        """The live process, or a FleetError saying the session is not running."""
        if self.proc is None or not self.alive:
            raise_not_running(self)
        return self.proc

    def type(self, data: bytes) -> None:
        """Input from a person (or a prompt typed for them): its echo is not the agent working."""
        self.write(data)
        now = self.clock()
        self.detector.on_input(now, data)
        if data in ANSWER_KEYS or data in INTERRUPT_KEYS:
            self.pacer.again(now, 0.0)  # a dialog answered, a turn interrupted: look at the next round

    def resize(self, cols: int, rows: int) -> None:
        cols, rows = max(2, min(cols, 500)), max(2, min(rows, 300))
        if (cols, rows) == (self.terminal.cols, self.terminal.rows) or not self.alive:
            # A finished agent cannot redraw: its last screen stays exactly as it left it.
            return
        self.terminal.resize(cols, rows)
        self._rows = None
        if self.proc is not None and self.alive:
            self.proc.resize(cols, rows)
        self._on_change(self)

    async def kill(self) -> Any:
        if self.proc is None:
            return None
        report = await asyncio.to_thread(kill_tree, self.proc.pid, self.marker,
                                         escape=Escape(self.record.worktree, self.started_at))
        return report

    def pause(self) -> None:
        pause_tree(self._running().pid, self.marker)

    def resume(self) -> None:
        resume_tree(self._running().pid, self.marker)

    def read_soon(self) -> None:
        """Read the agent's output as it comes again, if its reading is paused (someone looks at it now)."""
        if self.proc is not None:
            self.proc.read_soon()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.close()

    # -- status and budget ------------------------------------------------------
    def set_status(self, status: Status, reason: str) -> bool:
        """Change status; True when it actually changed."""
        changed = status != self.status
        self.status, self.reason = status, reason
        return changed

    def detect_status(self) -> tuple[Status, str] | None:
        """Layer the agent's hook events over the screen's answer, unless the process layer owns
        the status; returns a change or None."""
        if self.hooks is not None:
            for event in self.hooks.poll():
                if event.meaning == "working":
                    self.turn_open = True
                if self.hooks.transcript_path and self.usage is not None:
                    self.usage.follow(self.hooks.transcript_path)
        if self.status in CONTROL_STATUSES or not self.alive:
            return None
        now = self.clock()
        self.pacer.looked(now)
        term = self.terminal
        markers = [f"{num};{text}" if num != 7501 else text for num, text in term.take_osc()]
        if self._rows is None or len(self._rows) != term.rows:
            self._rows = term.display()  # only after output: an idle pane costs no screen copy per round
        screen = self.detector.decide(now, self._rows, term.title, markers)
        if screen[0] != self.screen_verdict[0]:
            self.screen_since = now
        self.screen_verdict = screen
        hook = self.hooks.last if self.hooks else None
        status, reason, self.layer = layered(hook, screen, self.detector.signal, self.detector.last_input,
                                             self.screen_since, now, self.detector.last_answer)
        if status == Status.IDLE and self.status == Status.WORKING and self.layer == "title" \
                and now - self.screen_since < self.detector.title_idle_settle and not self._interrupted(now):
            # A title that flickers idle between two busy states (Claude's, just before its
            # permission dialog draws) ends a turn only once it held (the preset's title_idle_settle).
            status, reason, self.layer = Status.WORKING, f"settling ({reason})", self.layer
            self.pacer.again(now, self.screen_since + self.detector.title_idle_settle - now)
        if not self.turn_open and status == Status.WORKING and self.status in (Status.IDLE, Status.DONE) \
                and self.layer in ("title", "osc", "screen"):
            # The agent itself shows a new turn no prompt of ours started (one typed in the pane,
            # an Enter pressed again): it ends as done too, as a turn its hooks report does.
            self.turn_open, self.prompted_at = True, now
        if self.turn_open and status in (Status.WORKING, Status.WAITING) and self.layer != "prompt":
            self.turn_seen = True  # the agent itself showed this turn
        since_prompt = now - self.prompted_at
        if status in (Status.IDLE, Status.DONE) and self.turn_open and not self.turn_seen and since_prompt < self._prompt_hold():
            # The fleet has just typed a prompt: it is being worked on before the agent can say so.
            status, reason, self.layer = Status.WORKING, f"a prompt was typed {since_prompt:.1f} s ago", "prompt"
        status, reason = self._turn_end(status, reason, hook)
        if self.set_status(status, reason):
            return status, reason
        return None

    def _prompt_hold(self) -> float:
        """How long a typed prompt reads as working before the agent shows it: an agent whose hooks
        report a turn's start is waited for longer (a loaded machine delays them by seconds)."""
        if self.hooks is not None and "working" in self.hooks.meanings.values():
            return PROMPT_HOLD_HOOKS
        return PROMPT_GRACE

    def _turn_end(self, status: Status, reason: str, hook: Any) -> tuple[Status, str]:
        """Finished is not idle: a turn that ended since the last prompt, unseen, is `done`."""
        if status in (Status.WORKING, Status.WAITING, Status.STARTING):
            self.unseen_turn_end = status == Status.STARTING and self.unseen_turn_end
            return status, reason
        if status == Status.DONE:  # the agent said so (a Stop hook, Codex notify)
            fresh = hook.at >= self.prompted_at  # not the end of the turn before the last prompt
            if (self.turn_open and fresh) or (not self.turn_open and self.status in (Status.WORKING, Status.WAITING)):
                self._finish_turn(hook.at)
        elif status == Status.IDLE and self.turn_open and (
                (self.turn_seen and self.status in (Status.WORKING, Status.WAITING)) or self._answered_at_once()):
            self._finish_turn(self.clock())  # the screen went quiet after a prompt
        if self.unseen_turn_end:
            return Status.DONE, f"finished its turn, not looked at yet ({reason})"
        return (Status.IDLE if status == Status.DONE else status), reason

    def _answered_at_once(self) -> bool:
        """Output after the prompt, then quiet, without ever looking busy: a quick answer (a script)."""
        output = self.detector.any_output
        return output is not None and output > self.prompted_at and \
            self.clock() - output >= self.detector.idle_after

    def _interrupted(self, now: float) -> bool:
        """Escape or Ctrl-C typed in the pane during the open turn, a moment ago."""
        key = self.detector.last_interrupt
        return key is not None and key > self.prompted_at and now - key < INTERRUPT_SEEN

    def _finish_turn(self, at: float) -> None:
        self.turns_finished += 1
        self.turn_open = False
        if self._interrupted(self.clock()):
            # Ended by the user's own key in the pane: they saw it end, nothing to point out.
            self.acked_at = max(self.acked_at, at)
        if at > self.acked_at:
            self.unseen_turn_end = True

    def prompted(self) -> None:
        """A prompt went in: the turn it starts ends as `done`."""
        self.turn_open = True
        self.turn_seen = False
        self.unseen_turn_end = False
        self.prompted_at = self.clock()
        self.detector.prompted = True

    def ack(self) -> bool:
        """Someone looked at the pane: `done` becomes idle. True if it was done."""
        self.acked_at = self.clock()
        was_done = self.unseen_turn_end
        self.unseen_turn_end = False
        if self.status == Status.DONE:
            self.set_status(Status.IDLE, "finished its turn, seen")
        return was_done

    def explain(self) -> dict[str, Any]:
        """Which layer decided the status, the last hook event and its age, and what the screen says."""
        hook = self.hooks.last if self.hooks else None
        now = self.clock()
        return {
            "layer": self.layer if self.status not in CONTROL_STATUSES and self.alive else "process",
            "hooks": self.hooks is not None,
            "hook_event": hook.event if hook else None,
            "hook_meaning": hook.meaning if hook else None,
            "hook_age": round(hook.age(now), 2) if hook else None,
            "hook_events": self.hooks.count if self.hooks else 0,
            "screen_status": self.screen_verdict[0],
            "screen_reason": self.screen_verdict[1],
            "screen_signal": self.detector.signal,
            "conversation_id": (self.hooks.session_id if self.hooks else None) or self.record.conversation_id,
            "transcript": self.hooks.transcript_path if self.hooks else None,
        }

    def measure(self, table: ProcessTable | None = None) -> list[Any]:
        """Sample CPU/memory/usage and update the meters; returns budget crossings.

        Safe off the event loop: it touches only the sampler, the usage reader and the meter.
        """
        if self.sampler is None:
            return []
        with self._measuring:
            usage = self.sampler.sample(table) if self.alive else None
            tokens = cost = None
            if self.usage is not None:
                totals = self.usage.read()
                tokens, cost = totals.tokens, totals.cost
            return self.meter.update(time.time(), usage, tokens, cost, self.status)

    # -- views ------------------------------------------------------------------
    def info(self) -> SessionView:
        r = self.record
        return SessionView(
            name=r.name,
            agent=r.agent,
            role=r.role,
            status=self.status,
            reason=self.reason,
            pid=self.pid if self.alive else None,
            branch=r.branch,
            worktree=r.worktree,
            base_commit=r.base_commit,
            run=r.run,
            port=r.port,
            task=r.task,
            cols=self.terminal.cols,
            rows=self.terminal.rows,
            exit_code=self.exit_code,
            started_at=self.started_at,
            title=self.terminal.title,
            layer=self.layer if self.status not in CONTROL_STATUSES else "process",
            turns=self.turns_finished,
            queued_prompt=self.queued_prompt,
            conversation_id=(self.hooks.session_id if self.hooks else None) or r.conversation_id,
            budget=self.meter.snapshot(),
        )


def raise_not_running(session: Session) -> NoReturn:
    raise FleetError(
        f"session {session.name} is not running ({session.status}): "
        f"`fleet-tui restart {session.name}` starts it again"
    )
