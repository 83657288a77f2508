"""The demo repository: a tiny Python project with one real bug and one failing test.

Standard library only: the demo agent imports BUGGY_MEDIAN from here to find the bug.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from fleet_tui.paths import CONFIG_NAME
from fleet_tui.errors import FleetError

DEMO_FLEET_YAML = """\
# fleet.yaml: the demo fleet. Every agent is the scripted demo agent shipped with fleet_tui.
checks:
  tests: "{python} -m unittest -q"
agents:
  careful:
    preset: demo
    args: [--style, clean]
    budget: {time: 10m, cost: 0.50}
  thorough:
    preset: demo
    args: [--style, big]
    budget: {time: 10m, cost: 0.50}
  hasty:
    preset: demo
    args: [--style, sloppy]
    budget: {time: 10m, cost: 0.50}
"""

# The bug: for an even number of values the median must average the two middle ones.
BUGGY_MEDIAN = """\
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid]
"""

CALC_PY = f'''\
"""calc: small number helpers."""


def mean(values):
    """Return the arithmetic mean of a non-empty list of numbers."""
    return sum(values) / len(values)


def median(values):
    """Return the middle value of a non-empty list of numbers."""
{BUGGY_MEDIAN}

def clamp(value, low, high):
    """Limit value to the range [low, high]."""
    return max(low, min(value, high))


def percent(part, whole):
    """Return part as a percentage of whole, rounded to one decimal."""
    return round(100 * part / whole, 1)
'''

TEST_CALC_PY = '''\
import unittest

from calc import clamp, mean, median, percent


class CalcTest(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(mean([1, 2, 3, 4]), 2.5)

    def test_median_odd(self):
        self.assertEqual(median([3, 1, 2]), 2)

    def test_median_even(self):
        self.assertEqual(median([4, 1, 3, 2]), 2.5)

    def test_clamp(self):
        self.assertEqual(clamp(5, 0, 10), 5)
        self.assertEqual(clamp(-1, 0, 10), 0)
        self.assertEqual(clamp(11, 0, 10), 10)

    def test_percent(self):
        self.assertEqual(percent(1, 3), 33.3)


if __name__ == "__main__":
    unittest.main()
'''

README_MD = """\
# calc: fleet_tui's demo project

A few number helpers (`calc.py`) and their tests (`test_calc.py`).
`median()` is wrong for lists of even length, so one test fails:

    python -m unittest -q

Ask the fleet to fix it, compare the attempts and merge the best one:
every agent in `fleet.yaml` is fleet_tui's scripted demo agent, no API key needed.
"""

GITIGNORE = "__pycache__/\n*.pyc\n"

FILES = {
    "calc.py": CALC_PY,
    "test_calc.py": TEST_CALC_PY,
    "README.md": README_MD,
    CONFIG_NAME: DEMO_FLEET_YAML,
    ".gitignore": GITIGNORE,
}

# Local identity so commits work on machines with no git config, and the same everywhere.
GIT_IDENTITY = {"user.name": "fleet_tui demo", "user.email": "demo@fleet-tui.invalid"}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)


def create_demo_repo(path: Path) -> Path:
    """Create the demo project as a new git repository at path (absent or empty); return it."""
    path = Path(path).resolve()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FleetError(f"{path} already exists and is not an empty directory; pick a new path")
    path.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (path / name).write_text(text, encoding="utf-8")
    try:
        _git(path, "init", "-q", "-b", "main")
        for key, value in GIT_IDENTITY.items():
            _git(path, "config", key, value)
        # A user's global signing setup must not make the demo's commits fail.
        _git(path, "config", "commit.gpgsign", "false")
        _git(path, "add", "--", *FILES)
        _git(path, "commit", "-q", "-m", "calc: number helpers with tests")
    except subprocess.CalledProcessError as exc:
        raise FleetError(f"git failed in {path}: {exc.stderr.strip() or exc}") from exc
    except FileNotFoundError as exc:
        raise FleetError("git is not installed; fleet_tui needs it for worktrees") from exc
    return path

