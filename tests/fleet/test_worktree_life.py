"""Issue 16 through the real CLI and server: what a worktree gets (.worktreeinclude, link:), its
$PORT for life, teardown before removal, and attempts free of agent litter."""

import json
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

FLEET = textwrap.dedent(
    """\
    ports: 3150-3199
    link: [node_modules]
    teardown:
      - sh -c 'echo "$FLEET_SESSION_NAME $PORT" >> ../teardown.log'
      - sh -c 'echo cannot reach the database >&2; exit 3'
      - sleep 30
    teardown_timeout: 1s
    agents:
      shell: {command: [bash, --norc, --noprofile]}
    """
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def fleet(tmp_path, runtime_dir):
    repo = make_repo(tmp_path / "repo", FLEET)
    (repo / ".gitignore").write_text(".env\nnode_modules/\n")
    (repo / ".worktreeinclude").write_text(".env\n")
    git(repo, "add", ".gitignore", ".worktreeinclude")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "ignore and include")
    (repo / ".env").write_text("SECRET=1\n")
    (repo / "node_modules" / "dep").mkdir(parents=True)
    (repo / "node_modules" / "dep" / "index.js").write_text("module.exports = 1\n")
    cli = FleetCli(repo, runtime_dir)
    yield cli
    cli.run("down", check=False)


def events(cli: FleetCli) -> list[dict]:
    return [json.loads(line) for line in cli.run("log", "--json", "-n", "0").stdout.splitlines()]


def test_each_session_gets_its_files_and_a_port_for_life(fleet):
    fleet.run("start", "shell", "-n", "2")
    infos = {s["name"]: s for s in fleet.status()}
    assert set(infos) == {"shell", "shell-2"}
    ports = {name: info["port"] for name, info in infos.items()}
    assert len(set(ports.values())) == 2 and all(3150 <= p <= 3199 for p in ports.values())

    worktree = Path(infos["shell"]["worktree"])
    assert (worktree / ".env").read_text() == "SECRET=1\n", ".worktreeinclude"
    assert (worktree / "node_modules").is_symlink(), "link:"
    assert git(worktree, "status", "--porcelain") == "", "the link is not work to commit"

    fleet.run("send", "shell", "echo port=$PORT/$FLEET_PORT")
    fleet.wait_screen("shell", f"port={ports['shell']}/{ports['shell']}")
    # Stable for the life of the worktree: across a restart of the agent and of the server.
    fleet.run("restart", "shell")
    fleet.run("down")
    assert {s["name"]: s["port"] for s in fleet.status()} == ports
    fleet.run("restart", "shell")
    fleet.run("send", "shell", "echo again=$PORT")
    fleet.wait_screen("shell", f"again={ports['shell']}")


def test_teardown_runs_before_removal_and_a_failure_does_not_stop_it(fleet):
    fleet.run("start", "shell")
    info = fleet.session("shell")
    started = time.monotonic()
    fleet.run("discard", "shell")
    took = time.monotonic() - started
    assert not Path(info["worktree"]).exists(), "removed although teardown failed and timed out"
    assert took < 20, "a hanging teardown command is stopped by teardown_timeout"
    log = (fleet.repo.parent / "repo.worktrees" / "teardown.log").read_text()
    assert log == f"shell {info['port']}\n", "ran in the worktree with its $PORT"
    messages = [e["message"] for e in events(fleet) if e.get("session") == "shell"]
    assert any("teardown ran" in m for m in messages)
    assert any("teardown FAILED (exit code 3)" in m and "cannot reach the database" in m for m in messages)
    assert any("teardown FAILED (timed out)" in m and "removed anyway" in m for m in messages)
    # Its port went back to the pool: the next session may have it.
    fleet.run("start", "shell")
    assert fleet.session("shell")["port"] == info["port"]


LITTER_PROMPT = (
    "printf 'print(42)\\n' > work.py; "
    "printf '# aider chat started at 2026-11-30\\n> aider --model x\\n' > .aider.chat.history.md; "
    "printf '+fix it\\n' > .aider.input.history; "
    "mkdir -p .aider.tags.cache.v4 && printf x > .aider.tags.cache.v4/cache.db; "
    "mkdir -p .claude && printf '{}' > .claude/settings.local.json; echo wrote-$((6*7))"
)


def test_compare_and_merge_carry_the_work_and_never_the_agents_litter(fleet):
    run = json.loads(fleet.run("fanout", LITTER_PROMPT, "--agents", "shell", "-n", "2", "--json").stdout)
    for name in run["sessions"]:
        fleet.wait_screen(name, "wrote-42", timeout=30)
        # Its output reads as work until it has been quiet a moment; merge refuses a working attempt.
        fleet.wait_status(name, "done", timeout=30)
    result = json.loads(fleet.run("compare", "--json").stdout)
    for attempt in result["attempts"]:
        assert [f["path"] for f in attempt["files"]] == ["work.py"], attempt["files"]
    winner = run["sessions"][0]
    fleet.run("merge", winner, "--yes")
    tracked = git(fleet.repo, "ls-files").split()
    assert "work.py" in tracked
    assert not [path for path in tracked if path.startswith((".aider", ".claude"))]
    # Merge cleanup removed both worktrees, each after its teardown.
    log = (fleet.repo.parent / "repo.worktrees" / "teardown.log").read_text().split("\n")
    assert sorted(line.split()[0] for line in log if line) == sorted(run["sessions"])
