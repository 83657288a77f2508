"""The labelled corpus of real agent sessions, and its replay through fleet_tui's status logic.

Each recording (tests/status/corpus/AGENT.json.gz, made by `python -m bench.status_corpus_record`)
holds one real CLI run offline against the scripted model endpoint through several whole turns:
every chunk of pty output with its time, every key typed or written, the prompts and acks the
fleet would have made, every hook event line the CLI's hooks wrote, and the labels: the right
status from each moment on, taken from what really happened (the prompt's Enter, the dialog's
first screen, the approving key, the model's last byte, the interrupting key, the ack).

`replay()` feeds a recording into a real Session (its emulator, detector, hook channel and
turn logic, with the recording's clock) and looks at the status when the fleet server would:
every status tick (unless output not yet looked at is pending), and on the 50 ms hook round
when a hook event came, keys were typed, or output settled (LookPacer). `score()` compares the status sampled every 20 ms with the labels.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet_tui.config import parse_config
from fleet_tui.core.agent_spec import resolve_agent
from fleet_tui.config import Budget
from fleet_tui.core.hooks import HookChannel
from fleet_tui.core.session import Session, SessionRecord
from fleet_tui.core.terminal import Terminal
from fleet_tui.core.ticker import HOOK_POLL_SECONDS, TICK_SECONDS, TYPED_WATCH_SECONDS

CORPUS = Path(__file__).parent / "corpus"

# The fleet server's cadences (fleet_tui/core/ticker.py), in the recording's time.
TICK = TICK_SECONDS
HOOK_POLL = HOOK_POLL_SECONDS
TYPED_WATCH = TYPED_WATCH_SECONDS
STEP = 0.01  # the replay's clock advances in steps this long
SAMPLE = 0.02  # the status is sampled this often for the score

BUSY = ("working", "waiting")


@dataclass
class Recording:
    agent: str  # the preset
    meta: dict[str, Any]
    events: list[list]  # [t, kind, data]: o output, i typed, w written, p prompted, a ack, h hook line
    labels: list[tuple[float, str]]  # (t, the right status from then on)
    name: str = ""

    @classmethod
    def load(cls, path: Path) -> "Recording":
        data = json.loads(gzip.decompress(path.read_bytes()))
        return cls(data["meta"]["preset"], data["meta"], data["events"],
                   [(t, s) for t, s in data["labels"]], path.name.split(".")[0])

    def save(self, path: Path) -> None:
        data = {"meta": self.meta, "events": self.events, "labels": self.labels}
        path.write_bytes(gzip.compress(json.dumps(data, separators=(",", ":")).encode(), 9, mtime=0))

    def label_at(self, t: float) -> str | None:
        return label_at(self.labels, t)


def label_at(labels: list[tuple[float, str]], t: float) -> str | None:
    """The label in force at `t`: the last one that started at or before it."""
    current = None
    for start, label in labels:
        if t >= start:
            current = label
    return current


def startup_labels(recording: Recording) -> list[tuple[float, str]]:
    """The start-up, labelled from what the screen showed: `starting` from the spawn (t=0) until
    the CLI's input box (its preset's `ready` pattern) first shows, `idle` from then on."""
    spec = resolve_agent(parse_config(f"agents:\n  a:\n    preset: {recording.agent}\n"), "a")
    ready = re.compile(spec.status_rules["ready"])
    terminal = Terminal(recording.meta["cols"], recording.meta["rows"], respond=lambda reply: None)
    for t, kind, data in sorted(recording.events, key=lambda e: e[0]):
        if kind == "o":
            terminal.feed(data)
            if any(ready.search(row) for row in terminal.display()):
                return [(0.0, "starting"), (t, "idle")]
    raise ValueError(f"{recording.name}: the input box never shows")


def corpus() -> list[Recording]:
    return [Recording.load(path) for path in sorted(CORPUS.glob("*.json.gz"))]


class _ReplayedSession(Session):
    """A Session whose child is a recording: alive throughout, nothing goes back to it."""

    @property
    def alive(self) -> bool:
        return True

    def write(self, data: bytes) -> None:
        pass

    def _respond(self, reply: str) -> None:
        pass


@dataclass
class Replay:
    recording: Recording
    hooks: bool
    samples: list[tuple[float, str]] = field(default_factory=list)  # (t, status shown)


def replay(recording: Recording, hooks: bool = True) -> Replay:
    """Run the recording through the status logic; `hooks=False` replays the screen alone."""
    spec = resolve_agent(parse_config(f"agents:\n  a:\n    preset: {recording.agent}\n"), "a")
    clock = _Clock()
    with tempfile.TemporaryDirectory(prefix="fsr-") as folder:
        channel = None
        if hooks and spec.preset is not None and spec.preset.hooks.via != "none":
            channel = HookChannel(Path(folder) / "hooks", spec.preset.hooks.events, spec.preset.hooks.ignore,
                                  clock=clock)
        session = _ReplayedSession(
            SessionRecord(recording.agent, recording.agent, "b", folder, "0"), argv=["replay"], env={},
            status_rules=spec.status_rules, budget=Budget(), usage_format="none",
            usage_log=Path(folder) / "usage.jsonl", cols=recording.meta["cols"], rows=recording.meta["rows"],
            hooks=channel, clock=clock)
        session.detector.started = clock.now
        result = Replay(recording, hooks)
        events = sorted(recording.events, key=lambda e: e[0])
        end = max(events[-1][0], recording.labels[-1][0]) + 3.0
        index, next_tick, next_poll, next_sample = 0, TICK, HOOK_POLL, recording.labels[0][0]
        steps = 0
        while clock.now <= end:
            while index < len(events) and events[index][0] <= clock.now:
                _apply(session, channel, events[index])
                index += 1
            now = clock.now
            if now >= next_poll - 1e-9:
                next_poll += HOOK_POLL
                typed = session.detector.last_input
                if (channel is not None and channel.pending()) or (typed is not None and now - typed < TYPED_WATCH) \
                        or session.pacer.due(now):
                    session.detect_status()
            if now >= next_tick - 1e-9:
                next_tick += TICK
                if not session.pacer.pending:
                    session.detect_status()
            if now >= next_sample - 1e-9:
                next_sample += SAMPLE
                result.samples.append((now, session.status))
            steps += 1
            clock.now = steps * STEP
        return result


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _apply(session: Session, channel: HookChannel | None, event: list) -> None:
    _, kind, data = event
    if kind == "o":
        session._output(data)
    elif kind == "i":
        session.type(data.encode())
        if session.pacer.due(session.clock()):  # as the fleet does for a key that answers or interrupts
            session.detect_status()
    elif kind == "w":
        session.write(data.encode())
    elif kind == "p":
        session.prompted()
        session.detect_status()  # the fleet looks at once after typing a prompt
    elif kind == "a":
        session.ack()
    elif kind == "h" and channel is not None:
        label, _, payload = data.partition("\t")
        with open(channel.path, "a", encoding="utf-8") as file:
            file.write(f"{channel.token}\t{label}\t{payload}\n")


@dataclass
class Score:
    right: float
    samples: int
    idle_while_busy: int
    delays: dict[str, list[float]]  # label -> delays from each real transition to showing it
    wrong: list[tuple[float, str, str]]  # (t, label, shown)

    def delay(self, label: str) -> tuple[float, float] | None:
        values = self.delays.get(label)
        return (statistics.median(values), max(values)) if values else None

    def worst_delay(self) -> float:
        return max((max(v) for v in self.delays.values() if v), default=0.0)


def score(replays: list[Replay]) -> Score:
    right = total = idle_wrong = 0
    delays: dict[str, list[float]] = {}
    wrong = []
    for run in replays:
        recording = run.recording
        for t, status in run.samples:
            label = recording.label_at(t)
            total += 1
            if status == label:
                right += 1
            else:
                wrong.append((t, label, status))
            idle_wrong += status == "idle" and label in BUSY
        labels = recording.labels
        for number, (start, label) in enumerate(labels):
            if number and labels[number - 1][1] == label:
                continue
            until = labels[number + 1][0] if number + 1 < len(labels) else float("inf")
            shown = next((t for t, s in run.samples if start <= t < until and s == label), None)
            delays.setdefault(label, []).append(until - start if shown is None else max(0.0, shown - start))
    return Score(right / total if total else float("nan"), total, idle_wrong, delays, wrong)
