"""Decide whether an agent is starting, working, waiting for the user or idle, and say why.

Signals are layered and the first one that speaks decides:

1. an exact waiting phrase (permission prompt, trust dialog) on the bottom rows;
2. Escape or Ctrl-C typed while the bottom rows say it cancels (`interrupt_hint`): idle, for a moment;
3. the CLI's own OSC 7501 state markers (Codex);
4. the window title (several CLIs animate it while working; one saying idle waits for `ready`);
5. an exact working indicator ("esc to interrupt") on the bottom rows;
6. the empty input box on the bottom rows (`idle_screen`, for CLIs with no title);
7. starting: before any output, and until the input box (`ready`) first shows;
8. output activity: output in the last 1.5 s means working, else idle (before any prompt or key,
   once the input box shows, it is the CLI drawing itself: idle).

Rules come from the preset's `status` section, so they change without code.
Paused, exited, killed and over_budget belong to the process layer, not here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """What a session is doing. A str, so the wire, state.json and events carry plain words."""

    # Decided here, from the screen and the agent's hooks.
    STARTING = "starting"
    WORKING = "working"
    WAITING = "waiting"
    IDLE = "idle"
    DONE = "done"  # finished its turn, not looked at yet (session.py)
    # The process layer: the orchestrator's doing, or the process's end.
    PAUSED = "paused"
    EXITED = "exited"
    KILLED = "killed"
    OVER_BUDGET = "over_budget"
    # A session on another machine whose link is down (multiclient.py).
    UNREACHABLE = "unreachable"
    # Sessions this server does not run (core/orphans.py).
    STOPPED = "stopped"
    LOST = "lost"
    ORPHANED = "orphaned"


DETECTED = (Status.STARTING, Status.WORKING, Status.WAITING, Status.IDLE)

IDLE_AFTER = 1.5  # seconds of silence before output activity counts as idle
STARTING_GRACE = 30.0  # a `ready` pattern that never shows must not keep a session "starting" forever
DEFAULT_REGION = 12

_OSC_STATE = re.compile(r"(?:^|;)state=(\w+)")
_OSC_MEANING = {"working": Status.WORKING, "idle": Status.IDLE, "done": Status.IDLE, "waiting": Status.WAITING}


def _short(text: str, limit: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Output this soon after a keystroke is its echo (a shell, aider's prompt), not work.
ECHO_WINDOW = 0.2
# Keys that answer a dialog (Enter, a numbered choice, yes/no) and keys that interrupt a turn.
ANSWER_KEYS = {b"\r", b"\n", b"y", b"Y", b"n", b"N", *(str(d).encode() for d in range(1, 10))}
INTERRUPT_KEYS = {b"\x1b", b"\x03"}
# A dialog still drawn this long after an answering key is being taken away: the agent works.
ANSWER_GRACE = 0.5
# A turn cancelled by its interrupt key reads idle this long while the CLI redraws; a CLI that
# still says working after it did not take the key.
CANCEL_GRACE = 1.0


class StatusDetector:
    """Per-session status detection, fed by the orchestrator; keeps the little state it needs."""

    def __init__(self, rules: Mapping[str, Any] | None = None, *, idle_after: float = IDLE_AFTER,
                 started: float | None = None) -> None:
        rules = dict(rules or {})
        self.region = int(rules.get("region") or DEFAULT_REGION)
        self.waiting = [p for p in rules.get("waiting") or [] if p.strip()]
        self.working = [p for p in rules.get("working") or [] if p.strip()]
        self.interrupt_hint = [p for p in rules.get("interrupt_hint") or [] if p.strip()]
        self.hint_since: float | None = None  # since when an interrupt hint has been on screen
        self.osc_state = bool(rules.get("osc_state"))
        self.titles = [(status, re.compile(rules[key]), key)
                       for status, key in ((Status.WAITING, "title_waiting"), (Status.WORKING, "title_working"),
                                           (Status.IDLE, "title_idle"))
                       if rules.get(key)]
        self.idle_screen = re.compile(rules["idle_screen"]) if rules.get("idle_screen") else None
        self.ready = re.compile(rules["ready"]) if rules.get("ready") else None
        self.idle_after = idle_after
        self.title_idle_settle = float(rules.get("title_idle_settle") or 0.0)
        self.started = time.monotonic() if started is None else started  # when the process was spawned
        self.signal = "starting"  # which layer decided the last answer: dialog, osc, title, ...
        self._waiting = False  # ... and whether it was a dialog waiting for the user
        self.first_output: float | None = None
        self.last_output: float | None = None
        self.any_output: float | None = None
        self.last_input: float | None = None
        self.last_answer: float | None = None  # a key that answers a dialog (Enter, 1, y ...)
        self.last_interrupt: float | None = None  # Escape or Ctrl-C
        self.ready_seen = False
        self.prompted = False  # a prompt went in (typed, or given on the command line)
        self.asked = False  # a key was typed outside a dialog: the agent may have been asked something
        self._marker: str | None = None  # the last OSC state the CLI announced (they persist)

    def on_input(self, now: float, data: bytes = b"") -> None:
        """The user typed `data` into the session at `now`."""
        self.last_input = now
        if not (self.signal == "dialog" and self._waiting):
            self.asked = True  # (keys that only move through or answer a start-up dialog ask nothing)
        if data in ANSWER_KEYS:
            self.last_answer = now
        elif data in INTERRUPT_KEYS:
            self.last_interrupt = now

    def on_output(self, now: float) -> None:
        """The pty produced output at `now` (a monotonic clock)."""
        if self.first_output is None:
            self.first_output = now
        self.any_output = now  # echo included: something happened on the screen
        if self.last_input is not None and now - self.last_input < ECHO_WINDOW:
            return  # the echo of what the user typed is not the agent working
        self.last_output = now

    def decide(self, now: float, screen_rows: list[str], title: str = "",
               osc_markers: list[str] | tuple[str, ...] = ()) -> tuple[Status, str]:
        """(status, reason) from the current screen, title and the OSC markers seen since the last call."""
        self._take_markers(osc_markers)
        rows = self._bottom_rows(screen_rows)

        for number, row in rows:
            for phrase in self.waiting:
                if phrase in row:
                    return self._by("dialog", Status.WAITING, f'screen row {number} "{_short(phrase)}" matches waiting')

        cancelled = self._cancelled(now, rows)
        if cancelled:
            return self._by("interrupt", Status.IDLE, cancelled)

        if self.osc_state and self._marker in _OSC_MEANING:
            return self._by("osc", _OSC_MEANING[self._marker], f"OSC 7501 state={self._marker}")

        starting = self._starting(now, screen_rows)
        if title:
            for status, pattern, key in self.titles:
                if pattern.search(title) and not (starting and status == Status.IDLE):
                    # (Gemini titles itself "Ready" ~0.5 s before it draws its input box.)
                    return self._by("title", status, f'title "{_short(title)}" matches {key}')

        for number, row in rows:
            for phrase in self.working:
                if phrase in row:
                    return self._by("dialog", Status.WORKING, f'screen row {number} "{_short(phrase)}" matches working')

        if self.idle_screen is not None:
            for number, row in rows:
                if self.idle_screen.search(row):
                    return self._by("input box", Status.IDLE, f"screen row {number} matches idle_screen (empty input box)")

        if starting:
            return self._by("starting", Status.STARTING, "no output yet" if self.first_output is None
                            else "the input box (ready) has not shown yet")
        if self.last_output is None:
            # Silent is not starting: a process that printed nothing (it waits for its input) is
            # idle after the same quiet period as any other.
            quiet = now - self.started
            if quiet < self.idle_after:
                return self._by("starting", Status.STARTING, "no output yet")
            return self._by("activity", Status.IDLE, f"no output since it started {quiet:.1f} s ago "
                            f"(idle after {self.idle_after:g} s)")
        quiet = now - self.last_output
        if quiet < self.idle_after:
            if self.ready_seen and not self.asked and not self.prompted:
                # Nothing asked it anything yet: its output is the CLI drawing itself (Codex
                # redraws its cursor for ~1 s after its input box shows, also after its trust
                # dialog is answered), not a turn.
                return self._by("activity", Status.IDLE, f"output {quiet:.1f} s ago, but no prompt yet "
                                "and the input box is up")
            return self._by("activity", Status.WORKING, f"output {quiet:.1f} s ago (idle after {self.idle_after:g} s)")
        return self._by("activity", Status.IDLE, f"no output for {quiet:.1f} s (idle after {self.idle_after:g} s)")

    def _starting(self, now: float, screen_rows: list[str]) -> bool:
        """The preset's input box (`ready`) has not shown yet, within STARTING_GRACE of the first output."""
        if self.ready is None or self.ready_seen:
            return False
        self.ready_seen = any(self.ready.search(row) for row in screen_rows)
        since = self.started if self.first_output is None else self.first_output
        return not self.ready_seen and now - since < STARTING_GRACE

    def _cancelled(self, now: float, rows: list[tuple[int, str]]) -> str:
        """Why the turn reads cancelled ("" if not): Escape or Ctrl-C typed while the screen said
        that key cancels (Gemini's "esc to cancel"), a moment ago; the CLI redraws ~0.2 s later."""
        if not self.interrupt_hint:
            return ""
        hint = next(((n, p) for n, row in rows for p in self.interrupt_hint if p in row), None)
        if hint is None:
            self.hint_since = None
            return ""
        if self.hint_since is None:
            self.hint_since = now
        key = self.last_interrupt
        if key is None or key < self.hint_since or now - key >= CANCEL_GRACE:
            return ""
        return f'interrupted {now - key:.1f} s ago while screen row {hint[0]} said "{_short(hint[1])}"'

    def title_says(self, title: str) -> Status | None:
        """What the window title alone says (None: no title rule matches it)."""
        for status, pattern, _ in self.titles:
            if pattern.search(title):
                return status
        return None

    def _by(self, signal: str, status: Status, reason: str) -> tuple[Status, str]:
        self.signal, self._waiting = signal, status == Status.WAITING
        return status, reason

    def _take_markers(self, markers: list[str] | tuple[str, ...]) -> None:
        for marker in markers:
            match = _OSC_STATE.search(marker.removeprefix("7501;"))
            if match:
                state = match.group(1)
                # state=clear (the CLI is leaving) withdraws the claim; other signals decide again.
                self._marker = state if state in _OSC_MEANING else None

    def _bottom_rows(self, screen_rows: list[str]) -> list[tuple[int, str]]:
        """The last `region` rows that hold anything, numbered from 1; blank rows below them do not count.

        A CLI that has just started draws at the top of a tall screen, so its
        dialog is the bottom of the drawn part, not of the terminal.
        """
        end = len(screen_rows)
        while end and not screen_rows[end - 1].strip():
            end -= 1
        start = max(0, end - self.region)
        return [(i + 1, screen_rows[i]) for i in range(start, end)]


