"""Line attempts up: capture each one's work, measure its diff, and rank them.

What is compared is exactly what would be merged: `capture_work` commits the
attempt's uncommitted work on its branch first, and diffs run between the
commit the attempt started from and that branch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fleet_tui.core.checks import CheckResult
from fleet_tui.core.gitrepo import git_ok, identity_args, run_git
from fleet_tui.core.litter import unstage_litter

RANKING_RULE = (
    "Attempts that pass more checks come first; ties go to the smaller diff "
    "(lines added + removed), then the lower cost, then the shorter time. "
    "Attempts that changed nothing come last."
)

_STATUS_WORDS = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type-changed",
}


@dataclass(frozen=True)
class FileStat:
    path: str
    status: str  # added, modified, deleted, renamed, copied, type-changed
    added: int
    removed: int
    old_path: str | None = None  # for renamed and copied files
    binary: bool = False  # binary files count as changed with 0 lines


@dataclass(frozen=True)
class DiffStats:
    files_changed: int
    added: int
    removed: int
    files: list[FileStat] = field(default_factory=list)

    @property
    def lines_changed(self) -> int:
        return self.added + self.removed


@dataclass(frozen=True)
class AttemptSummary:
    """What ranking needs to know about one attempt."""

    name: str
    checks_passed: int
    checks_total: int
    lines_changed: int
    cost: float | None  # None when the agent reports no usage
    duration: float  # seconds
    files_changed: int = 0

    @property
    def has_changes(self) -> bool:
        return self.files_changed > 0 or self.lines_changed > 0


def capture_work(path: Path | str, message: str) -> str | None:
    """Commit everything uncommitted in worktree `path` (ignored files excepted) on its branch.

    Agent litter (see core.litter) is ignored by git, or unstaged here when tracked. Returns the new commit id, or None when there was nothing to commit. Hooks
    are skipped and the commit is not signed: this is a snapshot of an agent's
    work, and a hook or a pinentry prompt must not block the server.
    """
    run_git(path, "add", "--all")
    unstage_litter(path)
    if git_ok(path, "diff", "--cached", "--quiet"):
        return None
    run_git(
        path,
        *identity_args(path),
        "-c", "commit.gpgsign=false",
        "commit", "--quiet", "--no-verify", "-m", message,
    )
    return run_git(path, "rev-parse", "HEAD")


def diff_stats(root: Path | str, base_commit: str, branch: str) -> DiffStats:
    """Files and lines the attempt on `branch` changed since `base_commit`."""
    statuses = _name_status(root, base_commit, branch)
    files: list[FileStat] = []
    for path, added, removed in _numstat(root, base_commit, branch):
        status, old_path = statuses.get(path, ("M", None))
        binary = added is None
        word = _STATUS_WORDS.get(status, status)
        files.append(FileStat(path, word, added or 0, removed or 0, old_path, binary))
    return DiffStats(
        files_changed=len(files),
        added=sum(f.added for f in files),
        removed=sum(f.removed for f in files),
        files=files,
    )


def changed_files(root: Path | str, base_commit: str, branch: str) -> list[str]:
    """Paths the attempt changed (the new path of a renamed file)."""
    return list(_name_status(root, base_commit, branch))


def diff_text(root: Path | str, base_commit: str, branch: str, path: str | None = None) -> str:
    """The unified diff of the attempt, whole or for one file."""
    args = ["diff", "--find-renames", "--no-color", "--no-ext-diff", base_commit, branch, "--"]
    if path is not None:
        args.append(path)
    return run_git(root, *args, strip=False)


def summarize(
    name: str,
    diff: DiffStats,
    checks: Mapping[str, CheckResult],
    cost: float | None,
    duration: float,
) -> AttemptSummary:
    """An attempt's summary from its diff and check results."""
    return AttemptSummary(
        name=name,
        checks_passed=sum(result.passed for result in checks.values()),
        checks_total=len(checks),
        lines_changed=diff.lines_changed,
        cost=cost,
        duration=duration,
        files_changed=diff.files_changed,
    )


def rank(attempts: Iterable[AttemptSummary]) -> list[AttemptSummary]:
    """Best attempt first, by RANKING_RULE; an unknown cost counts as dearer than any known one."""

    def key(attempt: AttemptSummary):
        return (
            not attempt.has_changes,
            -attempt.checks_passed,
            attempt.lines_changed,
            attempt.cost is None,
            attempt.cost or 0.0,
            attempt.duration,
            attempt.name,
        )

    return sorted(attempts, key=key)


def _diff_args(base_commit: str, branch: str) -> list[str]:
    return ["diff", "--find-renames", "--no-ext-diff", "-z", base_commit, branch, "--"]


def _name_status(
    root: Path | str, base_commit: str, branch: str
) -> dict[str, tuple[str, str | None]]:
    """{path: (status letter, old path or None)}, in git's order."""
    args = _diff_args(base_commit, branch)
    fields = run_git(root, *args[:1], "--name-status", *args[1:], strip=False).split("\0")
    result: dict[str, tuple[str, str | None]] = {}
    i = 0
    while i < len(fields) and fields[i]:
        letter = fields[i][0]
        if letter in "RC":
            result[fields[i + 2]] = (letter, fields[i + 1])
            i += 3
        else:
            result[fields[i + 1]] = (letter, None)
            i += 2
    return result


def _numstat(
    root: Path | str, base_commit: str, branch: str
) -> list[tuple[str, int | None, int | None]]:
    """(path, added, removed) per file; None counts for binary files."""
    args = _diff_args(base_commit, branch)
    fields = run_git(root, *args[:1], "--numstat", *args[1:], strip=False).split("\0")
    result: list[tuple[str, int | None, int | None]] = []
    i = 0
    while i < len(fields) and fields[i]:
        added, removed, path = fields[i].split("\t", 2)
        if path:
            i += 1
        else:  # a rename: the old and new paths follow as their own fields
            path = fields[i + 2]
            i += 3
        result.append((path, _count(added), _count(removed)))
    return result


def _count(text: str) -> int | None:
    return None if text == "-" else int(text)
