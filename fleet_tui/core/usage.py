"""Token and spend totals read from the usage logs that agents write themselves.

Readers are incremental: each `read()` parses only the complete lines appended
since the previous call, so they are cheap to call on every meter tick.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet_tui.errors import UsageError

FORMATS = ("claude-jsonl", "codex-jsonl", "fleet-jsonl")


@dataclass(frozen=True)
class UsageTotals:
    """What a session has used so far. input_tokens excludes cache reads and writes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_tokens: int = 0
    cost: float = 0.0

    @property
    def tokens(self) -> int:
        """The figure token budgets count: fresh input plus output (cache reads would swamp it)."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "UsageTotals") -> "UsageTotals":
        return UsageTotals(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                           self.cache_tokens + other.cache_tokens, self.cost + other.cost)

    def __sub__(self, other: "UsageTotals") -> "UsageTotals":
        return UsageTotals(self.input_tokens - other.input_tokens, self.output_tokens - other.output_tokens,
                           self.cache_tokens - other.cache_tokens, self.cost - other.cost)


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, fresh_input: int, output: int, cache_write: int = 0, cache_read: int = 0) -> float:
        return (fresh_input * self.input + output * self.output + cache_write * self.cache_write
                + cache_read * self.cache_read) / 1e6


NO_PRICE = Price(0, 0, 0, 0)

# Substring of the model id -> price; the first match wins, so specific entries come first.
# Anthropic list prices (cache write = 5-minute cache).
CLAUDE_PRICES = [
    ("opus-4-5", Price(5, 25, 6.25, 0.50)),
    ("opus-4-1", Price(15, 75, 18.75, 1.50)),
    ("opus-4-2025", Price(15, 75, 18.75, 1.50)),
    ("3-opus", Price(15, 75, 18.75, 1.50)),
    ("opus", Price(5, 25, 6.25, 0.50)),
    ("sonnet", Price(3, 15, 3.75, 0.30)),
    ("3-5-haiku", Price(0.80, 4, 1.00, 0.08)),
    ("3-haiku", Price(0.25, 1.25, 0.30, 0.03)),
    ("haiku", Price(1, 5, 1.25, 0.10)),
]
# OpenAI list prices; cache_read is the cached-input price, OpenAI charges no cache writes.
CODEX_PRICES = [
    ("gpt-5-mini", Price(0.25, 2, 0, 0.025)),
    ("gpt-5-nano", Price(0.05, 0.40, 0, 0.005)),
    ("gpt-5", Price(1.25, 10, 0, 0.125)),
    ("o4-mini", Price(1.10, 4.40, 0, 0.275)),
    ("o3", Price(2, 8, 0, 0.50)),
    ("gpt-4.1", Price(2, 8, 0, 0.50)),
]
CODEX_DEFAULT_MODEL = "gpt-5-codex"  # what Codex runs when its log names no model


def price_of(model: str | None, table: list[tuple[str, Price]]) -> Price:
    for pattern, price in table:
        if model and pattern in model:
            return price
    return NO_PRICE


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class JsonlTail:
    """The JSON objects on complete lines appended to files since the last call."""

    def __init__(self) -> None:
        self._offsets: dict[Path, int] = {}

    def new_records(self, path: Path) -> list[dict]:
        offset = self._offsets.get(path, 0)
        try:
            with open(path, "rb") as file:
                if os.fstat(file.fileno()).st_size < offset:
                    offset = 0  # truncated or replaced: start over
                file.seek(offset)
                data = file.read()
        except OSError:
            return []
        complete = data.rfind(b"\n") + 1  # a partial last line waits for the next call
        self._offsets[path] = offset + complete
        records = []
        for line in data[:complete].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


class UsageReader:
    """Reads one session's usage log; `read()` returns the totals so far."""

    def follow(self, transcript: str | Path) -> None:
        """A log file the agent named itself (a hook's transcript_path); readers that can, read it."""

    @classmethod
    def for_format(cls, fmt: str | None, *, cwd: str | Path, home: str | Path,
                   log_path: str | Path | None = None, env: dict[str, str] | None = None) -> "UsageReader | None":
        """The reader for a preset's usage format, or None when the agent logs no usage.

        `env` is the agent's own environment: an agent given its own HOME, CLAUDE_CONFIG_DIR or
        CODEX_HOME logs there, not in the fleet server's home.
        """
        env = env or {}
        home = Path(env.get("HOME") or home)
        if fmt in (None, "none"):
            return None
        if fmt == "claude-jsonl":
            config = env.get("CLAUDE_CONFIG_DIR")
            return ClaudeUsageReader(Path(cwd), home, Path(config) if config else None)
        if fmt == "codex-jsonl":
            codex_home = env.get("CODEX_HOME")
            return CodexUsageReader(Path(cwd), home, Path(codex_home) if codex_home else None)
        if fmt == "fleet-jsonl":
            if log_path is None:
                raise UsageError("usage format fleet-jsonl needs a log path (FLEET_USAGE_LOG)")
            return FleetUsageReader(Path(log_path))
        raise UsageError(f"unknown usage format {fmt!r}: use one of {', '.join(FORMATS)}")

    def read(self) -> UsageTotals:
        raise NotImplementedError


