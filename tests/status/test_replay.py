"""Replay the real recorded agent sessions with their timings and check the detected status.

The recordings (asciicast v2) hold every byte Claude Code, Codex and aider drew
during one prompt: start-up, the typed prompt, the streamed reply, the return
to the input box. Time is the recording's own clock, so no test sleeps.
"""

import json
from pathlib import Path

import pytest

from fleet_tui.config import parse_config
from fleet_tui.core.agent_spec import resolve_agent
from fleet_tui.core.status import StatusDetector
from fleet_tui.core.terminal import Terminal

RECORDINGS = Path("/work/shared/recordings")
pytestmark = pytest.mark.skipif(not RECORDINGS.is_dir(), reason="the shared recordings are not on this machine")


def rules_for(preset: str) -> dict:
    """The status rules exactly as the orchestrator gets them: fleet.yaml -> AgentSpec.status_rules."""
    config = parse_config(f"agents:\n  a:\n    preset: {preset}\n")
    return resolve_agent(config, "a").status_rules


def replay(cast: str, preset: str, times: list[float]) -> dict[float, tuple[str, str]]:
    """Feed the recording's output into the emulator; ask the detector at each of `times`."""
    lines = (RECORDINGS / cast).read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    events = [json.loads(line) for line in lines[1:]]
    term = Terminal(header["width"], header["height"])
    detector = StatusDetector(rules_for(preset))
    answers, pending = {}, sorted(times)
    for at, kind, data in events + [[float("inf"), "o", ""]]:
        while pending and pending[0] < at:
            now = pending.pop(0)
            markers = [text if num == 7501 else f"{num};{text}" for num, text in term.take_osc()]
            answers[now] = detector.decide(now, term.display(), term.title, markers)
        if kind == "o" and data:
            term.feed(data)
            detector.on_output(at)
        elif kind == "i":
            detector.prompted = True  # a prompt is being typed (its keys' timing is tests/status/test_echo.py's)
    return answers


def test_claude_idle_at_the_prompt_working_while_replying_idle_after():
    # Prompt typed 2.60-3.39, Enter at 3.91, reply streamed until 6.51, /exit at 8.52.
    got = replay("claude-session.cast", "claude", [0.5, 2.5, 4.5, 5.5, 6.3, 8.4])
    assert got[0.5] == ("starting", "no output yet")
    assert got[2.5] == ("idle", 'title "✳ Claude Code" matches title_idle')
    assert got[4.5][0] == "working" and "title_working" in got[4.5][1]
    assert got[5.5][0] == "working"
    assert got[6.3][0] == "working"
    assert got[8.4] == ("idle", 'title "✳ Mock scripted session" matches title_idle')


def test_codex_follows_its_osc_state_markers():
    # Enter at 3.39; Codex announces state=working at 3.39 and state=done at 4.35.
    got = replay("codex-session.cast", "codex", [0.1, 2.0, 3.7, 4.2, 5.2, 6.2])
    assert got[0.1] == ("starting", "no output yet")
    assert got[2.0] == ("idle", "OSC 7501 state=idle")
    assert got[3.7] == ("working", "OSC 7501 state=working")
    assert got[4.2] == ("working", "OSC 7501 state=working")
    assert got[5.2] == ("idle", "OSC 7501 state=done")
    assert got[6.2] == ("idle", "OSC 7501 state=done")


def test_aider_by_its_input_prompt_and_output_activity():
    # aider sets no title: starting until its "diff>" prompt shows (3.07), idle at the empty
    # prompt, working while the reply streams (5.07-7.03), idle when the empty prompt is back.
    got = replay("aider-session.cast", "aider", [0.5, 2.0, 3.9, 5.5, 6.5, 7.5, 8.4])
    assert got[0.5] == ("starting", "no output yet")
    assert got[2.0] == ("starting", "the input box (ready) has not shown yet")
    assert got[3.9][0] == "idle" and "idle_screen" in got[3.9][1]
    assert got[5.5] == ("working", "output 0.2 s ago (idle after 1.5 s)")
    assert got[6.5][0] == "working"
    assert got[7.5][0] == "idle"
    assert got[8.4][0] == "idle"


def test_a_plain_command_goes_by_activity_alone():
    # The last output of aider's reply is at 7.027 s; the next (typing /exit) at 8.543 s.
    got = replay("aider-session.cast", "shell", [0.5, 2.5, 5.5, 8.4, 8.54])
    assert got[0.5] == ("starting", "no output yet")
    assert got[2.5] == ("idle", "no output for 1.7 s (idle after 1.5 s)")
    assert got[5.5][0] == "working"
    assert got[8.4] == ("working", "output 1.4 s ago (idle after 1.5 s)")
    assert got[8.54] == ("idle", "no output for 1.5 s (idle after 1.5 s)")
