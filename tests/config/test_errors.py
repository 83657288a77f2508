"""Every configuration error is one line naming file, line and field, and saying what is expected."""

import pytest

from fleet_tui.config import load_config, parse_config
from fleet_tui.errors import UsageError


def error_of(text: str, filename: str = "fleet.yaml") -> str:
    with pytest.raises(UsageError) as caught:
        parse_config(text, filename)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_bad_duration_names_file_line_field_and_a_fix():
    text = "agents:\n  claude:\n    preset: claude\n    budget:\n      time: 30 minutes\n"
    assert error_of(text) == 'fleet.yaml:5: agents.claude.budget.time: "30 minutes" is not a duration (try 30m, 90s or 1h30m)'


def test_unknown_key_suggests_the_close_one():
    text = "agents:\n  claude:\n    preset: claude\n    modle: sonnet\n"
    assert error_of(text) == "fleet.yaml:4: agents.claude.modle: unknown key (did you mean model?)"


def test_unknown_key_without_a_close_one_lists_the_known_keys():
    assert error_of("colour: red\nagents: {a: {command: bash}}\n").startswith(
        "fleet.yaml:1: colour: unknown key (known keys: base, worktrees, copy, setup,")


def test_unknown_preset_lists_the_known_ones():
    message = error_of("agents:\n  a:\n    preset: claud\n")
    assert message.startswith('fleet.yaml:3: agents.a.preset: "claud" is not a known preset (did you mean claude? known: ')
    assert "codex" in message and "shell" in message


def test_several_errors_report_the_first_in_file_order():
    text = "agents:\n  a:\n    command: bash\n    count: many\n    budget:\n      on_exceed: explode\n"
    assert error_of(text) == 'fleet.yaml:4: agents.a.count: "many" is not a whole number (and 1 more)'


def test_agent_needs_a_preset_or_a_command():
    assert error_of("agents:\n  a:\n    role: dev\n") == (
        "fleet.yaml:2: agents.a: needs a preset (e.g. preset: claude) or a command (e.g. command: [bash])")


def test_bad_agent_name_points_at_the_name():
    message = error_of("agents:\n  ok: {command: bash}\n  My Agent: {command: bash}\n")
    assert message.startswith("fleet.yaml:3: agents.My Agent: agent name 'My Agent' is not allowed")


def test_choice_fields_say_what_is_allowed():
    text = "agents:\n  a:\n    command: bash\n    budget: {on_exceed: explode}\n"
    assert error_of(text) == "fleet.yaml:4: agents.a.budget.on_exceed: \"explode\" is not allowed (expected 'pause' or 'kill')"


def test_unbalanced_quote_in_a_command():
    assert error_of("setup:\n  - npm install 'x\nagents: {a: {command: bash}}\n").startswith(
        "fleet.yaml:2: setup[0]: \"npm install 'x\" cannot be split into words")


def test_invalid_yaml_names_the_line_and_explains():
    message = error_of("agents:\n  a:\n    command: bash\n   b: {}\n")
    assert message.startswith("fleet.yaml:4: not valid YAML: ")
    assert "indentation" in message


def test_an_unclosed_bracket_names_the_line_where_it_opened():
    message = error_of("agents:\n  a:\n    command: [bash, -c\n  b: {}\n")
    assert message.startswith("fleet.yaml:3: not valid YAML: the '[' opened on line 3 is never closed"), message
    assert "on line 4" in message and "close it with ']'" in message


def test_a_misspelt_top_level_key_is_named_not_the_key_it_hides():
    message = error_of("agnets:\n  a: {command: bash}\n")
    assert message.startswith("fleet.yaml:1: agnets: unknown key (did you mean agents?)"), message


def test_tabs_are_explained():
    assert "use spaces" in error_of("agents:\n\ta: {command: bash}\n")


def test_duplicate_agents_are_refused():
    assert error_of("agents:\n  a: {command: bash}\n  a: {command: sh}\n") == (
        "fleet.yaml:3: a: appears twice in the same mapping (keep one)")


def test_no_agents():
    assert error_of("agents: {}\n").startswith("fleet.yaml:1: agents: is empty")
    assert error_of("") == "fleet.yaml:1: agents: is required but missing"


def test_top_level_must_be_a_mapping():
    assert error_of("- a\n- b\n").startswith("fleet.yaml:1: expected a mapping")


def test_missing_file_says_to_run_init(tmp_path):
    with pytest.raises(UsageError, match=r"no such file; run `fleet-tui init`"):
        load_config(tmp_path / "fleet.yaml")


def test_error_uses_the_real_path(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text("agents:\n  a: {command: bash, count: -1}\n")
    with pytest.raises(UsageError, match=rf"^{path}:2: agents.a.count: "):
        load_config(path)
