"""A merge that outlives the server that started it: written down before git moves anything.

A merge is several steps (capture the work, land it on the base branch, remove
the losers' worktrees, the winner's worktree). If the server dies part-way
(kill -9, an OOM kill, a reboot) the next server finds the journal and decides
from git itself whether the base branch has the attempt: if it has, the rest of
the merge is finished; if it has not, whatever git left half done in the base
checkout is undone. Git moves a branch atomically, so these are the only two cases.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fleet_tui.core.gitrepo import GitFailed, git_ok, head_commit, run_git, run_git_status
from fleet_tui.core.worktree import list_worktrees

JOURNAL_NAME = "merge-journal.json"
LOCK_WAIT = 10.0  # a git left running by the dead server may still hold index.lock


@dataclass
class MergeJournal:
    session: str
    branch: str
    base: str  # the base branch
    before: str  # the base branch's commit when the merge started
    strategy: str
    worktree: str
    run: str | None = None
    keep: bool = False
    losers: list[str] = field(default_factory=list)  # sessions of the run discarded after landing
    subject: str | None = None  # the landing commit's subject when not merge.py's default
    phase: str = "merging"  # "merging" until the base branch has it, then "landed"
    commit: str | None = None  # the base branch's commit once landed
    started: float = field(default_factory=time.time)
    server_pid: int = field(default_factory=os.getpid)


def journal_path(state_dir: Path) -> Path:
    return state_dir / JOURNAL_NAME


def write(state_dir: Path, journal: MergeJournal) -> None:
    """Atomically (and durably: it must survive a power cut), readable by its user only."""
    path = journal_path(state_dir)
    fd, tmp = tempfile.mkstemp(prefix=".merge-journal.", dir=state_dir)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(journal), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(state_dir)


def read(state_dir: Path) -> MergeJournal | None:
    try:
        return MergeJournal(**json.loads(journal_path(state_dir).read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        return None  # unreadable: recovery cannot act on it; git's own state stands


def clear(state_dir: Path) -> None:
    journal_path(state_dir).unlink(missing_ok=True)
    _fsync_dir(state_dir)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def landing_subjects(journal: MergeJournal) -> tuple[str, ...]:
    """Subjects the merge commit starts with (see merge.py's default messages)."""
    defaults = (f"Merge attempt {journal.branch} into {journal.base}", f"Land attempt {journal.branch} (squashed)")
    return (journal.subject, *defaults) if journal.subject else defaults


def has_landed(root: Path, journal: MergeJournal) -> str | None:
    """The base branch's commit if the attempt is on it, else None."""
    try:
        now = head_commit(root, f"refs/heads/{journal.base}")
    except Exception:
        return None
    if now == journal.before:
        return None
    tip_ok = git_ok(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{journal.branch}")
    if tip_ok and git_ok(root, "merge-base", "--is-ancestor", f"refs/heads/{journal.branch}", now):
        return now
    subjects = run_git(root, "log", "--format=%s", f"{journal.before}..{now}").splitlines()
    if any(s.startswith(landing_subjects(journal)) for s in subjects):
        return now
    return None


def roll_back(root: Path, journal: MergeJournal) -> list[str]:
    """Undo what an interrupted merge left half done; returns what was undone, for the trail."""
    undone: list[str] = []
    for entry in list_worktrees(root):
        where = entry.path
        if not where.exists():
            continue
        if entry.branch == journal.base and entry.head == journal.before:
            if git_ok(where, "rev-parse", "--verify", "--quiet", "MERGE_HEAD") or _staged(where):
                # The checkout was clean when the merge began (merge refuses a dirty one), so what
                # is staged now is the merge's: put index and files back to the unmoved branch.
                run_git(where, "reset", "--merge")
                undone.append(f"reset the half-merged checkout of {journal.base} at {where}")
        elif entry.branch == journal.branch and _rebasing(where):
            run_git(where, "rebase", "--abort")
            undone.append(f"aborted the rebase of {journal.branch} in {where}")
        elif where.name == "checkout" and where.parent.name.startswith("fleet-merge-"):
            run_git(root, "worktree", "remove", "--force", str(where))
            undone.append(f"removed the temporary merge checkout {where}")
    run_git_status(root, "worktree", "prune")
    return undone


def _staged(where: Path) -> bool:
    return run_git_status(where, "diff", "--cached", "--quiet")[0] == 1


def _rebasing(where: Path) -> bool:
    for name in ("rebase-merge", "rebase-apply"):
        try:
            if Path(where, run_git(where, "rev-parse", "--git-path", name)).exists():
                return True
        except GitFailed:
            return False
    return False


def wait_for_git_locks(root: Path, timeout: float = LOCK_WAIT) -> list[Path]:
    """A git the dead server started may still be finishing: give it time to let go of its locks.

    Returns the lock files still there after `timeout` (a git killed mid-write leaves them).
    """
    common = Path(run_git(root, "rev-parse", "--git-common-dir"))
    common = common if common.is_absolute() else root / common
    deadline = time.monotonic() + timeout
    while True:
        locks = [*common.glob("*.lock"), *common.glob("worktrees/*/*.lock"), *common.glob("refs/**/*.lock")]
        if not locks or time.monotonic() >= deadline:
            return locks
        time.sleep(0.1)
