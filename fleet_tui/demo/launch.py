"""`fleet-tui demo`: a throwaway repository, a fleet of demo agents, a fan-out under way, the TUI.

The demo lives in the user's cache folder, never in one of their repositories,
and `fleet-tui demo --clean` stops it and removes every file it made.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from fleet_tui.client import FleetClient
from fleet_tui.core.worktree import default_worktree_folder
from fleet_tui.demo.repo import create_demo_repo
from fleet_tui.errors import FleetError

DEMO_PROMPT = "The median test fails: find the bug in calc.py, fix it, and run the tests."


def demo_home() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "fleet-tui" / "demo"


def demo_repo() -> Path:
    return demo_home() / "calc"


async def _stop_server(root: Path) -> None:
    try:
        client = await FleetClient.connect(root, start_server=False)
    except FleetError:
        return
    try:
        await client.stop_server()
    finally:
        await client.close()


async def _start_fanout(root: Path) -> str | None:
    """Start the demo run unless one already exists (running `demo` twice reattaches)."""
    client = await FleetClient.connect(root)
    try:
        sessions = (await client.status()).sessions
        if sessions:
            return None
        return (await client.fanout(DEMO_PROMPT)).run
    finally:
        await client.close()


def clean_demo() -> int:
    root = demo_repo()
    if root.exists():
        asyncio.run(_stop_server(root))
    worktrees = default_worktree_folder(root)
    for folder in (worktrees, demo_home()):
        shutil.rmtree(folder, ignore_errors=True)
    print(f"removed the demo ({demo_home()})")
    return 0


def run_demo(*, clean: bool = False, open_tui: bool = True) -> int:
    if clean:
        return clean_demo()
    root = demo_repo()
    if not (root / ".git").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        create_demo_repo(root)
    run = asyncio.run(_start_fanout(root))
    if not open_tui:
        print(f"demo repository: {root}")
        print(f"run {run} started" if run else "the demo fleet is already running")
        print(f"try: cd {root} && fleet-tui")
        return 0
    from fleet_tui.ui.app import run_tui

    return run_tui(root)
