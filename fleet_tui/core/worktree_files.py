"""Files a new worktree gets from the main checkout: `copy:`, `.worktreeinclude` and `link:`.

A fresh worktree holds only what git tracks; the ignored files a project needs to
run (`.env`, local config, `node_modules`) live only in the main checkout.
`.worktreeinclude` at the repository root lists them in .gitignore syntax, with the
meaning Claude Code and agent-deck give it: a file is copied when it matches a
pattern there AND git ignores it. `link:` makes a symlink to the main checkout's
copy instead (a shared `node_modules` costs no disk).

Nothing is ever read or written through a link that leads out of the repository:
a symlink among the copied files is copied as a link only when it is relative and
stays inside the repository, and a destination whose folder resolves outside the
new worktree (a tracked symlink) is refused.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from fleet_tui.core.gitrepo import run_git
from fleet_tui.errors import UsageError

INCLUDE_FILE = ".worktreeinclude"


@dataclass
class FilesReport:
    """What went into a worktree, and what was left out and why (one line each)."""

    copied: list[str] = field(default_factory=list)  # top-level entries copied (a folder once)
    linked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def check_pattern(pattern: str, key: str) -> None:
    """A `copy:` or `link:` entry must stay inside the repository."""
    pure = Path(pattern)
    if not pattern.strip() or pure.is_absolute() or ".." in pure.parts:
        raise UsageError(f"{key} entry {pattern!r} must be a path relative to the repository, without '..'")


def included_files(root: Path) -> list[str]:
    """Paths (relative, sorted) of files `.worktreeinclude` names that git also ignores."""
    include = root / INCLUDE_FILE
    if not include.is_file() or not _inside(include.resolve(), root):
        return []
    matching = _listed(root, f"--exclude-from={include}")
    if not matching:
        return []
    # Whole ignored folders (node_modules) come as one "folder/" line: far fewer to list.
    ignored = set(_listed(root, "--exclude-standard", "--directory"))
    return sorted(path for path in matching if path in ignored or _in_listed_folder(path, ignored))


def _listed(root: Path, *options: str) -> list[str]:
    """Untracked files that the given exclude rules call ignored (symlinks as themselves)."""
    out = run_git(root, "ls-files", "-z", "--others", "--ignored", *options, strip=False)
    return [path for path in out.split("\0") if path]


def _in_listed_folder(path: str, listed: set[str]) -> bool:
    parts = path.split("/")
    return any("/".join(parts[:n]) + "/" in listed for n in range(1, len(parts)))


def copy_entry(root: Path, target: Path, relative: str, report: FilesReport) -> bool:
    """Copy one file, link or folder from the main checkout into the worktree `target`.

    True when something was copied. Links that leave the repository, and
    destinations that would be written through a link, are skipped and reported.
    """
    source = root / relative
    if ".git" in Path(relative).parts:
        return False
    if not _inside(Path(os.path.realpath(source.parent)), root):
        report.skipped.append(f"{relative}: its folder is a link out of the repository; not copied")
        return False
    destination = target / relative
    if not _inside(destination.parent.resolve(), target):
        report.skipped.append(f"{relative}: its folder in the worktree is a link out of it")
        return False
    if source.is_symlink():
        return _copy_link(root, source, destination, relative, report)
    if source.is_dir():
        return _copy_tree(root, source, destination, relative, report)
    if source.is_file():
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.is_symlink() or destination.is_dir():
            report.skipped.append(f"{relative}: the worktree already has a link or folder there")
            return False
        shutil.copy2(source, destination, follow_symlinks=False)
        return True
    return False  # sockets, fifos: nothing a worktree needs


def _copy_tree(root: Path, source: Path, destination: Path, relative: str, report: FilesReport) -> bool:
    copied = False
    for folder, dirs, files in os.walk(source, followlinks=False):
        here = Path(folder)
        for name in list(dirs):
            path = here / name
            if path.is_symlink():  # a linked folder is a link here, never walked into
                dirs.remove(name)
                copied |= _copy_link(root, path, destination / path.relative_to(source),
                                     path.relative_to(root).as_posix(), report)
            elif name == ".git":
                dirs.remove(name)
        for name in files:
            path = here / name
            rel = path.relative_to(root).as_posix()
            out = destination / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                copied |= _copy_link(root, path, out, rel, report)
            elif path.is_file() and not out.is_symlink():
                shutil.copy2(path, out, follow_symlinks=False)
                copied = True
    return copied


def _copy_link(root: Path, source: Path, destination: Path, relative: str, report: FilesReport) -> bool:
    """A symlink is copied as the same relative link when it points inside the repository."""
    pointing = os.readlink(source)
    if os.path.isabs(pointing):
        report.skipped.append(f"{relative}: a link to an absolute path ({pointing}) is not copied")
        return False
    if not _inside(Path(os.path.realpath(source.parent / pointing)), root):
        report.skipped.append(f"{relative}: links out of the repository ({pointing}); not copied")
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists() or destination.is_symlink():
        report.skipped.append(f"{relative}: the worktree already has something there")
        return False
    os.symlink(pointing, destination)
    return True


def link_entry(root: Path, target: Path, relative: str, report: FilesReport) -> bool:
    """Make `target/relative` a symlink to the main checkout's `relative` (a folder or file).

    The main checkout's entry must really be inside the repository (a `node_modules`
    that is itself a link elsewhere is refused), and the worktree must not have its
    own copy (a tracked path is checked out already).
    """
    source = root / relative
    if not source.exists():
        return False
    real = Path(os.path.realpath(source))
    if not _inside(real, root) or real == root:
        report.skipped.append(f"{relative}: leads out of the repository; not linked")
        return False
    destination = target / relative
    if destination.exists() or destination.is_symlink():
        report.skipped.append(f"{relative}: the worktree has its own (tracked?) copy; not linked")
        return False
    if not _inside(destination.parent.resolve(), target):
        report.skipped.append(f"{relative}: its folder in the worktree is a link out of it")
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(real, destination)
    return True


def _inside(path: Path, folder: Path) -> bool:
    folder = folder.resolve()
    return path == folder or path.is_relative_to(folder)
