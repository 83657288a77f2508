"""A scripted, interactive demo coding agent: `python -m fleet_tui.demo.agent`.

It draws like Claude Code or Codex (a transcript, a spinner while it works, an
approval dialog before edits, a prompt box at the bottom, an animated terminal
title) and really reads and edits the files of fleet_tui's demo project in its
working directory, then runs the project's tests. That lets fleet_tui show its
whole flow with no API key. Standard library only: it runs in the user's Python.

Env: FLEET_DEMO_SPEED divides every delay (tests use 50); FLEET_USAGE_LOG names a
file that gets one JSON line of token and cost deltas per model step.

`--script FILE` makes it answer any project from a JSON list of rules instead, the first
whose `match` (a regular expression) is found in the prompt deciding the turn:
`{"match": "FAILED", "write": {"greet.py": "..."}, "say": "Fixed it.", "seconds": 1}`.
A rule without `match` matches every prompt. Tests use it to play developer and reviewer.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import difflib
import json
import os
import re
import select
import signal
import subprocess
import sys
import termios
import time
import tty
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from fleet_tui.demo.repo import BUGGY_MEDIAN
from fleet_tui.text import plural

# Colours (256-colour SGR), close to what Claude Code uses.
ACCENT, GREY, GREEN, RED, BLUE, BOLD = "38;5;174", "38;5;246", "38;5;114", "38;5;167", "38;5;153", "1"
ADDED, REMOVED, PROMPT_BG = "38;5;231;48;5;22", "38;5;231;48;5;52", "38;5;231;48;5;237"

SPINNER = "·✢✳✶✻✽✻✶✳✢"
TITLE_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"  # braille, like Claude Code's working title
TICK = 0.12  # seconds between spinner frames (real time: it is animation, not work)

TITLE_IDLE = "demo-agent: idle"
TITLE_WORKING = "demo-agent: working"
TITLE_WAITING = "demo-agent: waiting for approval"
QUESTION = "Do you want to make this edit to {path}?"
IDLE_HINT = "  enter to send · ctrl+d to quit"
NOTES_FILE = "DEMO_AGENT_NOTES.md"

# Token prices (USD) for the pretend model; the context grows as files are read.
INPUT_PRICE, OUTPUT_PRICE, SYSTEM_TOKENS = 3e-6, 15e-6, 1500


# ---------------------------------------------------------------- text layout

def cell_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def text_width(text: str) -> int:
    return sum(cell_width(ch) for ch in text)


def cut(text: str, width: int) -> str:
    """The longest head of text that fits in width cells (at least one character)."""
    used = 0
    for i, ch in enumerate(text):
        used += cell_width(ch)
        if used > width:
            return text[: max(i, 1)]
    return text


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap by terminal cells; keeps indentation, cuts over-long words."""
    width = max(width, 2)
    rows, row, used = [], "", 0
    for token in re.findall(r"\s+|\S+", text):
        size = text_width(token)
        if used + size <= width:
            row, used = row + token, used + size
        elif token.isspace():
            rows.append(row)
            row, used = "", 0
        else:
            if row:
                rows.append(row)
            while text_width(token) > width:
                head = cut(token, width)
                rows.append(head)
                token = token[len(head):]
            row, used = token, text_width(token)
    rows.append(row)
    return rows


def printable(text: str) -> str:
    """Text safe to draw: tabs become spaces, other control characters go."""
    text = text.replace("\t", "    ")
    return "".join(ch for ch in text if ch.isprintable() or ch == "\n")


ANSI = re.compile(r"(\x1b\[[0-9;?]*[A-Za-z])")


def fit(row: str, width: int) -> str:
    """Clip a styled row to width cells, so the terminal never wraps (and scrolls) it."""
    out, used = [], 0
    for i, part in enumerate(ANSI.split(row)):
        if i % 2:
            out.append(part)  # an escape sequence takes no room
            continue
        for ch in part:
            used += cell_width(ch)
            if used > width:
                return "".join(out)
            out.append(ch)
    return "".join(out)


def visible_width(row: str) -> int:
    return text_width("".join(ANSI.split(row)[::2]))


