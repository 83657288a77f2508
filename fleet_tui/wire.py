"""The fleet server's API as types: one request model per command, and the answer model of each.

A request travels as {"id": N, "v": PROTOCOL_VERSION, "cmd": Request.command, "args": {fields}}
and its answer as the answer model's fields (protocol.py describes the framing). The server's
command table (server.py) and the client's typed methods (client.FleetApi) are both built on
these classes, so a field added here is checked by mypy wherever it is read.

Requests forbid unknown fields: a misspelt argument is refused, not ignored. Answers allow them
(a tolerant reader): a newer server's extra field reaches an older client untouched.
This module depends on pydantic and the engine's own models only, so the engine may import it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from fleet_tui.core.tasks import CheckOutcome, Task


# defer_build: each model's validator is built when first used, not at import; a client (the TUI
# reattaching, a CLI command) uses a handful of these ~70 models, and building them all cost the
# TUI's start ~40M instructions.
class Answer(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    def wire(self) -> dict[str, Any]:
        """The answer as it travels: the fields it was given (extras too), JSON-ready."""
        return self.model_dump(mode="json", exclude_unset=True)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    command: ClassVar[str]
    answer: ClassVar[type[Answer] | None] = None  # None: the command answers nothing

    def args(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)  # the server fills in the rest


# -- the answers' parts ------------------------------------------------------------------------
class SessionView(Answer):
    """A session as `status` and the pushed session lists show it (running, or only recorded)."""

    name: str
    agent: str = ""
    role: str | None = None
    status: str = ""
    reason: str = ""
    pid: int | None = None
    pids: list[int] = []
    branch: str = ""
    worktree: str = ""
    base_commit: str = ""
    run: str | None = None
    port: int | None = None
    task: str | None = None
    cols: int = 0
    rows: int = 0
    exit_code: int | None = None
    started_at: float | None = None
    created: float | None = None
    title: str = ""
    layer: str | None = None
    turns: int = 0
    queued_prompt: str | None = None
    conversation_id: str | None = None
    budget: dict[str, dict[str, Any]] = {}  # {meter: {"used", "limit", "fraction"}}
    machine: str | None = None  # set by a multi-machine client for another machine's session


class AgentInfo(Answer):
    name: str
    preset: str | None = None
    role: str | None = None
    running: int = 0
    machine: str | None = None


class FileChange(Answer):
    path: str
    status: str = ""
    added: int = 0
    removed: int = 0


class CheckView(CheckOutcome, Answer):
    """A check's result in an attempt's worktree: the task queue's own model, read tolerantly."""


class AttemptRow(Answer):
    """One attempt of a run in a comparison, ranked."""

    session: str
    agent: str = ""
    branch: str = ""
    worktree: str = ""
    status: str = ""
    problem: str | None = None
    duration: float | None = None
    cost: float | None = None
    wall: float | None = None
    active: float | None = None
    tokens: float | None = None
    files_changed: int = 0
    added: int = 0
    removed: int = 0
    files: list[FileChange] = []
    checks: dict[str, CheckView] = {}
    checks_passed: int = 0
    checks_total: int = 0
    rank: int = 0


class CommitLine(Answer):
    commit: str
    subject: str = ""


class RunSessionState(Answer):
    name: str
    status: str
    turns: int


class RestoreResult(Answer):
    session: str
    restored: bool
    note: str = ""
    resumed: bool | None = None
    conversation: str | None = None


class EventView(Answer):
    seq: int = 0
    ts: float = 0.0
    kind: str = ""
    session: str | None = None
    message: str = ""
    data: dict[str, Any] = {}


class WorktreeView(Answer):
    path: str
    session: str | None = None
    branch: str | None = None
    created: float | None = None
    size: int = 0
    merged: bool = False
    ahead: int = 0
    uncommitted: list[str] = []
    running: bool = False
    missing: bool = False
    risk: str | None = None
    age: float | None = None
    machine: str | None = None


class PruneResult(Answer):
    path: str
    removed: bool
    session: str | None = None
    reason: str | None = None
    branch_kept: str | None = None
    size: int | None = None


# -- the answers -------------------------------------------------------------------------------
class PingAnswer(Answer):
    pid: int
    root: str
    version: str
    protocol: int


class StatusAnswer(Answer):
    sessions: list[SessionView]
    base: str = ""


