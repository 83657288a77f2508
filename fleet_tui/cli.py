"""`fleet-tui`: the command line. Every command talks to the repository's fleet server."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from fleet_tui import __version__
from fleet_tui.core import gitrepo
from fleet_tui.core.budget import format_meter
from fleet_tui.errors import FleetError, UsageError
from fleet_tui.paths import CONFIG_NAME

if TYPE_CHECKING:  # the client and the wire models load pydantic: only commands that talk to a server need it
    from fleet_tui.client import FleetApi, FleetClient
    from fleet_tui.wire import TaskView
    from fleet_tui.wire import EventView, ExplainAnswer, MergeAnswer

T = TypeVar("T")


# The verbs that reach another machine's fleet with --machine NAME (or a session named NAME:SESSION).
MACHINE_VERBS = {"status", "send", "keys", "screen", "kill", "pause", "resume", "restart", "fanout", "compare",
                 "merge", "discard", "log", "down", "start"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fleet-tui", description="Run a fleet of CLI coding agents side by side.")
    parser.add_argument("--version", action="version", version=f"fleet-tui {__version__}")
    parser.add_argument("-C", dest="directory", type=Path, default=Path.cwd(),
                        help="run as if started in this folder (default: here)")
    parser.add_argument("-c", "--config", type=Path, default=None, help="fleet.yaml to use (default: repo root)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    def command(name: str, help_text: str, func: Callable) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if name in MACHINE_VERBS:
            p.add_argument("--machine", metavar="NAME", default=None,
                           help="the fleet on this machine (`fleet-tui machines`); or name a session NAME:SESSION")
        return p

    command("up", "open the TUI (the default): starts the server and configured agents if needed", cmd_up)
    p = command("demo", "try it with no API key: a demo repository, demo agents and a fan-out", cmd_demo)
    p.add_argument("--clean", action="store_true", help="stop the demo and remove its files")
    p.add_argument("--no-tui", action="store_true", help="set the demo up and start its fan-out, but open no TUI")
    p = command("init", "write a commented fleet.yaml for the agent CLIs installed here", cmd_init)
    p = command("start", "start sessions of the named agents (default: every configured agent)", cmd_start)
    p.add_argument("agents", nargs="*")
    p.add_argument("-n", "--count", type=int, default=None, help="sessions per agent")
    p = command("status", "list the sessions, their status and budget use", cmd_status)
    p.add_argument("--json", action="store_true")
    p.add_argument("--explain", metavar="NAME", help="say which signal decided NAME's status, and why")
    p = command("screen", "print a session's current screen as text", cmd_screen)
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p = command("send", "type TEXT into a session, then Enter", cmd_send)
    p.add_argument("name")
    p.add_argument("text")
    p = command("keys", "send keys to a session, e.g. `keys claude down enter ctrl+c`", cmd_keys)
    p.add_argument("name")
    p.add_argument("keys", nargs="+")
    for name, help_text in (("kill", "kill a session's whole process tree (its worktree stays)"),
                            ("pause", "stop a session's whole process tree until resumed"),
                            ("resume", "continue a paused session"),
                            ("restart", "start a stopped session again in its worktree")):
        p = command(name, help_text, cmd_control)
        p.add_argument("name")
    p = command("restore", "start lost sessions again in their worktrees (default: every lost one), "
                "resuming each agent's conversation where its CLI can", cmd_restore)
    p.add_argument("names", nargs="*", metavar="NAME")
    p = command("log", "print the event log", cmd_log)
    p.add_argument("--json", action="store_true")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    p.add_argument("-n", "--limit", type=int, default=50)
    p.add_argument("--task", metavar="ID", help="one task's whole story (every event since it was queued)")
    p = command("task", "put a task on the queue: a free agent of the role takes it", cmd_task)
    p.add_argument("text")
    p.add_argument("--role", default=None, help="the role of the agents that do it (default: the pipeline's, "
                   "else developer)")
    p.add_argument("--pipeline", default=None, help="run it through this pipeline of fleet.yaml")
    p.add_argument("--priority", choices=["high", "normal", "low"], default="normal")
    p.add_argument("--json", action="store_true")
    p = command("tasks", "list the tasks: stage, agent, age; those waiting for you first", cmd_tasks)
    p.add_argument("--json", action="store_true")
    p = command("approve", "let a task waiting at a gate (or blocked) go on", cmd_approve)
    p.add_argument("task")
    p.add_argument("--override", action="store_true", help="go on although its checks fail (recorded)")
    p.add_argument("--pick", metavar="SESSION", help="after a fan-out: the attempt to take (default: the best)")
    p.add_argument("--by", default=None, help="who approves (default: your user name)")
    p = command("reject", "stop a task: it will not merge", cmd_reject)
    p.add_argument("task")
    p.add_argument("--reason", default="")
    p.add_argument("--by", default=None, help="who rejects (default: your user name)")
    p = command("audit", "check the audit trail", cmd_audit)
    p.add_argument("action", choices=["verify"])
    p = command("fanout", "send one prompt to several new sessions: a run", cmd_fanout)
    p.add_argument("prompt")
    p.add_argument("--agents", default=None, help="comma-separated agents, e.g. claude,codex (default: all)")
    p.add_argument("-n", "--count", type=int, default=1, help="sessions per agent")
    p.add_argument("--sessions", default=None, help="send to these running sessions instead (comma-separated)")
    p.add_argument("--role", default=None, help="send to the running sessions of this role instead")
    p.add_argument("--json", action="store_true")
    p = command("compare", "compare a run's attempts: checks, diff size, time, cost", cmd_compare)
    p.add_argument("run", nargs="?", help="run id (default: the latest run)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--wait", action="store_true", help="first wait until every attempt has finished its turn")
    p.add_argument("--last", action="store_true",
                   help="show the run's latest comparison as saved (it outlives a server restart); run nothing")
    p = command("ack", "mark a session's finished turn as seen (done -> idle)", cmd_ack)
    p.add_argument("name")
    p = command("merge", "merge an attempt into the base branch and discard the rest of its run", cmd_merge)
    p.add_argument("name")
    p.add_argument("--strategy", choices=["merge", "squash", "rebase"], default="merge")
    p.add_argument("--keep", action="store_true", help="keep the other attempts of the run")
    p.add_argument("--yes", action="store_true", help="merge without asking")
    p = command("discard", "remove a session's worktree and branch", cmd_discard)
    p.add_argument("name")
    p.add_argument("--keep-branch", action="store_true", help="remove the worktree but keep the branch")
    p = command("worktrees", "list the worktrees the fleet made: size, age, branch, merged, uncommitted work",
                cmd_worktrees)
    p.add_argument("--json", action="store_true")
    p = command("prune", "remove the fleet's worktrees whose work is merged or discarded; asks about the rest",
                cmd_prune)
    p.add_argument("--yes", action="store_true",
                   help="also remove those holding uncommitted or unmerged work (unmerged branches are kept)")
    command("down", "stop the fleet server and every session", cmd_down)
    from fleet_tui.machines_cli import register

    register(command)
    return parser


# -- plumbing ----------------------------------------------------------------------------

def _root(args: argparse.Namespace) -> Path:
    return gitrepo.find_repo_root(args.directory)


def _config_path(args: argparse.Namespace, root: Path) -> Path:
    return (args.config if args.config else root / CONFIG_NAME).resolve()


async def _client(args: argparse.Namespace, start: bool = True) -> FleetClient:
    machine = _machine(args)
    if machine is not None:
        from fleet_tui.remote import connect_machine

        return await connect_machine(machine, start_server=start)
    root = _root(args)
    from fleet_tui.client import FleetClient

    return await FleetClient.connect(root, start_server=start, config_path=_config_path(args, root))


def _machine(args: argparse.Namespace):
    """The machine a command goes to (--machine NAME), or None for this one."""
    from fleet_tui.machines import LOCAL, get_machine

    name = getattr(args, "machine", None)
    return None if name in (None, LOCAL) else get_machine(name)


def _take_machine_prefix(args: argparse.Namespace) -> None:
    """A session given as NAME:SESSION means --machine NAME and the session SESSION."""
    from fleet_tui.machines import split_target

    for field in ("name", "explain"):
        value = getattr(args, field, None)
        if args.command not in MACHINE_VERBS or not isinstance(value, str):
            continue
        prefix, session = split_target(value)
        if prefix is None:
            continue
        if args.machine is not None and args.machine != prefix:
            raise UsageError(f"--machine {args.machine} and the session {value} disagree: give one of them")
        args.machine = prefix
        setattr(args, field, session)


# Questions a server answers from memory at once: one that stays silent is stuck, and a script
# polling `fleet-tui status` must be told so rather than wait for ever. (Merges, compares and
# fan-outs take as long as git and the checks take, so they have no such limit.)
QUICK_REPLY_SECONDS = 30.0


def _ask(args: argparse.Namespace, request: Callable[[FleetApi], Awaitable[T]], start: bool = True,
         quick: str | None = None) -> T:
    """One request to the fleet server (its typed method, e.g. `lambda c: c.status()`), then hang up.

    `quick` names a question answered from memory (status, explain, screen, log, run_state, tasks):
    a server silent on it for QUICK_REPLY_SECONDS is reported stuck."""
    async def go() -> T:
        client = await _client(args, start)
        try:
            if quick is None:
                return await request(client)
            limit = float(os.environ.get("FLEET_QUICK_REPLY_SECONDS") or QUICK_REPLY_SECONDS)
            try:
                return await asyncio.wait_for(request(client), limit)
            except asyncio.TimeoutError:
                raise FleetError(f"the fleet server did not answer `{quick}` within {limit:g} s: it looks stuck "
                                 "(see .git/fleet/server.log); `fleet-tui down` or killing the pid in "
                                 ".git/fleet/server.pid stops it") from None
        finally:
            await client.close()

    return asyncio.run(go())


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


# -- commands ----------------------------------------------------------------------------

def cmd_up(args: argparse.Namespace) -> int:
    # Importing the UI and opening it makes ~70,000 objects that live as long as it does and
    # almost no garbage (~170 objects): collecting while they are made only re-scans them
    # (~5% of the imports' work). The app turns the collector back on once it has frozen them.
    gc.disable()
    try:
        from fleet_tui.ui.app import run_tui

        root = _root(args)
        return run_tui(root, config_path=_config_path(args, root))
    finally:
        gc.enable()


def cmd_demo(args: argparse.Namespace) -> int:
    from fleet_tui.demo.launch import run_demo

    return run_demo(clean=args.clean, open_tui=not args.no_tui)


def cmd_init(args: argparse.Namespace) -> int:
    from fleet_tui.initcmd import write_fleet_yaml

    path = write_fleet_yaml(_root(args))
    print(f"wrote {path}: review it, then run `fleet-tui`")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    result = _ask(args, lambda c: c.start(args.agents, count=args.count))
    for name in result.sessions:
        print(f"started {name}")
    if not result.sessions:
        print("nothing to start")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if args.explain:
        info = _ask(args, lambda c: c.explain(args.explain), quick="explain")
        if args.json:
            _print_json(info.wire())
        else:
            print(_explain_text(info))
        return 0
    sessions = _ask(args, lambda c: c.status(), quick="status").sessions
    if args.json:
        _print_json([s.wire() for s in sessions])
        return 0
    if not sessions:
        print("no sessions: `fleet-tui start` starts the configured agents")
        return 0
    rows = [("NAME", "STATUS", "AGENT", "PID", "BRANCH", "TIME", "CPU", "MEM", "COST")]
    for s in sessions:
        b = s.budget
        rows.append((s.name, s.status, s.agent, str(s.pid or "-"), s.branch,
                     _meter(b, "time"), _meter(b, "cpu"), _meter(b, "memory"), _meter(b, "cost")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return 0


def _explain_text(info: ExplainAnswer) -> str:
    """`status --explain`: the answer, the layer that gave it, the last hook event, the screen's view."""
    lines = [f"{info.name}: {info.status} because {info.reason}",
             f"  decided by: {info.layer or 'screen'} layer "
             f"(process -> hooks -> dialogs on screen -> title/OSC -> output activity)"]
    if info.hooks:
        if info.hook_event:
            lines.append(f"  last hook event: {info.hook_event} ({info.hook_meaning}), "
                         f"{info.hook_age or 0.0:.1f} s ago; {info.hook_events} events so far")
        else:
            lines.append("  last hook event: none yet (hooks installed)")
    else:
        lines.append("  hooks: none for this agent (its preset installs none)")
    lines.append(f"  the screen says: {info.screen_status} because {info.screen_reason}")
    if info.conversation_id:
        lines.append(f"  agent's session id: {info.conversation_id}")
    return "\n".join(lines)


