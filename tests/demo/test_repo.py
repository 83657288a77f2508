"""The demo repository is a real git repo whose tests fail exactly once, on the known bug."""

import re
import subprocess
import sys

import pytest
import yaml

from fleet_tui.demo.repo import DEMO_FLEET_YAML, create_demo_repo
from fleet_tui.errors import FleetError

pytestmark = pytest.mark.real


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_demo_repo_is_a_committed_git_repo(tmp_path):
    repo = create_demo_repo(tmp_path / "demo")
    assert repo == (tmp_path / "demo").resolve()
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "log", "--format=%an <%ae>").strip() == "fleet_tui demo <demo@fleet-tui.invalid>"
    tracked = set(git(repo, "ls-files").split())
    assert tracked == {"calc.py", "test_calc.py", "README.md", "fleet.yaml", ".gitignore"}
    assert git(repo, "status", "--porcelain") == ""


def test_exactly_one_test_fails_before_the_fix(tmp_path):
    repo = create_demo_repo(tmp_path / "demo")
    run = subprocess.run([sys.executable, "-m", "unittest", "-q"], cwd=repo, capture_output=True, text=True)
    assert run.returncode == 1
    assert re.findall(r"^(?:FAIL|ERROR): (\w+)", run.stderr, re.M) == ["test_median_even"]
    assert "FAILED (failures=1)" in run.stderr
    # Running the tests leaves only ignored files behind, so diffs stay clean.
    assert git(repo, "status", "--porcelain") == ""


def test_fleet_yaml_declares_demo_agents_and_the_tests_check(tmp_path):
    repo = create_demo_repo(tmp_path / "demo")
    assert (repo / "fleet.yaml").read_text() == DEMO_FLEET_YAML
    fleet = yaml.safe_load(DEMO_FLEET_YAML)
    assert fleet["checks"] == {"tests": "{python} -m unittest -q"}  # the interpreter fleet_tui runs on
    assert {agent["preset"] for agent in fleet["agents"].values()} == {"demo"}
    styles = {agent["args"][1] for agent in fleet["agents"].values()}
    assert styles == {"clean", "big", "sloppy"}


def test_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FleetError, match="not an empty directory"):
        create_demo_repo(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_accepts_an_existing_empty_directory(tmp_path):
    repo = create_demo_repo(tmp_path)
    assert (repo / "calc.py").is_file()