def sgr(style: str, text: str) -> str:
    return f"\x1b[{style}m{text}\x1b[0m" if style and text else text


@dataclass
class Line:
    """One transcript entry: a styled prefix, then body text wrapped under it."""

    prefix: list[tuple[str, str]]
    body: str = ""
    style: str = ""

    def rows(self, width: int) -> list[str]:
        indent = sum(text_width(text) for _, text in self.prefix)
        head = "".join(sgr(style, text) for style, text in self.prefix)
        if indent >= width - 1:  # too narrow for the prefix: the text matters more
            head, indent = "", 0
        parts = [part for para in printable(self.body).split("\n") for part in wrap(para, width - indent)]
        return [(head if i == 0 else " " * indent) + sgr(self.style, part) for i, part in enumerate(parts)]


def bullet(text: str, colour: str = "", style: str = "") -> Line:
    return Line([(colour, "● ")], text, style)


def result(text: str, style: str = GREY) -> Line:
    return Line([(GREY, "  ⎿  ")], text, style)


def box(lines: list[Line], width: int) -> list[str]:
    """Lines drawn inside a rounded box as wide as the screen."""
    inner = max(width - 4, 2)
    rows = ["╭" + "─" * (width - 2) + "╮"]
    for line in lines:
        for row in line.rows(inner):
            rows.append("│ " + row + " " * max(inner - visible_width(row), 0) + " │")
    rows.append("╰" + "─" * (width - 2) + "╯")
    return rows


# ---------------------------------------------------------------- keys

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
CONTROL_KEYS = {"\r": "enter", "\n": "enter", "\x7f": "backspace", "\x08": "backspace",
                "\x03": "ctrl+c", "\x04": "ctrl+d", "\x15": "ctrl+u"}


def split_partial(text: str, marker: str) -> tuple[str, str]:
    """Split off a tail of text that could be the start of marker (it may finish in the next read)."""
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-n:]):
            return text[:-n], text[-n:]
    return text, ""


class KeyReader:
    """Turns raw terminal bytes into keys: a character, a name like 'enter', or ('paste', text)."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending = ""
        self.paste: str | None = None  # text so far inside a bracketed paste

    def feed(self, data: bytes) -> list:
        text, self.pending = self.pending + self.decoder.decode(data), ""
        keys: list = []
        i = 0
        while i < len(text):
            if self.paste is not None:
                end = text.find(PASTE_END, i)
                if end < 0:
                    body, self.pending = split_partial(text[i:], PASTE_END)
                    self.paste += body
                    break
                keys.append(("paste", (self.paste + text[i:end]).replace("\r\n", "\n").replace("\r", "\n")))
                self.paste, i = None, end + len(PASTE_END)
                continue
            ch = text[i]
            if ch == "\x1b":
                i, key = self.escape(text, i)
                if key == "partial":
                    self.pending = text[i:]
                    break
                if key:
                    keys.append(key)
                continue
            if ch == "\r" and text.startswith("\n", i + 1):
                i += 1  # CR LF is one Enter
            keys.append(CONTROL_KEYS.get(ch, ch if ch.isprintable() else None))
            i += 1
        return [key for key in keys if key]

    def escape(self, text: str, i: int) -> tuple[int, object]:
        """Parse an escape sequence at i; return the next index and its key (None to ignore)."""
        rest = text[i + 1: i + 2]
        if rest == "[":
            match = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]").match(text, i)
            if not match:
                # An unfinished sequence waits for the next read; garbage is dropped.
                return (i, "partial") if len(text) - i < 32 else (len(text), None)
            seq = match.group()
            if seq == PASTE_START:
                self.paste = ""
            return match.end(), {"A": "up", "B": "down"}.get(seq[-1]) if len(seq) == 3 else None
        if rest == "O":
            if len(text) - i < 3:
                return i, "partial"
            return i + 3, {"A": "up", "B": "down"}.get(text[i + 2])
        if rest and rest != "\x1b":
            return i + 2, None  # alt+key: not used
        return i + 1, "esc"


# ---------------------------------------------------------------- the work

@dataclass
class Edit:
    path: str
    text: str


@dataclass
class Plan:
    known: bool  # the demo project: run its tests before and after
    reads: list[str]
    thought: str
    edits: list[Edit]
    summary: str
    linger: float = 0.0  # real seconds the turn lasts at least (a script's "seconds")


def scripted_plan(root: Path, rules: list, prompt: str) -> Plan:
    """The turn the first matching rule of a --script file describes."""
    for rule in rules:
        if re.search(rule.get("match") or "", prompt, re.S):
            edits = []
            for rel, text in (rule.get("write") or {}).items():
                target = (root / rel).resolve()
                if not target.is_relative_to(root.resolve()):
                    raise ValueError(f"{rel} is outside the working folder")
                edits.append(Edit(rel, text))
            return Plan(False, [], rule.get("say") or "Done.", edits, rule.get("summary") or "Done.",
                        float(rule.get("seconds") or 0.0))
    return Plan(False, [], "Nothing in my script matches that prompt.", [], "Did nothing.")


CLEAN_MEDIAN = """\
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
"""

SLOPPY_MEDIAN = """\
    ordered = sorted(values)
    mid = len(ordered) // 2
    return (ordered[mid - 1] + ordered[mid]) / 2
