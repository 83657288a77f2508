"""The prompt bar, compare, diff and merge screens: on a recorded run, and end to end on a real fleet."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from textual.widgets import DataTable

from fleet_tui.client import FleetClient
from fleet_tui.demo.repo import create_demo_repo
from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.screens.compare import CompareScreen
from fleet_tui.ui.screens.confirm import ConfirmScreen
from fleet_tui.ui.screens.diff import DiffScreen
from fleet_tui.ui.screens.merge import MergeScreen
from fleet_tui.ui.widgets.prompt_bar import AgentCounter, PromptBar
from fleet_tui.ui.widgets.terminal_pane import TerminalPane

from .conftest import RecordedFleet, until_ready

pytestmark = [pytest.mark.real, pytest.mark.timeout(60)]

SIZE = (160, 50)


async def until(pilot, condition) -> None:
    """Let the app run until `condition()` holds; pytest-timeout bounds the wait."""
    while not condition():
        await pilot.pause(0.05)


async def type_text(pilot, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


async def test_sending_to_several_marked_panes_asks_first(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("1", "m", "2", "m")
        assert "✚" in str(app.pane("claude-1").border_title)
        await pilot.press("slash")
        await type_text(pilot, "run the tests")
        assert app.query_one("#target").value == "marked"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "claude-1, codex-1" in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert fleet.calls_of("fanout") == [], "no broadcast without a yes"
        assert app.query_one(PromptBar).is_open, "the prompt is still there to send or edit"

        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        sent = await fleet.wait_for("fanout")
        assert sent == {"prompt": "run the tests", "sessions": ["claude-1", "codex-1"]}
        await until(pilot, lambda: not app.query_one(PromptBar).is_open)


async def test_new_sessions_take_the_agent_counts_and_grid_keys_stay_off_while_typing(fleet):
    app = FleetApp(fleet)
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot)
        await pilot.press("slash")
        await type_text(pilot, "q1x")  # grid keys: detach, focus, kill; here they are just text
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)
        counters = {counter.agent: counter for counter in app.query(AgentCounter)}
        counters["claude"].focus()
        await pilot.press("2")
        counters["aider"].focus()
        await pilot.press("minus")
        await pilot.press("ctrl+s")
        sent = await fleet.wait_for("fanout")
        assert sent == {"prompt": "q1x", "agents": ["claude", "claude", "codex"]}, "new sessions need no confirmation"
        await until(pilot, lambda: len(app.query(TerminalPane)) == 7)


# ------------------------------------------------------------------ the real thing

FLEET_YAML = textwrap.dedent(
    """\
    checks:
      tests: "{python} -m unittest -q"
    agents:
      careful: {preset: demo, args: [--style, clean], auto_approve: true}
      hasty: {preset: demo, args: [--style, sloppy], auto_approve: true}
    """
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def demo(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("FLEET_DEMO_SPEED", "40")
    (tmp_path / "run").mkdir()
    repo = create_demo_repo(tmp_path / "calc")
    (repo / "fleet.yaml").write_text(FLEET_YAML)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "test fleet")
    yield repo
    subprocess.run([sys.executable, "-m", "fleet_tui", "down"], cwd=repo, capture_output=True, timeout=30)


async def test_fan_out_compare_diff_and_squash_merge_the_best_on_a_real_fleet(demo):
    app = FleetApp(lambda: FleetClient.connect(demo))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.agents)
        await pilot.press("slash")
        await type_text(pilot, "fix the median bug")
        await pilot.press("ctrl+s")
        sessions = ["r1-careful", "r1-hasty"]
        await until(pilot, lambda: [pane.session for pane in app.query(TerminalPane)] == sessions)

        def finished(name: str) -> bool:
            return app.sessions[name].status in ("idle", "done") and "Cost: $" in "\n".join(app.mirrors[name].text())

        await until(pilot, lambda: all(finished(name) for name in sessions))

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.result is not None)
        compare = app.screen
        assert [a.session for a in compare.result.attempts] == sessions, "passing tests rank first"
        table = compare.query_one(DataTable)
        assert [str(cell) for cell in table.get_row("r1-careful")][-1] == "pass"
        assert [str(cell) for cell in table.get_row("r1-hasty")][-1] == "FAIL"

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and "r1-careful" in app.screen.diffs)
        diff = app.screen.diffs["r1-careful"]
        assert list(diff)[1:] == ["calc.py"]
        assert "+    return (ordered[mid - 1] + ordered[mid]) / 2" in diff["calc.py"]
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "r1-hasty" in app.screen.diffs)
        await pilot.press("escape")

        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MergeScreen) and app.screen.summary is not None)
        assert app.screen.summary.discard == ["r1-hasty"]
        await pilot.click("#squash")
        await pilot.click("#confirm")
        await until(pilot, lambda: not isinstance(app.screen, (MergeScreen, CompareScreen)))
        await until(pilot, lambda: not app.sessions)
        await pilot.press("q")

    # The winner's fix is on main as one squashed commit; the loser is gone.
    assert git(demo, "rev-list", "--parents", "-n", "1", "main").count(" ") == 1, "squash: a single parent"
    tests = subprocess.run([sys.executable, "-m", "unittest", "-q"], cwd=demo, capture_output=True)
    assert tests.returncode == 0, tests.stderr
    assert "fleet/r1-hasty" not in git(demo, "branch", "--list", "fleet/*")
