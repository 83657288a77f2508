"""The orchestrator: the fleet of one repository, without any UI.

It owns the sessions, starts them in their own worktrees, delivers prompts,
enforces budgets, and turns everything that happens into events. The server
exposes it over a socket; tests drive it directly.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet_tui.config import AgentSpec, FleetConfig, load_config, resolve_agent
from fleet_tui.core import compare, compare_store, gitrepo, inventory, litter, merge, mergejournal, worktree
from fleet_tui.core.checks import CHECK_MARKER, keep_tail, kill_leftover_checks, run_checks_in, to_argv
from fleet_tui.core.budget import format_meter
from fleet_tui.core.events import EventBus, EventKind
from fleet_tui.core.gitops import GitOperations
from fleet_tui.core.hooks import HookChannel, install_args
from fleet_tui.core.keys import encode_key, encode_paste
from fleet_tui.core.names import check_name
from fleet_tui.core.ports import PortRegistry
from fleet_tui.core.proctree import ProcessTable
from fleet_tui.core.ptyproc import check_command
from fleet_tui.core.session import Session, SessionRecord
from fleet_tui.core.orphans import Orphan, find_orphans, resting_state, start_time
from fleet_tui.core.resume import StartPlan, argv_with, plan_start
from fleet_tui.core.session_store import SessionStore, record_from_dict, write_private
from fleet_tui.errors import FleetError, UsageError
from fleet_tui.text import plural

TICK_SECONDS = 0.25  # status detection cadence
HOOK_POLL_SECONDS = 0.05  # hook files are looked at this often: a stat each when nothing happened
TYPED_WATCH_SECONDS = 1.0
MEASURE_EVERY = 4  # budget sampling every Nth tick (once a second)
QUIET_MEASURE_EVERY = 20  # every 5 s while no session works: one look at every process costs ~30 ms
PROMPT_ENTER_DELAY = 0.08  # agents drop an Enter that arrives glued to the typed text
PROMPT_READY_TIMEOUT = 90.0
DISK_CACHE_SECONDS = 30.0  # worktree disk use is walked at most this often, whoever asks
COMPARE_OUTPUT_BYTES = 8 * 1024 * 1024  # all checks' output in one compare answer (the limit is 16 MB)
CONCURRENT_CHECKOUTS = 4  # worktrees filled at once: disk and CPU bound, a few beat one and eight


def measure_sessions(sessions: list[Session]) -> list[tuple[Session, list[Any]]]:
    """Sample every session's meters from one look at the process table; their budget crossings."""
    if not sessions:
        return []
    table = ProcessTable()
    return [(session, session.measure(table)) for session in sessions]


def _fetched_only(branch: str) -> None:
    """merge_branch lands attempts fetched from other machines, nothing else."""
    if not branch.startswith(FETCHED_PREFIX):
        raise UsageError(f"{branch} is no fetched attempt (those are {FETCHED_PREFIX}MACHINE/SESSION)")


# Where attempts fetched from other machines land: refs/heads/machines/<machine>/<session>.
FETCHED_PREFIX = "machines/"


