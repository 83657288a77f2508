"""The modules listed here are type-clean: mypy finds nothing in them (and a new error fails here)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.real  # runs mypy in a process of its own

ROOT = Path(__file__).resolve().parent.parent
# The engine and the config schema below it (the wire models and the client join as they become clean).
TYPED = [
    "fleet_tui/core",
    "fleet_tui/config.py",
    "fleet_tui/yamlload.py",
    "fleet_tui/names.py",
    "fleet_tui/presets",
    "fleet_tui/pipeline_config.py",
    "fleet_tui/errors.py",
    "fleet_tui/text.py",
    "fleet_tui/paths.py",
    "fleet_tui/scope.py",
    "fleet_tui/initcmd.py",
    "fleet_tui/machines.py",
    "fleet_tui/ssh.py",
    "fleet_tui/backlog.py",
]


def mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_the_typed_modules_are_clean():
    pytest.importorskip("mypy", reason="mypy is in the [test] extra: pip install -e '.[test]'")
    result = mypy(*TYPED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all((ROOT / path).exists() for path in TYPED)  # a moved module must not leave the list checking nothing


def test_mypy_finds_a_type_error(tmp_path):
    pytest.importorskip("mypy")
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x: int) -> str:\n    return x\n")
    assert mypy(str(bad)).returncode == 1
