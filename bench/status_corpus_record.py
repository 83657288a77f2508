"""Record the labelled status corpus (tests/status/corpus/) from the real agent CLIs.

Each CLI runs offline in a real pty (a fleet_tui Session, with its preset's hooks installed)
against the scripted model endpoint (tests/agents/model_endpoint.py), through three turns:

  1. prompt -> a silent model wait (3 s) -> a tool that asks permission -> the dialog shows ->
     approved 1.5 s later -> the tool runs -> the closing reply -> the turn ends -> ack;
  2. prompt -> the model stays silent -> interrupted in the pane 2.5 s later (Escape; Ctrl-C
     for aider) -> ack;
  3. prompt -> a long silent model wait (8 s) -> the reply streams -> the turn ends -> ack.

Recorded: every chunk of output, key, prompt, ack and hook event line with its time. Labelled
from what really happened, not from fleet_tui: starting from the spawn until the CLI's input box
(its preset's `ready`) first shows, idle from then; working from the prompt's Enter; waiting from
the first output that puts the dialog on the screen; working from the approving key; done from
the model's last byte (for aider, which has no end-of-turn request, the input prompt coming
back); idle from the interrupting key and from each ack.

  python -m bench.status_corpus_record [--agents claude,codex,aider,gemini] [--out tests/status/corpus] [--take 2]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from fleet_tui.config import parse_config
from fleet_tui.core.agent_spec import resolve_agent
from fleet_tui.config import Budget
from fleet_tui.core.prompt_delivery import PROMPT_ENTER_DELAY
from fleet_tui.core.hooks import HookChannel, install_args
from fleet_tui.core.keys import encode_key, encode_paste
from fleet_tui.core.session import Session, SessionRecord
from tests.agents import model_endpoint as model
from tests.agents import offline
from tests.agents.conftest import find_cli, kill_processes_with_home
from tests.status.corpus import CORPUS, Recording, startup_labels

COLS, ROWS = 120, 40
DIALOG = {"claude": "Do you want to create", "codex": "Would you like to run the following command?",
          "aider": "(Y)es/(N)o", "gemini": "Apply this change?"}
INTERRUPT = {"claude": ["escape"], "codex": ["escape"], "aider": ["ctrl+c"], "gemini": ["escape"]}
AIDER_PROMPT = re.compile(r"^[\w-]*>\s*$")
SILENT, ANSWER_AFTER, INTERRUPT_AFTER, LONG_WAIT, AFTER_TURN = 3.0, 1.5, 2.5, 8.0, 3.0


class RecordingSession(Session):
    """A real Session that writes down everything that happens to it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.t0 = time.monotonic()
        self.events: list[list] = []
        self.watches: dict[str, float | None] = {}

    def at(self) -> float:
        return round(time.monotonic() - self.t0, 4)

    def _output(self, text: str) -> None:
        self.events.append([self.at(), "o", text])
        super()._output(text)
        if any(seen is None for seen in self.watches.values()):
            screen = self.terminal.display()
            for phrase, seen in self.watches.items():
                if seen is None and _shows(phrase, screen):
                    self.watches[phrase] = self.events[-1][0]

    def type(self, data: bytes) -> None:
        self.events.append([self.at(), "i", data.decode()])
        super().type(data)

    def write(self, data: bytes) -> None:
        if not (self.events and self.events[-1][1] == "i" and self.events[-1][2].encode() == data):
            self.events.append([self.at(), "w", data.decode()])
        super().write(data)

    def prompted(self) -> None:
        self.events.append([self.at(), "p", ""])
        super().prompted()

    def ack(self) -> bool:
        self.events.append([self.at(), "a", ""])
        return super().ack()


def _shows(phrase: str, screen: list[str]) -> bool:
    if phrase == "aider-prompt":
        drawn = [row for row in screen if row.strip()]
        return bool(drawn) and AIDER_PROMPT.match(drawn[-1]) is not None
    return any(phrase in row for row in screen)


class HookTail:
    """Reads the hook file as the CLI writes it, every 10 ms, keeping each line's time."""

    def __init__(self, channel: HookChannel, session: RecordingSession) -> None:
        self.channel, self.session, self.offset = channel, session, 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            data = self.channel.path.read_bytes()
            end = data.rfind(b"\n") + 1
            if end > self.offset:
                for line in data[self.offset:end].decode("utf-8", "replace").splitlines():
                    _, label, *payload = line.split("\t", 2) + [""]
                    self.session.events.append([self.session.at(), "h", f"{label}\t{payload[0][:1500]}"])
                self.offset = end