class Fleet:
    def __init__(self, root: Path, config: FleetConfig, bus: EventBus, *, config_path: Path | None = None):
        self.root = root
        self.config = config
        self.config_path = config_path
        self.bus = bus
        self.state_dir = gitrepo.fleet_state_dir(root)
        self.store = SessionStore(self.state_dir / "sessions")
        self.base_branch = config.base or gitrepo.current_branch(root)
        self.worktree_folder = worktree.worktree_folder(root, config.worktrees)
        self.sessions: dict[str, Session] = {}
        self.records: dict[str, SessionRecord] = {}
        self.last_plan: dict[str, StartPlan] = {}  # how each session's agent was last started
        self.ports = PortRegistry()
        self._disk: tuple[float, dict[str, int]] | None = None  # (when measured, figures)
        self._litter_for: tuple | None = None  # what the exclude file's block was made from
        self._reserved_names: set[str] = set()  # sessions whose worktrees are being made
        self._worktree_adds = asyncio.Lock()
        self._checkouts = asyncio.Semaphore(CONCURRENT_CHECKOUTS)
        self.runs: dict[str, dict[str, Any]] = {}
        self.git_ops = GitOperations()  # merges, discards and compare's commits, one at a time
        self.stop_checks = threading.Event()  # set when the server stops: running checks are killed
        self._gone: dict[str, str] = {}  # discarded sessions: why, for a request that names one later
        self._comparisons: dict[str, asyncio.Future] = {}
        self.on_screen_change: Callable[[Session], None] = lambda s: None
        self.on_sessions_change: Callable[[], None] = lambda: None
        self.is_watched: Callable[[str], bool] = lambda name: False  # a client has the pane focused
        self._tasks: set[asyncio.Task] = set()
        self._ticker: asyncio.Task | None = None
        self._load_state()
        # Sessions a dead server left running: reported and killable, never started twice.
        self.orphans: dict[str, Orphan] = find_orphans(r for r in self.records.values())

    # -- construction -------------------------------------------------------------
    @classmethod
    def open(cls, root: Path, bus: EventBus, config_path: Path | None = None) -> "Fleet":
        path = config_path or root / "fleet.yaml"
        return cls(root, load_config(path), bus, config_path=path)

    # -- persistence: sessions and runs outlive the server process ---------------
    @property
    def _state_file(self) -> Path:
        return self.state_dir / "state.json"

    def _load_state(self) -> None:
        try:
            data = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            data = {}
        self.runs = data.get("runs", {})
        records = self.store.load_all()
        if not records and data.get("sessions"):  # an older server kept them in state.json
            records = {r.name: r for r in map(record_from_dict, data["sessions"]) if r is not None}
            for record in records.values():
                self.store.save(record)
        self.records = {name: r for name, r in records.items() if Path(r.worktree).is_dir()}

    def _save_state(self) -> None:
        """The runs (prompts included, so private); each session's record is saved on its own."""
        write_private(self._state_file, json.dumps({"runs": self.runs}, indent=1).encode())

    def _persist(self, record: SessionRecord) -> None:
        """Write one session's record now: a server killed the next moment must still find it."""
        if self.records.get(record.name) is record:
            self.store.save(record)

    def set_conversation_id(self, name: str, conversation_id: str) -> None:
        """Remember the agent's own id for the session's conversation (from its hooks or logs),
        so a restart or `fleet-tui restore` resumes that conversation."""
        record = self.record_of(name)
        if record.conversation_id != conversation_id:
            record.conversation_id = conversation_id
            self._persist(record)

    def report_leftovers(self) -> None:
        """Say what the last server left behind: sessions still running, and sessions lost."""
        for name, record in self.records.items():
            status, reason = resting_state(record, self.orphans.get(name))
            if status in ("orphaned", "lost"):
                self.bus.emit(EventKind.STATUS, f"{status}: {reason}", name, status=status)

    def _refresh_orphans(self) -> None:
        """An orphan whose processes have all ended is lost now (restorable)."""
        for name, orphan in list(self.orphans.items()):
            if not orphan.refresh():
                del self.orphans[name]
                if name in self.records:
                    status, reason = resting_state(self.records[name], None)
                    self.bus.emit(EventKind.STATUS, f"{status}: {reason}", name, status=status)
                self.on_sessions_change()

    async def _end_orphan(self, name: str, why: str) -> Any:
        """Kill what a dead server left running of session `name` (its markers find it)."""
        orphan = self.orphans.get(name)
        if orphan is None:
            return None
        pids = orphan.pids
        report = await asyncio.to_thread(orphan.kill)
        self.orphans.pop(name, None)
        record = self.records.get(name)
        if record is not None:
            record.ended = "killed"
            self._persist(record)
        self.bus.emit(EventKind.KILLED, f"{why}: ended its processes left by the last server (pids "
                      f"{', '.join(map(str, pids))})", name, pids=pids, seconds=getattr(report, "seconds", None))
        self.on_sessions_change()
        return report

    # -- lifecycle ----------------------------------------------------------------
    def start_ticking(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())
            self._spawn_task(self._hooks_forever())

    async def _hooks_forever(self) -> None:
        """An agent's hook event (or the answer to a key typed) shows within HOOK_POLL_SECONDS,
        not at the next status tick."""
        while True:
            await asyncio.sleep(HOOK_POLL_SECONDS)
            try:
                now = time.monotonic()
                for session in list(self.sessions.values()):
                    typed = session.detector.last_input
                    # After keys typed in the pane (a dialog answered, a turn interrupted) the
                    # screen is looked at as often as the hooks, for a second.
                    if (session.hooks is not None and session.hooks.pending()) or (
                            typed is not None and now - typed < TYPED_WATCH_SECONDS):
                        self._detect(session)
            except Exception as error:  # one bad event must not stop the others
                self.bus.emit(EventKind.ERROR, f"internal error reading hook events: {error!r}")

    async def shutdown(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        running = [s for s in self.sessions.values() if s.alive]
        for session in running:
            session.set_status("killed", "the fleet server was stopped")
        # In parallel: each kill may wait out its grace period (interactive shells ignore TERM).
        reports = await asyncio.gather(*(session.kill() for session in running))
        for session, report in zip(running, reports):
            self.bus.emit(EventKind.KILLED, f"killed: the fleet server was stopped; worktree kept at "
                          f"{session.record.worktree}", session.name, seconds=getattr(report, "seconds", None))
            if self.sessions.get(session.name) is session:
                session.record.ended = "stopped"
                self._persist(session.record)
        await asyncio.gather(*(self._end_orphan(name, "the fleet server was stopped") for name in list(self.orphans)))
        for session in self.sessions.values():
            session.close()
        for task in list(self._tasks):
            task.cancel()

    def _spawn_task(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def reload_config(self) -> None:
        """Pick up edits to fleet.yaml; a broken file keeps the old config and says why."""
        if self.config_path is not None and self.config_path.exists():
            self.config = load_config(self.config_path)

    def agents_info(self) -> list[dict[str, Any]]:
        return [{"name": name, "preset": agent.preset, "role": agent.role,
                 "running": sum(1 for s in self.sessions.values() if s.record.agent == name and s.alive)}
                for name, agent in self.config.agents.items()]

    def client_settings(self) -> dict[str, Any]:
        return {"notify": self.config.notify, "base": self.base_branch,  # leader, confirm_kill: user settings
                "pipelines": list(self.config.pipelines)}  # the prompt bar can queue a task through one

    # -- sessions -----------------------------------------------------------------
    async def start_agents(self, agents: list[str], *, count: int | None = None,
                           missing_only: bool = False) -> list[Session]:
        """Start sessions of the named agents (all configured ones when none are named).

        missing_only starts only agents with no running session: what `fleet-tui` does on open.
        """
        names = agents or list(self.config.agents)
        for name in names:
            self.agent(name)  # unknown names fail before anything starts
        started: list[Session] = []
        for name in names:
            if missing_only and (any(s.record.agent == name and s.alive for s in self.sessions.values())
                                 or any(r.agent == name and self._resting(r.name)[0] in ("orphaned", "lost")
                                        for r in self.records.values() if r.name not in self.sessions)):
                continue  # a session lost in a crash is restored by the user, not replaced behind their back
            n = count if count is not None else self.config.agents[name].count
            # The agent's own sessions stopped by `down` come back in their worktrees, not as new x-2s.
            for resting in self._resting_sessions_of(name)[:n]:
                started.append(await self.restart(resting))
                n -= 1
            if n > 0:
                started += await self.start_agent(name, count=n)
        return started

    def _resting_sessions_of(self, agent: str) -> list[str]:
        """The agent's sessions outside any run that have a worktree but no running process here."""
        resting = [r for r in self.records.values() if r.agent == agent and r.run is None
                   and not (r.name in self.sessions and self.sessions[r.name].alive)
                   and self._resting(r.name)[0] != "orphaned"]  # still running from a dead server: not replaced
        return [r.name for r in sorted(resting, key=lambda r: r.created)]

    def agent(self, name: str) -> AgentSpec:
        if name not in self.config.agents:
            known = ", ".join(sorted(self.config.agents)) or "none"
            raise UsageError(f"unknown agent {name!r}: fleet.yaml defines {known}")
        return resolve_agent(self.config, name)

    def get(self, name: str) -> Session:
        session = self.sessions.get(name)
        if session is None:
            if name in self.records:
                status, reason = self._resting(name)
                raise FleetError(f"session {name} is {status}: {reason}")
            known = ", ".join(sorted(self.sessions)) or "none running"
            raise UsageError(f"no session named {name!r} (sessions: {known})")
        return session

    def _new_session_name(self, agent: str, run: str | None) -> str:
        stem = f"{run}-{agent}" if run else agent
        names = set(self.sessions) | set(self.records) | self._reserved_names

        def taken(name: str) -> bool:
            # A branch or folder of that name that the fleet no longer knows (its record was lost)
            # may hold an agent's commits: never reused, never deleted, the next name is taken.
            return name in names or worktree.name_in_use(self.root, self.worktree_folder, name)

        if not taken(stem):
            return check_name(stem, "session")
        n = 2
        while taken(f"{stem}-{n}"):
            n += 1
        return check_name(f"{stem}-{n}", "session")

    async def start_agent(
        self,
        agent_name: str,
        *,
        count: int = 1,
        run: str | None = None,
        prompt: str | None = None,
        base_ref: str | None = None,
        cols: int = 120,
        rows: int = 40,
    ) -> list[Session]:
        spec = self.agent(agent_name)
        # A missing program fails before any worktree or branch is made for it.
        check_command(self._argv_for(spec, None), self.root, spec.env(dict(os.environ)))
        names = []
        for _ in range(count):
            names.append(self._new_session_name(agent_name, run))
            self._reserved_names.add(names[-1])
        # Worktrees are filled side by side (git's records are made one at a time, which is quick):
        # eight checkouts of a large repository take about as long as the slowest one.
        try:
            prepared = await asyncio.gather(
                *(self._prepare_worktree(name, agent_name, spec, run, prompt, base_ref) for name in names),
                return_exceptions=True,
            )
        finally:
            self._reserved_names.difference_update(names)
        failed = [error for error in prepared if isinstance(error, BaseException)]
        started = []
        for record in prepared:
            if isinstance(record, SessionRecord):
                try:
                    started.append(self._make_session(record, spec, prompt, cols, rows))
                except FleetError as error:  # it could not start: its new worktree and branch go again
                    await self._discard(record.name, because=f"{record.name} could not start: {error}")
                    failed.append(error)
        if failed:
            raise failed[0]
        return started

    async def _prepare_worktree(self, name: str, agent_name: str, spec: AgentSpec, run: str | None,
                                prompt: str | None, base_ref: str | None) -> SessionRecord:
        copy_files, link = list(self.config.copy), list(self.config.link)
        async with self._worktree_adds:  # one `git worktree add` at a time (see create_worktree)
            await self._install_litter_excludes()
            wt = await asyncio.to_thread(worktree.create_worktree, self.root, self.worktree_folder, name,
                                         worktree.session_branch(name), base_ref or self.base_branch,
                                         copy_files, check_out=False, link=link)
        async with self._checkouts:
            wt = await asyncio.to_thread(worktree.fill_worktree, self.root, wt, copy_files, link)
        for line in wt.skipped:
            self.bus.emit(EventKind.SETUP, f"not brought into the worktree: {line}", name, ok=False)
        self._disk = None  # a new worktree: the next look at disk use walks again
        port = await asyncio.to_thread(self.ports.assign, wt.path, self.config.ports, f"{self.root.name}/{name}")
        record = SessionRecord(name=name, agent=agent_name, branch=wt.branch, worktree=str(wt.path),
                               base_commit=wt.base_commit, run=run, role=spec.role, prompt=prompt, port=port)
        self.records[name] = record
        self._persist(record)
        if self.config.setup:
            await self._run_setup(record)
        return record

    async def _install_litter_excludes(self) -> None:
        """Keep the exclude block (core.litter) in step with `link:` and the presets' litter.

        Loading every preset takes a few hundred milliseconds on a busy machine; a fan-out of
        eight must not pay it eight times.
        """
        from fleet_tui.presets import preset_files_signature

        key = (tuple(self.config.link), preset_files_signature(self.config._preset_dirs))
        if key != self._litter_for:
            await asyncio.to_thread(litter.install, self.root, self._litter_patterns())
            self._litter_for = key

    def _litter_patterns(self) -> list[str]:
        """What no attempt may commit: every known preset's litter, and the fleet's symlinks."""
        from fleet_tui.presets import known_presets, load_preset

        patterns: list[str] = []
        for name in known_presets(self.config._preset_dirs):
            try:
                patterns += load_preset(name, self.config._preset_dirs).litter
            except UsageError:
                continue  # a broken user preset is reported where it is used, not here
        return patterns + litter.link_patterns(self.config.link)

    async def _run_setup(self, record: SessionRecord) -> None:
        results = await asyncio.to_thread(
            worktree.run_setup, Path(record.worktree), list(self.config.setup), self.config.setup_timeout,
            {**os.environ, **self._worktree_env(record)}
        )
        for result in results:
            ok = getattr(result, "ok", None)
            if ok is None:
                ok = getattr(result, "exit_code", 1) == 0 and not getattr(result, "timed_out", False)
            cmd = " ".join(getattr(result, "argv", []) or [str(getattr(result, "command", ""))])
            self.bus.emit(
                EventKind.SETUP if ok else EventKind.ERROR,
                f"setup {'ran' if ok else 'FAILED'}: {cmd}",
                record.name,
                ok=ok,
            )

    def _worktree_env(self, record: SessionRecord) -> dict[str, str]:
        """What the agent, setup and teardown learn of their worktree: its port first of all."""
        port = {"PORT": str(record.port), "FLEET_PORT": str(record.port)} if record.port else {}
        return {**port, "FLEET_WORKTREE": record.worktree}

    def _ensure_port(self, record: SessionRecord) -> None:
        if record.port is None:  # a record from before ports: the worktree gets one now, for good
            record.port = self.ports.assign(record.worktree, self.config.ports, f"{self.root.name}/{record.name}")
            self._persist(record)

    async def _run_teardown(self, record: SessionRecord) -> None:
        """The configured teardown in a worktree about to go; failures are reported, never fatal."""
        if not self.config.teardown or not Path(record.worktree).is_dir():
            return
        env = {**os.environ, **self._worktree_env(record), "FLEET_SESSION_NAME": record.name}
        results = await asyncio.to_thread(worktree.run_teardown, Path(record.worktree), list(self.config.teardown),
                                          self.config.teardown_timeout, env)
        for result in results:
            if result.passed:
                self.bus.emit(EventKind.TEARDOWN, f"teardown ran: {result.name}", record.name, ok=True)
            else:
                why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
                last = next((line for line in reversed(result.output.splitlines()) if line.strip()), "")
                self.bus.emit(EventKind.ERROR, f"teardown FAILED ({why}): {result.name}"
                              + (f": {last.strip()}" if last else "") + "; the worktree is removed anyway",
                              record.name, ok=False, exit_code=result.exit_code, timed_out=result.timed_out)

    def _argv_for(self, spec: AgentSpec, prompt: str | None) -> list[str]:
        # {python} lets presets (the demo agent) run with the interpreter fleet_tui itself runs on.
        return [sys.executable if part == "{python}" else part for part in spec.argv(prompt)]

    def _make_session(self, record: SessionRecord, spec: AgentSpec, prompt: str | None,
                      cols: int = 120, rows: int = 40, resume: bool = False) -> Session:
        prompt_as_arg = prompt is not None and spec.prompt_mode == "arg"
        usage_dir = self.state_dir / "usage"
        usage_dir.mkdir(exist_ok=True)
        self._ensure_port(record)
        argv = self._argv_for(spec, prompt if prompt_as_arg else None)
        channel = None
        if spec.preset is not None and spec.preset.hooks.via != "none":
            # Installed per launch, in the session's own state folder: never in the user's config.
            channel = HookChannel(self.state_dir / "sessions" / record.name, spec.preset.hooks.events,
                                  spec.preset.hooks.ignore)
            at = len(spec.command)  # right after the program (or the user's wrapper), before any prompt
            argv[at:at] = install_args(spec.preset.hooks, channel)
        env = {**spec.env(dict(os.environ)), **self._worktree_env(record)}
        plan = plan_start(spec.preset.resume if spec.preset else None, record,
                          home=Path(env.get("HOME") or Path.home()), resume=resume)
        session = Session(
            record,
            argv=argv_with(spec.command, argv, plan.args),  # `codex resume ID` before any option
            hooks=channel,
            env=env,
            status_rules=spec.status_rules,
            budget=spec.budget,
            usage_format=spec.usage_format,
            usage_log=usage_dir / f"{record.name}.jsonl",
            cols=cols,
            rows=rows,
            on_change=self.on_screen_change,
            on_exit=self._session_exited,
        )
        try:
            session.start()
        except FleetError as error:
            self.bus.emit(EventKind.ERROR, str(error), record.name)
            raise
        self.sessions[record.name] = session
        self.last_plan[record.name] = plan
        # Written before anything else happens: a server killed the next moment leaves enough
        # behind for the next one to find these processes (or to know they are lost).
        record.marker, record.pid, record.ended = session.marker, session.pid, None
        record.pid_started = start_time(session.pid)
        record.conversation_id = plan.conversation_id
        self._persist(record)
        self.bus.emit(EventKind.SPAWNED, f"started {record.agent} on {record.branch} (pid {session.pid})",
                      record.name, pid=session.pid, branch=record.branch, worktree=record.worktree,
                      argv=session.argv[:1])
        if prompt is not None:
            if prompt_as_arg:
                self._record_prompt(session, prompt, "as an argument")
            else:
                # Agents with no flag for a role prompt get it in front of their first prompt.
                self._spawn_task(self._deliver_when_ready(session, spec, spec.first_prompt(prompt)))
        self.on_sessions_change()
        return session

    def _session_exited(self, session: Session) -> None:
        if self.sessions.get(session.name) is session:  # not one a restart already replaced
            session.record.ended = session.status
            self._persist(session.record)
        if session.status == "exited":
            self.bus.emit(EventKind.EXITED, f"exited with code {session.exit_code}", session.name,
                          code=session.exit_code)
        self.on_sessions_change()

    async def restart(self, name: str, *, restoring: bool = False) -> Session:
        """Start a session again in its worktree, resuming the agent's conversation where its CLI can.

        Whatever still runs of it is killed first, a dead server's leftovers included: never two copies.
        """
        session = self.sessions.get(name)
        record = self.records.get(name)
        if record is None:
            self.get(name)  # raises the right error
        spec = self.agent(record.agent)
        if session is not None and session.alive:
            session.set_status("killed", "stopped for a restart")  # the fleet's own doing, not an exit
            await session.kill()
            session.close()
        await self._end_orphan(name, "restoring it" if restoring else "restarting it")
        cols, rows = (session.terminal.cols, session.terminal.rows) if session else (120, 40)
        new = self._make_session(record, spec, None, cols, rows, resume=True)
        plan = self.last_plan[name]
        verb = "restored" if restoring else "restarted"
        self.bus.emit(EventKind.RESTARTED, f"{verb} {record.agent} in its worktree: "
                      f"{plan.note or 'started fresh'}", name, resumed=plan.resumed,
                      conversation=plan.conversation_id)
        return new

    async def restore(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        """Start lost sessions again (all of them, or the named ones), resuming where the CLI can.

        One that still runs (here, or left by a dead server) is never started a second time.
        """
        for name in names or []:
            self.record_of(name)  # unknown names fail before anything starts
        targets = names or [n for n in self.records if n not in self.sessions and self._resting(n)[0] == "lost"]
        results: list[dict[str, Any]] = []
        for name in targets:
            session = self.sessions.get(name)
            if session is not None and session.alive:
                results.append({"session": name, "restored": False, "note": "already running"})
                continue
            status, reason = self._resting(name)
            if status == "orphaned":
                results.append({"session": name, "restored": False, "note": f"{status}: {reason}"})
                continue
            try:
                await self.restart(name, restoring=True)
            except FleetError as error:
                results.append({"session": name, "restored": False, "note": str(error)})
                continue
            plan = self.last_plan[name]
            results.append({"session": name, "restored": True, "resumed": plan.resumed,
                            "conversation": plan.conversation_id, "note": plan.note or "started fresh"})
        return results

    async def kill(self, name: str, reason: str = "killed by the user") -> dict[str, Any]:
        if name in self.orphans and name not in self.sessions:
            report = await self._end_orphan(name, reason)
            return {"session": name, "seconds": getattr(report, "seconds", None)}
        session = self.get(name)
        if not session.alive:
            raise FleetError(f"session {name} is not running ({session.status})")
        session.set_status("killed", reason)
        report = await session.kill()
        took = getattr(report, "seconds", None)
        self.bus.emit(EventKind.KILLED, f"{reason}; worktree kept at {session.record.worktree}", name,
                      seconds=took)
        self.on_sessions_change()
        return {"session": name, "seconds": took}

    def pause(self, name: str, reason: str = "paused by the user") -> None:
        session = self.get(name)
        if not session.alive:
            raise FleetError(f"session {name} is not running ({session.status})")
        session.pause()
        session.set_status("paused", reason)
        self.bus.emit(EventKind.PAUSED, reason, name)
        self.on_sessions_change()

    def resume(self, name: str) -> None:
        session = self.get(name)
        if session.status not in ("paused", "over_budget") or not session.alive:
            raise FleetError(f"session {name} is not paused ({session.status})")
        session.resume()
        session.set_status("working", "resumed by the user")
        self.bus.emit(EventKind.RESUMED, "resumed", name)
        self.on_sessions_change()

    # -- input ----------------------------------------------------------------------
    def input(self, name: str, data: bytes) -> None:
        self.get(name).type(data)

    def keys(self, name: str, keys: list[str]) -> None:
        session = self.get(name)
        modes = session.terminal.modes()
        try:
            data = b"".join(encode_key(key, modes) for key in keys)
        except ValueError as error:
            raise UsageError(str(error)) from None
        session.type(data)

    async def send(self, name: str, text: str) -> None:
        """Type text into a running session, then submit it."""
        session = self.get(name)
        await self._type_prompt(session, text)
        self._record_prompt(session, text, "typed")

    async def _type_prompt(self, session: Session, text: str) -> None:
        modes = session.terminal.modes()
        if modes.get("bracketed_paste"):
            # As one paste: a CLI that guesses pastes from fast typing (Codex) would otherwise take
            # the Enter that follows as part of the paste when a loaded machine delivers both at once.
            session.type(encode_paste(text, True))
        else:
            session.type(text.replace("\n", " ").encode())
        await asyncio.sleep(PROMPT_ENTER_DELAY)
        session.write(b"\r")

    def _record_prompt(self, session: Session, text: str, how: str) -> None:
        session.prompted()
        if session.alive:
            self._detect(session)  # it reads as working now, not at the next round
        preview = text if len(text) <= 80 else text[:77] + "..."
        self.bus.emit(EventKind.PROMPT, f"prompt {how}: {preview}", session.name, prompt=text,
                      run=session.record.run)

    async def _deliver_when_ready(self, session: Session, spec: AgentSpec, prompt: str) -> None:
        """Wait for the agent to accept input (answering a first-start trust dialog), then type."""
        deadline = time.monotonic() + PROMPT_READY_TIMEOUT
        trust = spec.trust_dialog
        answered_trust = False
        ready = re.compile(spec.ready) if spec.ready else None
        quiet_since = None
        warned = False
        session.queued_prompt = prompt
        while session.alive:
            if not warned and time.monotonic() > deadline:
                # Never dropped silently: it stays queued, and goes in if the agent gets ready later.
                warned = True
                self.bus.emit(EventKind.ERROR, f"the agent never became ready; prompt not sent (still queued: "
                              f"`fleet-tui send {session.name} ...` types one now)", session.name)
                self.on_sessions_change()
            await asyncio.sleep(0.2)
            screen = "\n".join(session.terminal.display())
            if trust and not answered_trust and re.search(trust["match"], screen):
                session.write(b"".join(encode_key(k, session.terminal.modes()) for k in trust.get("keys", ["enter"])))
                answered_trust = True
                self.bus.emit(EventKind.STATUS, "answered the first-start trust dialog", session.name)
                continue
            if ready is not None:
                if ready.search(screen):
                    break
            elif session.status in ("idle", "done"):
                # No ready pattern: an agent that has gone quiet (or never printed) is ready.
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 0.3:
                    break
        else:
            return
        session.queued_prompt = None
        await self._type_prompt(session, prompt)
        self._record_prompt(session, prompt, "typed once ready")

    # -- runs: one prompt to several sessions -----------------------------------
    def _next_run_id(self) -> str:
        numbers = [int(r[1:]) for r in self.runs if r[1:].isdigit()]
        return f"r{max(numbers, default=0) + 1}"

    async def fanout(self, prompt: str, *, agents: list[str] | None = None, count: int = 1,
                     sessions: list[str] | None = None, role: str | None = None) -> dict[str, Any]:
        """Start a run: the prompt goes to N new sessions (agents, repeats allowed) or to running ones.

        New sessions all branch from the same base commit, so their attempts compare fairly.
        """
        if not prompt.strip():
            raise UsageError("the prompt is empty")
        if role is not None:
            sessions = [s.name for s in self.sessions.values() if s.alive and s.record.role == role]
            if not sessions:
                raise UsageError(f"no running session has the role {role!r}")
        run_id = self._next_run_id()
        base_commit = gitrepo.head_commit(self.root, self.base_branch)
        run = {"id": run_id, "prompt": prompt, "base_branch": self.base_branch, "base_commit": base_commit,
               "created": time.time(), "sessions": []}
        if sessions:
            targets = [self.get(name) for name in sessions]
            for session in targets:
                if not session.alive:
                    raise FleetError(f"session {session.name} is not running ({session.status})")
            self.runs[run_id] = run
            for session in targets:
                await self.send(session.name, prompt)
                run["sessions"].append(session.name)
        else:
            names = agents or list(self.config.agents)
            specs = [self.agent(name) for name in names]  # unknown agents fail before anything starts
            if count < 1 or count * len(specs) > 32:
                raise UsageError("a run starts 1 to 32 sessions")
            self.runs[run_id] = run
            for spec in specs:
                started = await self.start_agent(spec.name, count=count, run=run_id, prompt=prompt,
                                                 base_ref=base_commit)
                run["sessions"] += [s.name for s in started]
        self._save_state()
        self.bus.emit(EventKind.FANOUT, f"run {run_id}: prompt sent to {len(run['sessions'])} sessions "
                      f"({', '.join(run['sessions'])})", None, run=run_id, sessions=run["sessions"], prompt=prompt)
        return {"run": run_id, "sessions": run["sessions"], "base_commit": base_commit}

    def latest_run(self) -> str:
        if not self.runs:
            raise UsageError("there is no run yet: `fleet-tui fanout \"PROMPT\"` starts one")
        return max(self.runs, key=lambda r: self.runs[r]["created"])

    # -- compare, merge, discard -------------------------------------------------
    def run(self, run_id: str | None) -> dict[str, Any]:
        run_id = run_id or self.latest_run()
        if run_id not in self.runs:
            raise UsageError(f"no run named {run_id!r} (runs: {', '.join(self.runs) or 'none'})")
        return self.runs[run_id]

    def _checks(self) -> dict[str, list[str]]:
        return {name: self._expand_python(to_argv(cmd)) for name, cmd in self.config.checks.items()}

    @staticmethod
    def _expand_python(argv: list[str]) -> list[str]:
        return [sys.executable if part == "{python}" else part for part in argv]

    async def compare(self, run_id: str | None = None) -> dict[str, Any]:
        """Capture each attempt's work as a commit, run every check in every worktree, rank them."""
        run = self.run(run_id)
        # Two clients comparing the same run at once share one compare (and its answer).
        pending = self._comparisons.get(run["id"])
        if pending is None:
            pending = self._comparisons[run["id"]] = asyncio.ensure_future(self._compare(run))
            pending.add_done_callback(lambda _: self._comparisons.pop(run["id"], None))
        return await asyncio.shield(pending)

    async def _compare(self, run: dict[str, Any]) -> dict[str, Any]:
        attempts = [self.records[n] for n in run["sessions"] if n in self.records]
        async with self.git_ops.claim(f"compare of run {run['id']}", [r.name for r in attempts]):
            return await self._compare_claimed(run, attempts)

    async def _compare_claimed(self, run: dict[str, Any], attempts: list[SessionRecord]) -> dict[str, Any]:
        # An attempt whose worktree was deleted by hand is shown as missing; the others compare as usual.
        missing = {r.name for r in attempts if not Path(r.worktree).is_dir()}
        problems: dict[str, str] = {}
        for record in attempts:
            if record.name not in missing:
                try:
                    await asyncio.to_thread(compare.capture_work, record.worktree,
                                            f"fleet: work of {record.name} for run {run['id']}")
                except FleetError as error:
                    problems[record.name] = f"its work could not be captured: {error}"
        results = await asyncio.to_thread(
            run_checks_in, {r.name: r.worktree for r in attempts if r.name not in missing}, self._checks(),
            self.config.check_timeout, max(1, os.cpu_count() or 1), self.stop_checks,
            {**os.environ, CHECK_MARKER: str(self.state_dir)})
        if self.stop_checks.is_set():
            raise FleetError(f"the compare of run {run['id']} was stopped: the fleet server is stopping")
        # The tick measures a quiet fleet only every few seconds: an attempt that just finished would
        # show the spend and active time of before its last step.
        measured = [s for r in attempts if (s := self.sessions.get(r.name)) is not None]
        self._apply_measurements(await asyncio.to_thread(measure_sessions, measured))
        # Every check's output together stays well inside what a client accepts in one answer.
        output_limit = COMPARE_OUTPUT_BYTES // max(1, sum(len(c) for c in results.values()))
        rows, summaries = [], []
        for record in attempts:
            try:
                diff = await asyncio.to_thread(compare.diff_stats, self.root, record.base_commit, record.branch)
            except FleetError as error:
                problems.setdefault(record.name, f"its branch cannot be read: {error}")
                diff = compare.DiffStats(0, 0, 0)
            session = self.sessions.get(record.name)
            budget = session.meter.snapshot() if session else {}
            cost = (budget.get("cost") or {}).get("used")
            duration = (budget.get("active") or {}).get("used") or (budget.get("time") or {}).get("used") or 0.0
            checks = results.get(record.name, {})
            summaries.append(compare.summarize(record.name, diff, checks, cost, duration))
            for check in checks.values():
                self.bus.emit(EventKind.CHECK, f"check {check.name} {'passed' if check.passed else 'FAILED'} "
                              f"in {check.duration:.1f}s", record.name, check=check.name, passed=check.passed)
            rows.append({
                "session": record.name, "agent": record.agent, "branch": record.branch,
                "worktree": record.worktree,
                "status": "missing" if record.name in missing else session.status if session else "stopped",
                "problem": (f"its worktree {record.worktree} is gone (deleted by hand?): "
                            f"`fleet-tui discard {record.name}` forgets it") if record.name in missing
                else problems.get(record.name),
                "duration": duration, "cost": cost,
                # Wall time since the session started and time spent working, told apart in the UI.
                "wall": (budget.get("time") or {}).get("used"), "active": (budget.get("active") or {}).get("used"),
                "tokens": (budget.get("tokens") or {}).get("used"),
                "files_changed": diff.files_changed, "added": diff.added, "removed": diff.removed,
                "files": [{"path": f.path, "status": f.status, "added": f.added, "removed": f.removed}
                          for f in diff.files],
                "checks": {name: {"passed": c.passed, "exit_code": c.exit_code, "duration": c.duration,
                                  "timed_out": c.timed_out, "output": keep_tail(c.output, output_limit)}
                           for name, c in checks.items()},
                "checks_passed": sum(c.passed for c in checks.values()), "checks_total": len(checks),
            })
        order = {summary.name: i for i, summary in enumerate(compare.rank(summaries))}
        rows.sort(key=lambda row: order[row["session"]])
        for i, row in enumerate(rows, start=1):
            row["rank"] = i
        moved = await asyncio.to_thread(merge.base_moved, self.root, run["base_branch"], run["base_commit"])
        self.bus.emit(EventKind.COMPARED, f"run {run['id']} compared: best is "
                      f"{rows[0]['session'] if rows else 'nothing'}", None, run=run["id"])
        result = {"run": run["id"], "prompt": run["prompt"], "base_branch": run["base_branch"],
                  "base_commit": run["base_commit"], "base_moved": moved, "ranking_rule": compare.RANKING_RULE,
                  "check_names": list(self.config.checks), "attempts": rows, "compared_at": time.time()}
        await asyncio.to_thread(compare_store.save, self.state_dir, result)  # measured figures outlive sessions
        return result

    def last_compare(self, run_id: str | None = None) -> dict[str, Any]:
        """The run's latest comparison as it was saved, without running anything again."""
        return compare_store.load(self.state_dir, self.run(run_id)["id"])

    def record_of(self, name: str) -> SessionRecord:
        if name not in self.records:
            if name in self._gone:
                raise FleetError(f"session {name} is gone: {self._gone[name]}")
            raise UsageError(f"no session named {name!r} (sessions: {', '.join(self.records) or 'none'})")
        return self.records[name]

    async def merge_summary(self, name: str) -> dict[str, Any]:
        self.record_of(name)
        async with self.git_ops.claim(f"preparing the merge of {name}", [name], refuses=False):
            record = self.record_of(name)
            await asyncio.to_thread(compare.capture_work, record.worktree, f"fleet: work of {name}")
        base = self._base_of(record)
        summary = await asyncio.to_thread(merge.merge_summary, self.root, base, record.branch, record.base_commit)
        others = [n for n in self.runs.get(record.run, {}).get("sessions", []) if n != name and n in self.records]
        return {**summary, "session": name, "base": base, "discard": others}

    def _base_of(self, record: SessionRecord) -> str:
        return self.runs.get(record.run, {}).get("base_branch", self.base_branch) if record.run else self.base_branch

    async def merge(self, name: str, strategy: str = "merge", keep: bool = False) -> dict[str, Any]:
        """Merge an attempt into the base branch, then clean up the rest of its run unless kept.

        One git-changing request at a time (see gitops): a second merge of the same run, or any
        other merge, racing this one is refused and told what this one did.
        """
        record = self.record_of(name)
        base = self._base_of(record)
        run_sessions = self.runs.get(record.run, {}).get("sessions", []) if record.run else []
        async with self.git_ops.claim(f"merge of {name} into {base}", [name, *run_sessions],
                                      moves_base=True) as op:
            record = self.record_of(name)
            session = self.sessions.get(name)
            if session is not None and session.alive and session.status == "working":
                raise FleetError(f"{name} is still working: wait until it is idle, or `fleet-tui kill {name}` first")
            await asyncio.to_thread(compare.capture_work, record.worktree, f"fleet: work of {name}")
            losers = [] if keep else [n for n in run_sessions if n != name and n in self.records]
            journal = mergejournal.MergeJournal(
                session=name, branch=record.branch, base=base, strategy=strategy, worktree=record.worktree,
                before=gitrepo.head_commit(self.root, f"refs/heads/{base}"), run=record.run, keep=keep,
                losers=losers)
            # Written before git moves anything: a server killed from here on leaves the next one
            # enough to finish this merge or undo it (finish_interrupted_merge).
            await asyncio.to_thread(mergejournal.write, self.state_dir, journal)
            try:
                result = await asyncio.to_thread(merge.merge_attempt, self.root, base, record.branch, strategy,
                                                 None, record.worktree)
            except FleetError:
                await asyncio.to_thread(mergejournal.clear, self.state_dir)  # refused: nothing moved
                raise
            journal.phase, journal.commit = "landed", result.commit
            await asyncio.to_thread(mergejournal.write, self.state_dir, journal)
            discarded = await self._after_landing(journal, result.files)
            op.outcome = self._merge_outcome(journal, discarded)
        return {"base": base, "strategy": strategy, "commit": result.commit, "files": result.files,
                "discarded": discarded}

    async def merge_branch_summary(self, branch: str) -> dict[str, Any]:
        """merge_summary for a branch that is no session of this fleet (an attempt fetched from another machine)."""
        _fetched_only(branch)
        base = self.base_branch
        since = await asyncio.to_thread(gitrepo.run_git, self.root, "merge-base", f"refs/heads/{base}",
                                        f"refs/heads/{branch}")
        summary = await asyncio.to_thread(merge.merge_summary, self.root, base, branch, since)
        return {**summary, "base": base}

    async def merge_branch(self, branch: str, label: str, strategy: str = "merge") -> dict[str, Any]:
        """Land a fetched attempt's branch on the base branch with merge_attempt's guarantees (a
        conflict or a dirty base changes nothing); `label` names the attempt in the event."""
        _fetched_only(branch)
        base = self.base_branch
        async with self.git_ops.claim(f"merge of {label} into {base}", [], moves_base=True) as op:
            result = await asyncio.to_thread(merge.merge_attempt, self.root, base, branch, strategy,
                                             f"Merge attempt {label} into {base}")
            self.bus.emit(EventKind.MERGED, f"merged into {base} ({strategy}): {plural(len(result.files), 'file')}",
                          label, commit=result.commit, strategy=strategy, base=base, branch=branch)
            op.outcome = f"{label} was merged into {base} ({result.commit[:10]})"
        return {"base": base, "strategy": strategy, "commit": result.commit, "files": result.files}

    @staticmethod
    def _merge_outcome(journal: mergejournal.MergeJournal, discarded: list[str]) -> str:
        return (f"{journal.session} was merged into {journal.base} ({(journal.commit or '')[:10]})"
                + (f" and {', '.join(discarded)} discarded" if discarded else ""))

    async def _after_landing(self, journal: mergejournal.MergeJournal, files: list[str],
                             note: str = "") -> list[str]:
        """What follows a merge on the base branch: the event, the losers' and the winner's worktrees."""
        self.bus.emit(EventKind.MERGED,
                      f"merged into {journal.base} ({journal.strategy}): {plural(len(files), 'file')}{note}",
                      journal.session, commit=journal.commit, strategy=journal.strategy, base=journal.base,
                      **({"recovered": True} if note else {}))
        why = f"{journal.session} was merged into {journal.base} ({(journal.commit or '')[:10]})"
        discarded = []
        for other in journal.losers:
            if other in self.records:
                await self._discard(other, because=f"{other} was discarded after {why}")
                discarded.append(other)
        if not journal.keep and journal.session in self.records:
            # The winner's work is on the base branch now; its branch stays as a record of the attempt.
            await self._discard(journal.session, keep_branch=True, because=f"{why}, its branch kept")
        if journal.run in self.runs:
            self.runs[journal.run]["merged"] = {"session": journal.session, "commit": journal.commit,
                                                "base": journal.base, "discarded": discarded}
            self._save_state()
        await asyncio.to_thread(mergejournal.clear, self.state_dir)
        return discarded

    async def end_leftover_checks(self) -> None:
        """At start: checks a killed server left running (mid-compare) are ended, and the trail says so."""
        pids = await asyncio.to_thread(kill_leftover_checks, str(self.state_dir))
        if pids:
            self.bus.emit(EventKind.KILLED, f"ended {len(pids)} check processes left running by the last server "
                          f"(pids {', '.join(map(str, pids))}): its compare was cut short", None, pids=pids)

    async def finish_interrupted_merge(self) -> str | None:
        """At start: finish or roll back a merge the last server did not see through; what it did."""
        journal = mergejournal.read(self.state_dir)
        if journal is None:
            return None
        locks = await asyncio.to_thread(mergejournal.wait_for_git_locks, self.root)
        if locks:
            message = (f"the merge of {journal.session} into {journal.base} was interrupted and git still holds "
                       f"{', '.join(map(str, locks))}: if no git command is running, remove those files and "
                       "restart the fleet server to finish or undo the merge")
            self.bus.emit(EventKind.ERROR, message, journal.session)
            return message
        async with self.git_ops.claim(f"recovery of the merge of {journal.session}",
                                      [journal.session, *journal.losers], moves_base=True):
            commit = await asyncio.to_thread(mergejournal.has_landed, self.root, journal)
            if commit is not None:
                journal.commit = commit
                changed = await asyncio.to_thread(gitrepo.run_git, self.root, "diff", "--name-only", "-z",
                                                  journal.before, commit, strip=False)
                discarded = await self._after_landing(
                    journal, [p for p in changed.split("\0") if p],
                    note=" (finished after a restart: the server that started it stopped part-way)")
                return "finished: " + self._merge_outcome(journal, discarded)
            undone = await asyncio.to_thread(mergejournal.roll_back, self.root, journal)
            await asyncio.to_thread(mergejournal.clear, self.state_dir)
            message = (f"the merge of {journal.session} into {journal.base} was interrupted before it landed "
                       f"and was rolled back: {journal.base} is unchanged at {journal.before[:10]}"
                       + (f" ({'; '.join(undone)})" if undone else "") + "; the attempt is kept, merge it again")
            self.bus.emit(EventKind.ROLLED_BACK, message, journal.session, base=journal.base,
                          before=journal.before, undone=undone)
            return "rolled back: " + message

    async def discard(self, name: str, keep_branch: bool = False) -> None:
        self.record_of(name)
        async with self.git_ops.claim(f"discard of {name}", [name]) as op:
            self.record_of(name)
            await self._discard(name, keep_branch, because=f"{name} was discarded by the user")
            op.outcome = f"{name} was discarded"

    async def _discard(self, name: str, keep_branch: bool = False, because: str = "") -> None:
        record = self.records[name]
        session = self.sessions.pop(name, None)
        if session is not None:
            if session.alive:
                session.set_status("killed", "stopped: its attempt was discarded")  # not an error exit
                await session.kill()
            session.close()
        await self._end_orphan(name, "discarding it")
        await self._remove_worktree(record, keep_branch)
        del self.records[name]
        self.store.remove(name)
        self._gone[name] = because or f"{name} was discarded"
        self._save_state()
        self.bus.emit(EventKind.DISCARDED, "worktree removed" + (", branch kept" if keep_branch else
                      " with its branch"), name, branch=record.branch)
        self.on_sessions_change()

    async def _remove_worktree(self, record: SessionRecord, keep_branch: bool) -> None:
        """Teardown, then the worktree (and its branch unless kept), then its port back to the pool."""
        await self._run_teardown(record)
        await asyncio.to_thread(worktree.forget_worktree, self.root, Path(record.worktree), record.branch or None,
                                keep_branch)
        await asyncio.to_thread(self.ports.release, record.worktree)
        self._disk = None

    # -- the worktrees on disk: list, prune, disk use ----------------------------
    def _recorded_worktrees(self) -> dict[str, tuple[str, str]]:
        return {record.worktree: (name, record.branch) for name, record in self.records.items()}

    def _survey_args(self) -> tuple:
        recorded = self._recorded_worktrees()
        running = {name for name, session in self.sessions.items() if session.alive}
        created = {name: record.created for name, record in self.records.items()}
        return self.root, self.base_branch, recorded, running, created

    async def worktrees(self) -> list[dict[str, Any]]:
        """Every worktree the fleet made: size, age, branch, merged or not, uncommitted work."""
        reports = await asyncio.to_thread(inventory.survey, *self._survey_args())
        return [report.to_dict() for report in reports]

    async def prune(self, paths: list[str], confirmed: list[str] = ()) -> list[dict[str, Any]]:
        """Remove the fleet's worktrees at `paths`; one that could lose work only if in `confirmed`.

        Looked at again here, not trusted from the client's listing: a path that is no
        worktree the fleet made is left alone, and one that gained work since is refused.
        A branch with commits the base lacks is kept, so only the checkout goes.
        """
        reports = {report.path: report for report in await asyncio.to_thread(inventory.survey, *self._survey_args())}
        results = []
        for path in paths:
            report = reports.get(path)
            if report is None:
                results.append({"path": path, "removed": False, "reason": "not a worktree this fleet made; left alone"})
                continue
            if report.risk and path not in confirmed:
                results.append({"path": path, "session": report.session, "removed": False, "reason": report.risk})
                continue
            keep_branch = not report.merged
            record = self.records.get(report.session or "")
            if record is not None and Path(record.worktree).resolve() == Path(path).resolve():
                await self.discard(record.name, keep_branch=keep_branch)
            else:  # the fleet made it but has no session for it any more
                name = report.session or Path(path).name
                orphan = SessionRecord(name=name, agent="", branch=report.branch or "", worktree=path,
                                       base_commit="", port=self.ports.port_of(path))
                async with self.git_ops.claim(f"prune of {path}", [name]) as op:
                    await self._remove_worktree(orphan, keep_branch)
                    op.outcome = f"{path} was pruned"
                self.bus.emit(EventKind.DISCARDED, "stale worktree pruned" + (", branch kept" if keep_branch else
                              " with its branch"), name, branch=report.branch, path=path)
            results.append({"path": path, "session": report.session, "removed": True,
                            "branch_kept": report.branch if keep_branch else None, "size": report.size})
        return results

    async def worktree_disk(self) -> dict[str, int]:
        """Disk used by the fleet's worktrees; walked off the event loop, at most every DISK_CACHE_SECONDS."""
        now = time.monotonic()
        if self._disk is None or now - self._disk[0] > DISK_CACHE_SECONDS:
            recorded = self._recorded_worktrees()

            def measure() -> dict[str, int]:
                found = [item.entry.path for item in inventory.fleet_worktrees(self.root, recorded)]
                return {"bytes": inventory.disk_usage(*found), "worktrees": len(found)}

            self._disk = (now, await asyncio.to_thread(measure))
        return self._disk[1]

    # -- the tick: status and budgets -------------------------------------------
    async def _tick_forever(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            n += 1
            try:
                self.tick(measure=False)
                if n % MEASURE_EVERY == 0 and self.orphans:
                    self._refresh_orphans()
                if n % (MEASURE_EVERY if self._any_working() else QUIET_MEASURE_EVERY) == 0:
                    # Looking at every process takes milliseconds: done off the loop, so a
                    # keystroke's echo never waits behind it.
                    sessions = self._measurable()
                    self._apply_measurements(await asyncio.to_thread(measure_sessions, sessions))
            except Exception as error:  # one bad tick must not stop status and budgets for good
                self.bus.emit(EventKind.ERROR, f"internal error in the status tick: {error!r}")

    def _any_working(self) -> bool:
        return any(s.alive and s.status in ("starting", "working") for s in self.sessions.values())

    def tick(self, measure: bool = True) -> None:
        """Detect status changes, and sample budgets when `measure` (here, on the caller's thread)."""
        changed = False
        for session in list(self.sessions.values()):
            changed = self._detect(session, notify=False) or changed
            self._remember_conversation(session)
        if measure:
            self._apply_measurements(measure_sessions(self._measurable()))
        elif changed:
            self.on_sessions_change()

    def _remember_conversation(self, session: Session) -> None:
        """Keep the conversation id the agent's hooks reported, for a later resume."""
        reported = session.hooks.session_id if session.hooks else None
        if reported and reported != session.record.conversation_id and self.sessions.get(session.name) is session:
            self.set_conversation_id(session.name, reported)

    def _detect(self, session: Session, notify: bool = True) -> bool:
        change = session.detect_status()
        if not change:
            return False
        status, reason = change
        if status == "done" and self.is_watched(session.name):
            session.ack()  # it finished in front of the user: nothing to point out
            status, reason = session.status, session.reason
        self.bus.emit(EventKind.STATUS, f"{status}: {reason}", session.name, status=status,
                      layer=session.layer)
        if status == "done" or session.status == "idle":
            self._check_runs_finished(session)
        if notify:
            self.on_sessions_change()
        return True

    def _check_runs_finished(self, session: Session) -> None:
        run_id = session.record.run
        run = self.runs.get(run_id) if run_id else None
        if run is None or run.get("finished"):
            return
        if self.run_finished(run_id):
            run["finished"] = time.time()
            self._save_state()
            self.bus.emit(EventKind.STATUS, f"run {run_id}: all {len(run['sessions'])} attempts are done",
                          None, run=run_id)

    def run_finished(self, run_id: str) -> bool:
        """Every attempt of the run has finished a turn (or is no longer running)."""
        run = self.run(run_id)
        for name in run["sessions"]:
            session = self.sessions.get(name)
            if session is not None and session.alive and session.turns_finished < 1:
                return False
        return True

    def ack(self, name: str) -> bool:
        """The user has seen the session: done becomes idle."""
        session = self.get(name)
        if session.ack():
            self.on_sessions_change()
            return True
        return False

    def _measurable(self) -> list[Session]:
        return [session for session in self.sessions.values() if session.alive]

    def _apply_measurements(self, results: list[tuple[Session, list[Any]]]) -> None:
        for session, crossings in results:
            if self.sessions.get(session.name) is session:  # not discarded while it was measured
                for crossing in crossings:
                    self._budget_crossing(session, crossing)
        self.on_sessions_change()

    def _budget_crossing(self, session: Session, crossing: Any) -> None:
        meter, used, limit = crossing.meter, crossing.used, crossing.limit
        if crossing.kind == "warning":
            self.bus.emit(EventKind.BUDGET_WARNING, f"{meter} at 80% of its budget ({format_meter(meter, used)} of "
                          f"{format_meter(meter, limit)})", session.name, meter=meter, used=used, limit=limit)
            return
        action = session.budget.on_exceed
        self.bus.emit(EventKind.BUDGET_EXCEEDED, f"{meter} budget exceeded ({format_meter(meter, used)} of "
                      f"{format_meter(meter, limit)}): {'killing' if action == 'kill' else 'pausing'} it",
                      session.name, meter=meter, used=used, limit=limit, action=action)
        if not session.alive:
            return
        if action == "kill":
            session.set_status("over_budget", f"{meter} budget exceeded; killed")
            self._spawn_task(session.kill())
        else:
            session.pause()
            session.set_status("over_budget", f"{meter} budget exceeded; paused (resume to continue)")

    # -- views --------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        infos = [s.info() for s in self.sessions.values()]
        for name, record in self.records.items():
            if name not in self.sessions:
                status, reason = self._resting(name)
                orphan = self.orphans.get(name)
                infos.append({**record.to_dict(), "status": status, "reason": reason,
                              "pid": orphan.pids[0] if orphan else None, "pids": orphan.pids if orphan else [],
                              "budget": {}, "cols": 0, "rows": 0, "exit_code": None})
        return sorted(infos, key=lambda i: (i.get("created") or 0, i["name"]))

    def _resting(self, name: str) -> tuple[str, str]:
        """Status and reason of a session with a record that this server is not running."""
        return resting_state(self.records[name], self.orphans.get(name))

    def explain(self, name: str) -> dict[str, Any]:
        session = self.get(name)
        return {"name": name, "status": session.status, "reason": session.reason,
                "title": session.terminal.title, "rules": session.status_rules or {}, **session.explain()}

