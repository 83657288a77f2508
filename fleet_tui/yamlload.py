"""Reading YAML into pydantic models, with every problem reported as one located line.

`load_model` turns a bad file into a single UsageError such as
`fleet.yaml:12: agents.claude.budget.time: "30 minutes" is not a duration (try 30m)`.
fleet.yaml (fleet_tui/config.py) and the presets (fleet_tui/presets) are both read through it.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from fleet_tui.errors import UsageError

Model = TypeVar("Model", bound=BaseModel)

# What pydantic calls a key the model does not have: on a model, and on a pydantic dataclass.
UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")


class Strict(BaseModel):
    """A model read from YAML: an unknown key is an error (a typo), located like any other."""

    model_config = ConfigDict(extra="forbid")


def load_model(text: str, filename: str, model: type[Model], context: dict[str, Any] | None = None) -> Model:
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
        errors = sorted(error.errors(), key=lambda e: e["type"] not in UNKNOWN_KEY)
        problems = [(_locate(root, e["loc"]), _describe(e, model)) for e in errors]
        if errors[0]["type"] not in UNKNOWN_KEY:
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


def _describe(error: Any, model: type[BaseModel]) -> str:
    # Pydantic adds the validator kind (e.g. "function-before[...]") and union members to the loc.
    loc = tuple(step for step in error["loc"] if not (isinstance(step, str) and "[" in step))
    path = _field_path(loc)
    kind, value = error["type"], error.get("input")
    if kind in UNKNOWN_KEY:
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
        fields = _fields_of(target)
        if fields is not None:
            if step not in fields:
                return []
            target = fields[step].annotation
        elif typing.get_origin(target) in (dict, list):
            target = typing.get_args(target)[-1]
        else:
            return []
    target = _unwrap(target)
    fields = _fields_of(target)
    return list(fields) if fields is not None else []


def _fields_of(target: Any) -> dict[str, Any] | None:
    """A pydantic model's or pydantic dataclass's fields by the key YAML spells them, else None."""
    fields = getattr(target, "__pydantic_fields__", None) if isinstance(target, type) else None
    return {f.alias or n: f for n, f in fields.items()} if fields is not None else None


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

