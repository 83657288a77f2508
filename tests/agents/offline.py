"""Each real agent CLI set up to run whole turns offline against tests/agents/model_endpoint.py.

What each needs is in ../shared/AGENTS-OFFLINE.md (measured on Claude Code 2.1.197, Codex 0.169-0.171,
aider 0.86.2; Gemini CLI 0.61.0 below): a private HOME holding the CLI's first-start answers and config, environment variables
that point it at the endpoint and keep it quiet, and for Codex a model catalogue so it offers its
apply_patch tool. `OfflineAgent.yaml()` is the agent's entry for fleet.yaml.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.agents.conftest import agent_path, kill_processes_with_home

QUIET_CLAUDE = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_UPDATES": "1",
    "DISABLE_INSTALLATION_CHECKS": "1",
    # Without this Claude clones a plugin marketplace from github.com (git clone, ssh).
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
}
API_KEY = "sk-test-offline-key-0123456789"


@dataclass
class OfflineAgent:
    """One CLI's private HOME and environment, pointed at the endpoint."""

    preset: str
    home: Path
    env: dict[str, str]
    args: list[str] = field(default_factory=list)

    def yaml(self, name: str, extra: dict | None = None) -> str:
        entry = {"preset": self.preset, "env": {"HOME": str(self.home), **self.env}, **(extra or {})}
        if self.args:
            entry["args"] = list(self.args) + list(entry.get("args", []))
        return f"  {name}: {json.dumps(entry)}\n"


def _trust_all(paths: list[Path]) -> dict:
    return {str(p): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True,
                     "projectOnboardingSeenCount": 1, "allowedTools": []} for p in paths}


def claude(home: Path, endpoint_url: str, trusted: list[Path]) -> OfflineAgent:
    """Claude Code: onboarding done, the key approved, `trusted` folders (and their children) trusted."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True,
        "theme": "dark",
        "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
        "projects": _trust_all(trusted),
        "autoUpdates": False,
    }))
    env = {"ANTHROPIC_BASE_URL": endpoint_url, "ANTHROPIC_API_KEY": API_KEY, "PATH": agent_path(),
           **QUIET_CLAUDE}
    return OfflineAgent("claude", home, env)


# What Codex needs to know of a model to offer it apply_patch as a freeform (custom) tool.
def _codex_catalog() -> dict:
    return {"models": [{
        "slug": "mock-model", "display_name": "mock-model", "description": "scripted test model",
        "default_reasoning_level": "medium", "supported_reasoning_levels": [],
        "shell_type": "shell_command", "visibility": "list", "supported_in_api": True, "priority": 1,
        "base_instructions": "You are a scripted test model.",
        "supports_reasoning_summaries": False, "support_verbosity": False, "default_verbosity": None,
        "apply_patch_tool_type": "freeform", "truncation_policy": {"mode": "tokens", "limit": 10000},
        "supports_parallel_tool_calls": False, "context_window": 200000,
        "experimental_supported_tools": [],
    }]}


def codex(home: Path, endpoint_url: str, trusted: list[Path], *, approval: str = "on-request") -> OfflineAgent:
    """Codex: a mock provider at the endpoint, no daemon, no plugins, no analytics, `trusted` folders trusted."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    catalog = codex_home / "models.json"
    catalog.write_text(json.dumps(_codex_catalog()))
    projects = "".join(f'[projects."{p}"]\ntrust_level = "trusted"\n' for p in trusted)
    (codex_home / "config.toml").write_text(
        f'model = "mock-model"\nmodel_provider = "mock"\napproval_policy = "{approval}"\n'
        f'sandbox_mode = "workspace-write"\ncheck_for_update_on_startup = false\n'
        f'model_catalog_json = "{catalog}"\n'
        f'[model_providers.mock]\nname = "mock"\nbase_url = "{endpoint_url}/v1"\nenv_key = "MOCK_API_KEY"\n'
        f'wire_api = "responses"\n'
        f'{projects}'
        f'[analytics]\nenabled = false\n'
        f'[features]\ndaemon_auto_start = false\nplugins = false\nremote_plugin = false\n'
        f'[tui]\nscreen_reader_detection_done = true\n')
    env = {"CODEX_HOME": str(codex_home), "TMPDIR": str(home / "tmp"), "MOCK_API_KEY": "test",
           "PATH": agent_path()}
    return OfflineAgent("codex", home, env)


def aider(home: Path, endpoint_url: str) -> OfflineAgent:
    """aider: an `openai/mock` model at the endpoint, analytics and update checks off."""
    (home / ".aider").mkdir(parents=True, exist_ok=True)
    (home / ".aider" / "analytics.json").write_text(json.dumps(
        {"uuid": "00000000-0000-4000-8000-000000000000", "permanently_disable": True, "asked_opt_in": True}))
    metadata = home / "model-metadata.json"
    metadata.write_text(json.dumps({"openai/mock": {
        "max_tokens": 4096, "max_input_tokens": 128000, "max_output_tokens": 4096,
        "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002,
        "litellm_provider": "openai", "mode": "chat"}}))
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "OPENAI_API_KEY": "test", "AIDER_ANALYTICS": "false",
           "PATH": agent_path()}
    args = ["--model", "openai/mock", "--openai-api-base", f"{endpoint_url}/v1", "--openai-api-key", "test",
            "--model-metadata-file", str(metadata), "--no-check-update", "--no-analytics",
            "--no-show-model-warnings", "--no-show-release-notes", "--map-tokens", "0", "--edit-format", "diff",
            "--no-gitignore"]
    return OfflineAgent("aider", home, env, args)


def gemini(home: Path, endpoint_url: str, trusted: list[Path]) -> OfflineAgent:
    """Gemini CLI: API-key auth against the endpoint (GOOGLE_GEMINI_BASE_URL, loopback is allowed
    over http), `trusted` folders trusted, update checks, usage statistics, telemetry and the IDE
    integration off. Checked with Gemini CLI 0.61.0: only loopback requests."""
    gemini_dir = home / ".gemini"
    gemini_dir.mkdir(parents=True, exist_ok=True)
    (gemini_dir / "settings.json").write_text(json.dumps({
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "ide": {"enabled": False},
    }))
    (gemini_dir / "trustedFolders.json").write_text(json.dumps({str(p): "TRUST_FOLDER" for p in trusted}))
    env = {"GEMINI_API_KEY": "test", "GOOGLE_GEMINI_BASE_URL": endpoint_url, "PATH": agent_path()}
    return OfflineAgent("gemini", home, env)


@contextmanager
def one_agent_fleet(root: Path, agent: OfflineAgent, name: str) -> Iterator:
    """A repository under `root` whose fleet.yaml holds only `agent` as `name`, and its FleetCli;
    afterwards the fleet is stopped and whatever still runs with the agent's HOME is ended."""
    from tests.fleet.conftest import FleetCli, make_repo

    repo = make_repo(root / "repo", "agents:\n" + agent.yaml(name))
    # An identity, so no CLI writes a placeholder one (aider does, and says so on screen).
    for key, value in (("user.name", "Test"), ("user.email", "test@example.com")):
        subprocess.run(["git", "-C", str(repo), "config", key, value], check=True)
    (root / "run").mkdir()
    cli = FleetCli(repo, root / "run")
    try:
        yield cli
    finally:
        cli.run("down", check=False)
        kill_processes_with_home([agent.home])
