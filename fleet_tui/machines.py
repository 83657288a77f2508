"""The user's list of machines: a name -> where to ssh and which repository there.

Kept in ~/.config/fleet-tui/machines.json (XDG_CONFIG_HOME respected), beside the UI's
settings.json but in a file of its own, so neither rewrites the other. The destination is
whatever the user's own ssh understands (a ~/.ssh/config Host alias, user@host, ...): fleet_tui
adds no ssh configuration of its own besides connection sharing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from fleet_tui.errors import FleetError, UsageError

LOCAL = "local"  # the name the local fleet goes by in the grid and the feed

MACHINE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# ssh would read a leading '-' as an option; whitespace and control characters have no place in a host.
DEST_RE = re.compile(r"^[^\s\x00-\x1f\x7f-][^\s\x00-\x1f\x7f]*$")


class Machine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dest: str  # an ssh destination as the user's ssh config understands it
    path: str  # the repository on that machine (absolute, or ~/...)
    command: str = "fleet-tui"  # how to run fleet-tui there, split like a shell would (a venv's bin/fleet-tui)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == LOCAL or not MACHINE_NAME_RE.match(value):
            raise ValueError(f"machine name {value!r} is not allowed: use 1-40 lowercase letters, digits, "
                             f"'-' or '_' (and not {LOCAL!r})")
        return value

    @field_validator("dest")
    @classmethod
    def _dest(cls, value: str) -> str:
        if not DEST_RE.match(value):
            raise ValueError(f"ssh destination {value!r} is not allowed: give a host, user@host or an alias "
                             "from ~/.ssh/config (no spaces, not starting with '-')")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not (value.startswith("/") or value == "~" or value.startswith("~/")) or "\x00" in value \
                or "\n" in value:
            raise ValueError(f"repository path {value!r} must be absolute (/...) or in the home folder (~/...)")
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        try:
            words = shlex.split(value)
        except ValueError:
            words = []
        if not words or words[0].startswith("-") or any(c in value for c in "\x00\n"):
            raise ValueError(f"remote command {value!r} is not allowed: give a program (and its arguments), "
                             "e.g. ~/venv/bin/fleet-tui or 'python3 -m fleet_tui'")
        return value


class MachineList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    machines: dict[str, Machine] = {}


def config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "fleet-tui"


def machines_path() -> Path:
    return config_dir() / "machines.json"


def load_machines() -> MachineList:
    path = machines_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return MachineList()
    except OSError as error:
        raise FleetError(f"cannot read {path}: {error.strerror}") from None
    try:
        return MachineList.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UsageError(f"{path}: {where}: {first['msg']} (fix it, or `fleet-tui machines remove NAME`)") from None


def save_machines(machines: MachineList) -> Path:
    """Write atomically, private to the user (it names hosts and paths)."""
    path = machines_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(machines.model_dump(), indent=2) + "\n")
    temporary.replace(path)
    return path


def add_machine(name: str, dest: str, path: str, command: str = "fleet-tui") -> Machine:
    try:
        machine = Machine(name=name, dest=dest, path=path, command=command)
    except ValidationError as error:
        raise UsageError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None
    machines = load_machines()
    if name in machines.machines:
        raise UsageError(f"a machine named {name!r} exists already: `fleet-tui machines remove {name}` first")
    machines.machines[name] = machine
    save_machines(machines)
    return machine


def remove_machine(name: str) -> Machine:
    machines = load_machines()
    machine = machines.machines.pop(name, None)
    if machine is None:
        raise UsageError(f"no machine named {name!r} ({_known(machines)})")
    save_machines(machines)
    return machine


def get_machine(name: str) -> Machine:
    machines = load_machines()
    if name not in machines.machines:
        raise UsageError(f"no machine named {name!r} ({_known(machines)}; `fleet-tui machines add` adds one)")
    return machines.machines[name]


def split_target(target: str) -> tuple[str | None, str]:
    """'build:r1-claude' -> ('build', 'r1-claude'); a plain session name has no machine."""
    machine, sep, session = target.partition(":")
    return (machine, session) if sep else (None, target)


def _known(machines: MachineList) -> str:
    return "machines: " + (", ".join(machines.machines) or "none")