class ExplainAnswer(Answer):
    name: str
    status: str
    reason: str = ""
    title: str = ""
    rules: dict[str, Any] = {}
    layer: str | None = None
    hooks: bool = False
    hook_event: str | None = None
    hook_meaning: str | None = None
    hook_age: float | None = None
    hook_events: int = 0
    screen_status: str | None = None
    screen_reason: str | None = None
    screen_signal: str | None = None
    conversation_id: str | None = None
    transcript: str | None = None


class AgentsAnswer(Answer):
    agents: list[AgentInfo]


class ClientSettings(Answer):
    notify: bool = True
    base: str = ""
    pipelines: list[str] = []  # the prompt bar can queue a task through one


class StartAnswer(Answer):
    sessions: list[str]


class ScreenAnswer(Answer):
    lines: list[str]
    cols: int
    rows: int
    cursor: list[int]
    title: str = ""


class HistoryAnswer(Answer):
    """protocol.HistorySlice on the wire: extent [epoch, first, pushed], start, lines of runs."""

    extent: list[int]
    start: int
    lines: list[list[list[Any]]]


class SearchAnswer(Answer):
    """protocol.SearchResult on the wire: match [line, col, width] or None."""

    match: list[int] | None = None
    wrapped: bool = False


class AckAnswer(Answer):
    session: str
    was_done: bool


class RunStateAnswer(Answer):
    run: str
    finished: bool
    sessions: list[RunSessionState]


class KillAnswer(Answer):
    session: str
    seconds: float | None = None


class RestartAnswer(Answer):
    session: str


class RestoreAnswer(Answer):
    results: list[RestoreResult]


class LogAnswer(Answer):
    events: list[EventView]


class FanoutAnswer(Answer):
    run: str
    sessions: list[str]
    base_commit: str | None = None
    runs: dict[str, str] | None = None  # machine -> run, from a multi-machine client


class CompareAnswer(Answer):
    run: str
    prompt: str = ""
    base_branch: str = ""
    base_commit: str = ""
    base_moved: bool = False
    ranking_rule: str = ""
    check_names: list[str] = []
    attempts: list[AttemptRow] = []
    compared_at: float | None = None


class DiffAnswer(Answer):
    diff: str


class MergeSummary(Answer):
    """What merging an attempt would bring to the base branch (core/merge.py merge_summary)."""

    base_branch: str = ""
    branch: str = ""
    base_commit: str = ""
    base_head: str = ""
    base_moved: bool = False
    commits: list[CommitLine] = []
    files: list[str] = []
    files_changed: int = 0
    added: int = 0
    removed: int = 0
    conflicts: list[str] = []
    base: str = ""
    session: str | None = None
    discard: list[str] = []  # the run's other attempts, discarded by the merge
    fetched: str | None = None  # the local branch a remote attempt was fetched into


class MergeAnswer(Answer):
    base: str
    strategy: str
    commit: str
    files: list[str] = []
    discarded: list[str] = []
    fetched: str | None = None


class WorktreesAnswer(Answer):
    worktrees: list[WorktreeView]
    base: str = ""


class PruneAnswer(Answer):
    results: list[PruneResult]


class DiskAnswer(Answer):
    bytes: int
    worktrees: int


class TaskView(Task, Answer):  # Answer adds extra="allow" and wire()
    """A task and where it stands in its pipeline."""

    stage_name: str = ""
    stages: list[str] = []
    agent: str | None = None


class TasksAnswer(Answer):
    tasks: list[TaskView]


class DownAnswer(Answer):
    stopped: int
    pid: int


# -- the requests, one per command -------------------------------------------------------------
class Ping(Request):
    command = "ping"
    answer = PingAnswer


class Status(Request):
    command = "status"
    answer = StatusAnswer


class Explain(Request):
    command = "explain"
    answer = ExplainAnswer
    session: str


class Agents(Request):
    command = "agents"
    answer = AgentsAnswer


class Config(Request):
    command = "config"
    answer = ClientSettings


class Start(Request):
    command = "start"
    answer = StartAnswer
    agents: list[str] | None = None
    count: int | None = None
    missing_only: bool = False


class Screen(Request):
    command = "screen"
    answer = ScreenAnswer
    session: str


class History(Request):
    command = "history"
    answer = HistoryAnswer
    session: str
    start: int
    count: int


