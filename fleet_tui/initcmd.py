"""`fleet-tui init`: write a commented fleet.yaml for the agent CLIs installed on this machine."""

from __future__ import annotations

import shutil
from pathlib import Path

from fleet_tui.config import CONFIG_NAME
from fleet_tui.errors import UsageError
from fleet_tui.presets import Preset, load_all

# Presets init never proposes: the plain shell is the fallback, not an agent to detect.
_NOT_DETECTED = {"shell", "demo"}


def detect_installed(extra_dirs: list[Path] | tuple = ()) -> list[Preset]:
    """Presets whose CLI is on PATH (any executable of its `detect` list)."""
    return [p for p in load_all(extra_dirs)
            if p.name not in _NOT_DETECTED and any(shutil.which(exe) for exe in p.detect)]


def _agent_block(preset: Preset) -> str:
    lines = [f"  {preset.name}:", f"    preset: {preset.name}    # {preset.description}"]
    if preset.model_flag:
        lines.append("    # model: <name>       # passed as " + " ".join(preset.model_flag))
    if preset.auto_approve_flag:
        lines.append("    auto_approve: false   # true adds " + " ".join(preset.auto_approve_flag))
    lines += [
        "    count: 1",
        "    budget:",
        "      time: 30m           # wall clock; also: active, cpu, memory (2GB), tokens (200k), cost ($5)",
        "      on_exceed: pause    # or kill",
    ]
    return "\n".join(lines)


def render_fleet_yaml(presets: list[Preset]) -> str:
    """A fleet.yaml declaring one agent per preset (a shell agent when there are none)."""
    if presets:
        agents = "\n".join(_agent_block(p) for p in presets)
        found = ", ".join(p.name for p in presets)
        intro = f"# Agent CLIs found on this machine: {found}."
    else:
        agents = "\n".join([
            "  shell:",
            "    preset: shell         # your $SHELL; replace with claude, codex, gemini, aider, ...",
            "    count: 1",
        ])
        intro = "# No agent CLI was found on PATH, so this fleet starts a plain shell."
    chosen = {p.name for p in presets}
    others = [f"#   {p.name}: {p.install}" for p in load_all() if p.install and p.name not in chosen]
    missing = "\n".join(["# Other agents and how to install them:", *others]) if others else "#"
    return f"""\
# fleet.yaml: the agents fleet-tui runs in this repository, each in its own git worktree.
{intro}
{missing}

# base: main                # branch new worktrees start from (default: the current branch)
# worktrees: ../{{repo}}.worktrees   # where worktrees go (default: outside the repository)
copy: []                    # ignored files copied into each new worktree, e.g. [.env]
                            # (and every ignored file a .worktreeinclude at the root names)
link: []                    # symlinked to the main checkout's instead, e.g. [node_modules]
setup: []                   # commands run in each new worktree, e.g. ["npm install"]
setup_timeout: 5m
teardown: []                # run in a worktree before it is removed, e.g. ["docker compose down"]
teardown_timeout: 1m
ports: 3100-3199            # each session's $PORT (and $FLEET_PORT) comes from this range
checks: {{}}                  # named commands that rank attempts, e.g. {{tests: "python -m pytest -q"}}
check_timeout: 10m
notify: true                # terminal bell / notification when an agent waits or finishes

agents:
{agents}
"""


def write_fleet_yaml(root: Path | str, presets: list[Preset] | None = None) -> Path:
    """Write <root>/fleet.yaml for the installed CLIs; never overwrites an existing one."""
    path = Path(root) / CONFIG_NAME
    if path.exists():
        raise UsageError(f"{path} already exists; edit it, or move it away and run `fleet-tui init` again")
    text = render_fleet_yaml(detect_installed() if presets is None else presets)
    try:
        with path.open("x", encoding="utf-8") as out:  # "x": a file that appeared meanwhile is not clobbered
            out.write(text)
    except FileExistsError:
        raise UsageError(f"{path} already exists; edit it, or move it away and run `fleet-tui init` again") from None
    return path

