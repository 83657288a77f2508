"""fleet.yaml: pydantic models, YAML loading with errors that name file, line and field.

Every problem with a configuration file becomes one UsageError line such as
`fleet.yaml:12: agents.claude.budget.time: "30 minutes" is not a duration (try 30m)`.
Preset files (fleet_tui/presets) are loaded through the same machinery.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import shlex
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError
from pydantic import ValidationInfo
from pydantic import field_validator, model_validator

from fleet_tui.core.budget import Budget
from fleet_tui.core.names import check_name
from fleet_tui.errors import UsageError
from fleet_tui.pipeline_config import PromptTemplates, RiskRules, Stage, cross_problems

CONFIG_NAME = "fleet.yaml"

# ---------------------------------------------------------------------------
# Value parsers: each returns a plain number or raises ValueError with a hint.

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|h|m|s)", re.IGNORECASE)
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)$", re.IGNORECASE)
_COUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*([km]?)$", re.IGNORECASE)
_COST = re.compile(r"^\$?\s*(\d+(?:\.\d+)?)$")


def _non_negative_number(value: Any) -> float | None:
    """A YAML number as a float (None if `value` is not a number); booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value < 0:
        raise ValueError(f"{value} is negative")
    return float(value)


def parse_duration(value: Any) -> float:
    """'90s', '30m', '1h30m', '2h', '250ms' or a bare number of seconds -> seconds."""
    number = _non_negative_number(value)
    if number is not None:
        return number
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        raise ValueError(f'"{value}" is not a duration (try 30m, 90s or 1h30m)')
    return sum(float(amount) * _DURATION_SECONDS[unit.lower()] for amount, unit in parts)


def parse_size(value: Any) -> int:
    """'512MB', '2GB' (powers of 1000), '2GiB' or '2G' (powers of 1024), or bare bytes -> bytes."""
    number = _non_negative_number(value)
    if number is not None:
        return int(number)
    match = _SIZE.match(str(value).strip())
    if not match or (match.group(3) and not match.group(2)):
        raise ValueError(f'"{value}" is not a size (try 512MB or 2GiB)')
    amount, prefix, binary, byte = match.groups()
    power = "kmgt".find(prefix.lower()) + 1 if prefix else 0
    # "2G" without a B reads like ulimit/docker, where G means GiB.
    base = 1024 if binary or (prefix and not byte) else 1000
    return int(float(amount) * base**power)


def parse_tokens(value: Any) -> int:
    """'200k', '1.5M' or a bare number -> tokens."""
    number = _non_negative_number(value)
    if number is not None:
        return int(number)
    match = _COUNT.match(str(value).strip())
    if not match:
        raise ValueError(f'"{value}" is not a token count (try 200k or 1.5M)')
    amount, suffix = match.groups()
    return int(float(amount) * {"": 1, "k": 1_000, "m": 1_000_000}[suffix.lower()])


def parse_cost(value: Any) -> float:
    """5, 5.00, '5' or '$5.00' -> US dollars."""
    number = _non_negative_number(value)
    if number is not None:
        return number
    match = _COST.match(str(value).strip())
    if not match:
        raise ValueError(f'"{value}" is not an amount of US dollars (try 5.00 or "$5")')
    return float(match.group(1))


def parse_command(value: Any) -> list[str]:
    """A command as argv: a string is split like a shell would (but no shell runs), a list is kept."""
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as error:
            raise ValueError(f"{value!r} cannot be split into words ({error}): check its quotes") from None
    elif isinstance(value, list) and all(isinstance(part, (str, int, float)) for part in value):
        argv = [str(part) for part in value]
    else:
        raise ValueError(f"{value!r} is not a command (give a string like 'pytest -q' or a list of words)")
    if not argv:
        raise ValueError("is an empty command (give a program to run, e.g. 'pytest -q')")
    return argv


