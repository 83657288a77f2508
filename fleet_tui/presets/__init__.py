"""Agent presets: what we know about each CLI (flags, prompts, status signals) kept as data.

Built-in presets are the YAML files beside this module. Users add or override
presets in `<repo>/.fleet/presets/*.yaml` or `~/.config/fleet-tui/presets/*.yaml`;
a preset found in an earlier folder wins over one of the same name later on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from fleet_tui.yamlload import Strict, load_model
from fleet_tui.errors import UsageError

BUILTIN_DIR = Path(__file__).parent


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"{value!r} is not a valid regular expression ({error})") from None
    return value


class PromptDelivery(Strict):
    # arg: the first prompt goes on the command line; type: it is typed once `ready` matches.
    mode: Literal["arg", "type"] = "type"
    args: list[str] = Field(default_factory=lambda: ["{prompt}"])


class TrustDialog(Strict):
    match: str  # regex on the screen
    keys: list[str] = Field(default_factory=lambda: ["enter"])

    _regex = field_validator("match")(_check_regex)


class StatusRules(Strict):
    title_working: str | None = None  # regexes on the OSC 0/2 window title
    title_idle: str | None = None
    title_waiting: str | None = None
    osc_state: bool = False  # the CLI emits OSC 7501 state=working/idle markers (Codex)
    working: list[str] = Field(default_factory=list)  # exact texts on the bottom rows
    waiting: list[str] = Field(default_factory=list)  # exact dialog phrases on the bottom rows
    # Exact texts on the bottom rows saying Escape/Ctrl-C cancels the turn ("esc to cancel"): that
    # key typed while one shows reads idle at once, not when the CLI redraws.
    interrupt_hint: list[str] = Field(default_factory=list)
    idle_screen: str | None = None  # regex: the empty input box on the bottom rows (CLIs without titles)
    region: int = Field(default=12, ge=1, le=500)  # only the last N rows are searched
    # Seconds an idle title must hold before it ends a turn (a title that flickers idle mid-turn).
    title_idle_settle: float = Field(default=0.0, ge=0.0, le=5.0)

    _regex = field_validator("title_working", "title_idle", "title_waiting", "idle_screen")(_check_regex)

    @field_validator("working", "waiting", "interrupt_hint")
    @classmethod
    def _no_empty_phrases(cls, phrases: list[str]) -> list[str]:
        if any(not p.strip() for p in phrases):
            raise ValueError("holds an empty phrase, which would match every screen")
        return phrases


class UsageSource(Strict):
    format: Literal["claude-jsonl", "codex-jsonl", "fleet-jsonl", "none"] = "none"


class ResumeRules(Strict):
    """How the CLI picks up one of its own conversations again (see core/resume.py)."""

    # Placed right after the command to resume; {id} is the agent's conversation id.
    args: list[str] = Field(min_length=1)
    # Placed right after the command on a fresh start; {id} is a new UUID the fleet assigns
    # (Claude's --session-id), so the id is known without asking the agent.
    new_args: list[str] = Field(default_factory=list)
    # Where the CLI keeps its conversations, a glob: ~ is the agent's HOME, {worktree} its
    # worktree, {id} the id (in the file name). A resume whose conversation is not there
    # starts fresh instead; with {id}, an unknown id is looked for in the files that name
    # the worktree on their first line.
    conversations: str | None = None

    @field_validator("conversations")
    @classmethod
    def _id_in_file_name(cls, pattern: str | None) -> str | None:
        if pattern is not None and "{id}" in pattern.rsplit("/", 1)[0]:
            raise ValueError("{id} may only appear in the file name, not in a folder")
        return pattern


HookMeaning = Literal["working", "waiting", "idle", "done", "session", "ended"]


class HookSupport(Strict):
    """How fleet_tui hears from the CLI itself, installed per launch (never in the user's config).

    via claude-settings: a settings file holding one hook per event label ("Event" or
    "Event:matcher"), given to the CLI by `args` with {settings}; via args: `args` alone, with
    {command} (the relay as a shell command line) or {notify} (the relay as a TOML array).
    """

    via: Literal["claude-settings", "args", "none"] = "none"
    args: list[str] = Field(default_factory=list)
    events: dict[str, HookMeaning] = Field(default_factory=dict)  # event label -> what it means
    drain: list[str] = Field(default_factory=list)  # labels whose JSON is not needed (big tool output)
    ignore: list[str] = Field(default_factory=list)  # regexes: an event whose JSON matches one is not ours
    note: str = ""  # what else the CLI offers, for people reading the preset


class Preset(Strict):
    name: str
    description: str = ""
    command: list[str] = Field(min_length=1)
    detect: list[str] = Field(default_factory=list)
    install: str | None = None
    model_flag: list[str] = Field(default_factory=list)
    auto_approve_flag: list[str] = Field(default_factory=list)
    system_prompt_flag: list[str] = Field(default_factory=list)
    prompt: PromptDelivery = Field(default_factory=PromptDelivery)
    ready: str | None = None  # regex: the input box accepts typing
    trust_dialog: TrustDialog | None = None
    status: StatusRules = Field(default_factory=StatusRules)
    usage: UsageSource = Field(default_factory=UsageSource)
    resume: ResumeRules | None = None  # None: a restart always starts the CLI fresh


    hooks: HookSupport = Field(default_factory=HookSupport)
    # Files the CLI writes for itself in its working folder (gitignore syntax): never part of an attempt.
    litter: list[str] = Field(default_factory=list)

    _regex = field_validator("ready")(_check_regex)

    @field_validator("hooks")
    @classmethod
    def _hook_patterns(cls, hooks: HookSupport) -> HookSupport:
        for pattern in hooks.ignore:
            _check_regex(pattern)
        return hooks

    @field_validator("litter")
    @classmethod
    def _no_blank_patterns(cls, patterns: list[str]) -> list[str]:
        if any(not p.strip() or p.strip().startswith(("#", "!")) for p in patterns):
            raise ValueError("holds a blank, comment or negated pattern; list the files the CLI writes")
        return patterns

    @field_validator("model_flag")
    @classmethod
    def _model_placeholder(cls, words: list[str]) -> list[str]:
        if words and not any("{model}" in w for w in words):
            raise ValueError("must contain {model} where the model name goes, e.g. [--model, '{model}']")
        return words

    @field_validator("system_prompt_flag")
    @classmethod
    def _prompt_placeholder(cls, words: list[str]) -> list[str]:
        if words and not any("{prompt}" in w for w in words):
            raise ValueError("must contain {prompt} where the role prompt goes")
        return words


def user_preset_dirs(root: Path | str | None = None) -> list[Path]:
    """Where users keep their own presets: the repository's .fleet/presets, then ~/.config/fleet-tui/presets."""
    dirs = [Path(root) / ".fleet" / "presets"] if root is not None else []
    return dirs + [Path.home() / ".config" / "fleet-tui" / "presets"]


def _files(extra_dirs: list[Path] | tuple = ()) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in [*map(Path, extra_dirs), BUILTIN_DIR]:
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return found


def preset_files_signature(extra_dirs: list[Path] | tuple = ()) -> tuple:
    """Which preset files there are and when each last changed: to know when loaded ones are stale."""
    return tuple((name, str(path), path.stat().st_mtime_ns) for name, path in _files(extra_dirs).items())


def known_presets(extra_dirs: list[Path] | tuple = ()) -> list[str]:
    """Names of every preset in the built-in folder and in `extra_dirs`, sorted."""
    return sorted(_files(extra_dirs))


def load_preset(name: str, extra_dirs: list[Path] | tuple = ()) -> Preset:
    """The preset called `name`, validated; UsageError with file:line if its file is wrong."""
    files = _files(extra_dirs)
    if name not in files:
        raise UsageError(f"unknown preset {name!r} (known: {', '.join(sorted(files))})")
    path = files[name]
    preset = load_model(path.read_text(encoding="utf-8"), str(path), Preset)
    if preset.name != name:
        raise UsageError(f"{path}:1: name: {preset.name!r} differs from the file name; rename one to match")
    return preset


def load_all(extra_dirs: list[Path] | tuple = ()) -> list[Preset]:
    return [load_preset(name, extra_dirs) for name in known_presets(extra_dirs)]