"""

BIG_CALC_PY = '''\
"""calc: small number helpers."""

from __future__ import annotations

from collections.abc import Sequence

Number = int | float


def _require_values(values: Sequence[Number]) -> None:
    if not values:
        raise ValueError("need at least one value")


def mean(values: Sequence[Number]) -> float:
    """Return the arithmetic mean of a non-empty sequence of numbers."""
    _require_values(values)
    return sum(values) / len(values)


def median(values: Sequence[Number]) -> Number:
    """Return the middle value; for an even count, the mean of the two middle values."""
    _require_values(values)
    ordered = sorted(values)
    upper = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[upper]
    return (ordered[upper - 1] + ordered[upper]) / 2


def clamp(value: Number, low: Number, high: Number) -> Number:
    """Limit value to the range [low, high]."""
    if low > high:
        raise ValueError(f"empty range: low={low} > high={high}")
    return max(low, min(value, high))


def percent(part: Number, whole: Number) -> float:
    """Return part as a percentage of whole, rounded to one decimal."""
    if whole == 0:
        raise ValueError("whole must not be zero")
    return round(100 * part / whole, 1)
'''

LAST_TEST = "        self.assertEqual(percent(1, 3), 33.3)\n"
EXTRA_TESTS = """
    def test_empty_input_is_rejected(self):
        with self.assertRaises(ValueError):
            mean([])
        with self.assertRaises(ValueError):
            median([])
"""


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def project_files(root: Path, limit: int = 6) -> list[str]:
    """A few small text files of the project, as a real agent would skim first."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules"))
        for name in sorted(files):
            path = Path(folder, name)
            with contextlib.suppress(OSError):
                if path.stat().st_size < 64_000 and read_text(path) is not None:
                    found.append(str(path.relative_to(root)))
            if len(found) >= limit:
                return found
    return found


def make_plan(root: Path, style: str, prompt: str) -> Plan:
    calc, tests = read_text(root / "calc.py"), read_text(root / "test_calc.py")
    if calc is None or tests is None or BUGGY_MEDIAN not in calc:
        notes = read_text(root / NOTES_FILE) or "# Notes from the demo agent\n"
        line = " ".join(prompt.split())
        return Plan(
            known=False,
            reads=project_files(root),
            thought="This is not the demo project I know how to fix (or its bug is fixed already), "
                    f"so I will not touch any code. I'll leave a note in {NOTES_FILE} instead.",
            edits=[Edit(NOTES_FILE, notes + f"\n- Asked: {line}\n  I am fleet_tui's scripted demo agent and only "
                                             "know how to fix its demo project, so I changed no code.\n")],
            summary=f"Left a note in {NOTES_FILE}; no code changed.",
        )
    reads = ["README.md", "calc.py", "test_calc.py"]
    if style == "big":
        edits = [Edit("calc.py", BIG_CALC_PY)]
        if LAST_TEST in tests:
            edits.append(Edit("test_calc.py", tests.replace(LAST_TEST, LAST_TEST + EXTRA_TESTS, 1)))
        return Plan(True, reads,
                    "test_median_even fails: median() returns the upper middle value for an even count. "
                    "While I'm here I'll modernise calc.py: type hints, input checks and a test for empty input.",
                    edits, "Fixed median() and tidied calc.py: type hints, input validation, one new test.")
    if style == "sloppy":
        return Plan(True, reads,
                    "Easy one: the median should average the two middle values. One line.",
                    [Edit("calc.py", calc.replace(BUGGY_MEDIAN, SLOPPY_MEDIAN, 1))],
                    "Done! median() averages the middle values now.")
    return Plan(True, reads,
                "test_median_even fails because median() returns the upper middle value when the count "
                "is even. It should average the two middle values; a minimal fix keeps odd counts as they are.",
                [Edit("calc.py", calc.replace(BUGGY_MEDIAN, CLEAN_MEDIAN, 1))],
                "Fixed median() for lists of even length.")


