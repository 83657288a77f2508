"""`fleet-tui machines` and every verb with --machine, through a real sshd to a second repository."""

from __future__ import annotations

import json
import os
import stat
import time

import psutil

from tests.fleet.conftest import wait_for_child
from tests.machines.conftest import HOST
import pytest

pytestmark = pytest.mark.real


def test_machines_add_list_check_remove(two_machines):
    cli = two_machines.local
    listed = json.loads(cli.run("machines", "list", "--json").stdout)
    assert [(m["name"], m["dest"], m["path"]) for m in listed] == [("build", HOST, str(two_machines.remote_repo))]
    path = cli.env["XDG_CONFIG_HOME"] + "/fleet-tui/machines.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    check = cli.run("machines", "check", "build")
    assert "build (fleet-test-remote): ok" in check.stdout and "protocol 1" in check.stdout, check.stdout

    # A second machine whose fleet-tui is missing, one that is no repository, one unreachable.
    cli.run("machines", "add", "nofleet", HOST, str(two_machines.remote_repo), "--command", "/nonexistent/fleet-tui")
    cli.run("machines", "add", "norepo", HOST, "/", "--command", listed[0]["command"])
    cli.run("machines", "add", "nohost", "nosuchhost.invalid", "/srv/x")
    result = cli.run("machines", "check", check=False)
    assert result.returncode == 1
    lines = {line.split(" ")[0]: line for line in result.stdout.splitlines()}
    assert "ok" in lines["build"]
    assert "fleet-tui is not installed" in lines["nofleet"] and "pip install" in lines["nofleet"]
    assert "not inside a git repository" in lines["norepo"]
    assert "cannot reach it over ssh" in lines["nohost"] and "ssh nosuchhost.invalid true" in lines["nohost"]

    # Bad input: one line, exit 2.
    for bad in (["machines", "add", "Bad Name", HOST, "/x"], ["machines", "add", "x", "-oProxyCommand=sh", "/x"],
                ["machines", "add", "x", HOST, "relative/path"], ["machines", "add", "build", HOST, "/x"],
                ["machines", "remove", "nope"], ["status", "--machine", "nope"]):
        result = cli.run(*bad, check=False)
        assert result.returncode == 2, (bad, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr

    # A command with arguments (a venv's interpreter, say) is split like a shell would.
    cli.run("machines", "add", "bymodule", HOST, str(two_machines.remote_repo), "--command",
            f"{listed[0]['command'].removesuffix('fleet-tui')}python -m fleet_tui")
    assert "ok" in cli.run("machines", "check", "bymodule").stdout
    cli.run("machines", "remove", "nohost")
    assert "nohost" not in cli.run("machines", "list").stdout


def remote_session(cli, name: str) -> dict:
    return next(s for s in json.loads(cli.run("status", "--json", "--machine", "build").stdout) if s["name"] == name)


def wait_remote_screen(cli, target: str, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = cli.run("screen", target).stdout
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared on {target}:\n{screen}")


def test_every_verb_reaches_the_remote_fleet(two_machines):
    cli = two_machines.local
    assert cli.run("start", "shell", "--machine", "build").stdout.strip() == "started shell"
    remote_pid = two_machines.remote_server_pid()
    assert remote_pid and psutil.pid_exists(remote_pid)
    assert cli.server_pid() is None, "nothing started on the local machine"
    shell = remote_session(cli, "shell")
    assert shell["worktree"].startswith(str(two_machines.remote_repo.parent)), shell["worktree"]
    # The remote agent runs in the remote repository's worktree (the same host here, so psutil sees it).
    assert psutil.Process(shell["pid"]).cwd() == shell["worktree"]

    cli.run("send", "build:shell", "echo remote-$((6*7))")
    wait_remote_screen(cli, "build:shell", "remote-42")
    cli.run("send", "build:shell", "sleep 30; echo not-interrupted")
    wait_for_child(shell["pid"], ["sleep", "30"])
    cli.run("keys", "shell", "ctrl+c", "--machine", "build")
    cli.run("send", "build:shell", "echo after-$((1+1))")
    screen = wait_remote_screen(cli, "build:shell", "after-2")
    assert "not-interrupted" not in [line.strip() for line in screen.splitlines()]
    assert json.loads(cli.run("screen", "build:shell", "--json").stdout)["cols"] == 120

    cli.run("pause", "build:shell")
    assert psutil.Process(shell["pid"]).status() == psutil.STATUS_STOPPED
    cli.run("resume", "--machine", "build", "shell")
    assert psutil.Process(shell["pid"]).status() != psutil.STATUS_STOPPED
    assert "killed shell" in cli.run("kill", "build:shell").stdout
    assert not psutil.pid_exists(shell["pid"]) or psutil.Process(shell["pid"]).status() == psutil.STATUS_ZOMBIE
    cli.run("restart", "build:shell")
    assert remote_session(cli, "shell")["status"] != "killed"
    explained = cli.run("status", "--explain", "build:shell").stdout
    assert explained.startswith("shell: ")
    log = cli.run("log", "--machine", "build").stdout
    assert "killed" in log and "fleet server" in log
    # --machine and a different NAME: prefix disagree: a usage error.
    result = cli.run("kill", "other:shell", "--machine", "build", check=False)
    assert result.returncode == 2 and "disagree" in result.stderr

    assert "fleet server stopped" in cli.run("down", "--machine", "build").stdout
    deadline = time.monotonic() + 10
    while psutil.pid_exists(remote_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not psutil.pid_exists(remote_pid)
    # With no server there, a control verb says so instead of starting one.
    result = cli.run("kill", "build:shell", check=False)
    assert result.returncode == 1 and "no fleet server is running" in result.stderr
    assert two_machines.remote_server_pid() is None
