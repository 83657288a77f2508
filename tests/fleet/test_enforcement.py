"""Ceilings that are enforced, credentials kept per agent, and children that print garbage:
all through the real server and CLI."""

import json
import textwrap
import time

import psutil
import pytest

from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

BURN = "while True: pass"
GARBAGE = (
    "import os, random, sys, time\n"
    "random.seed(7)\n"
    "for _ in range(200):\n"
    "    os.write(1, bytes(random.randrange(256) for _ in range(512)))\n"
    "os.write(1, b'\\x1b[0m\\x1bc\\r\\nstill-alive\\r\\n')\n"
    "time.sleep(300)\n"
)

SHOW_ENV = "env | grep -E '^(PATH|TERM|COLORTERM|MY_TOKEN|SERVER_SECRET)=' | sort; sleep 300"

FLEET = textwrap.dedent(
    f"""\
    agents:
      timed:
        command: [sleep, "300"]
        budget: {{time: 2s, on_exceed: kill}}
      burner:
        command: [python3, -c, "{BURN}"]
        budget: {{cpu: 1s, on_exceed: pause}}
      secretive:
        command: [sh, -c, "{SHOW_ENV}"]
        env: {{MY_TOKEN: only-for-secretive}}
        inherit_env: [PATH, HOME]
      open:
        command: [sh, -c, "{SHOW_ENV}"]
      noisy:
        command: [python3, -c, {json.dumps(GARBAGE)}]
    """
)


@pytest.fixture
def cli(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", FLEET), runtime_dir)
    cli.env["SERVER_SECRET"] = "must-not-leak"
    yield cli
    cli.run("down", check=False)


def events(cli: FleetCli, kind: str) -> list[dict]:
    log = [json.loads(line) for line in cli.run("log", "--json", "-n", "0").stdout.splitlines()]
    return [e for e in log if e["kind"] == kind]


def test_time_budget_kills_the_tree(cli):
    cli.run("start", "timed")
    pid = cli.session("timed")["pid"]
    info = cli.wait_status("timed", "over_budget", timeout=10)
    assert "time" in info["reason"]
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the over-budget session was killed"
        time.sleep(0.1)
    exceeded = events(cli, "budget_exceeded")
    assert exceeded and exceeded[0]["session"] == "timed" and exceeded[0]["data"]["action"] == "kill"


def test_cpu_budget_pauses_the_tree(cli):
    cli.run("start", "burner")
    pid = cli.session("burner")["pid"]
    cli.wait_status("burner", "over_budget", timeout=15)
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    used = cli.session("burner")["budget"]["cpu"]["used"]
    assert used >= 1.0
    cli.run("resume", "burner")
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED


def test_each_agent_gets_only_the_environment_its_config_gives(cli):
    cli.run("start", "secretive", "open")
    secretive = cli.wait_screen("secretive", "PATH=")
    opened = cli.wait_screen("open", "PATH=")
    assert "MY_TOKEN=only-for-secretive" in secretive
    assert "SERVER_SECRET" not in secretive, "the allowlist keeps the server's variables out"
    assert "MY_TOKEN" not in opened, "one agent's credentials never reach another"
    assert "SERVER_SECRET=must-not-leak" in opened, "without an allowlist everything is inherited"
    for screen in (secretive, opened):
        assert "TERM=xterm-256color" in screen and "COLORTERM=truecolor" in screen


def test_garbage_bytes_never_crash_a_session(cli):
    cli.run("start", "noisy", "open")
    cli.wait_screen("noisy", "still-alive")
    assert cli.session("noisy")["status"] in ("idle", "working")
    cli.run("send", "open", "echo server-still-answers")
    cli.wait_screen("open", "server-still-answers")
