"""Each session works in its own git worktree, on its own branch, in a folder outside the repo.

Keeping worktrees outside the repository (by default `<parent>/<repo>.worktrees/`)
means file watchers, test runners and `git status` in the main checkout never
see them. Removal only ever touches paths git itself lists as worktrees of this
repository, so a mistyped path can never delete something else.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from fleet_tui.core.checks import Command, CommandResult, run_command
from fleet_tui.core.gitrepo import (
    GitFailed,
    branch_exists,
    git_common_dir,
    git_ok,
    head_commit,
    run_git,
)
from fleet_tui.names import check_name, path_inside
from fleet_tui.core.worktree_files import FilesReport, check_pattern, copy_entry, included_files, link_entry
from fleet_tui.errors import FleetError, UsageError

BRANCH_PREFIX = "fleet"
# Written into a worktree's private folder in git's records (.git/worktrees/<id>/) when the fleet
# makes it: how `prune` tells the fleet's worktrees from ones made by hand. It goes away with
# the worktree, and no checkout ever sees it.
FLEET_MARKER = "fleet-tui.json"


@dataclass(frozen=True)
class Worktree:
    """A session's worktree as created: where, on which branch, from which commit."""

    name: str
    path: Path
    branch: str
    base_commit: str
    copied: list[str] = field(default_factory=list)  # files copied from the main checkout
    missing: list[str] = field(default_factory=list)  # copy_files entries that matched nothing
    linked: list[str] = field(default_factory=list)  # symlinks to the main checkout (`link:`)
    skipped: list[str] = field(default_factory=list)  # one line each: what was left out and why


@dataclass(frozen=True)
class WorktreeEntry:
    """One line of `git worktree list`: any worktree of the repository, ours or not."""

    path: Path
    head: str | None  # None before the first commit
    branch: str | None  # None when detached
    is_main: bool
    locked: bool = False
    prunable: bool = False  # its folder is gone; `git worktree prune` forgets it


def session_branch(session_name: str, run_id: str | None = None) -> str:
    """The branch of a session: fleet/<run_id>/<session>, or fleet/<session> outside a run."""
    check_name(session_name, "session")
    if run_id is None:
        return f"{BRANCH_PREFIX}/{session_name}"
    check_name(run_id, "run")
    return f"{BRANCH_PREFIX}/{run_id}/{session_name}"


def default_worktree_folder(root: Path | str) -> Path:
    root = Path(root).resolve()
    return root.parent / f"{root.name}.worktrees"


def worktree_folder(root: Path | str, configured: Path | str | None = None) -> Path:
    """Where session worktrees go: the configured folder (relative to the repo root) or the default.

    A folder inside the repository is allowed when configured; it is then added
    to the repository's private exclude file so it never shows up as untracked.
    """
    root = Path(root).resolve()
    if configured is None or str(configured) == "":
        return default_worktree_folder(root)
    folder = (root / Path(configured).expanduser()).resolve()
    if folder == root:
        raise UsageError(
            f"the worktree folder cannot be the repository itself ({root}): pick another folder"
        )
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"worktrees: {folder} is a file, not a folder: fix `worktrees:` in fleet.yaml")
    if folder.is_relative_to(root):
        _exclude(root, folder.relative_to(root))
    return folder


def name_in_use(root: Path | str, folder: Path | str, session_name: str) -> bool:
    """True when a session of this name would collide with a branch or folder already there."""
    return branch_exists(root, session_branch(session_name)) or (Path(root) / folder / session_name).exists()


def create_worktree(
    root: Path | str,
    folder: Path | str,
    session_name: str,
    branch: str,
    base_ref: str = "HEAD",
    copy_files: list[str] | tuple[str, ...] = (),
    *,
    check_out: bool = True,
    link: list[str] | tuple[str, ...] = (),
) -> Worktree:
    """A new branch from `base_ref`'s commit, checked out in `<folder>/<session_name>`.

    `copy_files` are paths or glob patterns relative to the repository root
    (typically ignored files such as `.env`, or folders); they are copied from
    the main checkout, and those that match nothing are listed in `missing`.
    Ignored files named by the repository's `.worktreeinclude` are copied too, and
    `link` entries become symlinks to the main checkout's (see worktree_files).
    With check_out=False only git's records are made; `fill_worktree` writes the
    files, and may run alongside other worktrees' (`git worktree add` may not: it
    reads every other worktree's records, half-written while another add runs).
    """
    root = Path(root).resolve()
    path = path_inside(root / folder, session_name)  # an absolute folder stays as it is
    base_commit = head_commit(root, base_ref)
    if not git_ok(root, "check-ref-format", "--branch", branch):
        raise UsageError(
            f"{branch!r} is not a valid branch name: use letters, digits, '-', '_' and '/'"
        )
    if branch_exists(root, branch):
        raise FleetError(
            f"branch {branch} already exists and may hold an agent's commits: pick another session "
            f"name (`git log {branch}` shows what it holds)"
        )
    if path.exists():
        raise FleetError(
            f"{path} already exists: pick another session name, or remove that folder first"
        )
    _expand(root, copy_files, "copy")  # a bad pattern fails before anything is created
    _expand(root, link, "link")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"the worktree folder {path.parent} cannot be created ({error.strerror}): "
            "fix `worktrees:` in fleet.yaml"
        ) from None
    run_git(root, "worktree", "add", "--no-checkout", "-b", branch, str(path), base_commit)
    _mark_fleet_made(path, session_name, branch)
    created = Worktree(session_name, path, branch, base_commit)
    return fill_worktree(root, created, copy_files, link) if check_out else created


