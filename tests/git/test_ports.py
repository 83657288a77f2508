"""A port per worktree: stable, unique across every fleet on the machine, free when handed out."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fleet_tui.core.ports import PortRegistry, port_is_free
from fleet_tui.errors import FleetError

pytestmark = pytest.mark.real


def free_range(size: int) -> tuple[int, int]:
    """`size` consecutive ports nothing listens on right now (so the test does not depend on the machine)."""
    for first in range(41000, 60000, 50):
        if all(port_is_free(p) for p in range(first, first + size)):
            return first, first + size - 1
    pytest.skip("no free block of ports on this machine")


def worktrees(tmp_path: Path, *names: str) -> list[Path]:
    paths = [tmp_path / "repo.worktrees" / name for name in names]
    for path in paths:
        path.mkdir(parents=True)
    return paths


def test_a_worktree_keeps_its_port_and_others_get_their_own(tmp_path):
    registry = PortRegistry(tmp_path / "state" / "ports.json")
    ports = free_range(5)
    a, b, c = worktrees(tmp_path, "a", "b", "c")
    first = registry.assign(a, ports, "repo/a")
    assert first == ports[0]
    assert registry.assign(b, ports) == ports[0] + 1
    assert registry.assign(a, ports) == first, "stable for the life of the worktree"
    # Another process (a fleet server of the same or another repository) reads the same file.
    assert PortRegistry(registry.path).assign(a, ports) == first
    assert registry.release(b) == ports[0] + 1
    assert registry.assign(c, ports) == ports[0] + 1, "a released port is handed out again"
    assert json.loads(registry.path.read_text())[str(first)]["owner"] == "repo/a"


def test_a_port_whose_worktree_is_gone_is_free_again(tmp_path):
    registry = PortRegistry(tmp_path / "ports.json")
    ports = free_range(1)
    a, b = worktrees(tmp_path, "a", "b")
    registry.assign(a, ports)
    with pytest.raises(FleetError, match=r"no free port left in \d+-\d+.*widen `ports:`.*fleet-tui prune"):
        registry.assign(b, ports)
    a.rmdir()  # removed by hand, never released
    assert registry.assign(b, ports) == ports[0]


def test_a_port_something_listens_on_is_skipped(tmp_path):
    registry = PortRegistry(tmp_path / "ports.json")
    first, last = free_range(2)
    busy = socket.socket()
    busy.bind(("127.0.0.1", first))
    busy.listen()
    try:
        (a,) = worktrees(tmp_path, "a")
        assert registry.assign(a, (first, last)) == last
    finally:
        busy.close()


def test_fleets_assigning_at_once_never_share_a_port(tmp_path):
    """Eight processes, as eight fleet servers would, each assigning ports for three worktrees."""
    ports = free_range(24)
    registry = tmp_path / "ports.json"
    script = (
        "import sys; from pathlib import Path; from fleet_tui.core.ports import PortRegistry\n"
        "r = PortRegistry(Path(sys.argv[1]))\n"
        "for name in sys.argv[3:]:\n"
        "    p = Path(sys.argv[2]) / name; p.mkdir(parents=True)\n"
        f"    print(r.assign(p, ({ports[0]}, {ports[1]})))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(registry), str(tmp_path / f"repo{n}.worktrees"),
                               "a", "b", "c"], stdout=subprocess.PIPE, text=True) for n in range(8)]
    got = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        got += [int(line) for line in out.split()]
    assert len(got) == 24 and len(set(got)) == 24
    assert set(got) == set(range(ports[0], ports[1] + 1))
