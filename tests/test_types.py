"""mypy stays clean on the modules listed under [tool.mypy] in pyproject.toml (the engine, the config
schema, the wire models, the client, the server...): a field renamed in fleet_tui/wire.py must be
renamed wherever it is read, and a new type error anywhere listed fails here."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.real, pytest.mark.timeout(600)]  # runs mypy in a process; a cold cache on a busy machine


def mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_the_listed_modules_are_clean():
    pytest.importorskip("mypy", reason="mypy is in the [test] extra: pip install -e '.[test]'")
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    assert {"fleet_tui/core", "fleet_tui/wire.py", "fleet_tui/client.py"} <= set(listed)
    assert all((ROOT / path).exists() for path in listed)  # a moved module must not leave the list checking nothing
    result = mypy()  # the files and settings of [tool.mypy]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_mypy_would_catch_a_field_read_that_the_wire_models_do_not_have(tmp_path):
    pytest.importorskip("mypy")
    probe = tmp_path / "probe.py"
    probe.write_text("from fleet_tui.wire import StatusAnswer\n\n"
                     "def first_name(answer: StatusAnswer) -> str:\n"
                     "    return answer.sessions[0].nmae\n")
    result = mypy("--follow-imports=silent", str(probe))
    assert result.returncode == 1 and '"SessionView" has no attribute "nmae"' in result.stdout
