"""Reaching the fleet server of a repository on another machine: ssh runs `fleet-tui bridge` there,
and a FleetClient speaks the usual protocol over that ssh's stdin/stdout.

Every failure becomes one line saying what to do: the host cannot be reached, fleet-tui is not
installed there or is of another protocol version (with the install command), the path is not a
repository, the fleet.yaml there is broken.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fleet_tui import __version__, protocol, ssh
from fleet_tui.client import FleetClient
from fleet_tui.errors import FleetError
from fleet_tui.machines import Machine

HELLO_TIMEOUT = 30.0  # ssh handshake + starting the remote server


def bridge_argv(machine: Machine, *, start_server: bool = True, probe: bool = False) -> list[str]:
    argv = [*shlex.split(machine.command), "bridge", "-C", machine.path, "--protocol", str(protocol.PROTOCOL_VERSION)]
    if probe:
        argv.append("--probe")
    elif not start_server:
        argv.append("--no-start")
    return argv


def install_hint(machine: Machine) -> str:
    return (f"install it there with `ssh {machine.dest} python3 -m pip install --user 'fleet-tui=={__version__}'`"
            f" (or point to it: `fleet-tui machines add {machine.name} {machine.dest} {machine.path}"
            " --command /path/to/bin/fleet-tui`)")


def explain_failure(machine: Machine, code: int | None, stderr: str, hello: dict | None) -> str:
    """One line for a bridge that did not say a good hello."""
    where = f"{machine.name} ({machine.dest})"
    if hello is not None:
        if hello.get("protocol") != protocol.PROTOCOL_VERSION:
            return (f"{where}: fleet-tui there is {hello.get('version')} (protocol {hello.get('protocol')}), "
                    f"this one {__version__} (protocol {protocol.PROTOCOL_VERSION}): {install_hint(machine)}")
        return f"{where}: {hello.get('error')}"
    detail = ssh.last_line(stderr)
    if code == ssh.SSH_FAILED:
        return (f"{where}: cannot reach it over ssh ({detail or 'no reason given'}): check that "
                f"`ssh {machine.dest} true` works without asking for a password")
    if code == ssh.COMMAND_NOT_FOUND or "not found" in detail or "No such file" in detail:
        return f"{where}: fleet-tui is not installed ({machine.command}: not found): {install_hint(machine)}"
    if code == 2 or "invalid choice" in detail:  # an older fleet-tui without `bridge`
        return f"{where}: fleet-tui there is of another version ({detail}): {install_hint(machine)}"
    return f"{where}: the bridge failed ({detail or f'exit {code}'})"


async def connect_machine(machine: Machine, *, start_server: bool = True) -> FleetClient:
    """A FleetClient for the machine's repository, its server started there if needed."""
    stderr = tempfile.TemporaryFile()  # a file: a backgrounded ssh master may keep a pipe open forever
    try:
        process = await asyncio.create_subprocess_exec(
            *ssh.ssh_argv(machine.dest, bridge_argv(machine, start_server=start_server)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
            limit=protocol.MAX_MESSAGE_BYTES, start_new_session=True)
    except OSError as error:
        stderr.close()
        raise FleetError(f"cannot run ssh: {error.strerror}: install OpenSSH's client") from None
    assert process.stdout is not None and process.stdin is not None  # both are pipes
    hello = None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), HELLO_TIMEOUT)
        hello = protocol.decode(line) if line else None
    except (asyncio.TimeoutError, ValueError):
        pass
    except asyncio.CancelledError:  # the caller gave up (a closing TUI): leave no ssh behind
        process.kill()
        await process.communicate()
        stderr.close()
        raise
    if hello is None or not hello.get("ok") or hello.get("protocol") != protocol.PROTOCOL_VERSION:
        if process.returncode is None:
            process.terminate()
        await process.communicate()  # to the end of its output, so asyncio closes its transport
        code = process.returncode
        stderr.seek(0)
        text = stderr.read().decode(errors="replace")
        stderr.close()
        raise FleetError(explain_failure(machine, code, text, hello))
    stderr.close()
    return FleetClient(Path(hello["root"]), process.stdout, process.stdin, process=process)


@dataclass
class CheckResult:
    machine: str
    ok: bool
    message: str
    seconds: float


def check_machine(machine: Machine) -> CheckResult:
    """ssh reachable, fleet-tui there of our protocol, the repository there: one line either way."""
    started = time.monotonic()
    result = ssh.run(machine.dest, bridge_argv(machine, probe=True))
    seconds = time.monotonic() - started
    hello = None
    first = result.stdout.splitlines()[0] if result.stdout.strip() else ""
    try:
        hello = json.loads(first) if first else None
    except ValueError:
        pass
    if isinstance(hello, dict) and hello.get("ok") and hello.get("protocol") == protocol.PROTOCOL_VERSION:
        return CheckResult(machine.name, True, f"{machine.name} ({machine.dest}): ok, fleet-tui {hello['version']} "
                           f"(protocol {hello['protocol']}), repository {hello['root']}", seconds)
    return CheckResult(machine.name, False,
                       explain_failure(machine, result.returncode, result.stderr,
                                       hello if isinstance(hello, dict) else None), seconds)