class Search(Request):
    command = "search"
    answer = SearchAnswer
    session: str
    query: str
    line: int
    col: int = 0
    backward: bool = False


class Input(Request):
    command = "input"
    session: str
    data: str  # bytes decoded with surrogateescape


class Send(Request):
    command = "send"
    session: str
    text: str


class Keys(Request):
    command = "keys"
    session: str
    keys: list[str]


class Resize(Request):
    command = "resize"
    session: str
    cols: int
    rows: int


class Focus(Request):
    command = "focus"
    session: str | None = None


class Ack(Request):
    command = "ack"
    answer = AckAnswer
    session: str


class RunState(Request):
    command = "run_state"
    answer = RunStateAnswer
    run: str | None = None


class Kill(Request):
    command = "kill"
    answer = KillAnswer
    session: str


class Pause(Request):
    command = "pause"
    session: str


class Resume(Request):
    command = "resume"
    session: str


class Restart(Request):
    command = "restart"
    answer = RestartAnswer
    session: str


class Restore(Request):
    command = "restore"
    answer = RestoreAnswer
    sessions: list[str] | None = None


class Log(Request):
    command = "log"
    answer = LogAnswer
    limit: int = 200  # 0: every entry
    task: str | None = None


class Fanout(Request):
    command = "fanout"
    answer = FanoutAnswer
    prompt: str
    agents: list[str] | None = None
    count: int = 1
    sessions: list[str] | None = None
    role: str | None = None


class Compare(Request):
    command = "compare"
    answer = CompareAnswer
    run: str | None = None
    last: bool = False  # the saved comparison, without running the checks again


class Diff(Request):
    command = "diff"
    answer = DiffAnswer
    session: str
    path: str | None = None


class MergeSummaryRequest(Request):
    command = "merge_summary"
    answer = MergeSummary
    session: str


class Merge(Request):
    command = "merge"
    answer = MergeAnswer
    session: str
    strategy: str = "merge"  # merge, squash or rebase: the engine refuses others
    keep: bool = False


class MergeBranchSummary(Request):
    command = "merge_branch_summary"
    answer = MergeSummary
    branch: str


class MergeBranch(Request):
    command = "merge_branch"
    answer = MergeAnswer
    branch: str
    label: str
    strategy: str = "merge"  # merge, squash or rebase: the engine refuses others


class Discard(Request):
    command = "discard"
    session: str
    keep_branch: bool = False


class Worktrees(Request):
    command = "worktrees"
    answer = WorktreesAnswer


class Prune(Request):
    command = "prune"
    answer = PruneAnswer
    paths: list[str]
    confirmed: list[str] | None = None


class WorktreeDisk(Request):
    command = "worktree_disk"
    answer = DiskAnswer


class SubmitTask(Request):
    command = "task"
    answer = TaskView
    text: str
    role: str | None = None
    pipeline: str | None = None
    priority: str = "normal"  # high, normal or low: the task queue refuses others


class Tasks(Request):
    command = "tasks"
    answer = TasksAnswer


class Approve(Request):
    command = "approve"
    answer = TaskView
    task: str
    by: str | None = None
    override: bool = False
    pick: str | None = None
    seen: int | None = None  # the approvals the client saw on the task: refused if someone approved since


class Reject(Request):
    command = "reject"
    answer = TaskView
    task: str
    by: str | None = None
    reason: str = ""
    seen: int | None = None  # as for approve: a reject is of the task the client saw


class Attach(Request):
    command = "attach"
    focus: str | None = None


class WarmUi(Request):
    """A terminal UI attached: keep a warm UI process ready for the next `fleet-tui` (fleet_tui/warm_host.py)."""
    command = "warm_ui"


class Down(Request):
    command = "down"
    answer = DownAnswer


def describe_error(error: ValidationError) -> str:
    """A validation error in one line: the first problem, and how many more there are."""
    problems = error.errors()
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "the arguments"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _all_requests() -> dict[str, type[Request]]:
    found: dict[str, type[Request]] = {}
    for request in Request.__subclasses__():
        if request.command in found:
            raise RuntimeError(f"two requests for the command {request.command!r}")
        found[request.command] = request
    return found


REQUESTS: dict[str, type[Request]] = _all_requests()  # command name -> request model
