"""fleet.yaml agents merged with their presets into what the orchestrator starts."""

import pytest

from fleet_tui.config import Budget, parse_config
from fleet_tui.core.agent_spec import resolve_agent
from fleet_tui.errors import UsageError


def agent(yaml_body: str, name: str = "a"):
    return resolve_agent(parse_config("agents:\n" + yaml_body), name)


def test_claude_argv_has_model_approval_role_prompt_args_and_the_prompt_last():
    spec = agent("  a:\n    preset: claude\n    model: sonnet\n    auto_approve: true\n"
                 "    prompt: You review.\n    args: [--verbose]\n")
    assert spec.argv("fix the bug") == ["claude", "--model", "sonnet", "--dangerously-skip-permissions",
                                        "--append-system-prompt", "You review.", "--verbose", "fix the bug"]
    assert spec.argv(None) == spec.argv("x")[:-1]
    assert spec.prompt_mode == "arg"


def test_a_typed_prompt_is_never_put_on_the_command_line():
    spec = agent("  a:\n    preset: gemini\n    model: gemini-2.5-pro\n")
    assert spec.argv("fix it") == ["gemini", "--model", "gemini-2.5-pro"]
    assert spec.prompt_mode == "type"
    assert spec.ready and spec.trust_dialog == {"match": r"Do you trust the files in this folder\?", "keys": ["enter"]}


def test_role_prompt_goes_in_front_of_the_first_prompt_without_a_flag():
    spec = agent("  a:\n    preset: codex\n    prompt: You are the reviewer.\n")
    assert spec.argv("look at main") == ["codex", "You are the reviewer.\n\nlook at main"]
    assert spec.first_prompt("go") == "You are the reviewer.\n\ngo"
    assert agent("  a:\n    preset: claude\n    prompt: R\n").first_prompt("go") == "go"


def test_command_with_a_preset_overrides_the_command_only():
    spec = agent("  a:\n    preset: claude\n    command: [npx, '@anthropic-ai/claude-code']\n    model: opus\n")
    assert spec.argv(None) == ["npx", "@anthropic-ai/claude-code", "--model", "opus"]
    assert spec.usage_format == "claude-jsonl"


def test_plain_command_string_is_split_without_a_shell():
    spec = agent("  a:\n    command: python -c 'print(1)'\n    args: --flag\n")
    assert spec.argv("ignored") == ["python", "-c", "print(1)", "--flag"]
    assert spec.preset is None and spec.status_rules is None and spec.prompt_mode == "type"


def test_shell_preset_runs_the_users_shell(monkeypatch):
    monkeypatch.setenv("SHELL", "/bin/sh")
    assert agent("  a:\n    preset: shell\n").argv(None) == ["/bin/sh"]


def test_env_allowlist_then_env_then_terminal():
    spec = agent("  a:\n    command: bash\n    inherit_env: [\"LC_*\"]\n"
                 "    env: {TOKEN: \"${SECRET}-x\", PORT: 8080}\n")
    base = {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C", "SECRET": "s3", "AWS_KEY": "no", "TERM": "dumb"}
    assert spec.env(base) == {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C", "TOKEN": "s3-x", "PORT": "8080",
                              "TERM": "xterm-256color", "COLORTERM": "truecolor"}


def test_env_inherits_everything_by_default():
    env = agent("  a:\n    command: bash\n").env({"ANYTHING": "1"})
    assert env["ANYTHING"] == "1" and env["TERM"] == "xterm-256color"


def test_env_reference_to_a_missing_variable_is_a_clear_error():
    spec = agent("  a:\n    command: bash\n    env: {KEY: \"${NOPE_NOT_SET}\"}\n")
    with pytest.raises(UsageError, match=r"agents.a.env.KEY: \$\{NOPE_NOT_SET\} is not set"):
        spec.env({})


def test_budget_as_plain_numbers():
    spec = agent("  a:\n    command: bash\n    count: 3\n    role: dev\n    budget:\n      time: 30m\n"
                 "      active: 20m\n      cpu: 10m\n      memory: 2GB\n      tokens: 200k\n      cost: $5\n"
                 "      on_exceed: kill\n")
    assert spec.budget == Budget(1800, 1200, 600, 2_000_000_000, 200_000, 5.0, "kill")
    assert spec.budget.limited and not Budget().limited
    assert (spec.count, spec.role) == (3, "dev")


def test_unknown_agent():
    with pytest.raises(UsageError, match=r"no agent named 'b' in the fleet \(known: a\)"):
        resolve_agent(parse_config("agents:\n  a: {command: bash}\n"), "b")


def test_fleet_level_fields():
    config = parse_config("base: dev\nworktrees: ../wt\ncopy: [.env]\nsetup: ['npm ci', [make, deps]]\n"
                          "setup_timeout: 2m\nchecks: {tests: pytest -q}\ncheck_timeout: 90\nnotify: false\n"
                          "agents: {a: {command: bash}}\n")
    assert (config.base, config.worktrees, config.copy) == ("dev", "../wt", [".env"])
    assert config.setup == [["npm", "ci"], ["make", "deps"]]
    assert (config.setup_timeout, config.check_timeout, config.notify) == (120, 90, False)
    assert config.checks == {"tests": ["pytest", "-q"]}
    defaults = parse_config("agents: {a: {command: bash}}\n")
    assert (defaults.base, defaults.worktrees, defaults.notify) == (None, None, True)
