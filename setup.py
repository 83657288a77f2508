"""Builds the optional C fast path of the terminal emulator (fleet_tui/core/_fastterm.c).

Everything else is declared in pyproject.toml. optional=True: without a C compiler or
Python headers the install still succeeds and Terminal uses its pure-Python path.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "fleet_tui/core/_fastterm.c"
# The module remembers the source it was built from, so terminal.py can refuse a stale build.
digest = hashlib.sha256(Path(__file__).with_name("fleet_tui").joinpath("core", "_fastterm.c").read_bytes()).hexdigest()

setup(ext_modules=[Extension("fleet_tui.core._fastterm", [SOURCE], optional=True,
                             define_macros=[("FASTTERM_SOURCE", f'"{digest}"')])])