def diff_lines(path: str, before: str, after: str) -> list[Line]:
    rows = list(difflib.unified_diff(before.splitlines(), after.splitlines(), path, path, n=1, lineterm=""))[2:]
    styles = {"+": ADDED, "-": REMOVED, "@": GREY}
    return [Line([(GREY, "      ")], row, styles.get(row[:1], "")) for row in rows]


def diff_stat(before: str, after: str) -> tuple[int, int]:
    rows = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm=""))[2:]
    return (sum(r.startswith("+") for r in rows), sum(r.startswith("-") for r in rows))


@dataclass
class Ask:
    """The job's request for approval of one edit; the main loop answers it."""

    path: str
    preview: list[Line]
    choice: int = 0  # 0: Yes, 1: No


# ---------------------------------------------------------------- the agent

@dataclass
class Agent:
    style: str
    ask: str
    speed: float
    root: Path
    usage_log: str | None = None
    out: int = 1
    script: list | None = None  # rules from --script, instead of the demo project's fixes
    transcript: list[Line] = field(default_factory=list)
    text: str = ""  # the prompt box's input
    notice: str = ""
    job: object = None  # the running job: a generator of delays and Ask requests
    wake: float = 0.0
    reply: object = None
    dialog: Ask | None = None
    verb: str = "Thinking"
    started: float = 0.0
    context: int = SYSTEM_TOKENS
    output_tokens: int = 0
    job_cost: float = 0.0
    quit: bool = False
    ctrl_c_armed: bool = False
    screen: list[str] = field(default_factory=list)
    cursor: tuple | None = None
    title: str = ""
    size: tuple = (0, 0)

    # -- transcript helpers used by the job

    def add(self, line: Line) -> Line:
        self.transcript.append(line)
        del self.transcript[:-400]  # the screen shows only the end
        return line

    def stream(self, text: str, colour: str = ""):
        """Write a reply word by word, as a model streams it."""
        line = self.add(bullet("", colour))
        for word in re.findall(r"\S+\s*", text):
            line.body += word
            yield 0.05
        self.charge(out_chars=len(text))
        self.add(Line([]))

    def charge(self, read_chars: int = 0, out_chars: int = 0) -> None:
        """One model step: the whole context is input; log the delta for fleet_tui's budget meters."""
        self.context += read_chars // 4
        usage = {"input_tokens": self.context, "output_tokens": out_chars // 4 + 12}
        self.context += usage["output_tokens"]
        self.output_tokens += usage["output_tokens"]
        cost = usage["input_tokens"] * INPUT_PRICE + usage["output_tokens"] * OUTPUT_PRICE
        self.job_cost += cost
        usage["cost"] = round(cost, 6)
        if self.usage_log:
            with contextlib.suppress(OSError), open(self.usage_log, "a", encoding="utf-8") as log:
                log.write(json.dumps(usage) + "\n")

    def asks(self) -> bool:
        return self.ask == "always" or (self.ask == "auto" and self.style == "big")

    def work(self, prompt: str):
        """The job for one prompt: read, think, ask, edit, test, summarise."""
        self.add(Line([(PROMPT_BG, "> ")], prompt, PROMPT_BG))
        self.add(Line([]))
        self.verb = "Thinking"
        yield 1.2
        yield from self.stream("Let me look at the project first.")
        plan = scripted_plan(self.root, self.script, prompt) if self.script is not None else \
            make_plan(self.root, self.style, prompt)
        self.verb = "Reading"
        for rel in plan.reads:
            text = read_text(self.root / rel) or ""
            self.add(Line([(GREEN, "● "), (BOLD, "Read")], f"({rel})"))
            self.add(result(f"Read {len(text.splitlines())} lines"))
            self.add(Line([]))
            self.charge(read_chars=len(text), out_chars=40)
            yield 0.5
        if plan.known:
            yield from self.run_tests()
        self.verb = "Thinking"
        yield 1.0
        yield from self.stream(plan.thought)
        changed = []
        for edit in plan.edits:
            before = read_text(self.root / edit.path) or ""
            preview = diff_lines(edit.path, before, edit.text)
            if self.asks() and not (yield Ask(edit.path, preview)):
                self.add(result("Edit declined. Tell me what to do differently.", RED))
                return
            self.verb = "Editing"
            yield 0.8
            (self.root / edit.path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / edit.path).write_text(edit.text, encoding="utf-8")
            added, removed = diff_stat(before, edit.text)
            changed.append(f"{edit.path} (+{added} -{removed})")
            self.add(Line([(GREEN, "● "), (BOLD, "Update")], f"({edit.path})"))
            counts = f"{plural(added, 'addition')} and {plural(removed, 'removal')}"
            self.add(result(f"Updated {edit.path} with {counts}", ""))
            for line in preview[:14]:
                self.add(line)
            if len(preview) > 14:
                self.add(Line([(GREY, "      ")], f"… {len(preview) - 14} more lines", GREY))
            self.add(Line([]))
            self.charge(out_chars=len(edit.text))
            yield 0.4
        left = plan.linger - (time.monotonic() - self.started)
        if left > 0:
            yield left * self.speed  # delays are divided by the speed; this one is real time
        verdict = "not run"
        if plan.known:
            verdict = yield from self.run_tests()
        yield from self.stream(plan.summary)
        self.add(Line([(GREY, "  Files changed: ")], ", ".join(changed) or "none"))
        seconds = time.monotonic() - self.started
        self.add(Line([(GREY, "  Tests: ")], f"{verdict} · Cost: ${self.job_cost:.4f} · {seconds:.0f}s"))
        self.add(Line([]))

    def run_tests(self):
        """Run the project's tests for real; return the verdict line (OK / FAILED (...))."""
        self.verb = "Testing"
        self.add(Line([(GREEN, "● "), (BOLD, "Bash")], "(python -m unittest -q)"))
        yield 0.8
        try:
            run = subprocess.run([sys.executable, "-m", "unittest", "-q"], cwd=self.root, capture_output=True,
                                 text=True, timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        except (OSError, subprocess.SubprocessError) as exc:
            self.add(result(f"Could not run the tests: {exc}", RED))
            return "not run"
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        ran = next((line for line in lines if line.startswith("Ran ")), "")
        verdict = lines[-1] if lines else f"exit code {run.returncode}"
        self.add(result(f"{ran} · {verdict}" if ran else verdict, GREEN if run.returncode == 0 else RED))
        for name in re.findall(r"^(?:FAIL|ERROR): (\w+)", run.stderr, re.M):
            self.add(Line([(GREY, "     ")], f"✗ {name}", RED))
        self.add(Line([]))
        self.charge(read_chars=len(run.stderr), out_chars=20)
        return verdict

    # -- driving the job

    def start(self, prompt: str) -> None:
        self.job, self.reply, self.job_cost = self.work(prompt), None, 0.0
        self.started = self.wake = time.monotonic()
        self.advance()

    def advance(self) -> None:
        """Run the job until it sleeps, asks, or ends."""
        while self.job and self.dialog is None and time.monotonic() >= self.wake:
            try:
                step, self.reply = self.job.send(self.reply), None
            except StopIteration:
                self.job = None
            except Exception as exc:  # a demo must not die on a surprise in the user's files
                self.add(result(f"Error: {exc}", RED))
                self.job = None
            else:
                if isinstance(step, Ask):
                    self.dialog = step
                else:
                    self.wake = time.monotonic() + step / self.speed

    def answer(self, yes: bool) -> None:
        self.dialog, self.reply, self.wake = None, yes, time.monotonic()
        self.advance()

    def interrupt(self) -> None:
        self.job.close()
        self.job, self.dialog = None, None
        self.add(result("Interrupted · What should I do instead?", RED))
        self.add(Line([]))

    def on_key(self, key) -> None:
        if key == "ctrl+d":
            self.quit = True
            return
        armed, self.ctrl_c_armed, self.notice = self.ctrl_c_armed, False, ""
        if self.dialog:
            if key in ("up", "down"):
                self.dialog.choice = 1 - self.dialog.choice
            elif key == "enter":
                self.answer(self.dialog.choice == 0)
            elif key in ("1", "y", "Y"):
                self.answer(True)
            elif key in ("2", "n", "N", "esc", "ctrl+c"):
                self.answer(False)
        elif isinstance(key, tuple):
            self.text += printable(key[1])
        elif key == "enter":
            if self.job:
                self.notice = "  Still working · esc to interrupt"
            elif self.text.strip():
                prompt, self.text = self.text.strip(), ""
                self.start(prompt)
        elif key == "backspace":
            self.text = self.text[:-1]
        elif key == "ctrl+u":
            self.text = ""
        elif key == "esc" and self.job:
            self.interrupt()
        elif key == "ctrl+c":
            if self.job:
                self.interrupt()
            elif self.text:
                self.text = ""
            elif armed:
                self.quit = True
            else:
                self.ctrl_c_armed, self.notice = True, "  Press ctrl+c again to exit"
        elif len(key) == 1:
            self.text += key

    # -- drawing

    def banner(self) -> None:
        self.add(Line([(ACCENT, " ✻ "), (BOLD, "Demo Agent")], " v0.1 · scripted, no API key needed", GREY))
        self.add(Line([(GREY, "   ")], f"style: {self.style} · approvals: {self.ask}", GREY))
        self.add(Line([(GREY, "   ")], str(self.root), GREY))
        self.add(Line([]))
        self.add(Line([(GREY, "   ")], "Tip: ask me to fix the failing test.", GREY))
        self.add(Line([]))

    def bottom(self, width: int, height: int) -> tuple[list[str], int | None]:
        """The rows under the transcript, and the cursor's column on the input row (None: hidden)."""
        if self.dialog:
            ask = self.dialog
            room = max(min(8, height - 11), 0)  # the diff gives way so the question stays on a short screen
            lines = [Line([(BOLD, "Edit file")]), Line([(BLUE, ask.path)]), *ask.preview[:room], Line([]),
                     Line([(BOLD, QUESTION.format(path=ask.path))])]
            for i, option in enumerate(["1. Yes", "2. No, and tell me what to do differently (esc)"]):
                chosen = i == ask.choice
                lines.append(Line([(ACCENT, "❯ " if chosen else "  ")], option, ACCENT if chosen else ""))
            return box(lines, width) + [sgr(GREY, "  enter to confirm · esc to cancel")], None
        if self.job:
            spin = SPINNER[int(time.monotonic() / TICK) % len(SPINNER)]
            seconds = int(time.monotonic() - self.started)
            status = Line([(ACCENT, f"{spin} ")], f"{self.verb}… ({seconds}s · ↓ {self.output_tokens} tokens · "
                          "esc to interrupt)", ACCENT).rows(width)[0]
            hint = "  esc to interrupt"
        else:
            status, hint = sgr(GREY, self.notice), IDLE_HINT
        shown = printable(self.text).replace("\n", " ⏎ ")
        room = max(width - 6, 1)
        while text_width(shown) > room:
            shown = shown[1:]  # show the end of a long input, where the cursor is
        rows = box([Line([(GREY, "> ")], shown)], width)
        return [status, *rows, sgr(GREY, hint)], 4 + text_width(shown)

    def draw(self) -> None:
        """Redraw what changed: only rows that differ from the last frame are written."""
        try:
            width, height = os.get_terminal_size(self.out)
        except OSError:
            width, height = 80, 24
        out = []
        if (width, height) != self.size:
            self.size, self.screen, self.cursor = (width, height), [], None
            out.append("\x1b[0m\x1b[H\x1b[2J")
        bottom, column = self.bottom(width, height)
        rows = [row for line in self.transcript for row in line.rows(width)]
        rows = rows[-max(height - len(bottom), 0):] if height > len(bottom) else []
        rows = (rows + [""] * (height - len(bottom) - len(rows)) + bottom)[-height:]
        rows = [fit(row, width) for row in rows]
        for y, row in enumerate(rows):
            if y >= len(self.screen) or self.screen[y] != row:
                out.append(f"\x1b[{y + 1}H\x1b[2K{row}\x1b[0m")
        self.screen = rows
        title = TITLE_WAITING if self.dialog else TITLE_IDLE
        if self.job and not self.dialog:
            title = f"{TITLE_SPINNER[int(time.monotonic() / TICK) % len(TITLE_SPINNER)]} {TITLE_WORKING}"
        if title != self.title:
            self.title = title
            out.append(f"\x1b]0;{title}\x07")
        cursor = (height - 2, column + 1) if column is not None and height >= 3 else None
        if out or cursor != self.cursor:
            self.cursor = cursor
            out.append(f"\x1b[{cursor[0]};{min(cursor[1], width)}H\x1b[?25h" if cursor else "\x1b[?25l")
            write(self.out, "\x1b[?2026h" + "".join(out) + "\x1b[?2026l")

    def timeout(self) -> float | None:
        if self.job and not self.dialog:
            return max(0.0, min(self.wake - time.monotonic(), TICK))
        return None


def write(fd: int, text: str) -> None:
    data = text.encode("utf-8")
    while data:
        data = data[os.write(fd, data):]


@contextlib.contextmanager
def raw_terminal(fd: int):
    """Raw keys (ctrl+c arrives as a key) and bracketed paste; restore the terminal on the way out."""
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved:
        tty.setraw(fd)
    write(sys.stdout.fileno(), "\x1b[?2004h")
    try:
        yield
    finally:
        write(sys.stdout.fileno(), "\x1b[0m\x1b[?2004l\x1b[?25h\x1b]0;\x07\x1b[999;1H\r\n")
        if saved:
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)


def speed_from_env() -> float:
    try:
        speed = float(os.environ.get("FLEET_DEMO_SPEED", "1"))
    except ValueError:
        return 1.0
    return speed if speed > 0 else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet_tui.demo.agent", description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=["clean", "big", "sloppy"], default="clean")
    parser.add_argument("--prompt", help="start working on this prompt right away")
    parser.add_argument("--ask", choices=["always", "never", "auto"], default="auto",
                        help="ask before editing (auto: only the big style asks)")
    parser.add_argument("--script", type=Path, help="answer prompts from this JSON list of rules (see above)")
    args = parser.parse_args(argv)
    script = None
    if args.script:
        try:
            script = json.loads(args.script.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            parser.error(f"--script {args.script}: {error}")
    agent = Agent(args.style, args.ask, speed_from_env(), Path.cwd(), os.environ.get("FLEET_USAGE_LOG") or None,
                  out=sys.stdout.fileno(), script=script)
    keys_in = sys.stdin.fileno()
    # A resize interrupts select through this pipe; the next draw sees the new size.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGWINCH, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    keys = KeyReader()
    with raw_terminal(keys_in):
        agent.banner()
        if args.prompt and args.prompt.strip():
            agent.start(args.prompt.strip())
        while not agent.quit:
            agent.draw()
            ready, _, _ = select.select([keys_in, wake_r], [], [], agent.timeout())
            if wake_r in ready:
                os.read(wake_r, 512)
            if keys_in in ready:
                try:
                    data = os.read(keys_in, 4096)
                except OSError:  # EIO: the terminal is gone
                    data = b""
                if not data:
                    break
                for key in keys.feed(data):
                    agent.on_key(key)
                    if agent.quit:
                        break
            if agent.job:
                agent.advance()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
