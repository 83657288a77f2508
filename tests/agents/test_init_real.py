"""`fleet-tui init` with the real CLIs on PATH: it lists them in a fleet.yaml that `fleet-tui start`
accepts (each CLI really starts), and it will not overwrite that file (exit 2, one line)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psutil
import pytest
import yaml

from tests.agents.conftest import CASES, agent_path, find_cli, kill_processes_with_home
from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real


def test_init_lists_the_installed_clis_start_accepts_it_and_it_is_never_overwritten(tmp_path):
    installed = [name for name in CASES if find_cli(name)]
    if not installed:
        pytest.skip("none of claude, codex, gemini, aider is installed; scripts/install-agent-clis.sh installs them")
    runtime = Path(tempfile.mkdtemp(prefix="fi-"))
    home = tmp_path / "home"  # the CLIs started below read and write this, not the machine's HOME
    home.mkdir()
    for name in installed:
        if CASES[name].prepare_home:
            CASES[name].prepare_home(home)
    cli = FleetCli(make_repo(tmp_path / "repo", fleet_yaml=None), runtime)
    cli.env.update({"PATH": agent_path(), "HOME": str(home)})
    for name in installed:
        cli.env.update(CASES[name].env)
    try:
        result = cli.run("init")
        assert "wrote" in result.stdout
        text = (cli.repo / "fleet.yaml").read_text()
        agents = yaml.safe_load(text)["agents"]
        for name in installed:
            assert agents[name]["preset"] == name, text
        assert "# Agent CLIs found on this machine: " in text

        out = cli.run("start").stdout
        assert {f"started {name}" for name in installed} <= set(out.split("\n")), out
        sessions = {s["name"]: s for s in cli.status()}
        for name in installed:
            assert sessions[name]["agent"] == name
            assert sessions[name]["pid"] and psutil.pid_exists(sessions[name]["pid"])

        before = (cli.repo / "fleet.yaml").read_bytes()
        again = cli.run("init", check=False)
        assert again.returncode == 2
        assert again.stderr.count("\n") == 1 and "already exists" in again.stderr, again.stderr
        assert "Traceback" not in again.stderr
        assert (cli.repo / "fleet.yaml").read_bytes() == before
    finally:
        cli.shut_down()
        kill_processes_with_home([home])  # Codex leaves a daemon in a session of its own
        shutil.rmtree(runtime, ignore_errors=True)
