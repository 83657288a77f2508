"""Land the winning attempt on the base branch, or change nothing at all.

Before anything moves, the base checkout must be clean and the merge is tried
in memory (`git merge-tree`), so a conflict is reported without touching a
file. If git still stops half-way, the merge or rebase is aborted, leaving the
base branch, its index and working tree as they were.

Fleet commits skip git hooks: the checks the user configured are the gate,
and a hook that waits for input would hang the server thread running this.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fleet_tui.core.compare import diff_stats
from fleet_tui.core.gitrepo import (
    GitFailed,
    branch_exists,
    head_commit,
    identity_args,
    is_dirty,
    run_git,
    run_git_status,
)
from fleet_tui.core.worktree import WorktreeEntry, find_worktree, list_worktrees
from fleet_tui.errors import FleetError, UsageError

STRATEGIES = ("merge", "squash", "rebase")


class MergeConflict(FleetError):
    """The attempt conflicts with the base branch; nothing was changed."""

    def __init__(self, branch: str, base_branch: str, files: list[str]) -> None:
        self.files = files
        listed = ", ".join(files) if files else "(git named no file)"
        super().__init__(
            f"{branch} conflicts with {base_branch} in {listed}: nothing was changed; "
            "resolve it in the attempt's worktree (merge or rebase onto the base there), "
            "or pick another attempt"
        )


@dataclass(frozen=True)
class MergeResult:
    commit: str  # the base branch's new commit
    strategy: str
    files: list[str]  # files that changed on the base branch


def merge_attempt(
    root: Path | str,
    base_branch: str,
    branch: str,
    strategy: str = "merge",
    message: str | None = None,
    worktree_path: Path | str | None = None,
) -> MergeResult:
    """Land `branch` on `base_branch` with `strategy`: "merge" (--no-ff), "squash" or "rebase".

    Where `base_branch` is checked out (usually the main checkout), the merge
    happens there and that checkout must be clean; where it is checked out
    nowhere, a temporary worktree does the work, so the user's files are never
    touched. "rebase" replays the attempt onto the base in `worktree_path` (or
    wherever the branch is checked out, or a temporary worktree), then
    fast-forwards the base.
    """
    root = Path(root).resolve()
    if strategy not in STRATEGIES:
        raise UsageError(f"merge strategy {strategy!r} is unknown: use one of {', '.join(STRATEGIES)}")
    for name in (base_branch, branch):
        if not branch_exists(root, name):
            raise FleetError(
                f"branch {name} does not exist in {root}: check the name (git branch --list)"
            )
    before = head_commit(root, f"refs/heads/{base_branch}")
    if run_git(root, "rev-list", "--count", f"{before}..refs/heads/{branch}") == "0":
        raise FleetError(
            f"{branch} has nothing that {base_branch} does not already have: nothing to merge"
        )
    base_checkout = _checked_out_at(root, base_branch)
    if base_checkout is not None:
        _refuse_dirty(base_checkout.path, f"the checkout of {base_branch}")
        _refuse_untracked_in_the_way(base_checkout.path, before, f"refs/heads/{branch}")

    if strategy == "rebase":
        new_tip = _rebase(root, base_branch, branch, before, worktree_path)
        _fast_forward(root, base_branch, before, new_tip, base_checkout)
    else:
        conflicts = predict_conflicts(root, before, f"refs/heads/{branch}")
        if conflicts:
            raise MergeConflict(branch, base_branch, conflicts)
        with _checkout(root, base_branch, base_checkout) as where:
            if strategy == "merge":
                _merge(where, base_branch, branch, message)
            else:
                _squash(where, base_branch, branch, before, message)

    after = head_commit(root, f"refs/heads/{base_branch}")
    changed = run_git(root, "diff", "--name-only", "-z", before, after, strip=False)
    return MergeResult(after, strategy, [path for path in changed.split("\0") if path])


def predict_conflicts(root: Path | str, ours: str, theirs: str) -> list[str]:
    """Files that would conflict if `theirs` were merged into `ours`, computed without a checkout."""
    status, out = run_git_status(
        root, "merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", ours, theirs
    )
    if status == 0:
        return []
    if status != 1:
        raise FleetError(f"git could not try merging {theirs} into {ours}: {out.strip() or status}")
    fields = out.split("\0")
    names: list[str] = []
    for name in fields[1:]:  # the first field is the merged tree
        if not name:
            break
        if name not in names:
            names.append(name)
    return names


def base_moved(root: Path | str, base_branch: str, base_commit: str) -> bool:
    """True when `base_branch` no longer points at `base_commit` (checks ran on an older base)."""
    return head_commit(root, f"refs/heads/{base_branch}") != head_commit(root, base_commit)


def merge_summary(root: Path | str, base_branch: str, branch: str, base_commit: str) -> dict:
    """What merging `branch` would bring to `base_branch`, for a confirmation screen.

    Keys: base_branch, branch, base_commit, base_head, base_moved, commits
    ([{"commit", "subject"}], oldest first), files, files_changed, added,
    removed, conflicts (files that would conflict with the base as it is now).
    """
    base_head = head_commit(root, f"refs/heads/{base_branch}")
    tip = head_commit(root, f"refs/heads/{branch}")
    log = run_git(root, "log", "--reverse", "--format=%H%x00%s", f"{base_head}..{tip}")
    commits = [dict(zip(("commit", "subject"), line.split("\0", 1))) for line in log.splitlines()]
    stats = diff_stats(root, base_commit, tip)
    return {
        "base_branch": base_branch,
        "branch": branch,
        "base_commit": base_commit,
        "base_head": base_head,
        "base_moved": base_head != head_commit(root, base_commit),
        "commits": commits,
        "files": [file.path for file in stats.files],
        "files_changed": stats.files_changed,
        "added": stats.added,
        "removed": stats.removed,
        "conflicts": predict_conflicts(root, base_head, tip),
    }


def _merge(where: Path, base_branch: str, branch: str, message: str | None) -> None:
    message = message or f"Merge attempt {branch} into {base_branch}"
    try:
        run_git(
            where, *identity_args(where),
            "merge", "--no-ff", "--no-edit", "--no-verify", "-m", message, f"refs/heads/{branch}",
        )
    except GitFailed as error:
        _undo_merge(where, branch, base_branch, error)


def _squash(where: Path, base_branch: str, branch: str, before: str, message: str | None) -> None:
    if message is None:
        subjects = run_git(where, "log", "--reverse", "--format=- %s", f"{before}..refs/heads/{branch}")
        message = f"Land attempt {branch} (squashed)\n\n{subjects}"
    try:
        run_git(where, "merge", "--squash", f"refs/heads/{branch}")
    except GitFailed as error:
        _undo_merge(where, branch, base_branch, error)
    if run_git_status(where, "diff", "--cached", "--quiet")[0] == 0:
        run_git(where, "reset", "--merge")
        raise FleetError(f"{branch} changes nothing compared to {base_branch}: nothing to merge")
    try:
        run_git(where, *identity_args(where), "commit", "--quiet", "--no-verify", "-m", message)
    except GitFailed as error:
        run_git(where, "reset", "--merge")
        raise FleetError(
            f"committing the squashed {branch} failed ({error}): nothing was changed"
        ) from None


def _undo_merge(where: Path, branch: str, base_branch: str, error: GitFailed) -> None:
    """Put the checkout back as it was after a failed merge, then raise what went wrong."""
    conflicts = _unmerged_files(where)
    if run_git_status(where, "rev-parse", "--verify", "--quiet", "MERGE_HEAD")[0] == 0:
        run_git(where, "merge", "--abort")
    else:
        run_git(where, "reset", "--merge")  # a squash leaves no MERGE_HEAD to abort
    if conflicts:
        raise MergeConflict(branch, base_branch, conflicts) from None
    raise FleetError(
        f"merging {branch} into {base_branch} failed: {error}; nothing was changed"
    ) from None


def _rebase(
    root: Path, base_branch: str, branch: str, before: str, worktree_path: Path | str | None
) -> str:
    """Replay `branch` onto `before` in a checkout of it; return the branch's new tip."""
    if worktree_path is not None:
        entry = find_worktree(root, worktree_path)
        if entry is None or entry.branch != branch:
            raise FleetError(f"{worktree_path} is not a worktree of {root} with {branch} checked out")
    else:
        entry = _checked_out_at(root, branch)
    with _checkout(root, branch, entry) as where:
        _refuse_dirty(where, f"the worktree of {branch} (capture its work first)")
        try:
            run_git(
                where, *identity_args(where),
                "rebase", "--no-verify", "--no-autostash", "--no-update-refs", before,
            )
        except GitFailed as error:
            conflicts = _unmerged_files(where)
            if _rebase_in_progress(where):
                run_git(where, "rebase", "--abort")
            if conflicts:
                raise MergeConflict(branch, base_branch, conflicts) from None
            raise FleetError(
                f"rebasing {branch} onto {base_branch} failed: {error}; nothing was changed"
            ) from None
    return head_commit(root, f"refs/heads/{branch}")


