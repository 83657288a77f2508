"""Builds the optional C fast path of the terminal emulator (fleet_tui/core/_fastterm.c).

Everything else is declared in pyproject.toml. optional=True: without a C compiler or
Python headers the install still succeeds and Terminal uses its pure-Python path.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("fleet_tui.core._fastterm", ["fleet_tui/core/_fastterm.c"], optional=True)])
