"""fleet.yaml's `pipelines:`, `prompts:` and `risk:` sections: what a task goes through.

A pipeline is a list of stages, each a mapping with exactly one kind key:

    do: developer [count: 3]           an agent of the role works on the task (count > 1: a fan-out)
    check: [tests, lint] [retry: 2]    configured checks; failures go back to the same agent
    review: reviewer [approve_when: APPROVE] [retry: 2]
    gate: human | agent [role: reviewer] [approve_when: APPROVE]
    merge: squash | merge | rebase

Cross references (check names, roles) are checked against the rest of the file by
`FleetConfig.cross_problems`, so a typo is reported at its own line.
"""

from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

STAGE_KINDS = ("do", "check", "review", "gate", "merge")
# Which optional keys go with which kind of stage.
_KEYS_OF = {"do": {"count"}, "check": {"retry"}, "review": {"approve_when", "retry"},
            "gate": {"role", "approve_when"}, "merge": set()}
VERDICT_FILE = "fleet-verdict.txt"  # where a reviewer writes its verdict, in its own worktree


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    do: str | None = None
    check: list[str] | None = None
    review: str | None = None
    gate: Literal["human", "agent"] | None = None
    merge: Literal["merge", "squash", "rebase"] | None = None
    count: int | None = Field(default=None, ge=1, le=8)
    retry: int | None = Field(default=None, ge=0, le=10)
    approve_when: str | None = None
    role: str | None = None

    @field_validator("check", mode="before")
    @classmethod
    def _one_check(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("approve_when")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\n" in value):
            raise ValueError("must be one non-empty line, e.g. APPROVE")
        return value.strip() if value else value

    @model_validator(mode="after")
    def _one_kind(self) -> "Stage":
        kinds = [k for k in STAGE_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a stage has exactly one of {', '.join(k + ':' for k in STAGE_KINDS)} "
                             f"(this one has {', '.join(kinds) or 'none'})")
        kind = kinds[0]
        stray = [k for k in ("count", "retry", "approve_when", "role")
                 if getattr(self, k) is not None and k not in _KEYS_OF[kind]]
        if kind == "gate" and self.gate == "human":
            stray += [k for k in ("role", "approve_when") if getattr(self, k) is not None]
        if stray:
            return _raise(f"{stray[0]}: does not go with a {kind}: stage")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STAGE_KINDS if getattr(self, k) is not None)

    @property
    def verdict_word(self) -> str:
        return self.approve_when or "APPROVE"

    def describe(self) -> str:
        if self.do is not None:
            return f"do {self.do}" + (f" x{self.count}" if (self.count or 1) > 1 else "")
        if self.check is not None:
            return "check " + ", ".join(self.check)
        if self.review is not None:
            return f"review by {self.review}"
        if self.gate is not None:
            return f"{self.gate} gate"
        return f"merge ({self.merge})"


def _raise(message: str) -> Any:
    raise ValueError(message)


# Each template may use these placeholders (str.format style); anything else is a mistake.
PROMPT_FIELDS = {
    "task": {"task"},
    "check_failed": {"task", "checks"},
    "review": {"task", "diff", "verdict_file", "approve_when"},
    "changes": {"task", "changes"},
    "gate_agent": {"task", "diff", "checks", "verdict_file", "approve_when"},
    "verdict_missing": {"verdict_file", "approve_when"},
}


class PromptTemplates(BaseModel):
    """What agents are told at each stage; {task}, {diff}, {checks}, ... are filled in."""

    model_config = ConfigDict(extra="forbid")

    task: str = "{task}"
    check_failed: str = ("The checks failed on your work for this task:\n{task}\n\n"
                         "Fix the problems below, then stop.\n\n{checks}")
    review: str = ("Review this change. The task was:\n{task}\n\nThe diff:\n{diff}\n\n"
                   "Do not edit the code. Write your verdict to the file {verdict_file} in the current folder: "
                   "its first line is exactly {approve_when} if the change is good to merge, otherwise CHANGES "
                   "followed by one line per change you ask for.")
    changes: str = "The reviewer asks for changes to your work on this task:\n{task}\n\nMake them, then stop.\n\n{changes}"
    gate_agent: str = ("Decide whether this change may be merged. The task was:\n{task}\n\nChecks:\n{checks}\n\n"
                       "The diff:\n{diff}\n\nDo not edit the code. Write your verdict to the file {verdict_file} in "
                       "the current folder: its first line is exactly {approve_when} to allow the merge, otherwise "
                       "REJECT followed by your reasons.")
    verdict_missing: str = ("You wrote no verdict. Write it to the file {verdict_file} now: its first line is exactly "
                            "{approve_when} or CHANGES, followed by the changes you ask for.")

    @field_validator("*")
    @classmethod
    def _known_fields(cls, text: str, info: ValidationInfo) -> str:
        allowed = PROMPT_FIELDS[info.field_name or ""]
        try:
            used = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
        except ValueError as error:
            raise ValueError(f"{error} (write a literal brace as {{{{ or }}}})") from None
        unknown = sorted(used - allowed)
        if unknown:
            raise ValueError(f"{{{unknown[0]}}} is not known here "
                             f"(known: {', '.join('{' + f + '}' for f in sorted(allowed))})")
        return text

    def fill(self, name: str, **values: str) -> str:
        return getattr(self, name).format_map({key: values.get(key, "") for key in PROMPT_FIELDS[name]})


class RiskRules(BaseModel):
    """Changes that must wait for a person before they merge, whatever the pipeline says."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(default_factory=list)  # glob patterns, e.g. "migrations/**"
    max_lines: int | None = Field(default=None, ge=0)  # more lines added + removed than this
    overridden_check: bool = True  # a failing check that a person waved through


def cross_problems(config: Any) -> list[tuple[tuple, str]]:
    """Pipelines naming checks or roles the fleet does not have: (location, message) pairs."""
    problems: list[tuple[tuple, str]] = []
    roles = sorted({agent.role for agent in config.agents.values() if agent.role})
    for name, stages in config.pipelines.items():
        if not stages:
            problems.append((("pipelines", name), f"pipelines.{name}: has no stages (start with do: ROLE)"))
        for i, stage in enumerate(stages):
            where = ("pipelines", name, i)
            for check in stage.check or []:
                if check not in config.checks:
                    known = ", ".join(config.checks) or "none: add a checks: section"
                    problems.append((where + ("check",), f"pipelines.{name}[{i}].check: {check!r} is not a "
                                     f"configured check (checks: {known})"))
            for key in ("do", "review", "role"):
                role = getattr(stage, key)
                if key == "role" and stage.gate == "agent" and role is None:
                    role = "reviewer"  # gate: agent asks an agent of this role by default
                if role is not None and role not in roles:
                    problems.append((where + (key,), f"pipelines.{name}[{i}].{key}: no agent has the role "
                                     f"{role!r} (roles: {', '.join(roles) or 'none: give agents a role:'})"))
        if stages and stages[0].do is None:
            problems.append((("pipelines", name, 0), f"pipelines.{name}[0]: the first stage must be do: ROLE"))
    return problems
