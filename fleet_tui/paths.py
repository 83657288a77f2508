"""Where a repository's fleet files are: its config file, and the socket its server listens on.

The socket lives in a private runtime folder (mode 0700, owned by the user) so
only its user can reach it, under a short name: unix socket paths are limited
to ~108 bytes and repositories can sit in deep folders.
"""

from pathlib import Path

from fleet_tui import rundir

CONFIG_NAME = "fleet.yaml"  # at the top of the repository (fleet_tui/config.py is its schema)


def runtime_dir() -> Path:
    return Path(rundir.runtime_folder())


def socket_path(root: Path) -> Path:
    return Path(rundir.server_socket(str(root.resolve())))


def warm_ui_socket_path(root: Path) -> Path:
    return Path(rundir.warm_ui_socket(str(root.resolve())))
