"""`fleet-tui init` writes a fleet.yaml that loads, for whatever CLIs are installed."""

import os
import stat

import pytest

from fleet_tui.config import load_config, parse_config
from fleet_tui.errors import UsageError
from fleet_tui.initcmd import detect_installed, render_fleet_yaml, write_fleet_yaml
from fleet_tui.presets import load_all, load_preset


def fake_path(tmp_path, monkeypatch, programs):
    """A PATH holding only real (tiny) executables with the given names."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in programs:
        exe = bin_dir / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_detects_the_clis_on_path(tmp_path, monkeypatch):
    fake_path(tmp_path, monkeypatch, ["codex", "aider", "bash"])
    assert [p.name for p in detect_installed()] == ["aider", "codex"]


def test_rendered_config_loads_for_every_preset():
    presets = [p for p in load_all() if p.name != "shell"]
    config = parse_config(render_fleet_yaml(presets))
    assert list(config.agents) == [p.name for p in presets]


def test_shell_agent_when_nothing_is_installed(tmp_path, monkeypatch):
    fake_path(tmp_path, monkeypatch, [])
    path = write_fleet_yaml(tmp_path)
    assert path == tmp_path / "fleet.yaml"
    config = load_config(path)
    assert list(config.agents) == ["shell"] and config.agents["shell"].preset == "shell"
    assert "npm install -g @anthropic-ai/claude-code" in path.read_text()


def test_written_file_uses_the_detected_clis(tmp_path, monkeypatch):
    fake_path(tmp_path, monkeypatch, ["claude", "gemini"])
    config = load_config(write_fleet_yaml(tmp_path))
    assert list(config.agents) == ["claude", "gemini"]


def test_never_overwrites(tmp_path):
    (tmp_path / "fleet.yaml").write_text("mine\n")
    with pytest.raises(UsageError, match="fleet.yaml already exists"):
        write_fleet_yaml(tmp_path, [load_preset("claude")])
    assert (tmp_path / "fleet.yaml").read_text() == "mine\n"
    assert os.listdir(tmp_path) == ["fleet.yaml"]
