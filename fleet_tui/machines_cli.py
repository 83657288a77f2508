"""`fleet-tui machines ...` and `fleet-tui bridge`: the command line of fleets on other machines."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from fleet_tui.errors import UsageError


def register(command: Callable[[str, str, Callable], argparse.ArgumentParser]) -> None:
    p = command("machines", "the machines whose fleets the TUI and --machine reach over ssh", cmd_machines)
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    a = actions.add_parser("add", help="add a machine: a name, an ssh destination, a repository path there")
    a.add_argument("name")
    a.add_argument("dest", help="as your ssh understands it: host, user@host, an alias from ~/.ssh/config")
    a.add_argument("path", help="the repository on that machine")
    a.add_argument("--command", default="fleet-tui", help="fleet-tui's path there (default: fleet-tui)")
    a = actions.add_parser("list", help="list the machines")
    a.add_argument("--json", action="store_true")
    a = actions.add_parser("remove", help="forget a machine (nothing there is stopped)")
    a.add_argument("name")
    a = actions.add_parser("check", help="check each machine: ssh, fleet-tui there and its version, the repository")
    a.add_argument("name", nargs="?")
    a.add_argument("--json", action="store_true")

    p = command("bridge", "(run by ssh on a remote machine) join stdin/stdout to the fleet server here", cmd_bridge)
    p.add_argument("-C", dest="directory", default=argparse.SUPPRESS, help="the repository")
    p.add_argument("--protocol", type=int, default=None, help="the client's protocol version")
    p.add_argument("--probe", action="store_true", help="only say hello: versions and the repository")
    p.add_argument("--no-start", action="store_true", help="do not start a server that is not running")


def cmd_machines(args: argparse.Namespace) -> int:
    from fleet_tui import machines as machine_list  # here: `bridge`, run on every link, needs no pydantic

    action = args.action
    if action is None:
        raise UsageError("say what to do: `fleet-tui machines add|list|remove|check`")
    if action == "add":
        machine = machine_list.add_machine(args.name, args.dest, args.path, args.command)
        print(f"added {machine.name}: {machine.dest}:{machine.path} (`fleet-tui machines check {machine.name}` "
              "tries it)")
        return 0
    if action == "remove":
        machine_list.remove_machine(args.name)
        print(f"removed {args.name} (its fleet keeps running there)")
        return 0
    machines = machine_list.load_machines().machines
    if action == "list":
        if args.json:
            print(json.dumps([m.model_dump() for m in machines.values()], indent=2))
            return 0
        if not machines:
            print("no machines: `fleet-tui machines add NAME DEST PATH` adds one")
        for machine in machines.values():
            command = "" if machine.command == "fleet-tui" else f"  ({machine.command})"
            print(f"{machine.name}  {machine.dest}  {machine.path}{command}")
        return 0
    # check
    from concurrent.futures import ThreadPoolExecutor

    from fleet_tui.remote import check_machine

    chosen = [machine_list.get_machine(args.name)] if args.name else list(machines.values())
    if not chosen:
        print("no machines: `fleet-tui machines add NAME DEST PATH` adds one")
        return 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(check_machine, chosen))
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2))
    else:
        for result in results:
            print(result.message)
    return 0 if all(r.ok for r in results) else 1


def cmd_bridge(args: argparse.Namespace) -> int:
    from fleet_tui.bridge import run_bridge

    return run_bridge(str(args.directory), args.protocol, probe=args.probe, start_server=not args.no_start)
