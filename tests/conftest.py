"""Suite-wide guard: a test module that leaves a fleet server, an agent or a tmux server running fails.

Every process a test starts inherits FLEET_TEST_RUN (set once per pytest run), whether it is a
detached fleet server, an agent in its pty or a tmux server; after each module, any such process
that was not there before the module and is still alive after a grace period is killed and
reported as an error of that module, naming its command line.
"""

from __future__ import annotations

import os
import time
import uuid

import psutil
import pytest

MARKER = "FLEET_TEST_RUN"
GRACE_SECONDS = 10.0  # servers told to stop get this long to reap their agents


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault(MARKER, uuid.uuid4().hex)


def _marked_processes() -> dict[int, psutil.Process]:
    """Processes of this pytest run other than pytest itself and its ancestors."""
    token = f"{MARKER}={os.environ[MARKER]}".encode()
    own = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found: dict[int, psutil.Process] = {}
    for pid in psutil.pids():
        if pid in own:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if token in f.read().split(b"\0"):
                    found[pid] = psutil.Process(pid)
        except (OSError, psutil.Error):
            continue
    return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _describe(process: psutil.Process) -> str:
    try:
        return f"pid {process.pid}: {' '.join(process.cmdline())[:160]}"
    except psutil.Error:
        return f"pid {process.pid}"


@pytest.fixture(scope="module", autouse=True)
def no_leftover_processes():
    before = set(_marked_processes())
    yield
    deadline = time.monotonic() + GRACE_SECONDS
    while True:
        left = [p for pid, p in _marked_processes().items() if pid not in before and _alive(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if left:
        for process in left:
            try:
                process.kill()
            except psutil.Error:
                pass
        pytest.fail("this module left processes running (killed now):\n  "
                    + "\n  ".join(_describe(p) for p in left), pytrace=False)
