"""Facts about the user's git repository, and one way to run git that fails with a clear message.

Every git call of the engine goes through `run_git`, so a failing git command
reaches the user as a one-line FleetError, never as a GitCommandError traceback.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from fleet_tui.errors import FleetError, UsageError

# Identity used for the fleet's own commits when the user has none configured.
FLEET_NAME = "fleet-tui"
FLEET_EMAIL = "fleet-tui@localhost"

# Git must never wait for a human: no editor, no credential prompt.
_QUIET_ENV = {"GIT_EDITOR": "true", "GIT_TERMINAL_PROMPT": "0", "GIT_MERGE_AUTOEDIT": "no"}


class GitFailed(FleetError):
    """A git command failed; `stderr` keeps git's own words for callers that inspect them."""

    def __init__(self, message: str, status: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.stderr = stderr


def _execute(cwd: Path | str, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, env={**os.environ, **_QUIET_ENV}, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, encoding="utf-8", errors="surrogateescape",
        )
    except (FileNotFoundError, NotADirectoryError):
        if not Path(cwd).is_dir():
            raise FleetError(f"folder {cwd} does not exist: check the path") from None
        raise FleetError("git is not installed or not on PATH: install git first") from None


def run_git(cwd: Path | str, *args: str, strip: bool = True) -> str:
    """Run `git <args>` in `cwd` and return its stdout; raise GitFailed with git's reason on failure."""
    done = _execute(cwd, args)
    if done.returncode != 0:
        reason = _last_line(done.stderr) or _last_line(done.stdout) or f"exit status {done.returncode}"
        raise GitFailed(f"git {args[0]} failed in {cwd}: {reason}", status=done.returncode, stderr=done.stderr)
    out = done.stdout
    return out[:-1] if strip and out.endswith("\n") else out


def run_git_status(cwd: Path | str, *args: str) -> tuple[int, str]:
    """Run `git <args>` for commands whose exit status is an answer: (status, stdout)."""
    done = _execute(cwd, args)
    return done.returncode, done.stdout


def git_ok(cwd: Path | str, *args: str) -> bool:
    """True when `git <args>` exits 0 (for yes/no questions such as `rev-parse --verify`)."""
    return run_git_status(cwd, *args)[0] == 0


def find_repo_root(path: Path | str) -> Path:
    """The top folder of the working tree that contains `path`."""
    path = Path(path).resolve()
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder: run fleet-tui inside a git repository")
    try:
        top = run_git(path, "rev-parse", "--show-toplevel")
    except GitFailed:
        top = ""
    if not top:
        raise UsageError(
            f"{path} is not inside a git repository: run fleet-tui inside one, or `git init` first"
        )
    return Path(top).resolve()


def git_common_dir(root: Path | str) -> Path:
    """The git directory shared by the repository and all its worktrees (usually <repo>/.git)."""
    common = Path(run_git(root, "rev-parse", "--git-common-dir"))
    if not common.is_absolute():
        common = Path(root) / common
    return common.resolve()


def fleet_dir(root: Path | str) -> Path:
    """<git common dir>/fleet: the fleet's own files, where no worktree ever sees them (from any worktree)."""
    return git_common_dir(root) / "fleet"


def fleet_state_dir(root: Path | str) -> Path:
    """fleet_dir, made if missing and kept private."""
    state = fleet_dir(root)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    if state.stat().st_mode & 0o077:
        state.chmod(0o700)  # it holds prompts and the audit trail: its user's only (older versions made it 0755)
    return state


def ensure_has_commits(root: Path | str) -> None:
    """Raise a clear error for a repository without a first commit (nothing to branch from)."""
    if not git_ok(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"):
        raise FleetError(
            f"the repository at {root} has no commits yet: make a first commit "
            "(git add . && git commit) before starting a fleet"
        )


def current_branch(root: Path | str) -> str:
    """The branch checked out at `root`."""
    ensure_has_commits(root)
    try:
        return run_git(root, "symbolic-ref", "--quiet", "--short", "HEAD")
    except GitFailed:
        raise FleetError(
            f"{root} is on a detached HEAD, not a branch: check out the branch the fleet "
            "should work from (git switch <branch>)"
        ) from None


def head_commit(root: Path | str, ref: str = "HEAD") -> str:
    """The full commit id `ref` points at."""
    if ref == "HEAD":
        ensure_has_commits(root)
    try:
        return run_git(
            root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
        )
    except GitFailed:
        raise FleetError(f"{ref!r} is not a commit or branch of {root}: check its spelling") from None


def branch_exists(root: Path | str, branch: str) -> bool:
    return git_ok(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")


def is_dirty(path: Path | str, untracked: bool = False) -> list[str]:
    """Tracked files with changes at `path`, staged or not; untracked ones too if asked (ignored never)."""
    out = run_git(path, "status", "--porcelain=v1", "-z", f"--untracked-files={'all' if untracked else 'no'}",
                  strip=False)
    files: list[str] = []
    entries = iter(out.split("\0"))
    for entry in entries:
        if not entry:
            continue
        files.append(entry[3:])
        if entry[0] in "RC":
            next(entries, None)  # a rename's second field is its old path
    return files


def identity_args(path: Path | str) -> list[str]:
    """`-c` options giving commits an author when the user configured none (else nothing)."""
    args: list[str] = []
    if not git_ok(path, "config", "user.name"):
        args += ["-c", f"user.name={FLEET_NAME}"]
    if not git_ok(path, "config", "user.email"):
        args += ["-c", f"user.email={FLEET_EMAIL}"]
    return args


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
