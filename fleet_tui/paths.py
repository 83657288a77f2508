"""Where a repository's fleet files are: its config file, and the socket its server listens on.

The socket lives in a private runtime folder (mode 0700, owned by the user) so
only its user can reach it, under a short name: unix socket paths are limited
to ~108 bytes and repositories can sit in deep folders.
"""

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from fleet_tui.errors import FleetError

CONFIG_NAME = "fleet.yaml"  # at the top of the repository (fleet_tui/config.py is its schema)


def runtime_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(base) / "fleet-tui" if base else Path(tempfile.gettempdir()) / f"fleet-tui-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid():
        raise FleetError(f"{folder} belongs to another user: set XDG_RUNTIME_DIR to a private folder")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)
    return folder


def socket_path(root: Path) -> Path:
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return runtime_dir() / f"{digest}.sock"
