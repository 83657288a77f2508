"""The private runtime folder and a repository's socket names, with nothing but `os` imported.

`fleet-tui` with no command starts as a thin launcher (fleet_tui/launch.py) that must find the
warm UI process's socket in a few milliseconds, before pydantic, pathlib or Textual load; the
server, the CLI and the launcher all name their sockets here so they cannot disagree.
"""

import os
import stat

try:  # the C sha256 alone: hashlib loads OpenSSL (~3 ms) for the same digest
    from _sha256 import sha256  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.12 renamed it _sha2
    from hashlib import sha256


def runtime_folder() -> str:
    """$XDG_RUNTIME_DIR/fleet-tui (else <tmp>/fleet-tui-UID): made 0700 if missing, refused if not the user's."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        folder = os.path.join(base, "fleet-tui")
    else:
        import tempfile

        folder = os.path.join(tempfile.gettempdir(), f"fleet-tui-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    info = os.stat(folder)
    if info.st_uid != os.getuid():
        from fleet_tui.errors import FleetError

        raise FleetError(f"{folder} belongs to another user: set XDG_RUNTIME_DIR to a private folder")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)
    return folder


def repo_key(root: str) -> str:
    """A short name for the repository whose top folder is `root` (already resolved)."""
    return sha256(root.encode()).hexdigest()[:16]


def server_socket(root: str) -> str:
    return os.path.join(runtime_folder(), f"{repo_key(root)}.sock")


def warm_ui_socket(root: str) -> str:
    """Where the repository's warm UI process (fleet_tui/ui/warm.py) waits for `fleet-tui`."""
    return os.path.join(runtime_folder(), f"{repo_key(root)}.ui.sock")