def _meter(budget: dict[str, Any], name: str) -> str:
    meter = budget.get(name) or {}
    used, limit = meter.get("used"), meter.get("limit")
    if used is None:
        return "-"
    text = format_meter(name, used)
    return f"{text}/{format_meter(name, limit)}" if limit else text


def cmd_screen(args: argparse.Namespace) -> int:
    result = _ask(args, lambda c: c.screen(args.name), quick="screen")
    if args.json:
        _print_json(result.wire())
    else:
        print("\n".join(result.lines).rstrip("\n"))
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    _ask(args, lambda c: c.send(args.name, args.text))
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    _ask(args, lambda c: c.keys(args.name, args.keys))
    return 0


def cmd_control(args: argparse.Namespace) -> int:
    if args.command == "kill":
        killed = _ask(args, lambda c: c.kill(args.name), start=False)
        if killed.seconds is not None:
            print(f"killed {args.name} in {killed.seconds:.2f}s; its worktree stays (`fleet-tui discard` removes it)")
            return 0
    else:
        controls: dict[str, Callable[[FleetApi], Awaitable[Any]]] = {
            "pause": lambda c: c.pause(args.name), "resume": lambda c: c.resume(args.name),
            "restart": lambda c: c.restart(args.name)}
        _ask(args, controls[args.command], start=False)
    print(f"{args.command}: {args.name}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    results = _ask(args, lambda c: c.restore(args.names)).results
    if not results:
        print("nothing to restore: no session was lost")
    for result in results:
        if result.restored:
            print(f"restored {result.session}: {result.note}")
        else:
            print(f"not restored {result.session}: {result.note}", file=sys.stderr)
    return 0 if all(result.restored for result in results) else 1


def cmd_log(args: argparse.Namespace) -> int:
    def show(event: EventView) -> None:
        if args.json:
            print(json.dumps(event.wire(), default=str), flush=True)
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(event.ts))
            who = event.session or "fleet"
            print(f"{stamp} {event.kind:<15} {who:<16} {event.message}", flush=True)

    if args.task:
        if args.follow:
            raise UsageError("--task and --follow do not go together")
        for event in _ask(args, lambda c: c.log(limit=0, task=args.task), start=False, quick="log").events:
            show(event)
        return 0
    if not args.follow:
        for event in _ask(args, lambda c: c.log(limit=args.limit), start=False, quick="log").events:
            show(event)
        return 0

    async def follow() -> None:
        from fleet_tui import wire

        client = await _client(args, start=False)
        for event in (await client.log(limit=args.limit)).events:
            show(event)
        await client.attach()
        async for message in client.messages():
            if message.get("t") == "event":
                show(wire.EventView.model_validate(message["event"]))

    try:
        asyncio.run(follow())
    except KeyboardInterrupt:
        pass
    return 0


