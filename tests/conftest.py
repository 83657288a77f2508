"""Suite-wide guards and the two kinds of test.

Kinds: a module that starts real things (ptys, git, fleet servers, tmux, agent CLIs) says so with
`pytestmark = pytest.mark.real`; every other test is marked `unit`, and a unit test that starts a
process anyway fails (an audit hook watches for fork/spawn), so the marks stay true.
`pytest -m unit` runs the pure tests (no process started); `pytest -m real` the rest.

Leftovers: a test module that leaves a fleet server, an agent or a tmux server running fails.

Every process a test starts inherits FLEET_TEST_RUN (set once per pytest run), whether it is a
detached fleet server, an agent in its pty or a tmux server; after each module, any such process
that was not there before the module and is still alive after a grace period is killed and
reported as an error of that module, naming its command line.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import psutil
import pytest

MARKER = "FLEET_TEST_RUN"
GRACE_SECONDS = 10.0  # servers told to stop get this long to reap their agents


SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.system",
                          "os.exec", "os.spawn"})


class _UnitGuard:
    """Stops a unit test at its first process; the audit hook cannot be removed, so it toggles."""

    def __init__(self) -> None:
        self.active = False
        self.spawned: str | None = None

    def __call__(self, event: str, args: tuple) -> None:
        if self.active and event in SPAWN_EVENTS:
            self.spawned = self.spawned or f"{event} {str(args)[:120]}"
            raise RuntimeError(f"a unit test may not start a process ({self.spawned})")


_unit_guard = _UnitGuard()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault(MARKER, uuid.uuid4().hex)
    config.addinivalue_line("markers", "real: starts real ptys, git, servers, tmux or agent CLIs")
    config.addinivalue_line("markers", "unit: pure code, no processes (every test not marked real)")
    sys.addaudithook(_unit_guard)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("real") is None:
            item.add_marker(pytest.mark.unit)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _unit_guard.active = item.get_closest_marker("unit") is not None
    _unit_guard.spawned = None
    yield
    _unit_guard.active = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if _unit_guard.active and _unit_guard.spawned and report.when in ("setup", "call"):
        report.outcome = "failed"
        report.longrepr = (f"a unit test started a process ({_unit_guard.spawned}): "
                           "mark its module `pytestmark = pytest.mark.real`")


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
