"""Starting the fleet server in its own systemd user scope, where there is one.

On Linux with systemd, logind puts everything started from an SSH login into that
login's session scope, and with KillUserProcesses=yes it kills the whole scope at
logout, detached daemons included (agent-deck lost 33 live sessions that way). A
server started with `systemd-run --user --scope` lives in a scope of its own under
the user's service manager instead, which a logout does not stop. The user manager
itself stops when the user's last session ends, unless lingering is enabled
(`loginctl enable-linger`); README says so.

Where systemd, systemd-run or a reachable user manager is missing, the server is
started as before (its own session, no terminal, SIGHUP ignored) and
`unavailable_reason` says why.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

SYSTEMD_DIR = Path("/run/systemd/system")  # exists only when systemd is the running init
PROBE_TIMEOUT = 5.0
UNIT_PREFIX = "fleet-tui-"
LINGER_ADVICE = ("if your system stops a user's processes at logout (KillUserProcesses=yes), "
                 "run `loginctl enable-linger $USER` so the fleet outlives it")


def unavailable_reason(env: Mapping[str, str] | None = None, systemd_dir: Path = SYSTEMD_DIR) -> str | None:
    """Why the server cannot get a scope of its own here, or None when it can."""
    env = os.environ if env is None else env
    if env.get("FLEET_NO_SCOPE"):
        return "FLEET_NO_SCOPE is set"
    if not sys.platform.startswith("linux"):
        return "not Linux"
    if not systemd_dir.is_dir():
        return f"systemd is not running here (no {systemd_dir})"
    tool = shutil.which("systemd-run", path=env.get("PATH"))
    if tool is None:
        return "systemd-run is not installed"
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    if not (Path(runtime, "systemd", "private").exists() or Path(runtime, "bus").exists()):
        return f"no systemd user manager is reachable (nothing in {runtime})"
    try:  # the manager may still refuse (no D-Bus, a container): ask it once
        probe = subprocess.run([tool, "--user", "--scope", "--quiet", "--collect", "--", "true"],
                               env=env, capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                               stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"systemd-run --user did not work ({error})"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1]
        return f"systemd-run --user did not work ({last})"
    return None


def scoped(argv: list[str], root: Path, env: dict[str, str] | None = None,
           systemd_dir: Path = SYSTEMD_DIR) -> tuple[list[str], str | None]:
    """`argv` wrapped to run in a new user scope, and None; or `argv` as it is, and why not."""
    reason = unavailable_reason(env, systemd_dir)
    if reason is not None:
        return list(argv), reason
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    unit = f"{UNIT_PREFIX}{digest}-{secrets.token_hex(3)}.scope"
    return ["systemd-run", "--user", "--scope", "--quiet", "--collect", f"--unit={unit}",
            f"--description=fleet-tui server for {root}", "--", *argv], None


def own_scope(cgroup_file: Path = Path("/proc/self/cgroup")) -> str | None:
    """The fleet scope this process runs in (its unit name), or None."""
    try:
        text = cgroup_file.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        unit = line.rsplit("/", 1)[-1]
        if unit.startswith(UNIT_PREFIX) and unit.endswith(".scope"):
            return unit
    return None
