"""Runs: one prompt to several attempts, which are compared, merged or discarded.

Everything git-changing goes through the fleet's GitOperations one at a time; a merge is
journalled (mergejournal.py) so a server killed mid-way is finished or rolled back by the next.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from fleet_tui.config import FleetConfig
from fleet_tui.core import compare, compare_store, gitrepo, merge, mergejournal
from fleet_tui.core.agent_spec import AgentSpec, with_python
from fleet_tui.core.checks import CHECK_MARKER, keep_tail, kill_leftover_checks, run_checks_in, to_argv
from fleet_tui.core.events import EventBus, EventKind
from fleet_tui.core.fleet_state import FleetState
from fleet_tui.core.gitops import GitOperations
from fleet_tui.core.merge import MergeResult
from fleet_tui.core.session import Session, SessionRecord
from fleet_tui.core.status import Status
from fleet_tui.errors import FleetError, UsageError
from fleet_tui.text import plural
from fleet_tui.wire import AttemptRow, CheckView, CompareAnswer, FanoutAnswer, FileChange, MergeAnswer, MergeSummary

COMPARE_OUTPUT_BYTES = 8 * 1024 * 1024  # all checks' output in one compare answer (the limit is 16 MB)
# Where attempts fetched from other machines land: refs/heads/machines/<machine>/<session>.
FETCHED_PREFIX = "machines/"


def _fetched_only(branch: str) -> None:
    """merge_branch lands attempts fetched from other machines, nothing else."""
    if not branch.startswith(FETCHED_PREFIX):
        raise UsageError(f"{branch} is no fetched attempt (those are {FETCHED_PREFIX}MACHINE/SESSION)")


class SessionHost(Protocol):
    """What runs need of the orchestrator (core/fleet.py): its sessions and their lifecycle."""

    root: Path
    bus: EventBus
    state: FleetState
    state_dir: Path
    sessions: dict[str, Session]
    git_ops: GitOperations
    stop_checks: threading.Event
    config: FleetConfig
    base_branch: str

    def agent(self, name: str) -> AgentSpec: ...

    def get(self, name: str) -> Session: ...

    async def start_agent(self, agent_name: str, *, count: int = 1, run: str | None = None,
                          prompt: str | None = None, base_ref: str | None = None,
                          cols: int = 120, rows: int = 40) -> list[Session]: ...

    async def send(self, name: str, text: str) -> None: ...

    async def measure(self, sessions: list[Session]) -> None: ...

    async def discard_session(self, name: str, keep_branch: bool = False, because: str = "") -> None: ...


class Runs:
    """The runs of one fleet: fan-out, compare, merge and discard of their attempts."""

    def __init__(self, host: SessionHost) -> None:
        self.host = host
        self.state = host.state
        self.root = host.root
        self.bus = host.bus
        self.state_dir = host.state_dir
        self._comparisons: dict[str, asyncio.Future[CompareAnswer]] = {}

    # -- runs: one prompt to several sessions -----------------------------------
    def _next_run_id(self) -> str:
        numbers = [int(r[1:]) for r in self.state.runs if r[1:].isdigit()]
        return f"r{max(numbers, default=0) + 1}"

    async def fanout(self, prompt: str, *, agents: list[str] | None = None, count: int = 1,
                     sessions: list[str] | None = None, role: str | None = None) -> FanoutAnswer:
        """Start a run: the prompt goes to N new sessions (agents, repeats allowed) or to running ones.

        New sessions all branch from the same base commit, so their attempts compare fairly.
        """
        if not prompt.strip():
            raise UsageError("the prompt is empty")
        if role is not None:
            sessions = [s.name for s in self.host.sessions.values() if s.alive and s.record.role == role]
            if not sessions:
                raise UsageError(f"no running session has the role {role!r}")
        run_id = self._next_run_id()
        base_commit = gitrepo.head_commit(self.root, self.host.base_branch)
        run: dict[str, Any] = {"id": run_id, "prompt": prompt, "base_branch": self.host.base_branch, "base_commit": base_commit,
               "created": time.time(), "sessions": []}
        if sessions:
            targets = [self.host.get(name) for name in sessions]
            for session in targets:
                if not session.alive:
                    raise FleetError(f"session {session.name} is not running ({session.status})")
            self.state.runs[run_id] = run
            for session in targets:
                await self.host.send(session.name, prompt)
                run["sessions"].append(session.name)
        else:
            names = agents or list(self.host.config.agents)
            specs = [self.host.agent(name) for name in names]  # unknown agents fail before anything starts
            if count < 1 or count * len(specs) > 32:
                raise UsageError("a run starts 1 to 32 sessions")
            self.state.runs[run_id] = run
            for spec in specs:
                started = await self.host.start_agent(spec.name, count=count, run=run_id, prompt=prompt,
                                                 base_ref=base_commit)
                run["sessions"] += [s.name for s in started]
        self.state.save_runs()
        self.bus.emit(EventKind.FANOUT, f"run {run_id}: prompt sent to {len(run['sessions'])} sessions "
                      f"({', '.join(run['sessions'])})", None, run=run_id, sessions=run["sessions"], prompt=prompt)
        return FanoutAnswer(run=run_id, sessions=run["sessions"], base_commit=base_commit)

    def latest_run(self) -> str:
        if not self.state.runs:
            raise UsageError("there is no run yet: `fleet-tui fanout \"PROMPT\"` starts one")
        return max(self.state.runs, key=lambda r: self.state.runs[r]["created"])

    # -- compare, merge, discard -------------------------------------------------
    def run(self, run_id: str | None) -> dict[str, Any]:
        run_id = run_id or self.latest_run()
        if run_id not in self.state.runs:
            raise UsageError(f"no run named {run_id!r} (runs: {', '.join(self.state.runs) or 'none'})")
        return self.state.runs[run_id]

    def checks(self) -> dict[str, list[str]]:
        return {name: with_python(to_argv(cmd)) for name, cmd in self.host.config.checks.items()}

    async def compare(self, run_id: str | None = None) -> CompareAnswer:
        """Capture each attempt's work as a commit, run every check in every worktree, rank them."""
        run = self.run(run_id)
        # Two clients comparing the same run at once share one compare (and its answer).
        pending = self._comparisons.get(run["id"])
        if pending is None:
            pending = self._comparisons[run["id"]] = asyncio.ensure_future(self._compare(run))
            pending.add_done_callback(lambda _: self._comparisons.pop(run["id"], None))
        return await asyncio.shield(pending)

    async def _compare(self, run: dict[str, Any]) -> CompareAnswer:
        attempts = [self.state.records[n] for n in run["sessions"] if n in self.state.records]
        async with self.host.git_ops.claim(f"compare of run {run['id']}", [r.name for r in attempts]):
            return await self._compare_claimed(run, attempts)

    async def _compare_claimed(self, run: dict[str, Any], attempts: list[SessionRecord]) -> CompareAnswer:
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
            run_checks_in, {r.name: r.worktree for r in attempts if r.name not in missing}, self.checks(),
            self.host.config.check_timeout, max(1, os.cpu_count() or 1), self.host.stop_checks,
            {**os.environ, CHECK_MARKER: str(self.state_dir)})
        if self.host.stop_checks.is_set():
            raise FleetError(f"the compare of run {run['id']} was stopped: the fleet server is stopping")
        # The tick measures a quiet fleet only every few seconds: an attempt that just finished would
        # show the spend and active time of before its last step.
        await self.host.measure([s for r in attempts if (s := self.host.sessions.get(r.name)) is not None])
        # Every check's output together stays well inside what a client accepts in one answer.
        output_limit = COMPARE_OUTPUT_BYTES // max(1, sum(len(c) for c in results.values()))
        rows: list[AttemptRow] = []
        summaries: list[compare.AttemptSummary] = []
        for record in attempts:
            try:
                diff = await asyncio.to_thread(compare.diff_stats, self.root, record.base_commit, record.branch)
            except FleetError as error:
                problems.setdefault(record.name, f"its branch cannot be read: {error}")
                diff = compare.DiffStats(0, 0, 0)
            session = self.host.sessions.get(record.name)
            budget = session.meter.snapshot() if session else {}
            cost = (budget.get("cost") or {}).get("used")
            duration = (budget.get("active") or {}).get("used") or (budget.get("time") or {}).get("used") or 0.0
            checks = results.get(record.name, {})
            summaries.append(compare.summarize(record.name, diff, checks, cost, duration))
            for check in checks.values():
                self.bus.emit(EventKind.CHECK, f"check {check.name} {'passed' if check.passed else 'FAILED'} "
                              f"in {check.duration:.1f}s", record.name, check=check.name, passed=check.passed)
            rows.append(AttemptRow(
                session=record.name, agent=record.agent, branch=record.branch, worktree=record.worktree,
                status="missing" if record.name in missing else session.status if session else Status.STOPPED,
                problem=(f"its worktree {record.worktree} is gone (deleted by hand?): "
                         f"`fleet-tui discard {record.name}` forgets it") if record.name in missing
                else problems.get(record.name),
                duration=duration, cost=cost,
                # Wall time since the session started and time spent working, told apart in the UI.
                wall=(budget.get("time") or {}).get("used"), active=(budget.get("active") or {}).get("used"),
                tokens=(budget.get("tokens") or {}).get("used"),
                files_changed=diff.files_changed, added=diff.added, removed=diff.removed,
                files=[FileChange(path=f.path, status=f.status, added=f.added, removed=f.removed) for f in diff.files],
                checks={name: CheckView(passed=c.passed, exit_code=c.exit_code, duration=c.duration,
                                        timed_out=c.timed_out, output=keep_tail(c.output, output_limit))
                        for name, c in checks.items()},
                checks_passed=sum(c.passed for c in checks.values()), checks_total=len(checks),
            ))
        order = {summary.name: i for i, summary in enumerate(compare.rank(summaries))}
        rows.sort(key=lambda row: order[row.session])
        for i, row in enumerate(rows, start=1):
            row.rank = i
        moved = await asyncio.to_thread(merge.base_moved, self.root, run["base_branch"], run["base_commit"])
        self.bus.emit(EventKind.COMPARED, f"run {run['id']} compared: best is "
                      f"{rows[0].session if rows else 'nothing'}", None, run=run["id"])
        result = CompareAnswer(run=run["id"], prompt=run["prompt"], base_branch=run["base_branch"],
                               base_commit=run["base_commit"], base_moved=moved, ranking_rule=compare.RANKING_RULE,
                               check_names=list(self.host.config.checks), attempts=rows, compared_at=time.time())
        # The measured figures outlive the sessions.
        await asyncio.to_thread(compare_store.save, self.state_dir, result.wire())
        return result

    def last_compare(self, run_id: str | None = None) -> CompareAnswer:
        """The run's latest comparison as it was saved, without running anything again."""
        return CompareAnswer.model_validate(compare_store.load(self.state_dir, self.run(run_id)["id"]))

    async def merge_summary(self, name: str) -> MergeSummary:
        self.state.record_of(name)
        async with self.host.git_ops.claim(f"preparing the merge of {name}", [name], refuses=False):
            record = self.state.record_of(name)
            await asyncio.to_thread(compare.capture_work, record.worktree, f"fleet: work of {name}")
        base = self._base_of(record)
        summary = await asyncio.to_thread(merge.merge_summary, self.root, base, record.branch, record.base_commit)
        others = [n for n in self.state.runs.get(record.run or "", {}).get("sessions", [])
                  if n != name and n in self.state.records]
        return MergeSummary.model_validate({**summary, "session": name, "base": base, "discard": others})

    def _base_of(self, record: SessionRecord) -> str:
        return self.state.runs.get(record.run, {}).get("base_branch", self.host.base_branch) if record.run else self.host.base_branch

    async def merge(self, name: str, strategy: str = "merge", keep: bool = False) -> MergeAnswer:
        """Merge an attempt into the base branch, then clean up the rest of its run unless kept.

        One git-changing request at a time (see gitops): a second merge of the same run, or any
        other merge, racing this one is refused and told what this one did.
        """
        record = self.state.record_of(name)
        base = self._base_of(record)
        run_sessions = self.state.runs.get(record.run, {}).get("sessions", []) if record.run else []
        async with self.host.git_ops.claim(f"merge of {name} into {base}", [name, *run_sessions],
                                      moves_base=True) as op:
            record = self.state.record_of(name)
            session = self.host.sessions.get(name)
            if session is not None and session.alive and session.status == Status.WORKING:
                raise FleetError(f"{name} is still working: wait until it is idle, or `fleet-tui kill {name}` first")
            await asyncio.to_thread(compare.capture_work, record.worktree, f"fleet: work of {name}")
            losers = [] if keep else [n for n in run_sessions if n != name and n in self.state.records]
            journal = mergejournal.MergeJournal(
                session=name, branch=record.branch, base=base, strategy=strategy, worktree=record.worktree,
                before=gitrepo.head_commit(self.root, f"refs/heads/{base}"), run=record.run, keep=keep,
                losers=losers)
            result = await self._land(journal)
            discarded = await self._after_landing(journal, result.files)
            op.outcome = self._merge_outcome(journal, discarded)
        return MergeAnswer(base=base, strategy=strategy, commit=result.commit, files=result.files, discarded=discarded)

    async def merge_branch_summary(self, branch: str) -> MergeSummary:
        """merge_summary for a branch that is no session of this fleet (an attempt fetched from another machine)."""
        _fetched_only(branch)
        base = self.host.base_branch
        since = await asyncio.to_thread(gitrepo.run_git, self.root, "merge-base", f"refs/heads/{base}",
                                        f"refs/heads/{branch}")
        summary = await asyncio.to_thread(merge.merge_summary, self.root, base, branch, since)
        return MergeSummary.model_validate({**summary, "base": base})

    async def merge_branch(self, branch: str, label: str, strategy: str = "merge") -> MergeAnswer:
        """Land a fetched attempt's branch on the base branch with merge_attempt's guarantees (a
        conflict or a dirty base changes nothing); `label` names the attempt in the event."""
        _fetched_only(branch)
        base = self.host.base_branch
        async with self.host.git_ops.claim(f"merge of {label} into {base}", [], moves_base=True) as op:
            # Journaled like a local merge; nothing of this fleet is discarded after it (the
            # attempt's own fleet tidies its run up), hence keep.
            journal = mergejournal.MergeJournal(
                session=label, branch=branch, base=base, strategy=strategy, worktree="", keep=True,
                before=gitrepo.head_commit(self.root, f"refs/heads/{base}"),
                subject=f"Merge attempt {label} into {base}")
            result = await self._land(journal)
            await self._after_landing(journal, result.files)
            op.outcome = self._merge_outcome(journal, [])
        return MergeAnswer(base=base, strategy=strategy, commit=result.commit, files=result.files)

    async def _land(self, journal: mergejournal.MergeJournal) -> MergeResult:
        """Put the attempt on the base branch, journaled: written before git moves anything, so a
        server killed from here on leaves the next one enough to finish the merge or undo it
        (finish_interrupted_merge)."""
        await asyncio.to_thread(mergejournal.write, self.state_dir, journal)
        try:
            result = await asyncio.to_thread(merge.merge_attempt, self.root, journal.base, journal.branch,
                                             journal.strategy, journal.subject, journal.worktree or None)
        except FleetError:
            await asyncio.to_thread(mergejournal.clear, self.state_dir)  # refused: nothing moved
            raise
        journal.phase, journal.commit = "landed", result.commit
        await asyncio.to_thread(mergejournal.write, self.state_dir, journal)
        return result

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
                      branch=journal.branch, **({"recovered": True} if note else {}))
        why = f"{journal.session} was merged into {journal.base} ({(journal.commit or '')[:10]})"
        discarded = []
        for other in journal.losers:
            if other in self.state.records:
                await self.host.discard_session(other, because=f"{other} was discarded after {why}")
                discarded.append(other)
        if not journal.keep and journal.session in self.state.records:
            # The winner's work is on the base branch now; its branch stays as a record of the attempt.
            await self.host.discard_session(journal.session, keep_branch=True, because=f"{why}, its branch kept")
        if journal.run in self.state.runs:
            self.state.runs[journal.run]["merged"] = {"session": journal.session, "commit": journal.commit,
                                                "base": journal.base, "discarded": discarded}
            self.state.save_runs()
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
        async with self.host.git_ops.claim(f"recovery of the merge of {journal.session}",
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
        self.state.record_of(name)
        async with self.host.git_ops.claim(f"discard of {name}", [name]) as op:
            self.state.record_of(name)
            await self.host.discard_session(name, keep_branch, because=f"{name} was discarded by the user")
            op.outcome = f"{name} was discarded"

    # -- a run is finished when every attempt has finished a turn -------------------
    def check_finished(self, session: Session) -> None:
        run_id = session.record.run
        run = self.state.runs.get(run_id) if run_id else None
        if run_id is None or run is None or run.get("finished"):
            return
        if self.run_finished(run_id):
            run["finished"] = time.time()
            self.state.save_runs()
            self.bus.emit(EventKind.STATUS, f"run {run_id}: all {len(run['sessions'])} attempts are done",
                          None, run=run_id)

    def run_finished(self, run_id: str) -> bool:
        """Every attempt of the run has finished a turn (or is no longer running)."""
        run = self.run(run_id)
        for name in run["sessions"]:
            session = self.host.sessions.get(name)
            if session is not None and session.alive and session.turns_finished < 1:
                return False
        return True
