"""Process-tree control against real process trees, checked with psutil."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from fleet_tui.core import proctree
from fleet_tui.core.proctree import TreeSampler, find_marked, kill_tree, pause_tree, resume_tree, tree
from fleet_tui.core.ptyproc import PtyProcess

pytestmark = pytest.mark.real

# One script plays every role of a nasty agent tree; each process records its pid.
ROLES = r'''
import os, signal, subprocess, sys, time

role, piddir = sys.argv[1], sys.argv[2]
def start(child_role, **kw):
    return subprocess.Popen([sys.executable, __file__, child_role, piddir], **kw)

def burn(seconds):
    while time.process_time() < seconds:
        pass

if role == "trapper":  # ignores TERM and HUP, like a stubborn daemon
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
elif role == "forker":  # double fork: its child is reparented to init
    start("trapper", start_new_session=True)
    sys.exit(0)
elif role == "burner":
    burn(0.3)
open(os.path.join(piddir, f"{role}-{os.getpid()}"), "w").close()
if role == "root":
    start("child")
elif role == "child":
    start("trapper", start_new_session=True)  # setsid grandchild that ignores TERM
    start("forker").wait()
elif role == "burn-root":
    start("burner").wait()  # reaped by us: its time moves into our children-times
    start("burn-daemon-forker").wait()
    while sum(name.startswith("burner-") for name in os.listdir(piddir)) < 2:
        time.sleep(0.01)
    time.sleep(0.2)  # the daemon burner has exited and been reaped by init
    burn(time.process_time() + 0.3)
    open(os.path.join(piddir, f"done-{os.getpid()}"), "w").close()
elif role == "burn-daemon-forker":
    start("burner", start_new_session=True)
    sys.exit(0)
if role != "burner":
    while True:
        time.sleep(1)
'''


class Session:
    """A session leader started like the pty child, with its marker, and the pids its tree reports."""

    def __init__(self, tmp_path, role="root", expected=4):
        self.marker = f"test-{uuid.uuid4().hex}"
        self.piddir = tmp_path / self.marker
        self.piddir.mkdir()
        script = tmp_path / "roles.py"
        script.write_text(ROLES)
        env = {**os.environ, "FLEET_SESSION": self.marker}
        self.root = subprocess.Popen([sys.executable, str(script), role, str(self.piddir)],
                                     env=env, start_new_session=True)
        self.pid = self.root.pid
        if expected:
            self.wait_for_pids(expected)

    def wait_for_pids(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(os.listdir(self.piddir)) < count:
            assert time.monotonic() < deadline, os.listdir(self.piddir)
            time.sleep(0.02)

    def pids(self):
        return {int(name.rsplit("-", 1)[1]) for name in os.listdir(self.piddir)}

    def alive(self):
        return {pid for pid in self.pids() if alive(pid)}

    def cleanup(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.root.wait()


def alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def sessions(tmp_path):
    made = []

    def make(**kw):
        made.append(Session(tmp_path, **kw))
        return made[-1]

    yield make
    for session in made:
        session.cleanup()


def test_the_fixture_tree_really_is_nasty(sessions):
    s = sessions()
    assert len(s.pids()) == 4
    daemon = s.pids() - {proc.pid for proc in tree(s.pid)}
    assert len(daemon) == 1, "one trapper must have escaped the tree by double-forking"
    (daemon,) = daemon
    assert os.getsid(daemon) == daemon != os.getsid(s.pid)
    assert {p.pid for p in find_marked(s.marker)} == s.pids()


def test_tree_lists_descendants_but_not_the_escaped_daemon(sessions):
    s = sessions()
    pids = [p.pid for p in tree(s.pid)]
    assert pids[0] == s.pid
    assert len(set(pids) & s.pids()) == 3
    assert tree(99999999) == []


def test_kill_tree_ends_setsid_and_term_trapping_processes_within_2s(sessions):
    s = sessions()
    started = time.monotonic()
    report = kill_tree(s.pid, s.marker, grace=1.0)
    while s.alive() and time.monotonic() - started < 5:
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    assert s.alive() == set()
    assert elapsed < 2.0, f"took {elapsed:.2f}s"
    assert set(report.terminated) == s.pids()
    assert len(report.killed) == 2 and set(report.killed) < s.pids()  # the two trappers
    assert report.survivors == [] and report.seconds < 2.0


def test_without_the_marker_the_double_forked_daemon_escapes(sessions):
    s = sessions()
    kill_tree(s.pid, marker=None, grace=0.2)
    escaped = s.alive()
    assert len(escaped) == 1 and find_marked(s.marker)[0].pid in escaped


def test_killing_one_session_leaves_another_untouched(sessions):
    victim, bystander = sessions(), sessions()
    bystander_procs = [psutil.Process(pid) for pid in bystander.pids()]
    kill_tree(victim.pid, victim.marker)
    assert victim.alive() == set()
    assert bystander.alive() == bystander.pids()
    assert all(p.is_running() and p.status() != psutil.STATUS_STOPPED for p in bystander_procs)


def test_pause_and_resume_the_whole_tree(sessions):
    s, bystander = sessions(), sessions()

    def statuses(session):
        return {psutil.Process(pid).status() for pid in session.pids()}

    def wait_until(condition):
        deadline = time.monotonic() + 5
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.02)

    assert set(pause_tree(s.pid, s.marker)) == s.pids()
    wait_until(lambda: statuses(s) == {psutil.STATUS_STOPPED})
    assert psutil.STATUS_STOPPED not in statuses(bystander)
    assert set(resume_tree(s.pid, s.marker)) == s.pids()
    wait_until(lambda: psutil.STATUS_STOPPED not in statuses(s))


def test_kill_tree_ends_a_paused_tree(sessions):
    s = sessions()
    pause_tree(s.pid, s.marker)
    report = kill_tree(s.pid, s.marker, grace=0.5)
    assert s.alive() == set() and report.seconds < 2.0


def test_cpu_meter_keeps_the_time_of_exited_children_and_never_goes_back(sessions):
    # burn-root runs a burner it reaps itself, then a burner reparented to init, then burns
    # itself: 0.3 s CPU each. A bare high-water mark would forget the reparented burner.
    s = sessions(role="burn-root", expected=0)
    sampler = TreeSampler(s.pid, s.marker)
    readings = []
    deadline = time.monotonic() + 15
    while not any(name.startswith("done-") for name in os.listdir(s.piddir)):
        assert time.monotonic() < deadline
        readings.append(sampler.sample())
        time.sleep(0.05)
    readings.append(sampler.sample())
    cpu = [r.cpu_seconds for r in readings]
    assert cpu == sorted(cpu), "the meter went backwards"
    assert cpu[-1] >= 0.9 * 0.95, cpu[-1]
    assert readings[-1].rss_bytes > 1_000_000 and readings[-1].processes == 1
    # The root itself ends: its time is kept too.
    s.root.kill()
    s.root.wait()
    for pid in s.pids():
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    after = sampler.sample()
    assert after.cpu_seconds >= cpu[-1] and after.processes == 0 and after.rss_bytes == 0


def test_one_off_sample_counts_the_whole_tree(sessions):
    s = sessions()
    usage = proctree.sample(s.pid, s.marker)
    assert usage.processes == 4 and usage.rss_bytes > 4 * 1_000_000 and usage.cpu_seconds > 0


def test_kill_tree_of_a_pty_session_leaves_the_exit_status_to_its_owner(tmp_path):
    # The real setup: a PtyProcess child, killed from a worker thread while the loop runs.
    marker = f"test-{uuid.uuid4().hex}"
    piddir = tmp_path / "pids"
    piddir.mkdir()
    (tmp_path / "roles.py").write_text(ROLES)

    async def main():
        exited = asyncio.get_running_loop().create_future()
        proc = PtyProcess.spawn([sys.executable, str(tmp_path / "roles.py"), "root", str(piddir)],
                                cwd=tmp_path, env={**os.environ, "FLEET_SESSION": marker}, cols=80, rows=24,
                                on_output=lambda text: None, on_exit=exited.set_result)
        deadline = time.monotonic() + 10
        while len(os.listdir(piddir)) < 4:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        report = await asyncio.to_thread(kill_tree, proc.pid, marker)
        return report, await asyncio.wait_for(exited, 5)

    report, code = asyncio.run(main())
    pids = {int(name.rsplit("-", 1)[1]) for name in os.listdir(piddir)}
    assert not any(alive(pid) for pid in pids)
    assert report.seconds < 2.0 and len(report.killed) == 2
    # Reaped by the PtyProcess, not swallowed by kill_tree (HUP, the lower signal, lands first).
    assert code in (-signal.SIGHUP, -signal.SIGTERM)


def test_kill_finds_a_runaway_that_emptied_its_environment_by_its_worktree(tmp_path):
    """`env -i setsid` + a double fork: no marker, no session id, no parent; only its folder."""
    worktree = tmp_path / "worktree"
    (worktree / "sub").mkdir(parents=True)
    bystander_dir = tmp_path / "elsewhere"
    bystander_dir.mkdir()
    marker = f"test-{uuid.uuid4().hex}"
    since = time.time()
    runaway_cmd = "cd sub && env -i /usr/bin/setsid -f /bin/sh -c 'trap \"\" TERM HUP; sleep 300' && sleep 300"
    root = subprocess.Popen(["/bin/sh", "-c", runaway_cmd], cwd=worktree, start_new_session=True,
                            env={**os.environ, "FLEET_SESSION": marker})
    # the same runaway from another folder: a stranger to this session, to be left alone
    stranger = subprocess.Popen(["/bin/sh", "-c", runaway_cmd.replace("cd sub && ", "")], cwd=bystander_dir,
                                start_new_session=True)
    try:
        def runaways(folder):
            return [p for p in psutil.process_iter(["cmdline", "environ"])
                    if p.info["cmdline"] and p.info["cmdline"][:2] == ["/bin/sh", "-c"] and "trap" in p.info["cmdline"][2]
                    and not p.info["environ"] and os.path.realpath(p.cwd()).startswith(str(folder))]
        deadline = time.monotonic() + 10
        while not (runaways(worktree) and runaways(bystander_dir)) and time.monotonic() < deadline:
            time.sleep(0.05)
        ours, theirs = runaways(worktree), runaways(bystander_dir)
        assert len(ours) == 1 and len(theirs) == 1
        assert ours[0].ppid() != root.pid, "it left the tree"
        assert ours[0].pid not in {proc.pid for proc in find_marked(marker)}, "and the marker"
        assert os.getsid(ours[0].pid) != root.pid, "and the session id"

        kill_tree(root.pid, marker, grace=0.5)  # without its worktree, the runaway escapes
        assert ours[0].is_running() and ours[0].status() != psutil.STATUS_ZOMBIE

        root = subprocess.Popen(["sleep", "300"], start_new_session=True, env={**os.environ, "FLEET_SESSION": marker})
        report = kill_tree(root.pid, marker, grace=0.5, escape=proctree.Escape(str(worktree), since))
        root.wait(5)
        assert not ours[0].is_running() or ours[0].status() == psutil.STATUS_ZOMBIE
        assert ours[0].pid in report.killed, "it ignores TERM and HUP: SIGKILL ended it"
        assert theirs[0].is_running() and theirs[0].status() != psutil.STATUS_ZOMBIE, "a stranger is left alone"
    finally:
        for proc in runaways(worktree) + runaways(bystander_dir):
            proc.kill()
        for proc in (root, stranger):
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # each started its own group
            except ProcessLookupError:
                pass
            proc.wait()
