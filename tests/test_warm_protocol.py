"""What the launcher and the warm UI process compare before a child takes a terminal."""

from fleet_tui.launch import repo_root_guess
from fleet_tui.warm_protocol import import_time_environment, warm_ui_enabled


def test_only_what_is_read_at_import_time_must_match():
    env = {"TEXTUAL_ANIMATIONS": "none", "PYTHONPATH": "/x", "ESCDELAY": "25", "TERM": "xterm", "HOME": "/h",
           "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "80"}
    assert import_time_environment(env) == {"TEXTUAL_ANIMATIONS": "none", "PYTHONPATH": "/x", "ESCDELAY": "25"}


def test_the_warm_process_is_on_unless_turned_off():
    assert warm_ui_enabled({})
    assert warm_ui_enabled({"FLEET_WARM_UI": "1"})
    for off in ("0", "no", "off", "false", " OFF "):
        assert not warm_ui_enabled({"FLEET_WARM_UI": off})


def test_the_launcher_finds_the_repository_above_its_folder(tmp_path):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "src" / "deep").mkdir(parents=True)
    assert repo_root_guess(str(tmp_path / "repo" / "src" / "deep")) == str(tmp_path / "repo")
    assert repo_root_guess(str(tmp_path / "repo")) == str(tmp_path / "repo")
    (tmp_path / "bare").mkdir()
    assert repo_root_guess(str(tmp_path / "bare")) in (None, *[str(p) for p in tmp_path.parents if (p / ".git").exists()])
