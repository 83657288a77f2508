"""A prompt's Enter is a key of its own: sent once the agent has drawn what was typed.

Gemini CLI takes an Enter that arrives before it has handled the paste as a newline inside
the prompt, and on a loaded machine a fixed pause was not always enough: the prompt sat
unsent. The agent below draws a paste only after 0.3 s and does what Gemini does with an
Enter that comes before that.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

SLOW_DRAWER = textwrap.dedent('''\
    import os, select, sys, time, tty
    tty.setraw(0)
    os.write(1, b"\\x1b[?2004h> ")
    text, draw_at, drawn = b"", None, False
    while True:
        ready, _, _ = select.select([0], [], [], 0.02)
        if draw_at is not None and not drawn and time.monotonic() >= draw_at:
            os.write(1, text)
            drawn = True
        if not ready:
            continue
        data = os.read(0, 4096)
        if data.startswith(b"\\x1b[200~"):
            text, draw_at, drawn = data[6:].split(b"\\x1b[201~")[0], time.monotonic() + 0.3, False
        elif data == b"\\r":
            os.write(1, b"\\r\\nSUBMITTED: " + text + b"\\r\\n> " if drawn else b" [a newline, not a submit]")
''')


@pytest.fixture
def slow(tmp_path, runtime_dir):
    (tmp_path / "slow_drawer.py").write_text(SLOW_DRAWER)
    fleet_yaml = f"agents:\n  slow:\n    command: [python3, {tmp_path / 'slow_drawer.py'}]\n"
    cli = FleetCli(make_repo(tmp_path / "repo", fleet_yaml), runtime_dir)
    yield cli
    cli.shut_down()


def test_the_enter_waits_for_the_agent_to_draw_the_prompt(slow):
    slow.run("start", "slow")
    slow.wait_screen("slow", ">")
    slow.run("send", "slow", "fix the median")
    screen = slow.wait_screen("slow", "SUBMITTED: fix the median")
    assert "a newline, not a submit" not in screen
