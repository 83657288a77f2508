"""fleet.yaml's schema: the value parsers and the pydantic models of every section.

A pure layer below the engine (it never imports fleet_tui.core): the engine reads these
models, and turns an agent into what it starts in core/agent_spec.py. Files are read
through fleet_tui/yamlload.py, whose errors name the file, line and field.
"""

from __future__ import annotations

import difflib
import re
import shlex
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationInfo
from pydantic import field_validator, model_validator
from pydantic.dataclasses import dataclass

from fleet_tui.errors import UsageError
from fleet_tui.names import check_name
from fleet_tui.paths import CONFIG_NAME
from fleet_tui.pipeline_config import PromptTemplates, RiskRules, Stage, cross_problems
from fleet_tui.presets import known_presets, user_preset_dirs
from fleet_tui.yamlload import Strict, load_model


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


def _name_of(what: str) -> AfterValidator:
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


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Budget:
    """An agent's `budget:`, the ceilings its sessions are held to (core/budget.py meters them).

    Plain units (seconds, bytes, tokens, dollars); None means no ceiling. A (pydantic) dataclass
    so the engine can build one by position too: Budget(1800, None, 600).
    """

    time: Duration | None = None
    active: Duration | None = None
    cpu: Duration | None = None
    memory: Size | None = None
    tokens: Tokens | None = None
    cost: Cost | None = None
    on_exceed: Literal["pause", "kill"] = "pause"

    @property
    def limited(self) -> bool:
        return any(v is not None for v in (self.time, self.active, self.cpu, self.memory, self.tokens, self.cost))

    def limit(self, meter: str) -> float | None:
        value: float | None = getattr(self, meter)
        return value


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
    budget: Budget = Field(default_factory=Budget)

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

    @property
    def preset_dirs(self) -> list[Path]:
        return self._preset_dirs

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

    def cross_problems(self) -> list[tuple[tuple[Any, ...], str]]:
        """Names one section uses that another must define (checks, roles), located."""
        return cross_problems(self)


# ---------------------------------------------------------------------------
# Loading YAML into a model, with errors located in the file


def load_config(path: Path | str, preset_dirs: list[Path] | None = None) -> FleetConfig:
    """Read and validate a fleet.yaml; user presets in <its folder>/.fleet/presets are known too."""
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
