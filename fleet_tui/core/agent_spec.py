"""An agent as the orchestrator starts it: its fleet.yaml entry merged with its preset."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet_tui.config import AgentConfig, Budget, FleetConfig
from fleet_tui.errors import UsageError
from fleet_tui.presets import Preset, load_preset


# Without these a CLI cannot even start, whatever the allowlist says.
ALWAYS_INHERITED = ("PATH", "HOME", "USER", "SHELL", "LANG", "TERM")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class AgentSpec:
    """One configured agent merged with its preset: everything needed to start a session.

    Its settings are read from `config` (the agent's fleet.yaml entry), never copied.
    """

    name: str
    config: AgentConfig
    preset: Preset | None
    command: list[str]  # the agent's or its preset's program, with ~ and {shell} expanded

    @property
    def role(self) -> str | None:
        return self.config.role

    @property
    def count(self) -> int:
        return self.config.count

    @property
    def budget(self) -> Budget:
        return self.config.budget

    @property
    def prompt_mode(self) -> str:
        """'arg': the first prompt goes on the command line; 'type': it is typed once `ready` shows."""
        return self.preset.prompt.mode if self.preset else "type"

    @property
    def ready(self) -> str | None:
        return self.preset.ready if self.preset else None

    @property
    def trust_dialog(self) -> dict[str, Any] | None:
        return self.preset.trust_dialog.model_dump() if self.preset and self.preset.trust_dialog else None

    @property
    def status_rules(self) -> dict[str, Any] | None:
        """The preset's status section plus `ready`, as the StatusDetector takes them."""
        return {**self.preset.status.model_dump(), "ready": self.preset.ready} if self.preset else None

    @property
    def usage_format(self) -> str:
        return self.preset.usage.format if self.preset else "none"

    def first_prompt(self, prompt: str) -> str:
        """The first prompt, with the role prompt in front when the CLI has no flag for it."""
        role_prompt = self.config.prompt
        if role_prompt and not (self.preset and self.preset.system_prompt_flag):
            return f"{role_prompt.strip()}\n\n{prompt}"
        return prompt

    def argv(self, prompt: str | None = None) -> list[str]:
        """The command line; `prompt` is placed on it only if the preset takes prompts as arguments."""
        preset, agent = self.preset, self.config
        argv = list(self.command)
        if preset is not None:
            if agent.model:
                argv += _fill(preset.model_flag, model=agent.model)
            if agent.auto_approve:
                argv += list(preset.auto_approve_flag)
            if agent.prompt and preset.system_prompt_flag:
                argv += _fill(preset.system_prompt_flag, prompt=agent.prompt)
        argv += agent.args
        if prompt is not None and preset is not None and preset.prompt.mode == "arg":
            argv += _fill(preset.prompt.args, prompt=self.first_prompt(prompt))
        return argv

    def env(self, base_env: dict[str, str]) -> dict[str, str]:
        """The child's environment: the allowlisted part of `base_env`, then `env:`, then terminal vars."""
        inherit = self.config.inherit_env
        if inherit is None:
            env = dict(base_env)
        else:
            patterns = list(ALWAYS_INHERITED) + inherit
            env = {k: v for k, v in base_env.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
        for key, value in self.config.env.items():
            env[key] = self._expand(key, value, base_env)
        env["TERM"] = "xterm-256color"
        env["COLORTERM"] = "truecolor"
        return env

    def _expand(self, key: str, value: str, base_env: dict[str, str]) -> str:
        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in base_env:
                raise UsageError(f"agents.{self.name}.env.{key}: ${{{name}}} is not set in the fleet server's "
                                 f"environment (export it, then `fleet-tui down` and start again)")
            return base_env[name]

        return _ENV_REF.sub(lookup, value)


def with_python(argv: list[str]) -> list[str]:
    """{python} is the interpreter fleet_tui runs on (the demo agent, checks written in Python)."""
    return [sys.executable if part == "{python}" else part for part in argv]


def _fill(template: list[str], **values: str) -> list[str]:
    """Replace {model} / {prompt} in each word of a preset's flag template; other braces stay."""
    out = []
    for word in template:
        for name, value in values.items():
            word = word.replace("{" + name + "}", value)
        out.append(word)
    return out


def _program(word: str) -> str:
    """{shell} is the user's login shell (the shell preset); ~ is the home folder."""
    if word == "{shell}":
        return os.environ.get("SHELL") or "bash"
    return os.path.expanduser(word)


def resolve_agent(config: FleetConfig, name: str, preset_dirs: list[Path] | None = None) -> AgentSpec:
    """Merge agent `name` with its preset into an AgentSpec."""
    if name not in config.agents:
        known = ", ".join(sorted(config.agents)) or "none"
        raise UsageError(f"no agent named {name!r} in the fleet (known: {known})")
    agent = config.agents[name]
    dirs = preset_dirs if preset_dirs is not None else config.preset_dirs
    preset = load_preset(agent.preset, dirs) if agent.preset else None
    command = agent.command or (list(preset.command) if preset else [])
    return AgentSpec(name=name, config=agent, preset=preset,
                     command=[_program(command[0])] + command[1:] if command else [])
