"""Real git repositories in tmp dirs for the engine's git tests.

tests/git has no __init__.py on purpose: as a package it would be named `git`
and shadow gitpython for the whole test run.
"""

import subprocess
from pathlib import Path

import pytest


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` for a test, returning stdout; a failure fails the test."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def commit_file(repo: Path, name: str, text: str, message: str | None = None) -> str:
    """Write `name`, commit it, and return the new commit id."""
    target = repo / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git(repo, "add", "--", name)
    git(repo, "commit", "-q", "-m", message or f"change {name}")
    return git(repo, "rev-parse", "HEAD").strip()


def snapshot(path: Path) -> dict:
    """HEAD, status (untracked included) and every file's bytes: what "left as it was" means."""
    files = {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(path).parts
    }
    return {
        "head": git(path, "rev-parse", "HEAD"),
        "status": git(path, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        "files": files,
    }


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "commit.gpgsign", "false")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository `project` with three commits on main, `.env` ignored but present."""
    path = init_repo(tmp_path / "project")
    commit_file(path, ".gitignore", ".env\n*.log\n", "ignore secrets and logs")
    commit_file(path, "app.py", "def answer():\n    return 41\n", "first app")
    commit_file(path, "README.md", "# project\n", "readme")
    (path / ".env").write_text("TOKEN=secret\n")
    return path