def parse_port_range(value: Any) -> tuple[int, int]:
    """'3100-3199', [3100, 3199] or a single port -> (first, last), both inclusive."""
    if isinstance(value, int) and not isinstance(value, bool):
        parts = [value, value]
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(-\s*\d+\s*)?", value):
        parts = [int(part) for part in value.split("-")] * (1 if "-" in value else 2)
    elif isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        parts = list(value)
    else:
        raise ValueError(f"{value!r} is not a port range (try 3100-3199)")
    first, last = parts
    if not 1024 <= first <= last <= 65535:
        raise ValueError(f"{value!r} is not a port range between 1024 and 65535, low to high (try 3100-3199)")
    return first, last


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
Tokens = Annotated[int, BeforeValidator(parse_tokens)]
Cost = Annotated[float, BeforeValidator(parse_cost)]
Command = Annotated[list[str], BeforeValidator(parse_command)]
PortRange = Annotated[tuple[int, int], BeforeValidator(parse_port_range)]


def _name_of(what: str):
    def check(name: str) -> str:
        try:
            return check_name(name, what)
        except UsageError as error:
            raise ValueError(str(error)) from None
    return AfterValidator(check)


AgentName = Annotated[str, _name_of("agent")]
CheckName = Annotated[str, _name_of("check")]

# ---------------------------------------------------------------------------
# Models


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BudgetConfig(Strict):
    time: Duration | None = None
    active: Duration | None = None
    cpu: Duration | None = None
    memory: Size | None = None
    tokens: Tokens | None = None
    cost: Cost | None = None
    on_exceed: Literal["pause", "kill"] = "pause"


class AgentConfig(Strict):
    preset: str | None = None
    command: Command | None = None
    args: list[str] = Field(default_factory=list)
    model: str | None = None
    role: str | None = None
    prompt: str | None = None
    auto_approve: bool = False
    env: dict[str, str] = Field(default_factory=dict)
    inherit_env: list[str] | None = None
    count: int = Field(default=1, ge=0, le=64)
    max_sessions: int = Field(default=1, ge=1, le=64)  # how many sessions tasks may start of this agent
    budget: BudgetConfig = Field(default_factory=BudgetConfig)

    @field_validator("args", mode="before")
    @classmethod
    def _args_as_words(cls, value: Any) -> Any:
        return shlex.split(value) if isinstance(value, str) else value

    @field_validator("env", mode="before")
    @classmethod
    def _env_as_strings(cls, value: Any) -> Any:
        # YAML reads `PORT: 8080` as a number; the environment only holds strings.
        if isinstance(value, dict):
            return {k: str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, (int, float)) else v
                    for k, v in value.items()}
        return value

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None, info: ValidationInfo) -> str | None:
        from fleet_tui.presets import known_presets

        if value is None:
            return value
        known = known_presets((info.context or {}).get("preset_dirs", ()))
        if value not in known:
            hint = difflib.get_close_matches(value, known, n=1)
            guess = f"did you mean {hint[0]}? " if hint else ""
            raise ValueError(f'"{value}" is not a known preset ({guess}known: {", ".join(known)})')
        return value

    @model_validator(mode="after")
    def _preset_or_command(self) -> AgentConfig:
        if self.preset is None and self.command is None:
            raise ValueError("needs a preset (e.g. preset: claude) or a command (e.g. command: [bash])")
        return self


