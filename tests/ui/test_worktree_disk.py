"""The TUI shows each session's $PORT in its pane title and the worktrees' disk use in the budgets
panel, from a real fleet server."""

from __future__ import annotations

import pytest

from fleet_tui.client import FleetClient
from fleet_tui.ui.app import FleetApp
from fleet_tui.ui.widgets.budget_meters import BudgetMeters
from fleet_tui.ui.widgets.terminal_pane import TerminalPane

from .conftest import until_ready
from .test_real_server import SIZE, repo, start_shell, until  # noqa: F401  (repo is a fixture)

pytestmark = [pytest.mark.real, pytest.mark.timeout(60)]


async def test_pane_title_has_the_port_and_the_budgets_panel_the_worktrees_disk_use(repo):
    session = await start_shell(repo)
    client = await FleetClient.connect(repo)
    try:
        port = (await client.call("status"))["sessions"][0]["port"]
        worktree = (await client.call("status"))["sessions"][0]["worktree"]
    finally:
        await client.close()
    (repo.parent / "repo.worktrees" / session / "data.bin").write_bytes(b"x" * 3_000_000)

    app = FleetApp(lambda: FleetClient.connect(repo))
    async with app.run_test(size=SIZE) as pilot:
        await until_ready(pilot, 1)
        pane = app.query_one(TerminalPane)
        await until(pilot, lambda: f":{port}" in str(pane.border_title))
        meters = app.query_one(BudgetMeters)
        await until(pilot, lambda: bool(meters.border_subtitle))
        assert meters.border_subtitle.startswith("worktrees ")
        assert meters.border_subtitle.endswith("M"), "a 3 MB file in the session's worktree shows"
        assert worktree.endswith(session)
        await pilot.press("q")


async def test_disk_use_is_walked_at_most_every_so_often_and_again_when_worktrees_come_or_go(repo):
    session = await start_shell(repo)
    client = await FleetClient.connect(repo)
    try:
        first = await client.call("worktree_disk")
        assert first["worktrees"] == 1
        (repo.parent / "repo.worktrees" / session / "data.bin").write_bytes(b"x" * 3_000_000)
        assert await client.call("worktree_disk") == first, "cached: not walked on every call"
        await client.call("start", agents=["shell"])
        second = await client.call("worktree_disk")
        assert second["worktrees"] == 2 and second["bytes"] > first["bytes"] + 3_000_000
        await client.call("discard", session=session)
        third = await client.call("worktree_disk")
        assert third["worktrees"] == 1 and third["bytes"] < second["bytes"] - 3_000_000
    finally:
        await client.close()
