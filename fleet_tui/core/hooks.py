"""What the agents say about themselves: hook events installed per launch, read by the server.

Each session gets a private hook file in its state folder and a secret token. The agent is
started with its CLI's hook mechanism (a preset's `hooks` section, as data) pointed at
fleet_tui/hookrelay.sh, which appends `TOKEN<tab>EVENT<tab>JSON` lines to that file. The server
reads new lines often (a stat per session when nothing happened), keeps those carrying the
session's token from a file only its user can write, and turns each into a HookEvent whose
meaning (working, waiting, idle, done, session, ended) the preset gives.

Nothing is written to the user's own configuration: Claude gets `--settings <file>` (merged with
the user's settings, whose hooks keep running), Codex `-c notify=[...]`, aider
`--notifications-command`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RELAY = Path(__file__).resolve().parent.parent / "hookrelay.sh"
MEANINGS = ("working", "waiting", "idle", "done", "session", "ended")
MAX_READ = 1 << 20  # per poll; the rest waits for the next one
_FIELD = re.compile(r'"(session_id|transcript_path|hook_event_name|notification_type|tool_name|thread-id|type)"'
                    r'\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class HookEvent:
    event: str  # the label the preset installed, e.g. "Stop" or "Notification:permission_prompt"
    meaning: str  # one of MEANINGS
    at: float  # monotonic time the server read it
    wall: float  # time.time() the server read it
    fields: dict[str, Any] = field(default_factory=dict)

    def age(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.at


def _fields(payload: str) -> dict[str, Any]:
    """The event's JSON; a payload cut at 4 KB still yields its leading string fields."""
    if not payload:
        return {}
    try:
        data = json.loads(payload)
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool))}
    except ValueError:
        pass
    return {key: json.loads(f'"{value}"') for key, value in _FIELD.findall(payload)}


def relay_argv(event: str, payload: str | None) -> list[str]:
    return ["/bin/sh", str(RELAY), event, *([payload] if payload else [])]


def relay_command(event: str, payload: str | None) -> str:
    """The relay as one shell command line (Claude hooks, aider's notifications command)."""
    return shlex.join(relay_argv(event, payload))


class HookChannel:
    """One session's hook file and token; `poll()` returns the events appended since the last call."""

    def __init__(self, folder: Path, meanings: Mapping[str, str], ignore: list[str] | tuple[str, ...] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # when an event was read; a replay of a recorded session gives its own
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder = folder
        self.path = folder / "hooks.log"
        self.token = secrets.token_hex(16)
        self.meanings = dict(meanings)
        self.ignore = [re.compile(pattern) for pattern in ignore]
        # A fresh empty file, ours and private; a symlink planted in its place is replaced, not followed.
        self.path.unlink(missing_ok=True)
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        self._offset = 0
        self._partial = b""
        self.last: HookEvent | None = None
        self.count = 0
        self.session_id: str | None = None
        self.transcript_path: str | None = None

    def env(self) -> dict[str, str]:
        return {"FLEET_HOOK_FILE": str(self.path), "FLEET_HOOK_TOKEN": self.token}

    def pending(self) -> bool:
        """Something was appended since the last poll (one stat)."""
        try:
            return os.stat(self.path, follow_symlinks=False).st_size != self._offset
        except OSError:
            return False

    def poll(self) -> list[HookEvent]:
        try:
            info = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return []
        if info.st_size == self._offset:
            return []
        # Only a regular file of ours that nobody else can write is read at all.
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
            return []
        if info.st_size < self._offset:
            self._offset, self._partial = 0, b""
        try:
            with open(self.path, "rb") as file:
                file.seek(self._offset)
                data = file.read(MAX_READ)
        except OSError:
            return []
        self._offset += len(data)
        data = self._partial + data
        end = data.rfind(b"\n") + 1
        self._partial = data[end:]
        now, wall = self.clock(), time.time()
        events = []
        for line in data[:end].decode("utf-8", "replace").splitlines():
            parts = line.split("\t", 2)
            if len(parts) < 2 or not secrets.compare_digest(parts[0], self.token):
                continue  # not from this session's agent
            label = parts[1]
            meaning = self.meanings.get(label)
            payload = parts[2] if len(parts) > 2 else ""
            if meaning is None or any(pattern.search(payload) for pattern in self.ignore):
                continue
            event = HookEvent(label, meaning, now, wall, _fields(payload))
            self._remember(event)
            events.append(event)
        return events

    def _remember(self, event: HookEvent) -> None:
        self.count += 1
        if event.meaning != "session" or self.last is None:
            self.last = event
        session_id = event.fields.get("session_id") or event.fields.get("thread-id")
        if isinstance(session_id, str) and session_id:
            self.session_id = session_id
        transcript = event.fields.get("transcript_path")
        if isinstance(transcript, str) and transcript:
            self.transcript_path = transcript


def install_args(hooks: Any, channel: HookChannel) -> list[str]:
    """The command-line words that make the CLI report to `channel`, per the preset's `hooks` section.

    via claude-settings: a settings file with one hook per event label ("Event" or "Event:matcher"),
    passed where the args say {settings}. via args: {command} is the relay as a shell command line,
    {notify} the relay as a TOML array (Codex appends the event's JSON as the last argument).
    """
    if hooks is None or hooks.via == "none":
        return []
    values: dict[str, str] = {}
    if hooks.via == "claude-settings":
        settings: dict[str, list] = {}
        for label in hooks.events:
            event, _, matcher = label.partition(":")
            payload = "drain" if label in hooks.drain else "stdin"
            entry: dict[str, Any] = {"hooks": [{"type": "command", "command": relay_command(label, payload),
                                                "timeout": 5}]}
            if matcher:
                entry["matcher"] = matcher
            settings.setdefault(event, []).append(entry)
        path = channel.folder / "settings.json"
        path.write_text(json.dumps({"hooks": settings}, indent=1))
        os.chmod(path, 0o600)
        values["settings"] = str(path)
    label = next(iter(hooks.events), "event")
    values["command"] = relay_command(label, None)
    values["notify"] = "[" + ", ".join(json.dumps(word) for word in relay_argv(label, None)) + "]"
    out = []
    for word in hooks.args:
        for name, value in values.items():
            word = word.replace("{" + name + "}", value)
        out.append(word)
    return out