def fill_worktree(root: Path | str, created: Worktree, copy_files: list[str] | tuple[str, ...] = (),
                  link: list[str] | tuple[str, ...] = ()) -> Worktree:
    """Write the files of a worktree made with check_out=False, then bring in the ignored files.

    Links come first, so a file `.worktreeinclude` names inside a linked folder is
    not copied on top of the link.
    """
    root = Path(root).resolve()
    run_git(created.path, "reset", "--hard", "--quiet")
    report = FilesReport()
    links = _expand(root, link, "link")
    sources = _expand(root, copy_files, "copy")
    try:
        for matches in links.values():
            for source in matches:
                relative = source.relative_to(root).as_posix()
                if link_entry(root, created.path, relative, report):
                    report.linked.append(relative)
        linked = tuple(report.linked)
        wanted = [s.relative_to(root).as_posix() for found in sources.values() for s in found]
        wanted += [p for p in included_files(root) if p not in wanted]
        for relative in wanted:
            if any(relative == l or relative.startswith(l + "/") for l in linked):
                continue
            if copy_entry(root, created.path, relative, report):
                report.copied.append(relative)
    except OSError as error:
        remove_worktree(root, created.path, created.branch)
        raise FleetError(
            f"could not copy {error.filename} into the new worktree ({error.strerror}): "
            "nothing was created; check that file's permissions"
        ) from None
    missing = [pattern for pattern, found in {**sources, **links}.items() if not found]
    return Worktree(created.name, created.path, created.branch, created.base_commit,
                    report.copied, missing, report.linked, report.skipped)


def _mark_fleet_made(path: Path, session_name: str, branch: str) -> None:
    git_dir = Path(run_git(path, "rev-parse", "--absolute-git-dir"))
    marker = {"session": session_name, "branch": branch, "created": time.time()}
    (git_dir / FLEET_MARKER).write_text(json.dumps(marker))


def fleet_marker(path: Path | str) -> dict | None:
    """What the fleet wrote when it made the worktree at `path`; None for any other folder.

    The marker must sit in git's own record of a linked worktree of this kind
    (`<common dir>/worktrees/<id>`), so a submodule's git folder or a copied `.git` never passes.
    """
    try:
        git_dir = Path(run_git(path, "rev-parse", "--absolute-git-dir")).resolve()
        common = git_common_dir(path)
    except FleetError:
        return None
    if git_dir.parent != common / "worktrees":
        return None
    return read_marker(git_dir)