# A screen that says working or waiting this long after the agent's last hook event is a new turn
# the hooks did not report (Codex and aider report only the end of a turn).
HOOK_GRACE = 1.0


def layered(hook: Any, screen: tuple[Status, str], signal: str, last_input: float | None,
            screen_since: float, now: float, last_answer: float | None = None) -> tuple[Status, str, str]:
    """(status, reason, layer): the agent's own hook events first, the screen second.

    `hook` is the last HookEvent (or None), `screen` the detector's answer and `signal` the
    screen layer that gave it; `screen_since` is when the screen's answer last changed. The
    screen overrules the hooks only where they are blind: an exact dialog on screen; a turn
    interrupted or a permission answered by keys typed in the pane (no hook follows either);
    a new turn after an end-of-turn hook that has no start-of-turn hook.
    """
    screen_status, screen_reason = screen
    screen_layer = "screen" if signal in ("dialog", "input box", "interrupt") else signal
    if signal == "dialog" and screen_status == Status.WAITING and last_answer is not None \
            and last_answer >= screen_since and now - last_answer < ANSWER_GRACE:
        # Answered in the pane (Enter, a choice): the agent takes the dialog away and goes on.
        return Status.WORKING, f"the dialog was answered {now - last_answer:.1f} s ago", "screen"
    if hook is None or hook.meaning in ("session", "ended"):
        return screen_status, screen_reason, screen_layer
    said = f'hook {hook.event} {hook.age(now):.1f} s ago'
    if signal == "dialog" and screen_status == Status.WAITING:
        return Status.WAITING, screen_reason, "screen"
    typed_since = last_input is not None and last_input > hook.at
    if hook.meaning == "waiting":
        if typed_since and screen_status != Status.WAITING:
            return screen_status, f"answered in the pane after {said}; {screen_reason}", screen_layer
        return Status.WAITING, said, "hooks"
    if hook.meaning == "working":
        if typed_since and screen_status == Status.IDLE and screen_since > hook.at:
            return Status.IDLE, f"interrupted in the pane after {said}; {screen_reason}", screen_layer
        return Status.WORKING, said, "hooks"
    # done / idle: the turn is over until a new one shows.
    if screen_status in (Status.WORKING, Status.WAITING) and screen_since > hook.at + HOOK_GRACE and signal != "activity":
        return screen_status, f"a new turn after {said}; {screen_reason}", screen_layer
    if screen_status in (Status.WORKING, Status.WAITING) and signal == "activity" and typed_since \
            and screen_since > hook.at + HOOK_GRACE:
        return screen_status, f"a new turn after {said}; {screen_reason}", screen_layer
    return Status(hook.meaning), said, "hooks"