def _fast_forward(
    root: Path, base_branch: str, before: str, new_tip: str, base_checkout: WorktreeEntry | None
) -> None:
    if base_checkout is None:
        # Nobody has the base checked out: move the ref, only if it is still where we saw it.
        ref = f"refs/heads/{base_branch}"
        run_git(root, "update-ref", "-m", f"fleet: land {new_tip}", ref, new_tip, before)
        return
    try:
        run_git(base_checkout.path, "merge", "--ff-only", new_tip)
    except GitFailed as error:
        raise FleetError(
            f"{base_branch} could not be fast-forwarded to the rebased attempt ({error}); "
            f"{base_branch} was not changed"
        ) from None


@contextmanager
def _checkout(root: Path, branch: str, entry: WorktreeEntry | None) -> Iterator[Path]:
    """Where `branch` is checked out, or a temporary worktree of it removed afterwards."""
    if entry is not None:
        yield entry.path
        return
    scratch = Path(tempfile.mkdtemp(prefix="fleet-merge-"))
    where = scratch / "checkout"
    try:
        run_git(root, "worktree", "add", "--quiet", str(where), branch)
        yield where
    finally:
        if where.exists():
            run_git(root, "worktree", "remove", "--force", str(where))
        shutil.rmtree(scratch, ignore_errors=True)
        run_git(root, "worktree", "prune")


