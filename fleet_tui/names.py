"""Names of agents and sessions end up in paths and branch names, so they are kept tame."""

import re
from pathlib import Path

from fleet_tui.errors import UsageError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def check_name(name: str, what: str = "agent") -> str:
    """Return `name` if it is safe as a folder and branch component, else raise UsageError."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise UsageError(
            f"{what} name {name!r} is not allowed: use 1-40 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def path_inside(folder: Path, name: str) -> Path:
    """The path of `name` inside `folder`, refusing anything that would land elsewhere."""
    check_name(name, "session")
    folder = folder.resolve()
    path = (folder / name).resolve()
    if path.parent != folder:
        raise UsageError(f"session name {name!r} would escape {folder}")
    return path
