"""What the server keeps for a client that has stopped reading: bounded, whatever it is sent.

A client may stop reading without going away (`fleet-tui log -f | sleep 3600`, a
TUI suspended with ctrl+z). Everything written to it then piles up in the
server's memory. Past `SOFT_LIMIT` bytes waiting, pushed messages are no longer
queued: a snapshot (a session list, a task list) keeps only its latest copy,
to be sent when the client reads again; events are counted, and the client is
then told how many it missed and where they are (the audit trail); screens
were already coalesced (the server re-sends changed rows later). Past
`HARD_LIMIT` (replies to requests still pile up if it sends requests) the
client is disconnected, with a line in the server log.
"""

from __future__ import annotations

import time
from typing import Any

SOFT_LIMIT = 2 * 1024 * 1024
HARD_LIMIT = 32 * 1024 * 1024
SNAPSHOTS = ("sessions", "tasks")  # message types where only the latest matters


class Backlog:
    """The held-back part of one client's stream."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, Any]] = {}  # snapshot type -> its newest message
        self.missed_events = 0

    @property
    def holding(self) -> bool:
        return bool(self.latest or self.missed_events)

    def hold(self, message: dict[str, Any]) -> bool:
        """Keep or count a pushed message instead of queueing it; False for messages that must go out."""
        kind = message.get("t")
        if kind in SNAPSHOTS:
            self.latest[kind] = message
            return True
        if kind == "event":
            self.missed_events += 1
            return True
        return False

    def release(self) -> list[dict[str, Any]]:
        """What to send once the client reads again: a note about missed events, the latest snapshots."""
        out: list[dict[str, Any]] = []
        if self.missed_events:
            out.append({"t": "event", "event": {
                "seq": 0, "ts": time.time(), "kind": "error", "session": None,
                "message": f"{self.missed_events} events were not sent to this client while it was not reading; "
                           "`fleet-tui log` shows them all"}})
        out += self.latest.values()
        self.latest, self.missed_events = {}, 0
        return out
