"""mypy stays clean on the modules listed under [tool.mypy] in pyproject.toml (the wire models, the
client, the server...): a field renamed in fleet_tui/wire.py must be renamed wherever it is read."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.real, pytest.mark.timeout(300)]  # runs mypy; a cold cache on a busy machine


def test_mypy_is_clean_on_the_listed_modules(tmp_path):
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    assert "fleet_tui/wire.py" in listed and "fleet_tui/client.py" in listed
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no issues found in {len(listed)} source files" in result.stdout


def test_mypy_would_catch_a_field_read_that_the_wire_models_do_not_have(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from fleet_tui.wire import StatusAnswer\n\n"
                     "def first_name(answer: StatusAnswer) -> str:\n"
                     "    return answer.sessions[0].nmae\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"),
                             "--follow-imports=silent", str(probe)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and '"SessionView" has no attribute "nmae"' in result.stdout
