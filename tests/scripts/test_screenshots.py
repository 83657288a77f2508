"""scripts/screenshots.py drives the real app through the demo: it must keep working as the UI changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.real, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]


def test_the_screenshot_script_writes_every_screenshot(tmp_path):
    env = {**os.environ, "FLEET_SCREENSHOTS_OUT": str(tmp_path)}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshots.py")], env=env,
                            capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stderr[-2000:]
    written = sorted(path.name for path in tmp_path.glob("*.svg"))
    assert written == sorted(path.name for path in (ROOT / "screenshots").glob("*.svg"))
    assert all(path.stat().st_size > 10_000 for path in tmp_path.glob("*.svg"))