class Driver:
    def __init__(self, agent: str, session: RecordingSession, endpoint: model.ModelEndpoint, worktree: Path):
        self.agent, self.session, self.endpoint, self.worktree = agent, session, endpoint, worktree
        self.labels: list[list] = []

    def label(self, t: float, status: str) -> None:
        self.labels.append([round(t, 4), status])

    async def until(self, what: str, check, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.agent}: {what} never happened:\n" + "\n".join(self.session.terminal.display()))
            await asyncio.sleep(0.01)

    async def ready(self) -> None:
        spec_ready = re.compile(self.session.status_rules["ready"])
        await self.until("the input box", lambda: any(spec_ready.search(r) for r in self.session.terminal.display()))
        await self.quiet(1.5)

    async def quiet(self, seconds: float) -> None:
        await self.until("quiet output", lambda: time.monotonic() - (self.session.detector.any_output or 0) > seconds)

    async def keys(self, *keys: str) -> float:
        data = b"".join(encode_key(k, self.session.terminal.modes()) for k in keys)
        self.session.type(data)
        return self.session.at()

    async def prompt(self, text: str) -> float:
        """Typed as the fleet types a prompt (core/fleet.py _type_prompt); returns the Enter's time."""
        before = len(self.endpoint.scripted_requests())
        session = self.session
        if session.terminal.modes().get("bracketed_paste"):
            session.type(encode_paste(text, True))
        else:
            session.type(text.encode())
        # Longer than the fleet's PROMPT_ENTER_DELAY: Gemini CLI takes an Enter within ~40 ms (more
        # on a loaded machine) of a paste as a newline, and this records status, not delivery.
        await asyncio.sleep(max(PROMPT_ENTER_DELAY, 0.3))
        session.write(b"\r")
        enter = session.at()
        session.prompted()
        deadline = time.monotonic() + 4.0
        while len(self.endpoint.scripted_requests()) <= before and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if len(self.endpoint.scripted_requests()) <= before:
            # Codex on a loaded machine can take the Enter as part of the paste: submit again.
            enter = await self.keys("enter")
            await self.until("the prompt's request", lambda: len(self.endpoint.scripted_requests()) > before)
        return enter

    def watch(self, phrase: str) -> None:
        self.session.watches[phrase] = None

    async def seen(self, phrase: str, timeout: float = 60.0) -> float:
        await self.until(f"{phrase!r} on screen", lambda: self.session.watches.get(phrase) is not None, timeout)
        return self.session.watches.pop(phrase)

    async def ack(self) -> None:
        self.session.ack()
        self.label(self.session.at(), "idle")

    def mono(self, t: float) -> float:
        return round(t - self.session.t0, 4)

    async def permission_turn(self) -> None:
        gate = threading.Event()
        path = self.worktree / "made.txt"
        if self.agent == "gemini":
            first = model.tool("write_file", {"file_path": str(path), "content": "made\n"},
                               usage=model.Usage(1000, 50), gate=gate)
        elif self.agent == "claude":
            first = model.tool("Write", {"file_path": str(path), "content": "made\n"}, say="Writing it.",
                               usage=model.Usage(1000, 50), gate=gate)
        elif self.agent == "codex":
            first = model.tool("exec_command", {"cmd": "touch made.txt", "sandbox_permissions": "require_escalated",
                                                "justification": "recording the corpus"},
                               usage=model.Usage(1000, 50), gate=gate)
        else:
            first = model.text("I will change notes.txt.\n\nnotes.txt\n```\n<<<<<<< SEARCH\nhello\n=======\n"
                               "hello world\n>>>>>>> REPLACE\n```\n", gate=gate, chunks=6)
        closing = [model.text("Done: made.txt is there.", usage=model.Usage(1200, 20))]
        if self.agent == "aider":
            # aider offers to add the file the reply names to the chat, then asks again with it.
            closing = [model.text(first.text, chunks=6)]
        self.endpoint.script(first, *closing)
        before = len(self.endpoint.scripted_requests())
        self.label(await self.prompt("make the file"), "working")
        await asyncio.sleep(SILENT)
        self.watch(DIALOG[self.agent])
        gate.set()
        self.label(await self.seen(DIALOG[self.agent]), "waiting")
        await asyncio.sleep(ANSWER_AFTER)
        if self.agent == "aider":
            self.watch("aider-prompt")
        self.label(await self.keys("enter"), "working")
        if self.agent == "aider":
            await self.until("the edit", lambda: (self.worktree / "notes.txt").read_text() == "hello world\n")
            self.label(await self.seen("aider-prompt"), "done")
        else:
            def closed() -> bool:
                requests = self.endpoint.scripted_requests()[before:]
                return len(requests) > 1 and requests[1].finished is not None
            await self.until("the closing reply", closed)
            self.label(self.mono(self.endpoint.scripted_requests()[before + 1].finished), "done")
        await asyncio.sleep(AFTER_TURN)
        await self.ack()

    async def interrupted_turn(self) -> None:
        gate = threading.Event()
        self.endpoint.script(model.text("This answer is never sent.", gate=gate))
        self.label(await self.prompt("take your time"), "working")
        await asyncio.sleep(INTERRUPT_AFTER)
        self.label(await self.keys(*INTERRUPT[self.agent]), "idle")
        await asyncio.sleep(AFTER_TURN)
        gate.set()
        await self.quiet(1.0)
        await self.ack()

    async def long_wait_turn(self) -> None:
        self.endpoint.script(model.text("Thought about it for a long time: all fine here.", delay=LONG_WAIT,
                                        usage=model.Usage(800, 30), chunks=5))
        before = len(self.endpoint.scripted_requests())
        if self.agent == "aider":
            self.watch("aider-prompt")
        self.label(await self.prompt("think hard"), "working")
        if self.agent == "aider":
            await asyncio.sleep(LONG_WAIT)
            self.label(await self.seen("aider-prompt"), "done")
        else:
            await self.until("the reply", lambda: (self.endpoint.scripted_requests()[before:] or [None])[0] is not None
                             and self.endpoint.scripted_requests()[before].finished is not None)
            self.label(self.mono(self.endpoint.scripted_requests()[before].finished), "done")
        await asyncio.sleep(AFTER_TURN)
        await self.ack()


