"""The orchestrator: the fleet of one repository, without any UI.

Fleet owns the sessions: it starts them in their own worktrees, stops, restarts and
discards them, and is the one object the server (and tests) call. The rest of its work
lives beside it, each part in its own module:

- fleet_state.py: the runs and session records kept on disk;
- prompt_delivery.py: typing a prompt, and waiting until the agent can take one;
- runs.py: fan-out, compare, merge and discard of a run's attempts;
- ticker.py: status detection and budget enforcement, every tick.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fleet_tui.config import CONFIG_NAME, FleetConfig, load_config
from fleet_tui.core.agent_spec import AgentSpec, resolve_agent, with_python
from fleet_tui.core import gitrepo, inventory, litter, worktree
from fleet_tui.core.events import EventBus, EventKind
from fleet_tui.core.gitops import GitOperations
from fleet_tui.core.hooks import HookChannel, install_args
from fleet_tui.core.keys import encode_key
from fleet_tui.names import check_name
from fleet_tui.core.ports import PortRegistry
from fleet_tui.core.ptyproc import check_command
from fleet_tui.core.session import Session, SessionRecord
from fleet_tui.core.orphans import Orphan, find_orphans, resting_state, start_time
from fleet_tui.core.resume import StartPlan, argv_with, plan_start
from fleet_tui.core.runs import Runs
from fleet_tui.core.ticker import Ticker
from fleet_tui.core.fleet_state import FleetState
from fleet_tui.core.prompt_delivery import type_prompt, wait_until_ready
from fleet_tui.core.status import Status
from fleet_tui.errors import FleetError, UsageError
from fleet_tui.wire import (AgentInfo, ClientSettings, CompareAnswer, DiskAnswer, ExplainAnswer, FanoutAnswer, KillAnswer,
                            MergeAnswer, MergeSummary, PruneResult, RestoreResult, SessionView, WorktreeView)
from fleet_tui.presets import known_presets, load_preset, preset_files_signature

DISK_CACHE_SECONDS = 30.0  # worktree disk use is walked at most this often, whoever asks
CONCURRENT_CHECKOUTS = 4  # worktrees filled at once: disk and CPU bound, a few beat one and eight
# A streaming session no client has focused is read at most this often, and the server makes that
# just before its screen goes out (unwatched_pause): fewer, larger reads cost the server less. A
# focused one is read as output comes.
UNWATCHED_READ_PAUSE = 0.04


class Fleet:
    def __init__(self, root: Path, config: FleetConfig, bus: EventBus, *, config_path: Path | None = None):
        self.root = root
        self.config = config
        self.config_path = config_path
        self.bus = bus
        self.state_dir = gitrepo.fleet_state_dir(root)
        self.state = FleetState(self.state_dir)
        self.base_branch = config.base or gitrepo.current_branch(root)
        self.worktree_folder = worktree.worktree_folder(root, config.worktrees)
        self.sessions: dict[str, Session] = {}
        self.last_plan: dict[str, StartPlan] = {}  # how each session's agent was last started
        self.ports = PortRegistry()
        self._disk: tuple[float, DiskAnswer] | None = None  # (when measured, figures)
        self._litter_for: tuple | None = None  # what the exclude file's block was made from
        self._reserved_names: set[str] = set()  # sessions whose worktrees are being made
        self._worktree_adds = asyncio.Lock()
        self._checkouts = asyncio.Semaphore(CONCURRENT_CHECKOUTS)
        self.git_ops = GitOperations()  # merges, discards and compare's commits, one at a time
        self.stop_checks = threading.Event()  # set when the server stops: running checks are killed
        self.on_screen_change: Callable[[Session], None] = lambda s: None
        self.on_sessions_change: Callable[[], None] = lambda: None
        self.is_watched: Callable[[str], bool] = lambda name: False  # a client has the pane focused
        # How long a streaming session nobody has focused may go unread (the server knows when its
        # screen next goes out: reading it just before then is enough).
        self.unwatched_pause: Callable[[str], float] = lambda name: UNWATCHED_READ_PAUSE
        self._tasks: set[asyncio.Task] = set()
        self._ticker: asyncio.Task | None = None
        # Sessions a dead server left running: reported and killable, never started twice.
        self.orphans: dict[str, Orphan] = find_orphans(r for r in self.records.values())
        self.run_ops = Runs(self)
        self.ticker = Ticker(self)

    # -- construction -------------------------------------------------------------
    @classmethod
    def open(cls, root: Path, bus: EventBus, config_path: Path | None = None) -> "Fleet":
        path = config_path or root / CONFIG_NAME
        return cls(root, load_config(path), bus, config_path=path)

    # -- persistence: sessions and runs outlive the server process (fleet_state.py) ----
    @property
    def records(self) -> dict[str, SessionRecord]:
        return self.state.records

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        return self.state.runs

    def record_of(self, name: str) -> SessionRecord:
        return self.state.record_of(name)

    def set_conversation_id(self, name: str, conversation_id: str) -> None:
        """Remember the agent's own id for the session's conversation (from its hooks or logs),
        so a restart or `fleet-tui restore` resumes that conversation."""
        record = self.record_of(name)
        if record.conversation_id != conversation_id:
            record.conversation_id = conversation_id
            self.state.persist(record)

    def report_leftovers(self) -> None:
        """Say what the last server left behind: sessions still running, and sessions lost."""
        for name, record in self.records.items():
            status, reason = resting_state(record, self.orphans.get(name))
            if status in (Status.ORPHANED, Status.LOST):
                self.bus.emit(EventKind.STATUS, f"{status}: {reason}", name, status=status)

    def refresh_orphans(self) -> None:
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
            record.ended = Status.KILLED
            self.state.persist(record)
        self.bus.emit(EventKind.KILLED, f"{why}: ended its processes left by the last server (pids "
                      f"{', '.join(map(str, pids))})", name, pids=pids, seconds=getattr(report, "seconds", None))
        self.on_sessions_change()
        return report

    # -- lifecycle ----------------------------------------------------------------
    def start_ticking(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self.ticker.tick_forever())
            self.spawn_task(self.ticker.hooks_forever())

    async def shutdown(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        running = [s for s in self.sessions.values() if s.alive]
        for session in running:
            session.set_status(Status.KILLED, "the fleet server was stopped")
        # In parallel: each kill may wait out its grace period (interactive shells ignore TERM).
        reports = await asyncio.gather(*(session.kill() for session in running))
        for session, report in zip(running, reports):
            self.bus.emit(EventKind.KILLED, f"killed: the fleet server was stopped; worktree kept at "
                          f"{session.record.worktree}", session.name, seconds=getattr(report, "seconds", None))
            if self.sessions.get(session.name) is session:
                session.record.ended = Status.STOPPED
                self.state.persist(session.record)
        await asyncio.gather(*(self._end_orphan(name, "the fleet server was stopped") for name in list(self.orphans)))
        for session in self.sessions.values():
            session.close()
        for task in list(self._tasks):
            task.cancel()

    def spawn_task(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def reload_config(self) -> None:
        """Pick up edits to fleet.yaml; a broken file keeps the old config and says why."""
        if self.config_path is not None and self.config_path.exists():
            self.config = load_config(self.config_path)

    def agents_info(self) -> list[AgentInfo]:
        return [AgentInfo(name=name, preset=agent.preset, role=agent.role,
                          running=sum(1 for s in self.sessions.values() if s.record.agent == name and s.alive))
                for name, agent in self.config.agents.items()]

    def client_settings(self) -> ClientSettings:
        return ClientSettings(notify=self.config.notify, base=self.base_branch,  # leader, confirm_kill: user settings
                              pipelines=list(self.config.pipelines))

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
                                 or any(r.agent == name and self._resting(r.name)[0] in (Status.ORPHANED, Status.LOST)
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
                   and self._resting(r.name)[0] != Status.ORPHANED]  # still running from a dead server: not replaced
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
                    await self.discard_session(record.name, because=f"{record.name} could not start: {error}")
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
        self.state.add(record)
        if self.config.setup:
            await self._run_setup(record)
        return record

    async def _install_litter_excludes(self) -> None:
        """Keep the exclude block (core.litter) in step with `link:` and the presets' litter.

        Loading every preset takes a few hundred milliseconds on a busy machine; a fan-out of
        eight must not pay it eight times.
        """
        key = (tuple(self.config.link), preset_files_signature(self.config.preset_dirs))
        if key != self._litter_for:
            await asyncio.to_thread(litter.install, self.root, self._litter_patterns())
            self._litter_for = key

    def _litter_patterns(self) -> list[str]:
        """What no attempt may commit: every known preset's litter, and the fleet's symlinks."""
        patterns: list[str] = []
        for name in known_presets(self.config.preset_dirs):
            try:
                patterns += load_preset(name, self.config.preset_dirs).litter
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
            self.state.persist(record)

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
        return with_python(spec.argv(prompt))

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
        session.read_pause = lambda: 0.0 if self.is_watched(record.name) else self.unwatched_pause(record.name)
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
        record.pid_started = start_time(session.pid) if session.pid is not None else None
        record.conversation_id = plan.conversation_id
        self.state.persist(record)
        self.bus.emit(EventKind.SPAWNED, f"started {record.agent} on {record.branch} (pid {session.pid})",
                      record.name, pid=session.pid, branch=record.branch, worktree=record.worktree,
                      argv=session.argv[:1])
        if prompt is not None:
            if prompt_as_arg:
                self._record_prompt(session, prompt, "as an argument")
            else:
                # Agents with no flag for a role prompt get it in front of their first prompt.
                self.spawn_task(self._deliver_when_ready(session, spec, spec.first_prompt(prompt)))
        self.on_sessions_change()
        return session

    def _session_exited(self, session: Session) -> None:
        if self.sessions.get(session.name) is session:  # not one a restart already replaced
            session.record.ended = session.status
            self.state.persist(session.record)
        if session.status == Status.EXITED:
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
            raise FleetError(f"session {name} has no record")  # never: every session is made from one
        spec = self.agent(record.agent)
        if session is not None and session.alive:
            session.set_status(Status.KILLED, "stopped for a restart")  # the fleet's own doing, not an exit
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

    async def restore(self, names: list[str] | None = None) -> list[RestoreResult]:
        """Start lost sessions again (all of them, or the named ones), resuming where the CLI can.

        One that still runs (here, or left by a dead server) is never started a second time.
        """
        for name in names or []:
            self.record_of(name)  # unknown names fail before anything starts
        targets = names or [n for n in self.records if n not in self.sessions and self._resting(n)[0] == Status.LOST]
        results: list[RestoreResult] = []
        for name in targets:
            session = self.sessions.get(name)
            if session is not None and session.alive:
                results.append(RestoreResult(session=name, restored=False, note="already running"))
                continue
            status, reason = self._resting(name)
            if status == Status.ORPHANED:
                results.append(RestoreResult(session=name, restored=False, note=f"{status}: {reason}"))
                continue
            try:
                await self.restart(name, restoring=True)
            except FleetError as error:
                results.append(RestoreResult(session=name, restored=False, note=str(error)))
                continue
            plan = self.last_plan[name]
            results.append(RestoreResult(session=name, restored=True, resumed=plan.resumed,
                                         conversation=plan.conversation_id, note=plan.note or "started fresh"))
        return results

    async def kill(self, name: str, reason: str = "killed by the user") -> KillAnswer:
        if name in self.orphans and name not in self.sessions:
            report = await self._end_orphan(name, reason)
            return KillAnswer(session=name, seconds=getattr(report, "seconds", None))
        session = self.get(name)
        if not session.alive:
            raise FleetError(f"session {name} is not running ({session.status})")
        session.set_status(Status.KILLED, reason)
        report = await session.kill()
        took = getattr(report, "seconds", None)
        self.bus.emit(EventKind.KILLED, f"{reason}; worktree kept at {session.record.worktree}", name,
                      seconds=took)
        self.on_sessions_change()
        return KillAnswer(session=name, seconds=took)

    def pause(self, name: str, reason: str = "paused by the user") -> None:
        session = self.get(name)
        if not session.alive:
            raise FleetError(f"session {name} is not running ({session.status})")
        session.pause()
        session.set_status(Status.PAUSED, reason)
        self.bus.emit(EventKind.PAUSED, reason, name)
        self.on_sessions_change()

    def resume(self, name: str) -> None:
        session = self.get(name)
        if session.status not in (Status.PAUSED, Status.OVER_BUDGET) or not session.alive:
            raise FleetError(f"session {name} is not paused ({session.status})")
        session.resume()
        session.set_status(Status.WORKING, "resumed by the user")
        self.bus.emit(EventKind.RESUMED, "resumed", name)
        self.on_sessions_change()

    # -- input ----------------------------------------------------------------------
    def input(self, name: str, data: bytes) -> None:
        self._type(self.get(name), data)

    def _type(self, session: Session, data: bytes) -> None:
        session.type(data)
        if session.pacer.due(time.monotonic()):  # a key that answers a dialog or interrupts: look now
            self.ticker.detect(session)

    def keys(self, name: str, keys: list[str]) -> None:
        session = self.get(name)
        modes = session.terminal.modes()
        try:
            data = b"".join(encode_key(key, modes) for key in keys)
        except ValueError as error:
            raise UsageError(str(error)) from None
        self._type(session, data)

    async def send(self, name: str, text: str) -> None:
        """Type text into a running session, then submit it."""
        session = self.get(name)
        await type_prompt(session, text)
        self._record_prompt(session, text, "typed")

    def _record_prompt(self, session: Session, text: str, how: str) -> None:
        session.prompted()
        if session.alive:
            self.ticker.detect(session)  # it reads as working now, not at the next round
        preview = text if len(text) <= 80 else text[:77] + "..."
        self.bus.emit(EventKind.PROMPT, f"prompt {how}: {preview}", session.name, prompt=text,
                      run=session.record.run)

    async def _deliver_when_ready(self, session: Session, spec: AgentSpec, prompt: str) -> None:
        """Type the first prompt once the agent accepts input; it stays queued until then."""
        def late() -> None:
            # Never dropped silently: it stays queued, and goes in if the agent gets ready later.
            self.bus.emit(EventKind.ERROR, f"the agent never became ready; prompt not sent (still queued: "
                          f"`fleet-tui send {session.name} ...` types one now)", session.name)
            self.on_sessions_change()

        session.queued_prompt = prompt
        if not await wait_until_ready(
                session, spec, on_late=late,
                on_trust_answered=lambda: self.bus.emit(EventKind.STATUS, "answered the first-start trust dialog",
                                                        session.name)):
            return
        session.queued_prompt = None
        await type_prompt(session, prompt)
        self._record_prompt(session, prompt, "typed once ready")

    async def discard_session(self, name: str, keep_branch: bool = False, because: str = "") -> None:
        """Stop the session if it runs, remove its worktree (and branch unless kept), forget it."""
        record = self.records[name]
        session = self.sessions.pop(name, None)
        if session is not None:
            if session.alive:
                session.set_status(Status.KILLED, "stopped: its attempt was discarded")  # not an error exit
                await session.kill()
            session.close()
        await self._end_orphan(name, "discarding it")
        await self._remove_worktree(record, keep_branch)
        self.state.forget(name, because or f"{name} was discarded")
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

    # -- runs: fan-out, compare, merge, discard (runs.py) ----------------------------
    async def fanout(self, prompt: str, *, agents: list[str] | None = None, count: int = 1,
                     sessions: list[str] | None = None, role: str | None = None) -> FanoutAnswer:
        return await self.run_ops.fanout(prompt, agents=agents, count=count, sessions=sessions, role=role)

    def latest_run(self) -> str:
        return self.run_ops.latest_run()

    def run(self, run_id: str | None) -> dict[str, Any]:
        return self.run_ops.run(run_id)

    def run_finished(self, run_id: str) -> bool:
        return self.run_ops.run_finished(run_id)

    async def compare(self, run_id: str | None = None) -> CompareAnswer:
        return await self.run_ops.compare(run_id)

    def last_compare(self, run_id: str | None = None) -> CompareAnswer:
        return self.run_ops.last_compare(run_id)

    async def merge_summary(self, name: str) -> MergeSummary:
        return await self.run_ops.merge_summary(name)

    async def merge(self, name: str, strategy: str = "merge", keep: bool = False) -> MergeAnswer:
        return await self.run_ops.merge(name, strategy, keep)

    async def merge_branch_summary(self, branch: str) -> MergeSummary:
        return await self.run_ops.merge_branch_summary(branch)

    async def merge_branch(self, branch: str, label: str, strategy: str = "merge") -> MergeAnswer:
        return await self.run_ops.merge_branch(branch, label, strategy)

    async def end_leftover_checks(self) -> None:
        await self.run_ops.end_leftover_checks()

    async def finish_interrupted_merge(self) -> str | None:
        return await self.run_ops.finish_interrupted_merge()

    async def discard(self, name: str, keep_branch: bool = False) -> None:
        await self.run_ops.discard(name, keep_branch)

    # -- the worktrees on disk: list, prune, disk use ----------------------------
    def _recorded_worktrees(self) -> dict[str, tuple[str, str]]:
        return {record.worktree: (name, record.branch) for name, record in self.records.items()}

    def _survey_args(self) -> tuple:
        recorded = self._recorded_worktrees()
        running = {name for name, session in self.sessions.items() if session.alive}
        created = {name: record.created for name, record in self.records.items()}
        return self.root, self.base_branch, recorded, running, created

    async def worktrees(self) -> list[WorktreeView]:
        """Every worktree the fleet made: size, age, branch, merged or not, uncommitted work."""
        reports = await asyncio.to_thread(inventory.survey, *self._survey_args())
        return [WorktreeView.model_validate(report.to_dict()) for report in reports]

    async def prune(self, paths: list[str], confirmed: list[str] | tuple[str, ...] = ()) -> list[PruneResult]:
        """Remove the fleet's worktrees at `paths`; one that could lose work only if in `confirmed`.

        Looked at again here, not trusted from the client's listing: a path that is no
        worktree the fleet made is left alone, and one that gained work since is refused.
        A branch with commits the base lacks is kept, so only the checkout goes.
        """
        reports = {report.path: report for report in await asyncio.to_thread(inventory.survey, *self._survey_args())}
        results: list[PruneResult] = []
        for path in paths:
            report = reports.get(path)
            if report is None:
                results.append(PruneResult(path=path, removed=False, reason="not a worktree this fleet made; left alone"))
                continue
            if report.risk and path not in confirmed:
                results.append(PruneResult(path=path, session=report.session, removed=False, reason=report.risk))
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
            results.append(PruneResult(path=path, session=report.session, removed=True,
                                       branch_kept=report.branch if keep_branch else None, size=report.size))
        return results

    async def worktree_disk(self) -> DiskAnswer:
        """Disk used by the fleet's worktrees; walked off the event loop, at most every DISK_CACHE_SECONDS."""
        now = time.monotonic()
        if self._disk is None or now - self._disk[0] > DISK_CACHE_SECONDS:
            recorded = self._recorded_worktrees()

            def measure() -> DiskAnswer:
                found = [item.entry.path for item in inventory.fleet_worktrees(self.root, recorded)]
                return DiskAnswer(bytes=inventory.disk_usage(*found), worktrees=len(found))

            self._disk = (now, await asyncio.to_thread(measure))
        return self._disk[1]

    # -- status (ticker.py) ---------------------------------------------------------
    def tick(self, measure: bool = True) -> None:
        self.ticker.tick(measure)

    async def measure(self, sessions: list[Session]) -> None:
        await self.ticker.measure(sessions)

    def ack(self, name: str) -> bool:
        """The user has seen the session: done becomes idle."""
        session = self.get(name)
        if session.ack():
            self.on_sessions_change()
            return True
        return False

    # -- views --------------------------------------------------------------------
    def status(self) -> list[SessionView]:
        """Every session: the running ones, then those only recorded (stopped, lost, orphaned) by age."""
        infos = [s.info() for s in self.sessions.values()]
        for name, record in self.records.items():
            if name not in self.sessions:
                infos.append(self._resting_view(record))
        return sorted(infos, key=lambda i: (i.created or 0, i.name))

    def _resting_view(self, record: SessionRecord) -> SessionView:
        """A session this server does not run, as `status` shows it: its record, how it rests, no terminal."""
        status, reason = self._resting(record.name)
        orphan = self.orphans.get(record.name)
        return SessionView(name=record.name, agent=record.agent, role=record.role, status=status, reason=reason,
                           pid=orphan.pids[0] if orphan else None, pids=orphan.pids if orphan else [],
                           branch=record.branch, worktree=record.worktree, base_commit=record.base_commit,
                           run=record.run, port=record.port, task=record.task, created=record.created,
                           conversation_id=record.conversation_id, budget={}, cols=0, rows=0, exit_code=None)

    def _resting(self, name: str) -> tuple[str, str]:
        """Status and reason of a session with a record that this server is not running."""
        return resting_state(self.records[name], self.orphans.get(name))

    def explain(self, name: str) -> ExplainAnswer:
        session = self.get(name)
        return ExplainAnswer(name=name, status=session.status, reason=session.reason, title=session.terminal.title,
                             rules=session.status_rules or {}, **session.explain())

