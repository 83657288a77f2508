"""Issue 2's user story, end to end through the real `fleet-tui` command and server:
write a three-agent fleet.yaml of plain commands, start, watch status and screen,
steer one with send/keys, kill another, verify the audit trail, stop."""

import json
import os
import stat
import time
from pathlib import Path

import psutil

from fleet_tui.paths import socket_path
import pytest

from tests.agents.conftest import Peek
from tests.fleet.conftest import wait_for_child

pytestmark = pytest.mark.real


def marked(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["environ"]):
        env = proc.info.get("environ") or {}
        if env.get("FLEET_SESSION") == marker:
            found.append(proc)
    return found


def test_start_status_screen_steer_kill_audit_down(fleet):
    out = fleet.run("start").stdout
    assert {"started shell", "started echo", "started stubborn"} <= set(out.split("\n"))

    sessions = {s["name"]: s for s in fleet.status()}
    assert set(sessions) == {"shell", "echo", "stubborn"}
    repo = fleet.repo.resolve()
    for s in sessions.values():
        assert s["pid"] and psutil.pid_exists(s["pid"])
        assert s["branch"] == f"fleet/{s['name']}"
        worktree = Path(s["worktree"])
        assert worktree.is_dir() and not worktree.is_relative_to(repo), "worktrees live outside the repo"
        assert (s["cols"], s["rows"]) == (120, 40)
        assert "time" in s["budget"]

    # Steer the shell: the typed text runs and its output is on the emulated screen.
    fleet.run("send", "shell", "echo fleet-$((6*7))")
    fleet.wait_screen("shell", "fleet-42")
    # Keys: ctrl+c interrupts a running command through the pty's line discipline.
    fleet.run("send", "shell", "sleep 30; echo not-interrupted")
    wait_for_child(sessions["shell"]["pid"], ["sleep", "30"])
    fleet.run("keys", "shell", "ctrl+c")
    fleet.run("send", "shell", "echo after-$((1+1))")
    screen = fleet.wait_screen("shell", "after-2")
    assert "not-interrupted" not in [line.strip() for line in screen.splitlines()], "ctrl+c stopped the sleep"

    fleet.run("send", "echo", "hello")
    fleet.wait_screen("echo", "got: hello")

    # Kill the stubborn one: its whole tree, including the setsid'd grandchild, is gone in 2 s.
    stubborn = fleet.session("stubborn")
    pid = stubborn["pid"]
    marker = psutil.Process(pid).environ()["FLEET_SESSION"]
    assert len(marked(marker)) >= 2

    def runaways():
        worktree = os.path.realpath(stubborn["worktree"])
        return [p for p in psutil.process_iter(["cmdline", "cwd"])
                if p.info["cmdline"] == ["sleep", "301"] and (p.info["cwd"] or "").startswith(worktree)]
    deadline = time.monotonic() + 10
    while not runaways() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(runaways()) == 1 and runaways()[0].pid not in {p.pid for p in marked(marker)}
    others = [fleet.session("shell")["pid"], fleet.session("echo")["pid"]]
    started = time.monotonic()
    fleet.run("kill", "stubborn")
    deadline = started + 2.0
    while marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked(marker) == [], "every process of the killed session is gone within 2 s"
    assert runaways() == [], "the runaway too, found by its folder"
    assert all(psutil.pid_exists(p) for p in others), "no other session was touched"
    assert fleet.session("stubborn")["status"] == "killed"
    assert Path(stubborn["worktree"]).is_dir(), "the worktree stays until discarded"

    # The audit trail saw all of it and is intact.
    kinds = [json.loads(line)["kind"] for line in fleet.run("log", "--json", "-n", "0").stdout.splitlines()]
    for kind in ("spawned", "prompt", "killed"):
        assert kind in kinds
    assert fleet.run("audit", "verify").returncode == 0

    fleet.run("down")
    for p in others:
        assert not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE


def test_audit_verify_names_a_tampered_entry(fleet):
    fleet.run("start", "echo")
    fleet.run("down")
    trail = fleet.repo / ".git" / "fleet" / "audit.jsonl"
    lines = trail.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["message"] = "forged"
    lines[1] = json.dumps(entry)
    trail.write_text("\n".join(lines) + "\n")
    result = fleet.run("audit", "verify", check=False)
    assert result.returncode == 1
    assert "entry 2" in result.stdout