class FleetUsageReader(UsageReader):
    """Our own format: one object of deltas per line, {"input_tokens", "output_tokens", "cost"}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tail = JsonlTail()
        self._totals = UsageTotals()

    def read(self) -> UsageTotals:
        for record in self._tail.new_records(self.path):
            cost = record.get("cost", 0)
            if isinstance(cost, bool) or not isinstance(cost, (int, float)):
                cost = 0
            self._totals += UsageTotals(_int(record.get("input_tokens")), _int(record.get("output_tokens")),
                                        _int(record.get("cache_tokens")), float(cost))
        return self._totals


def claude_project_dir(cwd: Path, home: Path, config_dir: Path | None = None) -> Path:
    """Where Claude Code keeps the transcripts of sessions started in `cwd` (CLAUDE_CONFIG_DIR or ~/.claude)."""
    return (config_dir or home / ".claude") / "projects" / re.sub(r"[^A-Za-z0-9]", "-", os.path.realpath(cwd))


class ClaudeUsageReader(UsageReader):
    """Claude Code transcripts: assistant lines carry message.usage and message.model.

    One API response is written as several lines (one per content block) that repeat
    its usage, so lines are counted once per (message.id, requestId); uuids catch lines
    copied into another transcript when a session is resumed.
    """

    def __init__(self, cwd: Path, home: Path, config_dir: Path | None = None) -> None:
        self.folder = claude_project_dir(cwd, home, config_dir)
        self.transcripts: set[Path] = set()  # named by the agent's hooks: read wherever they are
        self._tail = JsonlTail()
        self._uuids: set[str] = set()
        self._responses: dict[object, tuple[int, UsageTotals]] = {}  # key -> (output tokens, totals)
        self._totals = UsageTotals()

    def follow(self, transcript: str | Path) -> None:
        """Also read this transcript (the path Claude's hook input names)."""
        self.transcripts.add(Path(transcript))

    def read(self) -> UsageTotals:
        paths = set(self.transcripts)
        if self.folder.is_dir():
            paths.update(self.folder.rglob("*.jsonl"))
        for path in sorted(paths):
            for record in self._tail.new_records(path):
                self._add(record)
        return self._totals

    def _add(self, record: dict[str, Any]) -> None:
        message = record.get("message")
        if not isinstance(message, dict):
            return
        usage = message.get("usage")
        if not isinstance(usage, dict):
            return
        uuid = record.get("uuid")
        if uuid in self._uuids:
            return
        if uuid:
            self._uuids.add(uuid)
        key = (message.get("id"), record.get("requestId")) if message.get("id") else uuid or id(record)
        output = _int(usage.get("output_tokens"))
        previous = self._responses.get(key)
        if previous and previous[0] >= output:
            return  # the same response again; keep its most complete usage
        fresh, write, read = (_int(usage.get(name)) for name in (
            "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
        price = price_of(message.get("model"), CLAUDE_PRICES)
        totals = UsageTotals(fresh, output, write + read, price.cost(fresh, output, write, read))
        self._responses[key] = (output, totals)
        self._totals += totals - (previous[1] if previous else UsageTotals())


class CodexUsageReader(UsageReader):
    """Codex rollouts in ~/.codex/sessions/YYYY/MM/DD/*.jsonl.

    The first line (session_meta) records the session's cwd, which picks our files;
    token_count events carry cumulative totals (input_tokens includes
    cached_input_tokens), and turn_context lines name the model in use.
    """

    def __init__(self, cwd: Path, home: Path, codex_home: Path | None = None) -> None:
        self.root = (codex_home or home / ".codex") / "sessions"
        self.cwd = os.path.realpath(cwd)
        # Rollouts older than the reader cannot be this session's; a day of slack covers
        # local-time folder names and midnight.
        self._first_day = (datetime.date.today() - datetime.timedelta(days=1)).strftime("%Y/%m/%d")
        self._tail = JsonlTail()
        self._ours: dict[Path, bool] = {}
        self._model: dict[Path, str] = {}
        self._last: dict[Path, dict] = {}  # last cumulative total_token_usage per file
        self._totals = UsageTotals()

    def _rollouts(self) -> list[Path]:
        paths = []
        for path in self.root.glob("[0-9]*/[0-9]*/[0-9]*/*.jsonl"):
            day = "/".join(path.parts[-4:-1])
            if day >= self._first_day and self._ours.get(path, True):
                paths.append(path)
        return sorted(paths)

    def read(self) -> UsageTotals:
        for path in self._rollouts():
            for record in self._tail.new_records(path):
                self._add(path, record)
        return self._totals

    def _add(self, path: Path, record: dict) -> None:
        kind, payload = record.get("type"), record.get("payload")
        if not isinstance(payload, dict):
            return
        if kind == "session_meta":
            cwd = payload.get("cwd")
            self._ours[path] = isinstance(cwd, str) and os.path.realpath(cwd) == self.cwd
        elif not self._ours.get(path):
            return
        elif kind == "turn_context" and isinstance(payload.get("model"), str):
            self._model[path] = payload["model"]
        elif kind == "event_msg" and payload.get("type") == "token_count":
            info = payload.get("info")
            total = info.get("total_token_usage") if isinstance(info, dict) else None
            if isinstance(total, dict):
                self._count(path, total)

    def _count(self, path: Path, total: dict) -> None:
        """Price the growth since the file's previous total at the model now in use."""
        before = self._last.get(path, {})
        grew = {name: _int(total.get(name)) - _int(before.get(name))
                for name in ("input_tokens", "cached_input_tokens", "output_tokens")}
        if any(value < 0 for value in grew.values()):
            return  # an older total repeated out of order
        self._last[path] = total
        cached = grew["cached_input_tokens"]
        fresh = max(0, grew["input_tokens"] - cached)
        price = price_of(self._model.get(path, CODEX_DEFAULT_MODEL), CODEX_PRICES)
        self._totals += UsageTotals(fresh, grew["output_tokens"], cached,
                                    price.cost(fresh, grew["output_tokens"], cache_read=cached))
