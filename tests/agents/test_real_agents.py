"""Issue 5, "Real agents": each real CLI, started by `fleet-tui start` from its preset, draws in
its pane what tmux draws for the same program (same size, env and cwd), its first-start dialog
is steered from fleet_tui exactly as in tmux, and `fleet-tui status` reads it correctly.

One fleet runs every installed CLI at once, and the four walks through their dialogs run side by
side (threads) to keep the run short; each test then checks one CLI's record, step by step.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from dataclasses import dataclass, field

import pytest

from tests.agents.conftest import (ROWS, AgentsFleet, cli_screen, describe_diff, differing_rows, require_cli, rows,
                                   settle_both)

# Four real agent CLIs cold-start at once on the test machine and each walk waits for 1.2 s of quiet
# on both screens per step: the shared walk (the first test's setup) took 60 s at load ~5 on 2 cores
# and passed 120 s at load ~10, so the module gets 300 s and the walk one deadline of its own.
pytestmark = [pytest.mark.real, pytest.mark.timeout(300)]
WALK_SECONDS = 240


@dataclass
class Step:
    keys: list[str]        # sent with `fleet-tui keys NAME ...` and `tmux send-keys`
    expect: str            # what the screen shows once the keys took effect
    status: str            # what `fleet-tui status` says then
    signal: str | tuple[str, ...]  # a part of `status --explain`'s reason (any one of them): the signal that decided


# The first step (no keys) is the screen the CLI starts on.
SCRIPTS = {
    "claude": [
        Step([], "Is this a project you created or one you trust?", "waiting",
             '"Is this a project you created or one you trust?" matches waiting'),
        Step(["down"], "❯ 2. No, exit", "waiting", "matches waiting"),
        Step(["up"], "❯ 1. Yes, I trust this folder", "waiting", "matches waiting"),
        # Trusted: next it asks about the API key found in the environment.
        Step(["enter"], "Do you want to use this API key?", "waiting",
             '"Do you want to use this API key?" matches waiting'),
    ],
    "codex": [
        Step([], "Trust this folder? Codex can", "waiting", '"Trust this folder? Codex can" matches waiting'),
        Step(["down"], "› 2. Back to", "waiting", "matches waiting"),
        Step(["up"], "› 1. Trust and continue", "waiting", "matches waiting"),
        # Trusted: the composer, waiting for a prompt. Codex 0.171 sends its OSC 7501 idle state
        # on reaching it; a version that sends none before a turn is read idle by quiet output.
        Step(["enter"], "Ask Codex to do anything", "idle", ("OSC 7501 state=idle", "no output for")),
    ],
    "gemini": [
        Step([], "Do you trust the files in this folder?", "waiting",
             '"Do you trust the files in this folder?" matches waiting'),
        Step(["down"], "● 2. Trust parent folder", "waiting", "matches waiting"),
        Step(["up"], "● 1. Trust folder", "waiting", "matches waiting"),
        # Trusted: Gemini restarts itself and asks how to authenticate.
        Step(["enter"], "How would you like to authenticate for this project?", "waiting",
             '"How would you like to authenticate for this project?" matches waiting'),
    ],
    "aider": [
        # No "Add .aider* to .gitignore?" first: the fleet's worktrees ignore aider's litter
        # (core.litter), so aider leaves the project's .gitignore alone.
        Step([], "Would you like to see what's new in this version? (Y)es/(N)o", "waiting",
             '"(Y)es/(N)o" matches waiting'),
        # "n": no release notes; then the empty input prompt.
        Step(["n", "enter"], "Repo-map:", "idle", "idle_screen"),
    ],
}

# Claude Code 2.1.329 (newer than the registry's 2.1.197 when this was written) lists
# "❯ No, exit" first and selected, unnumbered; a walk that finds that layout uses this script.
CLAUDE_NO_FIRST = [
    Step([], "Is this a project you created or one you trust?", "waiting",
         '"Is this a project you created or one you trust?" matches waiting'),
    Step(["down"], "❯ Yes, I trust this folder", "waiting", "matches waiting"),
    Step(["enter"], "Do you want to use this API key?", "waiting",
         '"Do you want to use this API key?" matches waiting'),
]


def script_for(name: str, first_screen: list[str]) -> list[Step]:
    if name == "claude" and any(row.strip() == "❯ No, exit" for row in first_screen):
        return CLAUDE_NO_FIRST
    return SCRIPTS[name]


# Rows that legitimately differ between the fleet's pane and tmux, per (CLI, step): none so far.
ALLOWED_DIFFS: dict[tuple[str, int], set[int]] = {}


@dataclass
class Seen:
    ours: list[str]                 # `fleet-tui screen NAME`
    theirs: list[str]               # `tmux capture-pane -p`
    explain: dict                   # `fleet-tui status --explain NAME --json`
    listed: str | None = None       # NAME's status in `fleet-tui status --json` (first and last step)


@dataclass
class Walk:
    seen: list[Seen] = field(default_factory=list)
    error: str | None = None
    script: list[Step] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


def walk(agents: AgentsFleet, name: str, record: Walk) -> None:
    cli, tmux, peek = agents.cli, agents.tmux, agents.peek
    record.script = SCRIPTS[name]
    try:
        first = SCRIPTS[name][0]
        settle_both(lambda: peek.screen(name), lambda: rows(tmux.screen(name)), first.expect)
        script = record.script = script_for(name, peek.screen(name))
        for number, step in enumerate(script):
            if step.keys:
                cli.run("keys", name, *step.keys)
                tmux.keys(name, step.keys)
            settle_both(lambda: peek.screen(name), lambda: rows(tmux.screen(name)), step.expect)
            ours, theirs = cli_screen(cli, name), rows(tmux.screen(name))
            deadline = time.monotonic() + 30
            while peek.call("explain", session=name)["status"] != step.status and time.monotonic() < deadline:
                time.sleep(0.2)
            explain = json.loads(cli.run("status", "--explain", name, "--json").stdout)
            listed = None
            if number in (0, len(script) - 1):
                listed = next(s["status"] for s in cli.status() if s["name"] == name)
            record.seen.append(Seen(ours, theirs, explain, listed))
            print(f"{name} step {number} done at {time.monotonic() - record.started:.1f}s")
    except Exception:  # recorded, and reported by this CLI's test
        record.error = traceback.format_exc()


@pytest.fixture(scope="module")
def walks(agents_fleet: AgentsFleet) -> dict[str, Walk]:
    records = {name: Walk() for name in agents_fleet.names}
    threads = [threading.Thread(target=walk, args=(agents_fleet, name, records[name]), daemon=True)
               for name in agents_fleet.names]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + WALK_SECONDS  # one deadline for all: they walk side by side
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    for name, thread in zip(agents_fleet.names, threads):
        if thread.is_alive() and records[name].error is None:
            records[name].error = f"still walking after {WALK_SECONDS} s, at step {len(records[name].seen)}"
    return records


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_real_cli_renders_steers_and_reads_like_tmux(walks: dict[str, Walk], name: str) -> None:
    require_cli(name)
    if name not in walks:
        pytest.skip(f"{name} is not in FLEET_TEST_AGENTS")
    record = walks[name]
    for number, (step, seen) in enumerate(zip(record.script, record.seen)):
        what = f"{name} step {number} ({' '.join(step.keys) or 'first screen'})"
        differ = differing_rows(seen.ours, seen.theirs)
        print(f"{what}: {ROWS - len(differ)}/{ROWS} rows equal; status {seen.explain['status']} "
              f"because {seen.explain['reason']}")
        allowed = ALLOWED_DIFFS.get((name, number), set())
        assert not [i for i in differ if i not in allowed], \
            f"{what}: the pane differs from tmux:\n" + describe_diff(seen.ours, seen.theirs)
        signals = step.signal if isinstance(step.signal, tuple) else (step.signal,)
        assert seen.explain["status"] == step.status and any(s in seen.explain["reason"] for s in signals), \
            f"{what}: expected {step.status} by {step.signal!r}, got {seen.explain}\n" + "\n".join(seen.ours)
        if seen.listed is not None:
            assert seen.listed == step.status, f"{what}: status --json says {seen.listed}"
    assert record.error is None, f"{name}: the walk stopped after {len(record.seen)} steps:\n{record.error}"
    assert record.seen and len(record.seen) == len(record.script)
