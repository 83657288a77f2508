"""The latest comparison of each run, kept on disk so it outlives the server.

A compare runs every check in every worktree and reads each attempt's time and spend
from its live session; after a crash or a restart those sessions are gone, and so would
be what was measured. Each result is written atomically (core/session_store.py) and
privately (it holds the run's prompt and the checks' output) to
`<git dir>/fleet/compare/<run>.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet_tui.names import check_name
from fleet_tui.core.session_store import write_private
from fleet_tui.errors import UsageError


def _path(state_dir: Path, run_id: str) -> Path:
    folder = state_dir / "compare"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{check_name(run_id, 'run')}.json"


def save(state_dir: Path, result: dict[str, Any]) -> None:
    write_private(_path(state_dir, result["run"]), json.dumps(result).encode())


def load(state_dir: Path, run_id: str) -> dict[str, Any]:
    """The run's latest comparison; UsageError when it was never compared (or the file is unreadable)."""
    try:
        return json.loads(_path(state_dir, run_id).read_text())
    except (OSError, ValueError):
        raise UsageError(f"run {run_id} has not been compared yet: `fleet-tui compare {run_id}` runs "
                         "its checks") from None
