"""One change to a run's git state at a time: merges, discards and compare's commits.

Two clients can ask at the same moment (two `fleet-tui merge` commands, a merge
from the TUI while a script discards). Each such request claims the operations
it touches: the sessions whose worktrees and branches it changes, and the base
branch when it lands something there. A claim that overlaps one under way is
refused, as git refuses a second command while `index.lock` exists, and the
refusal says what the first one did, once it has finished (it waits for that,
briefly), so the second client tells its user the outcome instead of a riddle.
Claims that overlap nothing wait their turn: git itself is run one request at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fleet_tui.errors import FleetError

# How long a refused request waits for the one under way to finish, to report its outcome.
REPORT_WAIT = 20.0


class GitBusy(FleetError):
    """Another request is changing the same git state; this one changed nothing."""


@dataclass
class GitOperation:
    what: str  # "merge r1-s1 into main", for messages
    sessions: frozenset[str]
    moves_base: bool
    refuses: bool = True  # False for a quick step (a merge's preparation): overlapping requests wait for it
    started: float = field(default_factory=time.monotonic)
    outcome: str | None = None  # what it did, once it finished ("merged r1-s1 into main (abc1234)")
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def overlaps(self, sessions: frozenset[str], moves_base: bool) -> bool:
        return bool(self.sessions & sessions) or (self.moves_base and moves_base)


class GitOperations:
    """The fleet's git-changing requests, serialised; overlapping ones refused."""

    def __init__(self) -> None:
        self._turn = asyncio.Lock()
        self._active: list[GitOperation] = []  # holding or waiting for the turn
        self.stopping = False

    @property
    def busy(self) -> bool:
        return bool(self._active)

    @asynccontextmanager
    async def claim(self, what: str, sessions: Iterable[str], *, moves_base: bool = False,
                    refuses: bool = True, report_wait: float = REPORT_WAIT) -> AsyncIterator[GitOperation]:
        """Run the body as operation `what`, or raise GitBusy if an overlapping one is under way."""
        if self.stopping:
            raise FleetError(f"not starting {what}: the fleet server is stopping")
        wanted = frozenset(sessions)
        for other in self._active:
            if other.refuses and other.overlaps(wanted, moves_base):
                await self._refuse(what, other, report_wait)
        op = GitOperation(what, wanted, moves_base, refuses)
        self._active.append(op)
        try:
            async with self._turn:
                yield op
                op.outcome = op.outcome or f"{what} is done"
        finally:
            self._active.remove(op)
            op.finished.set()

    async def _refuse(self, what: str, other: GitOperation, report_wait: float) -> None:
        try:
            await asyncio.wait_for(other.finished.wait(), report_wait)
        except asyncio.TimeoutError:
            raise GitBusy(f"{what} refused: {other.what} is under way "
                          f"(started {time.monotonic() - other.started:.0f}s ago); "
                          "nothing was changed, try again when it has finished") from None
        outcome = other.outcome or f"{other.what} failed and changed nothing"
        raise GitBusy(f"{what} refused: {other.what} was under way at the same time and finished "
                      f"first: {outcome}; nothing else was changed")

    async def idle(self) -> None:
        """Return once no operation is running or waiting (the server waits for this to stop)."""
        while self._active:
            await self._active[0].finished.wait()
