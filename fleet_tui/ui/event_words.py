"""Events as sentences a person reads: who did what, never the status detector's internals.

The server's event messages are written for the audit log (which rule matched, which pid);
the feed says what happened: "r1-careful is waiting for you".
"""

from __future__ import annotations

import re
from typing import Any

from fleet_tui.core.budget import format_meter
from fleet_tui.wire import EventView

STATUS_WORDS = {
    "starting": "is starting",
    "working": "is working",
    "waiting": "is waiting for you",
    "idle": "is idle",
    "paused": "is paused",
    "exited": "finished",
    "killed": "was stopped",
    "over_budget": "is over its budget",
    "lost": "was lost with the last fleet server (R restores it)",
    "orphaned": "still runs, outside any terminal (x kills it, R replaces it)",
    "stopped": "is not running",
}

# One mark per kind, so kinds are told apart at a glance without a cut-off word.
KIND_MARKS = {
    "status": "•", "spawned": "+", "prompt": "›", "fanout": "»", "check": "✓", "compared": "≡",
    "merged": "⇒", "discarded": "−", "killed": "✗", "exited": "■", "paused": "‖", "resumed": "▶",
    "restarted": "↻", "budget_warning": "!", "budget_exceeded": "!", "error": "!", "setup": "·", "server": "·",
    "notice": "✉",
}


def _exit_sentence(code: Any) -> str:
    if code == 0:
        return "finished"
    if isinstance(code, int) and code < 0:
        return f"ended by signal {-code}"
    return f"exited with code {code}"


def sentence(event: EventView) -> str:
    """What happened, in words, starting with the session it happened to."""
    kind, session, message, data = event.kind, event.session, event.message, event.data
    if kind == "status" and data.get("status"):
        text = STATUS_WORDS.get(data["status"], f"is {data['status'].replace('_', ' ')}")
    elif kind == "spawned":
        text = f"started on {data['branch']}" if data.get("branch") else "started"
    elif kind == "prompt":
        text = f"got the prompt “{data.get('prompt') or message.partition(': ')[2]}”"
    elif kind == "exited":
        text = _exit_sentence(data.get("code"))
    elif kind == "killed":
        text = "was killed; its worktree is kept"
    elif kind == "discarded":
        kept = "branch kept" in message
        text = "was discarded: worktree removed" + (", branch kept" if kept else " with its branch")
    elif kind == "check":
        name, passed = data.get("check", "check"), data.get("passed")
        took = re.search(r"in ([\d.]+s)", message)
        text = f"{name} {'passed' if passed else 'failed'}" + (f" in {took.group(1)}" if took else "")
    elif kind == "notice":
        text = message
    elif kind == "merged":
        text = message.replace("merged into", "was merged into", 1)
    elif kind in ("budget_warning", "budget_exceeded") and {"meter", "used", "limit"} <= set(data):
        meter = data["meter"]
        used, limit = format_meter(meter, data["used"]), format_meter(meter, data["limit"])
        if kind == "budget_warning":
            text = f"used 80% of its {meter} budget ({used} of {limit})"
        else:
            action = "killed" if data.get("action") == "kill" else "paused"
            text = f"went over its {meter} budget ({used} of {limit}) and was {action}"
    else:
        return _as_told(session, message)
    return f"{session} {' '.join(text.split())}" if session else " ".join(text.split())


def _as_told(session: str | None, message: str) -> str:
    """A message with no sentence of its own: one line, under the session's name."""
    text = " ".join(message.split())
    if not session or text.startswith(session):
        return text[:1].upper() + text[1:]
    return f"{session}: {text}"
