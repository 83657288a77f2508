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
    """One message as one line of JSON."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


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
    version: int = 0  # bumped on every applied update, so widgets know to redraw

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
                self.lines[y] = [tuple(run) for run in runs]  # type: ignore[misc]
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
        self.version += 1
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
) -> dict[str, Any]:
    """Build a screen message (server side)."""
    return {
        "t": "screen",
        "s": session,
        "full": full,
        "cols": cols,
        "rows": rows,
        "lines": [[y, [list(run) for run in runs]] for y, runs in lines],
        "cursor": list(cursor),
        "title": title,
        "modes": modes,
    }