def _version(exe: str) -> str:
    try:
        return subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()[:80]
    except (OSError, subprocess.SubprocessError):
        return "?"


async def record(agent: str) -> Recording:
    exe = find_cli(agent)
    if exe is None:
        raise SystemExit(f"{agent} is not installed (scripts/install-agent-clis.sh)")
    root = Path(tempfile.mkdtemp(prefix="fsc-"))
    endpoint = model.ModelEndpoint().start()
    session = None
    try:
        worktree = root / "w"
        worktree.mkdir()
        (worktree / "notes.txt").write_text("hello\n")
        for argv in (["init", "-q"], ["config", "user.name", "T"], ["config", "user.email", "t@e"], ["add", "."],
                     ["commit", "-qm", "x"]):
            subprocess.run(["git", "-C", str(worktree), *argv], check=True)
        home = root / "home"
        if agent == "aider":
            setup = offline.aider(home, endpoint.url)
            setup.args += ["--no-auto-commits"]
        else:
            setup = {"claude": offline.claude, "codex": offline.codex, "gemini": offline.gemini}[agent](
                home, endpoint.url, [worktree])
        spec = resolve_agent(parse_config("agents:\n" + setup.yaml("a")), "a")
        # Gemini CLI has no hooks fleet_tui installs: the file stays empty, the screen says it all.
        channel = HookChannel(root / "state", spec.preset.hooks.events, spec.preset.hooks.ignore)
        argv = spec.argv(None)
        argv[len(spec.command):len(spec.command)] = install_args(spec.preset.hooks, channel)
        session = RecordingSession(
            SessionRecord(agent, agent, "b", str(worktree), "0"), argv=[exe, *argv[1:]],
            env=spec.env(dict(__import__("os").environ)), status_rules=spec.status_rules, budget=Budget(),
            usage_format="none", usage_log=root / "usage.jsonl", cols=COLS, rows=ROWS, hooks=channel)
        session.start()
        session.t0 = time.monotonic()
        session.events.clear()
        tail = asyncio.get_running_loop().create_task(HookTail(channel, session).run())
        driver = Driver(agent, session, endpoint, worktree)
        await driver.ready()
        driver.label(session.at(), "idle")
        await driver.permission_turn()
        await driver.interrupted_turn()
        await driver.long_wait_turn()
        tail.cancel()
        events = list(session.events)  # not what the CLI prints as it is stopped
        meta = {"preset": agent, "cli": _version(exe), "cols": COLS, "rows": ROWS,
                "recorded": time.strftime("%Y-%m-%d"),
                "turns": ["permission", "interrupted", "long silent wait"]}
        recording = Recording(agent, meta, events, driver.labels, agent)
        recording.labels = startup_labels(recording) + recording.labels
        return recording
    finally:
        if session is not None and session.alive:
            await session.kill()
        endpoint.stop()
        kill_processes_with_home([root / "home"])
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="claude,codex,aider,gemini")
    parser.add_argument("--out", type=Path, default=CORPUS)
    parser.add_argument("--take", default="", help="a second recording of an agent: saved as AGENT-TAKE.json.gz")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for agent in args.agents.split(","):
        recording = asyncio.run(record(agent))
        path = args.out / f"{agent}{'-' + args.take if args.take else ''}.json.gz"
        recording.save(path)
        print(f"{agent}: {len(recording.events)} events, {len(recording.labels)} labels, "
              f"{path.stat().st_size // 1024} KB -> {path}")


if __name__ == "__main__":
    main()
