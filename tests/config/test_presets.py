"""Built-in presets load and are consistent; users can add and override presets; bad ones are located."""

import pytest

from fleet_tui.config import load_config, parse_config
from fleet_tui.core.agent_spec import resolve_agent
from fleet_tui.errors import UsageError
from fleet_tui.presets import known_presets, load_all, load_preset

BUILTIN = {"claude", "codex", "gemini", "aider", "opencode", "goose", "shell"}


def test_every_builtin_preset_loads():
    assert BUILTIN <= set(known_presets())
    for preset in load_all():
        assert preset.description and preset.command


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(UsageError, match=r"unknown preset 'nope' \(known: .*claude.*codex"):
        load_preset("nope")


def test_user_preset_in_the_repository(tmp_path):
    presets = tmp_path / ".fleet" / "presets"
    presets.mkdir(parents=True)
    (presets / "mine.yaml").write_text(
        "name: mine\ncommand: [my-agent]\nmodel_flag: ['--model={model}']\nprompt: {mode: arg, args: [-p, '{prompt}']}\n")
    (tmp_path / "fleet.yaml").write_text("agents:\n  m:\n    preset: mine\n    model: big\n")
    config = load_config(tmp_path / "fleet.yaml")
    spec = resolve_agent(config, "m")
    assert spec.argv("hi") == ["my-agent", "--model=big", "-p", "hi"]
    assert "mine" in known_presets([presets]) and "mine" not in known_presets()


def test_user_preset_overrides_a_builtin(tmp_path):
    (tmp_path / "claude.yaml").write_text("name: claude\ncommand: [claude-nightly]\n")
    assert load_preset("claude", [tmp_path]).command == ["claude-nightly"]


def test_preset_not_in_the_repositorys_folder_is_unknown_to_the_config(tmp_path):
    with pytest.raises(UsageError, match=r'fleet.yaml:3: agents.m.preset: "mine" is not a known preset'):
        parse_config("agents:\n  m:\n    preset: mine\n", preset_dirs=[tmp_path])


@pytest.mark.parametrize("body, message", [
    ("name: bad\ncommand: [x]\nstatus:\n  region: 0\n", "bad.yaml:4: status.region: "),
    ("name: bad\ncommand: [x]\nready: '(unclosed'\n", "bad.yaml:3: ready: '(unclosed' is not a valid regular expression"),
    ("name: bad\ncommand: [x]\nmodel_flag: [--model]\n", "bad.yaml:3: model_flag: must contain {model}"),
    ("name: bad\ncommand: [x]\nprompt: {mode: paste}\n", "bad.yaml:3: prompt.mode: \"paste\" is not allowed"),
    ("name: bad\ncommand: [x]\nstatus: {wating: [x]}\n", "bad.yaml:3: status.wating: unknown key (did you mean waiting?)"),
    ("name: bad\ncommand: [x]\nstatus: {waiting: ['  ']}\n", "bad.yaml:3: status.waiting: holds an empty phrase"),
    ("name: other\ncommand: [x]\n", "bad.yaml:1: name: 'other' differs from the file name"),
    ("name: bad\n", "bad.yaml:1: command: is required but missing"),
])
def test_bad_preset_files_are_located(tmp_path, body, message):
    (tmp_path / "bad.yaml").write_text(body)
    with pytest.raises(UsageError) as caught:
        load_preset("bad", [tmp_path])
    assert str(caught.value).startswith(f"{tmp_path / message}")


def test_waiting_phrases_are_exact_dialog_texts_not_loose_prose():
    # "Would you like" alone would fire on ordinary replies; only whole dialog questions are allowed.
    for preset in load_all():
        for phrase in preset.status.waiting:
            assert len(phrase) >= 9, (preset.name, phrase)
            assert phrase not in {"Would you like", "Do you want", "Continue?", "(y/n)"}, (preset.name, phrase)