class FleetConfig(Strict):
    base: str | None = None
    worktrees: str | None = None
    copy_files: list[str] = Field(default_factory=list, alias="copy")
    setup: list[Command] = Field(default_factory=list)
    setup_timeout: Duration = 300.0
    link: list[str] = Field(default_factory=list)  # symlinked to the main checkout's, not copied
    teardown: list[Command] = Field(default_factory=list)  # run in a worktree before it is removed
    teardown_timeout: Duration = 60.0
    ports: PortRange = (3100, 3199)  # each session's $PORT comes from here
    checks: dict[CheckName, Command] = Field(default_factory=dict)
    check_timeout: Duration = 600.0
    notify: bool = True
    agents: dict[AgentName, AgentConfig]
    pipelines: dict[Annotated[str, _name_of("pipeline")], list[Stage]] = Field(default_factory=dict)
    prompts: PromptTemplates = Field(default_factory=PromptTemplates)
    risk: RiskRules = Field(default_factory=RiskRules)
    task_retries: int = Field(default=2, ge=0, le=10)  # times a task goes back to the queue when its agent dies
    # The folders its presets were looked up in, so resolve_agent finds user presets too.
    _preset_dirs: list[Path] = PrivateAttr(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @property
    def copy(self) -> list[str]:  # type: ignore[override]  # `copy` is the YAML key; BaseModel.copy is deprecated
        return self.copy_files

    @field_validator("agents")
    @classmethod
    def _some_agents(cls, agents: dict[str, AgentConfig]) -> dict[str, AgentConfig]:
        if not agents:
            raise ValueError("is empty: declare at least one agent (e.g. claude: {preset: claude})")
        return agents

    def cross_problems(self) -> list[tuple[tuple, str]]:
        """Names one section uses that another must define (checks, roles), located."""
        return cross_problems(self)


# ---------------------------------------------------------------------------
# Loading YAML into a model, with errors located in the file


def load_config(path: Path | str, preset_dirs: list[Path] | None = None) -> FleetConfig:
    """Read and validate a fleet.yaml; user presets in <its folder>/.fleet/presets are known too."""
    from fleet_tui.presets import user_preset_dirs

    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file; run `fleet-tui init` to write one") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot be read ({error})") from None
    dirs = preset_dirs if preset_dirs is not None else user_preset_dirs(path.parent)
    return parse_config(text, str(path), preset_dirs=dirs)


def parse_config(text: str, filename: str = CONFIG_NAME, preset_dirs: list[Path] | None = None) -> FleetConfig:
    """Validate fleet.yaml text; `filename` only appears in error messages."""
    config = load_model(text, filename, FleetConfig, context={"preset_dirs": list(preset_dirs or [])})
    config._preset_dirs = list(preset_dirs or [])
    return config


def load_model(text: str, filename: str, model: type[BaseModel], context: dict | None = None) -> Any:
    """Parse YAML `text` into `model`; any problem raises one located UsageError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UsageError(_yaml_error(filename, error)) from None
    if root is not None:
        _refuse_duplicate_keys(root, filename)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        line = root.start_mark.line + 1 if root is not None else 1
        raise UsageError(f"{filename}:{line}: expected a mapping of keys to values at the top, "
                         f"got {type(data).__name__}")
    try:
        result = model.model_validate(data, context=context)
    except ValidationError as error:
        # An unknown key first: a typo (agnets:) also makes the key it meant "missing", which misleads.
        errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
        problems = [(_locate(root, e["loc"]), _describe(e, model)) for e in errors]
        if errors[0]["type"] != "extra_forbidden":
            problems.sort()
    else:
        check = getattr(result, "cross_problems", None)
        problems = sorted((_locate(root, loc), message) for loc, message in (check() if check else []))
        if not problems:
            return result
    line, message = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise UsageError(f"{filename}:{line}: {message}{more}") from None


def _yaml_error(filename: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    opened = _unclosed_bracket(error)
    if opened is not None:
        bracket, at = opened
        return (f"{filename}:{at}: not valid YAML: the '{bracket}' opened on line {at} is never closed "
                f"({problem} on line {line}): close it with '{ {'[': ']', '{': '}'}[bracket] }'")
    hint = "check the indentation, and quote values that contain ': ', '#', '{' or '['"
    if "\t" in problem or "\\t" in problem:
        hint = "YAML does not allow tabs for indentation; use spaces"
    return f"{filename}:{line}: not valid YAML: {problem} ({hint})"


def _refuse_duplicate_keys(node: yaml.Node, filename: str) -> None:
    """YAML silently keeps the last of two equal keys; a second `claude:` agent is surely a mistake."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise UsageError(f"{filename}:{key.start_mark.line + 1}: {key.value}: "
                                     "appears twice in the same mapping (keep one)")
                seen.add(key.value)
            _refuse_duplicate_keys(value, filename)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, filename)


