"""Issue 12, defects 6 and 7: odd files, huge check output, vanished worktrees, and the smaller items.

Each test drives the real CLI against a real server and a real repository, with the
input a user would really have: a file name that is not UTF-8, a check printing 50 MB,
a worktree removed with rm -rf, a TUI still open when `down` runs, a pipe closed early.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.fleet.conftest import FleetCli, make_repo
from tests.fleet.test_races import RACE_FLEET, fan_out, git

pytestmark = pytest.mark.real

# An attempt that also leaves a file whose name is not UTF-8 (byte 0xff).
ODD_FLEET = textwrap.dedent(
    """\
    agents:
      s:
        command: [sh, -c, 'touch "$(printf "bad\\377name.txt")"; echo x > "$FLEET_SESSION_NAME.txt"; exec sleep 600']
    """
)


def cli_for(tmp_path, runtime_dir, fleet_yaml: str) -> FleetCli:
    return FleetCli(make_repo(tmp_path / "repo", fleet_yaml), runtime_dir)


@pytest.fixture
def make_cli(tmp_path, runtime_dir):
    made: list[FleetCli] = []

    def make(fleet_yaml: str) -> FleetCli:
        made.append(cli_for(tmp_path, runtime_dir, fleet_yaml))
        return made[-1]

    yield make
    for cli in made:
        cli.run("down", check=False)


def test_a_file_name_that_is_not_utf8_compares_and_merges(make_cli):
    cli = make_cli(ODD_FLEET)
    first, second = fan_out(cli)
    result = json.loads(cli.run("compare", "--json").stdout)
    paths = {f["path"] for f in result["attempts"][0]["files"]}
    assert "bad\udcffname.txt" in paths, paths  # the name travels intact (as a JSON escape)
    assert "merge the best with: fleet-tui merge" in cli.run("compare").stdout  # the table prints too
    diff = cli.run("merge", first, "--yes")
    assert f"merged {first} into main" in diff.stdout
    assert b"bad\xffname.txt" in os.listdir(bytes(cli.repo)), "the odd file landed on main, byte for byte"


BIG_OUTPUT_FLEET = RACE_FLEET + textwrap.dedent(
    """\
    checks:
      noisy: "{python} -c \\"import sys; sys.stdout.write('x' * 50_000_000 + '\\\\nthe verdict\\\\n')\\""
    """
)


def test_a_check_printing_50_mb_is_cut_to_its_tail_and_compare_answers(make_cli):
    cli = make_cli(BIG_OUTPUT_FLEET)
    fan_out(cli)
    done = cli.run("compare", "--json", check=False, timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    output = result["attempts"][0]["checks"]["noisy"]["output"]
    assert output.startswith("[fleet-tui: the output was 50.0 MB; only its last"), output[:100]
    assert output.rstrip().endswith("the verdict"), "the tail, where a verdict is, is kept"
    assert len(done.stdout) < 2_000_000


def test_a_worktree_deleted_by_hand_is_shown_missing_and_the_rest_goes_on(make_cli):
    cli = make_cli(RACE_FLEET)
    first, second = fan_out(cli)
    gone = Path(cli.session(first)["worktree"])
    shutil.rmtree(gone)
    result = json.loads(cli.run("compare", "--json").stdout)
    rows = {a["session"]: a for a in result["attempts"]}
    assert rows[first]["status"] == "missing" and "is gone" in rows[first]["problem"]
    assert rows[second]["files_changed"] == 1 and rows[second]["problem"] is None
    assert f"merged {second} into main" in cli.run("merge", second, "--yes").stdout
    assert cli.status() == [] and git(cli.repo, "branch", "--list", f"fleet/{first}") == ""


def test_down_then_start_reuses_the_agents_own_worktree(fleet):
    fleet.run("start", "shell")
    worktree = Path(fleet.session("shell")["worktree"])
    (worktree / "notes.txt").write_text("the agent's work\n")
    fleet.run("down")
    out = fleet.run("start", "shell").stdout
    assert "shell" in out.split() and "shell-2" not in out
    assert fleet.session("shell")["worktree"] == str(worktree)
    assert (worktree / "notes.txt").read_text() == "the agent's work\n"
    assert [s["name"] for s in fleet.status()] == ["shell"]


def test_start_never_advises_deleting_a_branch_with_the_agents_commits(fleet):
    fleet.run("start", "shell")
    worktree = Path(fleet.session("shell")["worktree"])
    (worktree / "work.txt").write_text("committed work\n")
    git(worktree, "add", "work.txt")
    git(worktree, "-c", "user.name=a", "-c", "user.email=a@a", "commit", "-qm", "the agent's commit")
    fleet.run("down")
    git(fleet.repo, "worktree", "remove", "--force", str(worktree))  # the worktree is lost, its branch is not
    started = fleet.run("start", "shell", check=False)
    assert started.returncode == 0 and "branch -D" not in started.stderr, started.stderr
    assert "shell-2" in started.stdout, "a new name, the old branch untouched"
    assert "the agent's commit" in git(fleet.repo, "log", "--format=%s", "fleet/shell")


GHOST_FLEET = textwrap.dedent(
    """\
    agents:
      ghost:
        command: [no-such-agent-cli, --flag]
    """
)


def test_a_missing_agent_command_leaves_no_worktree_or_branch(make_cli):
    cli = make_cli(GHOST_FLEET)
    for _ in range(2):
        done = cli.run("start", "ghost", check=False)
        assert done.returncode == 1 and "command not found: no-such-agent-cli" in done.stderr, done.stderr
    assert git(cli.repo, "branch", "--list", "fleet/*") == ""
    assert git(cli.repo, "worktree", "list").count("\n") == 1
    assert not (cli.repo.parent / "repo.worktrees").exists() or not any((cli.repo.parent / "repo.worktrees").iterdir())


@pytest.mark.parametrize("where, words", [("README.md", "is a file, not a folder"),
                                          ("/proc/fleet-worktrees", "cannot be created")])
def test_bad_worktrees_paths_are_clear_errors(make_cli, where, words):
    cli = make_cli(f"worktrees: {where}\n" + textwrap.dedent(
        """\
        agents:
          shell: {command: [bash, --norc]}
        """))
    done = cli.run("start", "shell", check=False)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert words in done.stderr and "worktrees:" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_output_piped_to_a_reader_that_stops_is_no_error(fleet):
    fleet.run("start", "shell")
    for i in range(30):
        fleet.run("send", "shell", f"# a line to make the log long {i} " + "x" * 200)
    for _ in range(3):
        piped = subprocess.run(f"'{sys.executable}' -m fleet_tui log -n 0 | head -n 1", shell=True, cwd=fleet.repo,
                               env=fleet.env, capture_output=True, text=True, timeout=60)
        assert "internal error" not in piped.stderr and "Traceback" not in piped.stderr, piped.stderr
        assert piped.stdout.count("\n") == 1


REAPER = textwrap.dedent(
    """\
    import sys, time
    from pathlib import Path
    from fleet_tui.client import start_server_process
    start_server_process(Path(sys.argv[1]))  # as the TUI does when no server runs
    print("up", flush=True)
    time.sleep(120)
    """
)


def test_down_succeeds_while_the_tui_that_started_the_server_is_open(fleet):
    parent = subprocess.Popen([sys.executable, "-c", REAPER, str(fleet.repo)], cwd=fleet.repo, env=fleet.env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "up"
        server = fleet.server_pid()
        assert psutil.Process(server).ppid() == parent.pid, "the server is this process's child"
        started = time.monotonic()
        down = fleet.run("down", check=False)
        assert down.returncode == 0, down.stderr
        assert time.monotonic() - started < 8
        deadline = time.monotonic() + 5
        while psutil.pid_exists(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not psutil.pid_exists(server), "the parent reaped it: no zombie is left"
    finally:
        parent.kill()
        parent.wait()


def test_copy_never_follows_a_symlink_out_of_the_repository(make_cli):
    cli = make_cli("copy: [secret]\n" + textwrap.dedent(
        """\
        agents:
          shell: {command: [bash, --norc]}
        """))
    os.symlink("/etc/passwd", cli.repo / "secret")
    cli.run("start", "shell")
    copied = Path(cli.session("shell")["worktree"]) / "secret"
    assert not copied.exists() or not copied.read_text().startswith(Path("/etc/passwd").read_text()[:20])


def test_kills_at_shutdown_are_in_the_audit_trail(fleet):
    fleet.run("start", "shell")
    fleet.run("down")
    trail = fleet.repo / ".git" / "fleet" / "audit.jsonl"
    killed = [json.loads(line) for line in trail.read_text().splitlines() if '"killed"' in line]
    assert any(e["session"] == "shell" and "server was stopped" in e["message"] for e in killed)


@pytest.mark.parametrize("where, words", [("nowhere", "is not a folder"), ("plain", "is not inside a git repository")])
def test_running_outside_a_repository_is_a_usage_error(fleet, tmp_path, where, words):
    (tmp_path / "plain").mkdir()
    done = fleet.run("-C", str(tmp_path / where), "status", check=False)
    assert done.returncode == 2 and words in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
