"""Issue 12: a server that dies (kill -9, a reboot) loses nothing and doubles nothing.

Every test drives the real `fleet-tui` command and server in a real repository, kills
the server with SIGKILL, and checks the agents' real processes with psutil.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

# An agent that outlives its terminal: it ignores SIGHUP, and so does the child it starts in a
# session of its own (setsid), as a language server or a build watcher might. Both write their
# pids where the test finds them, so the test knows them without asking fleet_tui.
HARDY_AGENT = textwrap.dedent(
    """\
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGHUP, signal.SIG_IGN); time.sleep(600)"],
        start_new_session=True)
    path = os.path.join(os.environ["PIDS_DIR"], f"{os.environ['FLEET_SESSION_NAME']}.{os.getpid()}")
    with open(path + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    os.rename(path + ".tmp", path)
    print("hardy ready", flush=True)
    while True:
        time.sleep(1)
    """
)


def fleet_yaml(pids_dir: Path) -> str:
    return textwrap.dedent(
        f"""\
        agents:
          hardy:
            command: [python3, -u, hardy.py]
            env: {{PIDS_DIR: "{pids_dir}"}}
          shell:
            command: [bash, --norc, --noprofile]
        """
    )


@pytest.fixture
def crashy(tmp_path, runtime_dir):
    """A fleet with a hardy agent and a plain shell; everything it started is gone afterwards."""
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hardy.py").write_text(HARDY_AGENT)
    cli = FleetCli(make_repo(repo, fleet_yaml(pids_dir)), runtime_dir)
    cli.pids_dir = pids_dir
    cli.seen = set()
    yield cli
    cli.run("down", check=False)
    for pid in _all_pids(pids_dir):
        _kill(pid)
    pid = cli.server_pid()
    if pid:
        _kill(pid)


def _all_pids(folder: Path) -> list[int]:
    return [int(p) for f in folder.iterdir() if not f.name.endswith(".tmp") for p in f.read_text().split()]


def _kill(pid: int) -> None:
    _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    try:
        psutil.Process(pid).send_signal(sig)
    except psutil.NoSuchProcess:
        pass


def hardy_pids(cli: FleetCli, name: str = "hardy", timeout: float = 20) -> tuple[int, int]:
    """The pids of the latest start of the hardy agent not yet seen by the test."""
    deadline = time.monotonic() + timeout
    while True:
        new = [f for f in cli.pids_dir.glob(f"{name}.*") if not f.name.endswith(".tmp") and f not in cli.seen]
        if new:
            break
        assert time.monotonic() < deadline, f"{name} never wrote its pids"
        time.sleep(0.05)
    assert len(new) == 1, f"{name} started more than once: {new}"
    cli.seen.add(new[0])
    leader, child = map(int, new[0].read_text().split())
    return leader, child


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pids: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if alive(p)]}"
        time.sleep(0.05)


def crash_server(cli: FleetCli) -> None:
    """kill -9 the fleet server, as the OOM killer or a crash would."""
    pid = cli.server_pid()
    assert pid and alive(pid)
    os.kill(pid, signal.SIGKILL)
    wait_gone([pid])


def agent_copies(cli: FleetCli) -> list[psutil.Process]:
    """Every running copy of this test's hardy agent (its leader), whoever started it."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        cmd, env = proc.info.get("cmdline") or [], proc.info.get("environ") or {}
        if (cmd[-1:] == ["hardy.py"] and env.get("PIDS_DIR") == str(cli.pids_dir)
                and proc.status() != psutil.STATUS_ZOMBIE):
            found.append(proc)
    return found


def test_an_agent_that_survives_a_crash_is_reported_killable_and_never_doubled(crashy):
    crashy.run("start", "hardy")
    crashy.wait_screen("hardy", "hardy ready")
    leader, child = hardy_pids(crashy)

    crash_server(crashy)
    time.sleep(0.5)  # the SIGHUP of the dead terminal has been delivered and ignored
    assert alive(leader) and alive(child), "the agent ignores SIGHUP: it outlives the server"

    # A new server (started by this command) finds them by the markers the old one wrote down.
    info = crashy.session("hardy")
    assert info["status"] == "orphaned", info
    assert {leader, child} <= set(info["pids"])
    assert "fleet-tui kill hardy" in info["reason"]
    # Restoring it would make a second copy: refused, and nothing new starts.
    refused = crashy.run("restore", "hardy", check=False)
    assert refused.returncode == 1 and "orphaned" in refused.stderr
    assert [p.pid for p in agent_copies(crashy)] == [leader]

    # restart replaces it: the old processes are killed first, then exactly one new copy runs.
    crashy.run("restart", "hardy")
    new_leader, new_child = hardy_pids(crashy)
    wait_gone([leader, child])
    assert [p.pid for p in agent_copies(crashy)] == [new_leader]
    assert crashy.session("hardy")["status"] not in ("orphaned", "lost")
    log = crashy.run("log", "-n", "20").stdout
    assert "ended its processes left by the last server" in log

    # Crash again; this time `down` must end the leftovers too.
    crash_server(crashy)
    time.sleep(0.3)
    assert alive(new_leader) and alive(new_child)
    assert crashy.session("hardy")["status"] == "orphaned"
    crashy.run("down")
    wait_gone([new_leader, new_child], timeout=5)
    assert agent_copies(crashy) == []


def test_kill_ends_an_orphan_by_its_markers(crashy):
    crashy.run("start", "hardy")
    leader, child = hardy_pids(crashy)
    crash_server(crashy)
    assert crashy.session("hardy")["status"] == "orphaned"
    crashy.run("kill", "hardy")
    wait_gone([leader, child], timeout=5)
    info = crashy.session("hardy")
    assert info["status"] == "stopped" and info["pids"] == []
    # Killed on purpose, it is not lost: `restore` leaves it alone, `restart` brings it back.
    assert "nothing to restore" in crashy.run("restore").stdout
    crashy.run("restart", "hardy")
    hardy_pids(crashy)
    assert len(agent_copies(crashy)) == 1


def test_an_orphan_whose_processes_end_becomes_lost(crashy):
    crashy.run("start", "hardy")
    leader, child = hardy_pids(crashy)
    crash_server(crashy)
    assert crashy.session("hardy")["status"] == "orphaned"
    for pid in (leader, child):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while crashy.session("hardy")["status"] != "lost":
        assert time.monotonic() < deadline, crashy.session("hardy")
        time.sleep(0.2)


def test_reboot_every_session_comes_back_in_its_worktree(crashy):
    """kill -9 the server and every agent process (what a reboot does), start again: every
    session is shown lost with its worktree intact, and `fleet-tui restore` brings all back."""
    crashy.run("start")
    crashy.wait_screen("hardy", "hardy ready")
    crashy.run("send", "shell", "echo unsaved work > notes.txt; echo wrote-$((2*21))")
    crashy.wait_screen("shell", "wrote-42")
    before = {s["name"]: s for s in crashy.status()}
    assert set(before) == {"hardy", "shell"}
    victims = [pid for s in before.values() for pid in psutil.Process(s["pid"]).children(recursive=True)]
    victims = [p.pid for p in victims] + [s["pid"] for s in before.values()] + list(hardy_pids(crashy))
    victims.append(crashy.server_pid())
    # The server and every agent process at once, as power loss would: all stopped first, so
    # the server never sees an agent die (it would record the exit, and that is no reboot).
    for pid in [victims[-1], *victims[:-1]]:
        _signal(pid, signal.SIGSTOP)
    for pid in victims:
        _kill(pid)
    wait_gone(victims)

    after = {s["name"]: s for s in crashy.status()}
    assert {name: s["status"] for name, s in after.items()} == {"hardy": "lost", "shell": "lost"}
    for name, info in after.items():
        assert Path(info["worktree"]).is_dir() and info["branch"] == before[name]["branch"]
    assert (Path(after["shell"]["worktree"]) / "notes.txt").read_text() == "unsaved work\n"
    status_text = crashy.run("status").stdout
    assert "lost" in status_text

    out = crashy.run("restore").stdout
    assert "restored hardy" in out and "restored shell" in out
    assert "started fresh in its worktree" in out  # plain commands have no conversation to resume
    hardy_pids(crashy)
    restored = {s["name"]: s for s in crashy.status()}
    for name, info in restored.items():
        assert info["status"] not in ("lost", "orphaned", "stopped"), info
        proc = psutil.Process(info["pid"])
        assert Path(proc.cwd()).resolve() == Path(before[name]["worktree"]).resolve()
        assert info["branch"] == before[name]["branch"]
    crashy.run("send", "shell", "cat notes.txt")
    crashy.wait_screen("shell", "unsaved work")
    # Nothing was doubled: still exactly two sessions, one copy of the hardy agent.
    assert set(restored) == {"hardy", "shell"} and len(agent_copies(crashy)) == 1
    assert "nothing to restore" in crashy.run("restore").stdout


def test_session_records_are_private_atomic_files(crashy):
    crashy.run("start", "hardy")
    leader, _ = hardy_pids(crashy)
    folder = crashy.repo / ".git" / "fleet" / "sessions"
    path = folder / "hardy.json"
    record = json.loads(path.read_text())
    assert record["pid"] == leader and record["marker"] and record["pid_started"]
    assert record["worktree"].endswith("/hardy") and record["branch"] == "fleet/hardy"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [p.name for p in folder.iterdir()] == ["hardy.json"], "no temporary file left behind"
    state = crashy.repo / ".git" / "fleet" / "state.json"
    if state.exists():
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
    crashy.run("kill", "hardy")
    assert json.loads(path.read_text())["ended"] == "killed"


def test_opening_the_fleet_after_a_crash_does_not_start_duplicates(crashy):
    """What `fleet-tui` does on open (start agents that have no session) must not replace a
    lost or orphaned session with a new one in a new worktree."""
    crashy.run("start")
    leader, _ = hardy_pids(crashy)
    crash_server(crashy)
    os.kill(leader, signal.SIGKILL)  # the shell died with its terminal; hardy's child lives on
    script = ("import asyncio, sys\n"
              "from pathlib import Path\n"
              "from fleet_tui.client import FleetClient\n"
              "async def main():\n"
              "    c = await FleetClient.connect(Path('.'))\n"
              "    print((await c.call('start', missing_only=True))['sessions'])\n"
              "    await c.close()\n"
              "asyncio.run(main())\n")
    out = subprocess.run([os.sys.executable, "-c", script], cwd=crashy.repo, env=crashy.env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert {s["name"]: s["status"] for s in crashy.status()} == {"hardy": "orphaned", "shell": "lost"}


RUN_FLEET = textwrap.dedent(
    """\
    checks:
      has-file: [test, -f, made.txt]
    agents:
      maker:
        command: [sh, -c, 'echo "$FLEET_SESSION_NAME" > made.txt; exec sleep 600']
    """
)


def test_runs_and_their_comparison_survive_a_crash(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", RUN_FLEET), runtime_dir)
    try:
        run = json.loads(cli.run("fanout", "make the file", "--agents", "maker", "-n", "2", "--json").stdout)
        worktrees = {s["name"]: Path(s["worktree"]) for s in cli.status()}
        deadline = time.monotonic() + 20
        while not all((w / "made.txt").exists() for w in worktrees.values()):
            assert time.monotonic() < deadline, "the attempts never wrote their files"
            time.sleep(0.05)
        compared = json.loads(cli.run("compare", "--json").stdout)
        assert [a["checks_passed"] for a in compared["attempts"]] == [1, 1]

        victims = [cli.server_pid(), *(s["pid"] for s in cli.status())]
        for pid in victims:
            _kill(pid)
        wait_gone(victims)

        # A new server: the run, its attempts (lost, worktrees intact) and its comparison are all there.
        assert {s["name"]: s["status"] for s in cli.status()} == {name: "lost" for name in run["sessions"]}
        saved = json.loads(cli.run("compare", "--last", "--json").stdout)
        assert saved == compared, "the saved comparison is the one the old server made"
        text = cli.run("compare", "--last").stdout
        assert "compared at" in text and run["sessions"][0] in text
        again = json.loads(cli.run("compare", run["run"], "--json").stdout)
        assert again["prompt"] == "make the file" and [a["checks_passed"] for a in again["attempts"]] == [1, 1]
        assert stat.S_IMODE((cli.repo / ".git" / "fleet" / "compare" / f"{run['run']}.json").stat().st_mode) == 0o600
        never = cli.run("compare", "r9", "--last", check=False)
        assert never.returncode == 2 and "no run named 'r9'" in never.stderr
    finally:
        cli.run("down", check=False)