# The screen layer looks when output settles, not on a fixed round: a dialog is a burst of output
# followed by quiet (the agent waits), so it reads as waiting soon after its last byte. The check
# rides on the server's 50 ms hook round (one float comparison per session), so it costs no
# timers or wake-ups of its own.
LOOK_SETTLE = 0.06  # quiet this long after output: the burst is over, look (longer than a 20 Hz ticker)
LOOK_LONGEST = 0.25  # an agent that never stops streaming is still looked at this often
LOOK_GAP = 0.1  # at most one output-driven look per this long per session (a busy agent stays cheap)


class LookPacer:
    """When a session's screen is worth reading because of its output: once the output settled
    (LOOK_SETTLE), or LOOK_LONGEST after the first byte no look has seen, never more often than
    LOOK_GAP; or when a look is asked for (`again`). Every look, whatever caused it, is reported
    to `looked()`, so output a status tick already saw asks for nothing.
    """

    def __init__(self) -> None:
        self.first_unread: float | None = None  # the first output no look has seen
        self.last_output = float("-inf")
        self.last_look = float("-inf")
        self.last_paced = float("-inf")  # the last look this pacer called for
        self.again_at: float | None = None  # a look asked for at this time, new output or not

    @property
    def pending(self) -> bool:
        """Output no look has seen yet: the screen will be read within LOOK_LONGEST anyway."""
        return self.first_unread is not None

    def output(self, now: float) -> None:
        self.last_output = now
        if self.first_unread is None:
            self.first_unread = now

    def again(self, now: float, after: float) -> None:
        """Look again `after` seconds from now (a verdict waiting to settle, a key that answers)."""
        self.again_at = now + after if self.again_at is None else min(self.again_at, now + after)

    def due(self, now: float) -> bool:
        """A look is due now; the caller looks (and reports it to `looked`)."""
        if self.again_at is not None and now >= self.again_at:
            # Asked for (rare: a key, a title that changed its meaning): it does not hold back the
            # look at the output that follows (Claude's dialog draws ~80 ms after its title turns).
            self.again_at = None
            return True
        if self.first_unread is None or now - self.last_paced < LOOK_GAP:
            return False
        if now - self.last_output >= LOOK_SETTLE or now - self.first_unread >= LOOK_LONGEST:
            self.last_paced = now
            return True
        return False

    def looked(self, now: float) -> None:
        self.last_look = now
        self.first_unread = None
