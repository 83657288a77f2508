"""The wire protocol between the fleet server and its clients.

Newline-delimited JSON over a unix socket. Every message is one JSON object on
one line. Clients send requests; the server answers each with a reply carrying
the same id, and pushes screen updates and events to clients that attached.

Requests  (client -> server): {"id": 7, "cmd": "status", "args": {...}}
Replies   (server -> client): {"t": "reply", "id": 7, "ok": true, "result": ...}
                              {"t": "reply", "id": 7, "ok": false, "error": "..."}
Pushed    (server -> client): {"t": "screen", ...}   see ScreenUpdate
                              {"t": "event", "event": {...}}
                              {"t": "sessions", "sessions": [...]}

A screen line travels as a list of runs; a run is [text, fg, bg, attrs]:
  text   the characters of the run (a wide character appears once, and
         occupies two cells)
  fg, bg None for the terminal default, an int 0-255 for a palette colour,
         or a "#rrggbb" string for truecolor
  attrs  a bitmask of the ATTR_* flags below
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ATTR_BOLD = 1
ATTR_DIM = 2
ATTR_ITALIC = 4
ATTR_UNDERLINE = 8
ATTR_BLINK = 16
ATTR_REVERSE = 32
ATTR_HIDDEN = 64
ATTR_STRIKE = 128

Color = int | str | None
Run = tuple[str, Color, Color, int]  # (text, fg, bg, attrs)
Line = list[Run]

# Bumped whenever a message changes meaning: a client and a server (or bridge) of different
# protocol versions refuse each other with a line saying what to install.
PROTOCOL_VERSION = 1

# The server's exit code when another server holds the repository's lock (it may be stopping).
ALREADY_RUNNING = 75

# A reply never needs more than this; a screen update of a 300x100 pane is ~100 KB.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line of JSON.

    Text from git or the file system may hold lone surrogates (a file name that is not UTF-8,
    read with surrogateescape): those travel as JSON escapes, so the name comes back intact.
    """
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode() + b"\n"
    except UnicodeEncodeError:
        return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError("a protocol message must be a JSON object")
    return message


@dataclass
class ScreenMirror:
    """A client's copy of one session's screen, kept current from screen updates.

    The server sends {"t": "screen", "full": true, ...} when a client attaches
    and then only the lines that changed ("full": false).
    """

    session: str
    cols: int = 80
    rows: int = 24
    lines: list[Line] = field(default_factory=list)
    cursor_x: int = 0
    cursor_y: int = 0
    cursor_visible: bool = True
    title: str = ""
    modes: dict[str, Any] = field(default_factory=dict)
    # The history above the screen, sent with each update so line numbers match its rows.
    history: "HistoryExtent" = field(default_factory=lambda: HistoryExtent())

    def apply(self, update: dict[str, Any]) -> set[int]:
        """Apply one screen message; returns the rows that changed."""
        cols, rows = update.get("cols", self.cols), update.get("rows", self.rows)
        resized = (cols, rows) != (self.cols, self.rows)
        if update.get("full") or resized or len(self.lines) != rows:
            self.cols, self.rows = cols, rows
            self.lines = [[] for _ in range(rows)]
            changed = set(range(rows))
        else:
            changed = set()
        for y, runs in update.get("lines", ()):
            if 0 <= y < self.rows:
                self.lines[y] = [tuple(run) for run in runs]
                changed.add(y)
        if "cursor" in update:
            x, y, visible = update["cursor"]
            if (x, y, visible) != (self.cursor_x, self.cursor_y, self.cursor_visible):
                changed.update({self.cursor_y, y} & set(range(self.rows)))
            self.cursor_x, self.cursor_y, self.cursor_visible = x, y, bool(visible)
        if "title" in update:
            self.title = update["title"]
        if "modes" in update:
            self.modes = dict(update["modes"])
        if "history" in update:
            self.history = HistoryExtent.from_wire(update["history"])
        return changed

    def text(self) -> list[str]:
        """The screen as plain text, one string per row, trailing blanks trimmed."""
        return ["".join(run[0] for run in line).rstrip() for line in self.lines]


def screen_update(
    session: str,
    *,
    full: bool,
    cols: int,
    rows: int,
    lines: list[tuple[int, Line]],
    cursor: tuple[int, int, bool],
    title: str,
    modes: dict[str, Any],
    history: "HistoryExtent | None" = None,
) -> dict[str, Any]:
    """Build a screen message (server side)."""
    message = {
        "t": "screen",
        "s": session,
        "full": full,
        "cols": cols,
        "rows": rows,
        "lines": [[y, runs] for y, runs in lines],  # runs are tuples: JSON arrays as they are
        "cursor": list(cursor),
        "title": title,
        "modes": modes,
    }
    if history is not None:
        message["history"] = history.wire()
    return message


# -- scrollback -----------------------------------------------------------------------------
# Clients get screens only; a pane scrolled back fetches history lines by number and asks the
# server to search. Lines are numbered as core History numbers them: history lines first..pushed-1,
# then the screen's rows from `pushed` on. Requests:
#   {"cmd": "history", "args": {"session": s, "start": n, "count": k}}              -> HistorySlice
#   {"cmd": "search", "args": {"session": s, "query": q, "line": n, "col": x, "backward": b}}
#                                                                                   -> SearchResult
MAX_HISTORY_SLICE = 2000  # lines per history request


@dataclass(frozen=True)
class HistoryExtent:
    """Which history lines the server holds: numbers first..pushed-1, valid while epoch is unchanged."""

    epoch: int = 0
    first: int = 0
    pushed: int = 0

    @property
    def length(self) -> int:
        return self.pushed - self.first

    def wire(self) -> list[int]:
        return [self.epoch, self.first, self.pushed]

    @classmethod
    def from_wire(cls, value: list[int]) -> "HistoryExtent":
        epoch, first, pushed = value
        return cls(int(epoch), int(first), int(pushed))


@dataclass
class HistorySlice:
    """History lines start..start+len(lines)-1, and the extent they were read from."""

    extent: HistoryExtent
    start: int
    lines: list[Line]

    def wire(self) -> dict[str, Any]:
        return {"extent": self.extent.wire(), "start": self.start,
                "lines": [[list(run) for run in line] for line in self.lines]}

    @classmethod
    def from_wire(cls, value: dict[str, Any]) -> "HistorySlice":
        lines = [[tuple(run) for run in line] for line in value["lines"]]
        return cls(HistoryExtent.from_wire(value["extent"]), int(value["start"]), lines)


@dataclass(frozen=True)
class SearchMatch:
    """A match on line `line` (numbered as above), `width` cells from cell `col`."""

    line: int
    col: int
    width: int


@dataclass
class SearchResult:
    """The next match (None: none anywhere) and whether the search wrapped past an end."""

    match: SearchMatch | None
    wrapped: bool = False

    def wire(self) -> dict[str, Any]:
        match = self.match
        return {"match": None if match is None else [match.line, match.col, match.width], "wrapped": self.wrapped}

    @classmethod
    def from_wire(cls, value: dict[str, Any]) -> "SearchResult":
        match = value.get("match")
        return cls(None if match is None else SearchMatch(*map(int, match)), bool(value.get("wrapped")))