def _locate(node: yaml.Node | None, loc: tuple) -> int:
    """The 1-based line of the YAML node an error location points to (its nearest existing parent)."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(step)),
                        None)
            if pair is None:
                return line
            key, node = pair
            # A key's line names the field; nested values start below it.
            line = key.start_mark.line + 1
            if isinstance(node, yaml.ScalarNode):
                line = node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _unclosed_bracket(error: yaml.YAMLError) -> tuple[str, int] | None:
    """('[', line) when the error is inside a flow sequence or mapping opened on that line."""
    context, mark = getattr(error, "context", None) or "", getattr(error, "context_mark", None)
    if mark is None or not context.startswith("while parsing a flow"):
        return None
    return ("[" if "sequence" in context else "{"), mark.line + 1


def _field_path(loc: tuple) -> str:
    path = ""
    for step in loc:
        path += f"[{step}]" if isinstance(step, int) else (f".{step}" if path else str(step))
    return path or "(top level)"


def _describe(error: dict, model: type[BaseModel]) -> str:
    # Pydantic adds the validator kind (e.g. "function-before[...]") and union members to the loc.
    loc = tuple(step for step in error["loc"] if not (isinstance(step, str) and "[" in step))
    path = _field_path(loc)
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        suggestion = f"did you mean {hint[0]}?" if hint else f"known keys: {', '.join(allowed)}"
        return f"{path}: unknown key ({suggestion})"
    if kind == "missing":
        return f"{path}: is required but missing"
    if kind in ("value_error", "assertion_error"):
        text = str(error.get("ctx", {}).get("error", error["msg"]))
        return f"{path}: {text}"
    if kind == "literal_error":
        return f"{path}: {_show(value)} is not allowed (expected {error['ctx']['expected']})"
    expected = {
        "bool_type": "true or false", "bool_parsing": "true or false",
        "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
        "string_type": "a string (quote it)", "list_type": "a list (e.g. [a, b])",
        "dict_type": "a mapping of keys to values", "model_type": "a mapping of keys to values",
        "float_type": "a number", "float_parsing": "a number",
    }.get(kind)
    if expected:
        return f"{path}: {_show(value)} is not {expected}"
    return f"{path}: {error['msg'][0].lower()}{error['msg'][1:]} (got {_show(value)})"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _allowed_keys(model: Any, loc: tuple) -> list[str]:
    """The keys a mapping at `loc` may hold, following field annotations through dicts and lists."""
    target: Any = model
    for step in loc:
        target = _unwrap(target)
        if isinstance(target, type) and issubclass(target, BaseModel):
            fields = {f.alias or n: f for n, f in target.model_fields.items()}
            if step not in fields:
                return []
            target = fields[step].annotation
        elif typing.get_origin(target) in (dict, list):
            target = typing.get_args(target)[-1]
        else:
            return []
    target = _unwrap(target)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return [f.alias or n for n, f in target.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = members[0]
        else:
            return annotation


# ---------------------------------------------------------------------------
# Resolved agents: what the orchestrator needs to start one


# Without these a CLI cannot even start, whatever the allowlist says.
ALWAYS_INHERITED = ("PATH", "HOME", "USER", "SHELL", "LANG", "TERM")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class AgentSpec:
    """One configured agent merged with its preset: everything needed to start a session."""

    name: str
    preset: Any  # fleet_tui.presets.Preset | None
    command: list[str]
    args: list[str] = field(default_factory=list)
    model: str | None = None
    role: str | None = None
    role_prompt: str | None = None
    auto_approve: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    inherit_env: list[str] | None = None
    count: int = 1
    max_sessions: int = 1
    budget: Budget = field(default_factory=Budget)

    @property
    def prompt_mode(self) -> str:
        """'arg': the first prompt goes on the command line; 'type': it is typed once `ready` shows."""
        return self.preset.prompt.mode if self.preset else "type"

    @property
    def ready(self) -> str | None:
        return self.preset.ready if self.preset else None

    @property
    def trust_dialog(self) -> dict | None:
        return self.preset.trust_dialog.model_dump() if self.preset and self.preset.trust_dialog else None

    @property
    def status_rules(self) -> dict | None:
        """The preset's status section plus `ready`, as the StatusDetector takes them."""
        return {**self.preset.status.model_dump(), "ready": self.preset.ready} if self.preset else None

    @property
    def usage_format(self) -> str:
        return self.preset.usage.format if self.preset else "none"

    def first_prompt(self, prompt: str) -> str:
        """The first prompt, with the role prompt in front when the CLI has no flag for it."""
        if self.role_prompt and not (self.preset and self.preset.system_prompt_flag):
            return f"{self.role_prompt.strip()}\n\n{prompt}"
        return prompt

    def argv(self, prompt: str | None = None) -> list[str]:
        """The command line; `prompt` is placed on it only if the preset takes prompts as arguments."""
        preset = self.preset
        argv = list(self.command)
        if preset is not None:
            if self.model:
                argv += _fill(preset.model_flag, model=self.model)
            if self.auto_approve:
                argv += list(preset.auto_approve_flag)
            if self.role_prompt and preset.system_prompt_flag:
                argv += _fill(preset.system_prompt_flag, prompt=self.role_prompt)
        argv += self.args
        if prompt is not None and self.prompt_mode == "arg":
            argv += _fill(preset.prompt.args, prompt=self.first_prompt(prompt))
        return argv

    def env(self, base_env: dict[str, str]) -> dict[str, str]:
        """The child's environment: the allowlisted part of `base_env`, then `env:`, then terminal vars."""
        if self.inherit_env is None:
            env = dict(base_env)
        else:
            patterns = list(ALWAYS_INHERITED) + self.inherit_env
            env = {k: v for k, v in base_env.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
        for key, value in self.extra_env.items():
            env[key] = self._expand(key, value, base_env)
        env["TERM"] = "xterm-256color"
        env["COLORTERM"] = "truecolor"
        return env

    def _expand(self, key: str, value: str, base_env: dict[str, str]) -> str:
        def lookup(match: re.Match) -> str:
            name = match.group(1)
            if name not in base_env:
                raise UsageError(f"agents.{self.name}.env.{key}: ${{{name}}} is not set in the fleet server's "
                                 f"environment (export it, then `fleet-tui down` and start again)")
            return base_env[name]

        return _ENV_REF.sub(lookup, value)


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
    from fleet_tui.presets import load_preset

    if name not in config.agents:
        known = ", ".join(sorted(config.agents)) or "none"
        raise UsageError(f"no agent named {name!r} in the fleet (known: {known})")
    agent = config.agents[name]
    dirs = preset_dirs if preset_dirs is not None else config._preset_dirs
    preset = load_preset(agent.preset, dirs) if agent.preset else None
    command = agent.command or (list(preset.command) if preset else [])
    b = agent.budget
    return AgentSpec(
        name=name,
        preset=preset,
        command=[_program(command[0])] + command[1:] if command else [],
        args=list(agent.args),
        model=agent.model,
        role=agent.role,
        role_prompt=agent.prompt,
        auto_approve=agent.auto_approve,
        extra_env=dict(agent.env),
        inherit_env=agent.inherit_env,
        count=agent.count,
        max_sessions=agent.max_sessions,
        budget=Budget(b.time, b.active, b.cpu, b.memory, b.tokens, b.cost, b.on_exceed),
    )
