"""`fleet-tui demo`: a throwaway repository in the cache folder, a fan-out under way,
the user's own repositories untouched, and `--clean` leaves nothing behind."""

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

pytestmark = pytest.mark.real


def run(env, *args, cwd):
    return subprocess.run([sys.executable, "-m", "fleet_tui", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_demo_sets_up_a_run_and_cleans_up(tmp_path, runtime_dir):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_RUNTIME_DIR": str(runtime_dir),
           "FLEET_DEMO_SPEED": "40"}
    result = run(env, "demo", "--no-tui", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    repo = tmp_path / "cache" / "fleet-tui" / "demo" / "calc"
    assert (repo / ".git").is_dir() and (repo / "fleet.yaml").exists()

    sessions = json.loads(run(env, "status", "--json", cwd=repo).stdout)
    assert {s["run"] for s in sessions} == {"r1"} and len(sessions) == 3
    pids = [s["pid"] for s in sessions]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses = {s["status"] for s in json.loads(run(env, "status", "--json", cwd=repo).stdout)}
        if "waiting" in statuses:  # one demo agent asks for approval: the status users try steering on
            break
        time.sleep(0.2)
    assert "waiting" in statuses

    # Running it again reattaches to the same fleet instead of starting a second run.
    assert "already running" in run(env, "demo", "--no-tui", cwd=tmp_path).stdout

    result = run(env, "demo", "--clean", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "cache" / "fleet-tui" / "demo").exists()
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