def cmd_task(args: argparse.Namespace) -> int:
    task = _ask(args, lambda c: c.submit_task(args.text, args.role, args.pipeline, args.priority))
    if args.json:
        _print_json(task.wire())
    else:
        print(task.id)
        print(f"  {task.stage_name}: {task.step}", file=sys.stderr)
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    tasks = _ask(args, lambda c: c.tasks(), quick="tasks").tasks
    if args.json:
        _print_json([t.wire() for t in tasks])
        return 0
    if not tasks:
        print('no tasks: `fleet-tui task "..."` queues one')
        return 0
    now = time.time()
    rows = [("ID", "STATE", "STAGE", "AGENT", "AGE", "PRI", "TASK / STEP")]
    for t in tasks:
        rows.append((t.id, t.state, t.stage_name, t.agent or "-", _age(now - t.created),
                     t.priority, f"{_short(t.text, 40)} / {t.step}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1])
    return 0


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _approvals_seen(client: FleetApi, task_id: str) -> int | None:
    """How many approvals the task has now: sent with an approve or reject, so that of two people
    acting on the same gate at once, one wins and the other is told the task moved on."""
    return next((len(t.approvals) for t in (await client.tasks()).tasks if t.id == task_id), None)


def cmd_approve(args: argparse.Namespace) -> int:
    async def approve(c: FleetApi) -> TaskView:
        return await c.approve(args.task, args.by, args.override, args.pick, await _approvals_seen(c, args.task))

    task = _ask(args, approve)
    print(f"approved {task.id}: now {task.stage_name} ({task.step})")
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    async def reject(c: FleetApi) -> TaskView:
        return await c.reject(args.task, args.by, args.reason, await _approvals_seen(c, args.task))

    task = _ask(args, reject)
    print(f"rejected {task.id}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from fleet_tui.core.audit import AUDIT_FILE, AuditStore

    store = AuditStore(gitrepo.fleet_dir(_root(args)) / AUDIT_FILE)
    ok, summary = store.verify()
    print(summary if ok else f"audit trail BROKEN: {summary}")
    return 0 if ok else 1


def cmd_fanout(args: argparse.Namespace) -> int:
    def names(text: str | None) -> list[str]:
        return [part.strip() for part in (text or "").split(",") if part.strip()]

    agents, sessions = names(args.agents), names(args.sessions) or None
    if any(":" in target for target in agents + (sessions or [])):
        result = _across_machines(args, agents + (sessions or []), lambda c: c.fanout(
            args.prompt, agents=agents, count=args.count, sessions=sessions))
    else:
        result = _ask(args, lambda c: c.fanout(args.prompt, agents=agents, count=args.count, sessions=sessions,
                                               role=args.role))
    if args.json:
        _print_json(result.wire())
    else:
        print(result.run)
        for name in result.sessions:
            print(f"  {name}", file=sys.stderr)
    return 0


def _across_machines(args: argparse.Namespace, targets: list[str], request: Callable[[FleetApi], Awaitable[T]]) -> T:
    """A request naming MACHINE:AGENT or MACHINE:SESSION targets: each machine gets its part."""
    from fleet_tui.machines import get_machine, split_target
    from fleet_tui.multiclient import MultiClient
    from fleet_tui.remote import connect_machine

    named = {split_target(t)[0] for t in targets}
    machines = [get_machine(name) for name in sorted(n for n in named if n is not None and n != "local")]

    async def go() -> T:
        client = MultiClient(await _client(argparse.Namespace(**{**vars(args), "machine": None})), machines,
                             connect_machine)
        try:
            await client.connect_once()
            return await request(client)
        finally:
            await client.close()

    return asyncio.run(go())


def cmd_ack(args: argparse.Namespace) -> int:
    result = _ask(args, lambda c: c.ack(args.name))
    print(f"{args.name}: seen" + ("" if result.was_done else " (it had no unseen finished turn)"))
    return 0


def _wait_for_run(args: argparse.Namespace) -> None:
    said = None
    while True:
        state = _ask(args, lambda c: c.run_state(args.run), quick="run_state")
        if state.finished:
            return
        busy = [s.name for s in state.sessions if s.turns < 1 and s.status != "stopped"]
        line = f"run {state.run}: waiting for {', '.join(busy)}"
        if line != said and not args.json:
            print(line, file=sys.stderr, flush=True)
            said = line
        time.sleep(1.0)


def cmd_compare(args: argparse.Namespace) -> int:
    if args.wait:
        _wait_for_run(args)
    result = _ask(args, lambda c: c.compare(args.run, last=args.last))
    if args.json:
        _print_json(result.wire())
        return 0
    from fleet_tui.comparetable import render_compare

    if args.machine:  # the attempts as the other commands here name them
        for attempt in result.attempts:
            attempt.session = f"{args.machine}:{attempt.session}"
    print(render_compare(result))
    if args.last and result.compared_at:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(result.compared_at))
        print(f"compared at {when} (as saved; `fleet-tui compare {result.run}` runs the checks again)")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from fleet_tui.comparetable import render_merge_summary

    if _machine(args) is not None:
        return _merge_remote(args)
    summary = _ask(args, lambda c: c.merge_summary(args.name))
    print(render_merge_summary(summary))
    if not _confirmed(args):
        return 1
    result = _ask(args, lambda c: c.merge(args.name, strategy=args.strategy, keep=args.keep))
    print(f"merged {args.name} into {result.base} ({result.strategy}, {result.commit[:10]})")
    for name in result.discarded:
        print(f"discarded {name}")
    return 0


def _confirmed(args: argparse.Namespace) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError("not merging without confirmation: pass --yes")
    if input("merge? [y/N] ").strip().lower() not in ("y", "yes"):
        print("not merged")
        return False
    return True


def _merge_remote(args: argparse.Namespace) -> int:
    """An attempt on another machine: fetched here over ssh, merged into this repository's base."""
    from fleet_tui.comparetable import render_merge_summary
    from fleet_tui.remote_merge import fetch_attempt, merge_remote

    machine = _machine(args)
    local_args = argparse.Namespace(**{**vars(args), "machine": None})

    async def go() -> MergeAnswer | None:
        local, remote = await _client(local_args), await _client(args)
        try:
            print(render_merge_summary(await fetch_attempt(local, remote, machine, args.name)))
            if not _confirmed(args):
                return None
            return await merge_remote(local, remote, machine, args.name, args.strategy, args.keep)
        finally:
            await local.close()
            await remote.close()

    result = asyncio.run(go())
    if result is None:
        return 1
    print(f"merged {machine.name}:{args.name} into {result.base} ({result.strategy}, {result.commit[:10]})"
          f" from {result.fetched}")
    for name in result.discarded:
        print(f"discarded {name}")
    return 0


def cmd_discard(args: argparse.Namespace) -> int:
    _ask(args, lambda c: c.discard(args.name, keep_branch=args.keep_branch))
    print(f"discarded {args.name}" + (" (branch kept)" if args.keep_branch else ""))
    return 0


def cmd_worktrees(args: argparse.Namespace) -> int:
    from fleet_tui.worktreetable import render_worktrees

    listing = _ask(args, lambda c: c.worktrees())
    if args.json:
        _print_json([wt.wire() for wt in listing.worktrees])
    else:
        print(render_worktrees(listing.worktrees, listing.base))
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    """Merged or empty worktrees go at once; each one that holds work is asked about, never dropped silently."""
    from fleet_tui.worktreetable import format_size

    worktrees = _ask(args, lambda c: c.worktrees()).worktrees
    confirmed: list[str] = []
    kept = 0

    def keep(label: str, reason: str) -> None:
        nonlocal kept
        kept += 1
        print(f"kept {label}: {reason}", file=sys.stderr)

    for wt in worktrees:
        if not wt.risk:
            continue
        label = wt.session or wt.path
        if args.yes:
            confirmed.append(wt.path)
        elif not sys.stdin.isatty():
            keep(label, f"{wt.risk} (`fleet-tui prune --yes` removes it anyway)")
        elif input(f"{label} ({wt.path}): {wt.risk}. Remove it? [y/N] ").strip().lower() in ("y", "yes"):
            confirmed.append(wt.path)
        else:
            keep(label, "you said no")
    paths = [wt.path for wt in worktrees if not wt.risk] + confirmed
    if not paths:
        print("nothing to prune" if not kept else "nothing removed")
        return 1 if kept else 0
    risks = {wt.path: wt.risk for wt in worktrees}
    freed = 0
    for result in _ask(args, lambda c: c.prune(paths, confirmed)).results:
        label = result.session or result.path
        if not result.removed:
            keep(label, result.reason or "")
            continue
        freed += result.size or 0
        lost = f" ({risks[result.path]}: removed as you confirmed)" if result.path in confirmed else ""
        branch = f"; branch {result.branch_kept} kept" if result.branch_kept else ""
        print(f"removed {label}{lost}{branch}")
    print(f"freed {format_size(freed)}")
    return 1 if kept else 0


def cmd_down(args: argparse.Namespace) -> int:
    async def down() -> int:
        client = await _client(args, start=False)
        try:
            return await client.stop_server()
        finally:
            await client.close()

    try:
        stopped = asyncio.run(down())
    except FleetError as error:
        if "no fleet server" in str(error):
            print("no fleet server is running for this repository")
            return 0
        raise
    print(f"fleet server stopped ({stopped} running session{'' if stopped == 1 else 's'} killed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    def parse_and_run() -> int:
        args = build_parser().parse_args(argv)
        func = getattr(args, "func", cmd_up)
        if not hasattr(args, "command") or args.command is None:
            args.command = "up"
        _take_machine_prefix(args)
        return func(args)

    return run_command(parse_and_run)


def open_tui_here() -> int:
    """`fleet-tui` with no command, in the current folder: what the warm UI process's child runs
    (fleet_tui/ui/warm.py), without building the whole parser (~12 ms) for the one answer."""
    args = argparse.Namespace(command="up", directory=Path.cwd(), config=None)
    return run_command(lambda: cmd_up(args))


def run_command(command: Callable[[], int]) -> int:
    """Run a command as `fleet-tui` does: a FleetError is one line and its exit code, never a traceback."""
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints as \xff, never a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        return command()
    except FleetError as error:
        print(f"fleet-tui: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `fleet-tui status | head`: the reader has all it wanted. Quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 141
    except Exception as error:  # a bug of ours: still one line, the traceback on request
        if os.environ.get("FLEET_DEBUG"):
            raise
        print(f"fleet-tui: internal error: {error!r} (run again with FLEET_DEBUG=1 and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
