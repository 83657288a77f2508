"""The tick: status detection for every session, and the budgets they are held to.

Status is looked at every TICK_SECONDS, once a session's output settles (LookPacer), and right
after a hook event or a key typed; every session's processes are measured once a second while any works, every five
seconds while none does, off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from fleet_tui.core.budget import Crossing, format_meter
from fleet_tui.core.events import EventBus, EventKind
from fleet_tui.core.orphans import Orphan
from fleet_tui.core.proctree import ProcessTable
from fleet_tui.core.runs import Runs
from fleet_tui.core.session import Session
from fleet_tui.core.status import Status

TICK_SECONDS = 0.25  # status detection cadence
HOOK_POLL_SECONDS = 0.05  # hook files are looked at this often: a stat each when nothing happened
TYPED_WATCH_SECONDS = 1.0
MEASURE_EVERY = 4  # budget sampling every Nth tick (once a second)
QUIET_MEASURE_EVERY = 20  # every 5 s while no session works: one look at every process costs ~30 ms
NOTICE_SECONDS = 2.0  # an agent's notifications reach the feed at most this often: it may send many
NOTICE_LONGEST = 200


def measure_sessions(sessions: list[Session]) -> list[tuple[Session, list[Crossing]]]:
    """Sample every session's meters from one look at the process table; their budget crossings."""
    if not sessions:
        return []
    table = ProcessTable()
    return [(session, session.measure(table)) for session in sessions]


