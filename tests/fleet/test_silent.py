"""Silent is not starting: a command that prints nothing until it reads its input is idle after the
quiet period, and a prompt fanned out to it is typed, then (its turn over) it is done."""

from __future__ import annotations

import json
import textwrap

from tests.fleet.conftest import FleetCli, make_repo
import pytest

pytestmark = pytest.mark.real

SILENT = textwrap.dedent(
    """\
    agents:
      quiet:
        command: [sh, -c, "read line; echo \\"got: $line\\"; sleep 300"]
    """
)


def test_a_silent_agent_becomes_idle_and_gets_its_prompt(tmp_path, runtime_dir):
    cli = FleetCli(make_repo(tmp_path / "repo", SILENT), runtime_dir)
    try:
        cli.run("start", "quiet")
        info = cli.wait_status("quiet", "idle", timeout=15)
        assert "no output since it started" in info["reason"]
        run = json.loads(cli.run("fanout", "hello there", "--agents", "quiet", "--json").stdout)
        [name] = run["sessions"]
        cli.wait_screen(name, "got: hello there", timeout=20)
        cli.wait_status(name, "done", timeout=15)
        events = cli.run("log", "-n", "0").stdout
        assert "never became ready" not in events
    finally:
        cli.run("down", check=False)