def read_marker(admin_dir: Path) -> dict | None:
    """The marker in a linked worktree's folder of git records, if the fleet made it."""
    try:
        data = json.loads((admin_dir / FLEET_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run_setup(path: Path | str, commands: list[Command], timeout: float,
              env: dict[str, str] | None = None) -> list[CommandResult]:
    """Run setup commands in order in a fresh worktree (install deps, ...).

    Stops at the first failure or timeout, since later steps usually need the
    earlier ones; the last result then tells what went wrong. Never raises for
    a failing command.
    """
    results: list[CommandResult] = []
    for command in commands:
        result = run_command(path, command, timeout, env=env)
        results.append(result)
        if not result.passed:
            break
    return results


def run_teardown(path: Path | str, commands: list[Command], timeout: float,
                 env: dict[str, str] | None = None) -> list[CommandResult]:
    """Run teardown commands in a worktree about to be removed (stop containers, drop a database).

    Every command runs even after one fails: each usually cleans up something of
    its own. Each has `timeout` seconds. Never raises for a failing command.
    """
    return [run_command(path, command, timeout, env=env) for command in commands]


def list_worktrees(root: Path | str) -> list[WorktreeEntry]:
    """Every worktree of the repository, the main checkout first."""
    out = run_git(root, "worktree", "list", "--porcelain", "-z", strip=False)
    entries: list[WorktreeEntry] = []
    for block in out.split("\0\0"):
        fields = [line for line in block.split("\0") if line]
        if not fields:
            continue
        info: dict[str, str] = {}
        for line in fields:
            key, _, value = line.partition(" ")
            info[key] = value
        if "bare" in info:
            continue
        branch = info.get("branch")
        entries.append(
            WorktreeEntry(
                path=Path(info["worktree"]),
                head=info.get("HEAD") if info.get("HEAD", "").strip("0") else None,
                branch=branch.removeprefix("refs/heads/") if branch else None,
                is_main=not entries,
                locked="locked" in info,
                prunable="prunable" in info,
            )
        )
    return entries


def find_worktree(root: Path | str, path: Path | str) -> WorktreeEntry | None:
    """The worktree of this repository at `path`, if there is one."""
    wanted = Path(path).resolve()
    for entry in list_worktrees(root):
        if entry.path.resolve() == wanted:
            return entry
    return None


def remove_worktree(
    root: Path | str, path: Path | str, branch: str | None = None, keep_branch: bool = False
) -> None:
    """Remove a session's worktree, uncommitted work included, and its branch unless kept.

    Refuses anything git does not list as a linked worktree of this repository,
    and refuses to delete a branch that is not the one checked out there.
    """
    root = Path(root).resolve()
    entry = find_worktree(root, path)
    if entry is None:
        raise FleetError(
            f"{path} is not a worktree of {root}: nothing was removed "
            "(see `git worktree list` for the worktrees of this repository)"
        )
    if entry.is_main:
        raise FleetError(f"{path} is the repository's main checkout: it is never removed")
    if branch is not None and entry.branch is not None and entry.branch != branch:
        raise FleetError(
            f"{path} has branch {entry.branch} checked out, not {branch}: nothing was removed; "
            "check which session this worktree belongs to"
        )
    if entry.locked:
        raise FleetError(
            f"worktree {path} is locked: run `git worktree unlock {path}` first if it may go"
        )
    if entry.path.exists():
        run_git(root, "worktree", "remove", "--force", str(entry.path))
    else:
        run_git(root, "worktree", "prune")
    branch = branch or entry.branch
    if branch and not keep_branch and branch_exists(root, branch):
        try:
            run_git(root, "branch", "-D", "--end-of-options", branch)
        except GitFailed as error:
            raise FleetError(
                f"worktree {path} was removed but branch {branch} could not be deleted "
                f"({error.stderr.strip() or error}): delete it with `git branch -D {branch}`"
            ) from None


def forget_worktree(
    root: Path | str, path: Path | str, branch: str | None = None, keep_branch: bool = False
) -> None:
    """remove_worktree, for a session's own worktree that may already be gone.

    A folder deleted by hand and pruned from git's records is not an error here: the session
    is forgotten and its branch deleted (unless kept), and nothing else is touched.
    """
    root = Path(root).resolve()
    if Path(path).exists() or find_worktree(root, path) is not None:
        remove_worktree(root, path, branch, keep_branch)
    elif branch and not keep_branch and branch_exists(root, branch) and not _checked_out(root, branch):
        run_git(root, "branch", "-D", "--end-of-options", branch)


def _checked_out(root: Path, branch: str) -> bool:
    return any(entry.branch == branch for entry in list_worktrees(root))


def _expand(root: Path, patterns: list[str] | tuple[str, ...], key: str) -> dict[str, list[Path]]:
    """Each `copy:`/`link:` pattern with the existing paths it matches in the main checkout."""
    found: dict[str, list[Path]] = {}
    for pattern in patterns:
        check_pattern(pattern, key)
        matches = sorted(root.glob(pattern)) if _is_glob(pattern) else [root / pattern]
        found[pattern] = [match for match in matches if match.exists() and _copyable(root, match)]
    return found


def _copyable(root: Path, path: Path) -> bool:
    # Never the whole checkout, never git's own files.
    parts = path.relative_to(root).parts
    return bool(parts) and ".git" not in parts


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def _exclude(root: Path, relative: Path) -> None:
    """Add a folder inside the repository to .git/info/exclude (once)."""
    exclude = git_common_dir(root) / "info" / "exclude"
    line = "/" + relative.as_posix() + "/"
    existing = exclude.read_text().splitlines() if exclude.exists() else []
    if line not in existing:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a") as file:
            file.write(("\n" if existing and existing[-1] else "") + line + "\n")