class TickHost(Protocol):
    """What the tick needs of the orchestrator (core/fleet.py)."""

    bus: EventBus
    sessions: dict[str, Session]
    orphans: dict[str, Orphan]
    run_ops: Runs
    is_watched: Callable[[str], bool]
    on_sessions_change: Callable[[], None]

    def refresh_orphans(self) -> None: ...

    def set_conversation_id(self, name: str, conversation_id: str) -> None: ...

    def spawn_task(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class Ticker:
    """Keeps every session's status and budget up to date, and says so on the event bus."""

    def __init__(self, host: TickHost) -> None:
        self.host = host
        self.bus = host.bus
        self._noticed: dict[str, float] = {}  # session -> when its last notification went out

    async def hooks_forever(self) -> None:
        """An agent's hook event, the answer to a key typed, or a dialog its output drew shows
        within HOOK_POLL_SECONDS (of the output settling), not at the next status tick."""
        while True:
            await asyncio.sleep(HOOK_POLL_SECONDS)
            try:
                now = time.monotonic()
                for session in list(self.host.sessions.values()):
                    typed = session.detector.last_input
                    # After keys typed in the pane (a dialog answered, a turn interrupted) the
                    # screen is looked at as often as the hooks, for a second; after output, once
                    # it settles (LookPacer).
                    if (session.hooks is not None and session.hooks.pending()) or (
                            typed is not None and now - typed < TYPED_WATCH_SECONDS) or session.pacer.due(now):
                        self.detect(session)
            except Exception as error:  # one bad event must not stop the others
                self.bus.emit(EventKind.ERROR, f"internal error reading hook events: {error!r}")

    async def tick_forever(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            n += 1
            try:
                self.tick(measure=False)
                if n % MEASURE_EVERY == 0 and self.host.orphans:
                    self.host.refresh_orphans()
                if n % (MEASURE_EVERY if self._any_working() else QUIET_MEASURE_EVERY) == 0:
                    # Looking at every process takes milliseconds: done off the loop, so a
                    # keystroke's echo never waits behind it.
                    await self.measure(self._measurable())
            except Exception as error:  # one bad tick must not stop status and budgets for good
                self.bus.emit(EventKind.ERROR, f"internal error in the status tick: {error!r}")

    def _any_working(self) -> bool:
        return any(s.alive and s.status in (Status.STARTING, Status.WORKING) for s in self.host.sessions.values())

    def tick(self, measure: bool = True) -> None:
        """Detect status changes, and sample budgets when `measure` (here, on the caller's thread)."""
        changed = False
        for session in list(self.host.sessions.values()):
            if not session.pacer.pending:  # else its output-driven look comes within LOOK_LONGEST
                changed = self.detect(session, notify=False) or changed
            self._remember_conversation(session)
            self._relay_notifications(session)
        if measure:
            self._apply_measurements(measure_sessions(self._measurable()))
        elif changed:
            self.host.on_sessions_change()

    def _relay_notifications(self, session: Session) -> None:
        """What the agent asked its terminal to notify (OSC 9 / 777) goes to the feed and the audit
        trail in its own words: the latest one, with a count of any it sent meanwhile."""
        now = time.monotonic()
        if now - self._noticed.get(session.name, float("-inf")) < NOTICE_SECONDS:
            return  # kept in the terminal until then (the newest 256)
        said = session.terminal.take_notifications()
        if not said:
            return
        self._noticed[session.name] = now
        text = "".join(c if c.isprintable() else " " for c in said[-1])
        text = " ".join(text.split())[:NOTICE_LONGEST]
        more = f" (and {len(said) - 1} more)" if len(said) > 1 else ""
        self.bus.emit(EventKind.NOTICE, f"says: {text}{more}", session.name, text=text, count=len(said))

    def _remember_conversation(self, session: Session) -> None:
        """Keep the conversation id the agent's hooks reported, for a later resume."""
        reported = session.hooks.session_id if session.hooks else None
        if reported and reported != session.record.conversation_id and self.host.sessions.get(session.name) is session:
            self.host.set_conversation_id(session.name, reported)

    def detect(self, session: Session, notify: bool = True) -> bool:
        change = session.detect_status()
        if not change:
            return False
        status, reason = change
        if status == Status.DONE and self.host.is_watched(session.name):
            session.ack()  # it finished in front of the user: nothing to point out
            status, reason = session.status, session.reason
        self.bus.emit(EventKind.STATUS, f"{status}: {reason}", session.name, status=status,
                      layer=session.layer)
        if status == Status.DONE or session.status == Status.IDLE:
            self.host.run_ops.check_finished(session)
        if notify:
            self.host.on_sessions_change()
        return True

    async def measure(self, sessions: list[Session]) -> None:
        """Sample these sessions' meters now, off the event loop, and act on their budget crossings."""
        self._apply_measurements(await asyncio.to_thread(measure_sessions, sessions))

    def _measurable(self) -> list[Session]:
        return [session for session in self.host.sessions.values() if session.alive]

    def _apply_measurements(self, results: list[tuple[Session, list[Crossing]]]) -> None:
        for session, crossings in results:
            if self.host.sessions.get(session.name) is session:  # not discarded while it was measured
                for crossing in crossings:
                    self._budget_crossing(session, crossing)
        self.host.on_sessions_change()

    def _budget_crossing(self, session: Session, crossing: Crossing) -> None:
        meter, used, limit = crossing.meter, crossing.used, crossing.limit
        if crossing.kind == "warning":
            self.bus.emit(EventKind.BUDGET_WARNING, f"{meter} at 80% of its budget ({format_meter(meter, used)} of "
                          f"{format_meter(meter, limit)})", session.name, meter=meter, used=used, limit=limit)
            return
        action = session.budget.on_exceed
        self.bus.emit(EventKind.BUDGET_EXCEEDED, f"{meter} budget exceeded ({format_meter(meter, used)} of "
                      f"{format_meter(meter, limit)}): {'killing' if action == 'kill' else 'pausing'} it",
                      session.name, meter=meter, used=used, limit=limit, action=action)
        if not session.alive:
            return
        if action == "kill":
            session.set_status(Status.OVER_BUDGET, f"{meter} budget exceeded; killed")
            self.host.spawn_task(session.kill())
        else:
            session.pause()
            session.set_status(Status.OVER_BUDGET, f"{meter} budget exceeded; paused (resume to continue)")
