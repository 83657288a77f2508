"""Themes from YAML files, and the small settings file that remembers the user's choice."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from textual.theme import Theme

from fleet_tui.core.status import Status
from fleet_tui.errors import FleetError

THEMES_DIR = Path(__file__).resolve().parent.parent / "themes"
DEFAULT_THEME = "fleet-dark"

STATUSES = tuple(Status)  # each has a colour

# Used when the active theme does not define a status colour (e.g. Textual's built-in themes),
# so that the stylesheet's $status-* variables always resolve.
STATUS_FALLBACKS = {
    Status.STARTING: "$foreground-muted",
    Status.WORKING: "$primary",
    Status.WAITING: "$warning",
    Status.IDLE: "$foreground-muted",
    Status.DONE: "$success",
    Status.PAUSED: "$secondary",
    Status.EXITED: "$success",
    Status.KILLED: "$error",
    Status.OVER_BUDGET: "$error",
    Status.UNREACHABLE: "$foreground-muted",
    Status.STOPPED: "$foreground-muted",
    Status.LOST: "$warning",
    Status.ORPHANED: "$error",
}

# A theme's `ui:` colours, as the stylesheet's variables; each falls back to a generated colour.
UI_VARIABLES = {
    "border": ("pane-border", "panel-lighten-2"),  # unfocused panes and panels: >= 3:1 on the background
    "focus": ("pane-focus", "accent"),  # the focused pane's border, unlike any status colour
    "title": ("pane-title", "foreground"),  # pane and panel titles: >= 4.5:1
    "muted": ("foreground-muted", "foreground-muted"),  # secondary text, still >= 4.5:1
}

_COLOURS = ("primary", "secondary", "accent", "background", "surface", "panel", "foreground")
_COLOURS += ("warning", "error", "success")


def status_variable(status: str) -> str:
    """The theme variable holding a status colour: "over_budget" -> "status-over-budget"."""
    return "status-" + status.replace("_", "-")


def status_variable_defaults(theme_colours: dict[str, str]) -> dict[str, str]:
    """Status and ui colours taken from a theme's generated colours ("$warning" -> its value)."""
    defaults = {
        status_variable(status): theme_colours.get(colour.lstrip("$"), "ansi_default")
        for status, colour in STATUS_FALLBACKS.items()
    }
    for variable, fallback in UI_VARIABLES.values():
        if variable != fallback:
            defaults[variable] = theme_colours.get(fallback, "ansi_default")
    return defaults


def theme_from_data(data: dict[str, Any], source: str = "<theme>") -> Theme:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise FleetError(f"{source}: a theme needs a 'name'")
    if "primary" not in data:
        raise FleetError(f"{source}: theme {data['name']!r} needs a 'primary' colour")
    statuses = data.get("status") or {}
    unknown = set(statuses) - set(STATUSES)
    if unknown:
        raise FleetError(f"{source}: unknown status colour(s) {', '.join(sorted(unknown))}")
    ui = data.get("ui") or {}
    unknown = set(ui) - set(UI_VARIABLES)
    if unknown:
        raise FleetError(f"{source}: unknown ui colour(s) {', '.join(sorted(unknown))}")
    variables = {status_variable(status): colour for status, colour in statuses.items()}
    variables.update({UI_VARIABLES[key][0]: colour for key, colour in ui.items()})
    return Theme(
        name=data["name"],
        dark=bool(data.get("dark", True)),
        **{key: data[key] for key in _COLOURS if key in data},
        variables=variables,
    )


# Parsed themes by file, while the file is unchanged: every app opened by the warm UI process
# (fleet_tui/ui/warm.py) would otherwise parse the same YAML again (~6-13 ms of its start).
_parsed: dict[Path, tuple[tuple[int, int], Theme]] = {}


def load_themes(directory: Path = THEMES_DIR) -> list[Theme]:
    """Every *.yaml theme in a directory, sorted by file name."""
    themes = []
    for path in sorted(directory.glob("*.yaml")):
        info = path.stat()
        stamp = (info.st_mtime_ns, info.st_size)
        cached = _parsed.get(path)
        if cached is not None and cached[0] == stamp:
            themes.append(cached[1])
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise FleetError(f"{path}: not valid YAML ({error})") from None
        themes.append(theme_from_data(data, str(path)))
        _parsed[path] = (stamp, themes[-1])
    return themes


def settings_path() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "fleet-tui" / "settings.json"


def load_settings() -> dict[str, Any]:
    """The UI's own settings; a missing or broken file just means defaults."""
    try:
        settings = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def save_setting(key: str, value: Any) -> None:
    settings = load_settings()
    settings[key] = value
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


# Variables that are not colours (a text style, a number): Color.parse caches what it parses but
# not what it refuses, and each refusal computes a "did you mean" over every colour name (difflib,
# ~1 ms): ~20 of them made each tasks-panel update (and so opening the TUI) ~20 ms slower.
_NOT_COLOURS: set[str] = set()


def rich_colours(variables: dict[str, str]) -> dict[str, str]:
    """The theme's CSS variables as colours Rich can parse: any alpha is flattened onto the background."""
    from textual.color import Color

    background = Color.parse(variables.get("background", "#000000"))
    colours = {}
    for name, value in variables.items():
        if value in _NOT_COLOURS:
            continue
        try:
            colour = Color.parse(value)
        except Exception:  # not a colour (a text style, a number)
            _NOT_COLOURS.add(value)
            continue
        colours[name] = background.blend(colour.with_alpha(1.0), colour.a).hex6 if colour.a < 1 else colour.hex6
    return colours