def test_server_outlives_its_client_and_socket_is_private(fleet, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", fleet.env["XDG_RUNTIME_DIR"])
    fleet.run("start", "shell")
    pid = fleet.server_pid()
    server = psutil.Process(pid)
    assert os.getsid(pid) == pid, "the server leads its own session, detached from the terminal"
    path = socket_path(fleet.repo)
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # A later command finds the same server and the same running session.
    assert fleet.session("shell")["status"] in ("starting", "idle", "working")
    assert fleet.server_pid() == pid and server.is_running()


def test_pause_and_resume_stop_the_whole_tree(fleet):
    fleet.run("start", "stubborn")
    pid = fleet.session("stubborn")["pid"]
    marker = psutil.Process(pid).environ()["FLEET_SESSION"]
    fleet.run("pause", "stubborn")
    assert fleet.session("stubborn")["status"] == "paused"
    assert all(p.status() == psutil.STATUS_STOPPED for p in marked(marker))
    fleet.run("resume", "stubborn")
    assert all(p.status() != psutil.STATUS_STOPPED for p in marked(marker))


def test_usage_errors_are_one_line_with_exit_2(fleet):
    result = fleet.run("start", "nobody", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown agent 'nobody'" in result.stderr
    result = fleet.run("keys", "shell", "hyper+q", check=False)
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    result = fleet.run("frobnicate", check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_broken_fleet_yaml_is_located(fleet):
    (fleet.repo / "fleet.yaml").write_text("agents:\n  shell:\n    command: [bash]\n    modle: x\n")
    result = fleet.run("status", check=False)
    assert result.returncode == 2
    assert "fleet.yaml:4" in result.stderr and "modle" in result.stderr
    assert "Traceback" not in result.stderr


def test_outside_a_git_repository(tmp_path, runtime_dir):
    from tests.fleet.conftest import FleetCli

    cli = FleetCli(tmp_path, runtime_dir)
    result = cli.run("status", check=False)
    assert result.returncode != 0 and "git" in result.stderr and "Traceback" not in result.stderr


def test_a_command_right_after_a_stop_starts_a_fresh_server(fleet):
    """The old server may still be killing its sessions; the new one waits for its lock."""
    fleet.run("start", "shell")  # an interactive shell ignores TERM: stopping takes a grace period
    old = fleet.server_pid()
    os.kill(old, 15)
    assert fleet.run("status", "--json").returncode == 0
    new = fleet.server_pid()
    assert new and new != old


def test_several_sessions_of_one_agent_get_their_own_worktrees_at_once(fleet):
    import git

    # Enough at once that `git worktree add`s overlapping would see each other half-made.
    fleet.run("start", "echo", "--count", "12")
    sessions = {s["name"]: s for s in fleet.status()}
    assert set(sessions) == {"echo"} | {f"echo-{n}" for n in range(2, 13)}
    worktrees = {Path(s["worktree"]).resolve() for s in sessions.values()}
    assert len(worktrees) == 12 and all((w / "fleet.yaml").is_file() for w in worktrees)
    assert all(git.Repo(w).git.status("--porcelain") == "" for w in worktrees)
    repo = git.Repo(fleet.repo)
    listed = {Path(line.split(" ", 1)[1]).resolve() for line in repo.git.worktree("list", "--porcelain").splitlines()
              if line.startswith("worktree ")}
    assert worktrees <= listed
    assert {f"fleet/{name}" for name in sessions} <= {head.name for head in repo.heads}
    # Each one answers, over one socket: a `fleet-tui` process per send and per look (two dozen and
    # more) made this test outlast its timeout on a busy machine.
    peek = Peek(fleet)
    for name in sessions:
        peek.call("send", session=name, text=f"hi {name}")
    deadline = time.monotonic() + 60
    for name in sessions:
        while not any(f"got: hi {name}" in row for row in peek.screen(name)):
            assert time.monotonic() < deadline, f"{name} never answered: {peek.screen(name)}"
            time.sleep(0.1)


def test_a_stuck_server_is_reported_not_waited_for(tmp_path, runtime_dir, monkeypatch):
    """A server that takes the connection and never answers: `status` says so in one line and exits."""
    import socket

    from tests.fleet.conftest import FleetCli, make_repo

    cli = FleetCli(make_repo(tmp_path / "repo"), runtime_dir)
    cli.env["FLEET_QUICK_REPLY_SECONDS"] = "1"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    with socket.socket(socket.AF_UNIX) as stuck:
        stuck.bind(str(socket_path(cli.repo)))
        stuck.listen()  # the kernel queues the connection; nothing ever reads or replies
        started = time.monotonic()
        result = cli.run("status", check=False, timeout=30)
    assert result.returncode == 1 and time.monotonic() - started < 15
    error = result.stderr.strip()
    assert "did not answer `status` within 1 s" in error and "server.pid" in error
    assert len(error.splitlines()) == 1 and "Traceback" not in error
