import sys

import psutil
import pytest

from fleet_tui.core.checks import run_checks, run_checks_in, to_argv
from fleet_tui.errors import UsageError

pytestmark = pytest.mark.real

PY = sys.executable


def test_checks_run_in_parallel(tmp_path):
    # Each check waits for the other to have started, so only a parallel run passes.
    checks = {
        "a": [PY, "-c", "import os, time\nopen('a', 'w').close()\nwhile not os.path.exists('b'): time.sleep(0.01)"],
        "b": [PY, "-c", "import os, time\nopen('b', 'w').close()\nwhile not os.path.exists('a'): time.sleep(0.01)"],
    }
    results = run_checks(tmp_path, checks, timeout=30)
    assert list(results) == ["a", "b"]
    assert all(result.passed for result in results.values())


def test_check_output_exit_code_and_failure(tmp_path):
    results = run_checks(
        tmp_path,
        {
            "mixed": "sh -c 'echo out; echo err >&2; echo out2'",
            "fails": [PY, "-c", "import sys; print('bad'); sys.exit(4)"],
            "big": [PY, "-c", "print('x' * 200000)"],
        },
        timeout=30,
    )
    mixed = results["mixed"]
    assert mixed.passed and mixed.exit_code == 0
    assert mixed.output == "out\nerr\nout2\n"
    assert mixed.argv == ["sh", "-c", "echo out; echo err >&2; echo out2"]
    assert mixed.duration >= 0
    fails = results["fails"]
    assert not fails.passed and fails.exit_code == 4 and fails.output == "bad\n"
    assert len(results["big"].output) == 200001  # kept in full


def test_check_timeout_kills_its_process_group(tmp_path):
    results = run_checks(
        tmp_path,
        {"slow": ["sh", "-c", "sleep 60 & echo $! > child.pid; wait"], "quick": "true"},
        timeout=0.5,
    )
    slow = results["slow"]
    assert slow.timed_out and not slow.passed and slow.exit_code is None
    assert "timeout" in slow.output
    assert results["quick"].passed
    child = int((tmp_path / "child.pid").read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_same_checks_across_worktrees(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "ok").write_text("")
    results = run_checks_in({"one": one, "two": two}, {"has-ok": "test -e ok", "true": "true"}, 30)
    assert results["one"]["has-ok"].passed and not results["two"]["has-ok"].passed
    assert results["two"]["true"].passed


@pytest.mark.parametrize("command", ["", "   ", [], "echo 'unclosed"])
def test_bad_commands_are_usage_errors(command):
    with pytest.raises(UsageError):
        to_argv(command)


def test_a_missing_worktree_is_reported_not_raised(tmp_path):
    result = run_checks(tmp_path / "gone", {"t": "true"}, 30)["t"]
    assert not result.passed and "does not exist" in result.output