def _checked_out_at(root: Path, branch: str) -> WorktreeEntry | None:
    for entry in list_worktrees(root):
        if entry.branch == branch and not entry.prunable:
            return entry
    return None


def _refuse_dirty(path: Path, what: str) -> None:
    dirty = is_dirty(path)
    if dirty:
        shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
        raise FleetError(
            f"{what} at {path} has uncommitted changes ({shown}): commit or stash them first"
        )


def _refuse_untracked_in_the_way(path: Path, before: str, branch: str) -> None:
    """Git silently overwrites ignored files a merge brings in; refuse instead of losing them."""
    added = run_git(
        path, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=A", before, branch, strip=False
    )
    for name in filter(None, added.split("\0")):
        target = path / name
        for candidate in [target, *target.parents]:
            if candidate == path:
                break
            # The new file itself must not exist; its folders may, but not as files.
            in_the_way = candidate.is_symlink() or (
                candidate.exists() if candidate == target else candidate.is_file()
            )
            if in_the_way:
                raise FleetError(
                    f"{candidate.relative_to(path)} exists in {path} but is not committed, and merging "
                    "would overwrite it: move it away first"
                )


def _unmerged_files(where: Path) -> list[str]:
    out = run_git(where, "diff", "--name-only", "-z", "--diff-filter=U", strip=False)
    return sorted(set(filter(None, out.split("\0"))))


def _rebase_in_progress(where: Path) -> bool:
    for name in ("rebase-merge", "rebase-apply"):
        if Path(where, run_git(where, "rev-parse", "--git-path", name)).exists():
            return True
    return False
