"""Busy panes written straight to a real terminal (ui/direct_draw.py) never draw over a dialog.

Four agents print coloured lines without pause; the real `fleet-tui` runs in tmux. The key help
(a screen over the grid) must stay whole while they print, and the panes go on once it closes.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.tmux import Terminal
from tests.fleet.conftest import FleetCli, make_repo

pytestmark = [pytest.mark.real, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

STREAM = ("import itertools, time\\nfor i in itertools.count():\\n"
          "    print(chr(27) + '[3' + str(i % 7 + 1) + 'mline ' + str(i) + chr(27) + '[0m', flush=True)\\n"
          "    time.sleep(0.02)")
FLEET = textwrap.dedent(
    f"""\
    agents:
      s1:
        command: [python3, -u, -c, "{STREAM}"]
      s2:
        command: [python3, -u, -c, "{STREAM}"]
      s3:
        command: [python3, -u, -c, "{STREAM}"]
      s4:
        command: [python3, -u, -c, "{STREAM}"]
    """
)


def _count(screen: str) -> int:
    return max((int(n) for n in re.findall(r"line (\d+)", screen)), default=-1)


def test_streaming_panes_never_draw_over_the_key_help(tmp_path):
    runtime = Path(tempfile.mkdtemp(prefix="fe-"))  # short: unix socket paths are limited
    cli = FleetCli(make_repo(tmp_path / "repo", FLEET), runtime)
    tui = Terminal(cli.env, cli.repo, 120, 40)
    try:
        tui.run()
        tui.wait("s1", "s2", "s3", "s4", "line 5", footer=" NAV ", timeout=60)
        tui.keys("?")
        tui.wait("Keys", "steer", footer=" esc close", timeout=20)
        time.sleep(0.5)  # the help is up; the panes around and under it print ~50 lines a second each
        first = tui.screen().splitlines()
        top = next(y for y, line in enumerate(first) if "█▀▀" in line)
        left, right = first[top].index("█▀"), first[top].rindex("▀█") + 2
        bottom = next(y for y, line in enumerate(first) if "▄▄█" in line)

        def box(lines: list[str]) -> list[str]:
            return [line[left:right] for line in lines[top:bottom + 1]]

        assert "line " not in "".join(box(first)) and _count("".join(first)) >= 0
        for _ in range(8):
            time.sleep(0.25)
            now = tui.screen().splitlines()
            # The panes beside the help go on (their rows change); inside it, nothing wrote a cell.
            assert box(now) == box(first), "\n".join(now)
        assert _count("\n".join(now)) > _count("\n".join(first)), "the panes around the help stood still"
        tui.keys("Escape")
        first = _count(tui.wait(footer=" NAV ", timeout=20))
        deadline = time.monotonic() + 20
        while _count(tui.screen()) <= first + 20:
            assert time.monotonic() < deadline, "the panes stopped drawing after the help closed"
            time.sleep(0.2)
    finally:
        tui.close()
        cli.shut_down()
        shutil.rmtree(runtime, ignore_errors=True)
