"""The ssh command lines fleet_tui builds: safe for the remote shell, sockets in a private folder."""

from __future__ import annotations

import shlex
import stat
import subprocess

from fleet_tui import ssh
import pytest

pytestmark = pytest.mark.real


def test_the_remote_command_reaches_the_remote_shell_word_for_word(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    words = ["fleet-tui", "bridge", "-C", "/srv/it's a \"repo\" $HOME `id`; rm -rf ~", "--protocol", "1"]
    argv = ssh.ssh_argv("-oProxyCommand=evil", words)
    # The destination follows `--`: ssh cannot take it for an option.
    assert argv[-3:-1] == ["--", "-oProxyCommand=evil"]
    # ssh hands its last word to the remote user's shell; that shell gets the words back unchanged.
    echoed = subprocess.run(["sh", "-c", 'for w in ' + argv[-1] + '; do printf "%s\\n" "$w"; done'],
                            capture_output=True, text=True, check=True).stdout
    assert echoed.splitlines() == words
    assert shlex.split(argv[-1]) == words


def test_control_sockets_live_in_a_private_folder_short_enough_for_a_socket(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    for runtime in (tmp_path, deep):
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        path = ssh.control_path("build-box")
        assert len(str(path)) + 17 < 107, path  # ssh adds a temporary suffix while creating it
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path != ssh.control_path("other-box")
        options = ssh.ssh_options("build-box")
        assert f"ControlPath={path}" in options and "BatchMode=yes" in options
