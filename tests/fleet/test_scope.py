"""Issue 12: the server gets a systemd user scope of its own where one is available, else
starts as before and says why. This machine (and CI's container) runs no systemd, so the
"available" branches use a stand-in `systemd-run` script on PATH; the fallback is real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fleet_tui.scope import own_scope, scoped, unavailable_reason
import pytest

pytestmark = pytest.mark.real


def fake_systemd_run(folder: Path, body: str) -> dict[str, str]:
    """An environment whose PATH finds a `systemd-run` running `body`, and a user manager's socket."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "systemd-run"
    tool.write_text("#!/bin/sh\n" + body)
    tool.chmod(0o755)
    runtime = folder / "runtime"
    (runtime / "systemd").mkdir(parents=True)
    (runtime / "systemd" / "private").write_text("")
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "XDG_RUNTIME_DIR": str(runtime)}


def test_without_systemd_the_server_starts_unscoped_and_says_why(tmp_path):
    argv = ["python3", "-m", "fleet_tui.server"]
    wrapped, why = scoped(argv, tmp_path, env={"PATH": os.environ["PATH"]}, systemd_dir=tmp_path / "no-systemd")
    assert wrapped == argv and why == f"systemd is not running here (no {tmp_path / 'no-systemd'})"
    if not Path("/run/systemd/system").is_dir():  # this machine: the fallback every other test runs
        assert unavailable_reason().startswith("systemd is not running here")
    systemd = tmp_path / "systemd"
    systemd.mkdir()
    assert unavailable_reason({"PATH": str(tmp_path)}, systemd) == "systemd-run is not installed"
    assert unavailable_reason({"FLEET_NO_SCOPE": "1"}, systemd) == "FLEET_NO_SCOPE is set"


def test_no_user_manager_or_a_refusing_one_falls_back(tmp_path):
    systemd = tmp_path / "systemd"
    systemd.mkdir()
    env = fake_systemd_run(tmp_path, 'echo "Failed to connect to bus: No medium found" >&2\nexit 1\n')
    assert unavailable_reason(env, systemd) == "systemd-run --user did not work (Failed to connect to bus: No medium found)"
    argv = ["python3", "-c", "pass"]
    assert scoped(argv, tmp_path, env, systemd) == (argv, unavailable_reason(env, systemd))
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "empty")
    assert unavailable_reason(env, systemd).startswith("no systemd user manager is reachable")


def test_with_a_user_manager_the_server_command_runs_in_a_new_scope(tmp_path):
    systemd = tmp_path / "systemd"
    systemd.mkdir()
    calls = tmp_path / "calls"
    # The stand-in records its arguments and runs what follows `--`, as systemd-run --scope does.
    env = fake_systemd_run(tmp_path, f'echo "$@" >> {calls}\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n')
    argv = [sys.executable, "-c", "import os; print('server', os.getpid())"]
    wrapped, why = scoped(argv, tmp_path / "repo", env, systemd)
    assert why is None
    assert wrapped[:5] == ["systemd-run", "--user", "--scope", "--quiet", "--collect"]
    assert wrapped[wrapped.index("--") + 1:] == argv
    unit = next(word for word in wrapped if word.startswith("--unit=")).removeprefix("--unit=")
    assert unit.startswith("fleet-tui-") and unit.endswith(".scope")
    ran = subprocess.run(wrapped, env=env, capture_output=True, text=True, timeout=30)
    assert ran.returncode == 0 and ran.stdout.startswith("server ")
    assert "--user --scope" in calls.read_text()  # probed once, then used


def test_the_server_knows_its_own_scope(tmp_path):
    cgroup = tmp_path / "cgroup"
    cgroup.write_text("0::/user.slice/user-1000.slice/user@1000.service/app.slice/fleet-tui-0123abcd4567-a1b2c3.scope\n")
    assert own_scope(cgroup) == "fleet-tui-0123abcd4567-a1b2c3.scope"
    cgroup.write_text("0::/user.slice/user-1000.slice/session-4.scope\n")
    assert own_scope(cgroup) is None
    assert own_scope(tmp_path / "missing") is None
