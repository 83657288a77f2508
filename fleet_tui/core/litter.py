"""Agent litter: files the agent CLIs write for themselves, kept out of every attempt.

aider leaves its chat history (with its whole command line) in the folder it runs
in, Claude Code its local approvals. The presets list them (`litter:`), and so that
no attempt ever commits them, the fleet keeps one managed block of patterns in the
repository's private exclude file (`.git/info/exclude`, never committed, shared by
every worktree): git then treats them as ignored everywhere, so `git add --all`,
`git status` and the diffs of compare never see them. Paths the fleet symlinks
into worktrees (`link:`) go in the same block: a symlink is a file to git, so a
`node_modules/` rule in .gitignore does not cover it.

Patterns that match files already tracked on the base branch are not ignored by
git; `unstage_litter` takes their changes back out of a snapshot commit.
"""

from __future__ import annotations

from pathlib import Path

from fleet_tui.core.gitrepo import fleet_dir, fleet_state_dir, git_common_dir, run_git

BEGIN = "# >>> fleet-tui: agent litter and linked paths (rewritten by fleet-tui; edit fleet.yaml instead)"
END = "# <<< fleet-tui"
PATTERNS_FILE = "litter.exclude"  # the same patterns, in <git common dir>/fleet, for unstage_litter


def link_patterns(links: list[str]) -> list[str]:
    """A `link:` entry as an exclude rule for the symlink itself (a file, so no trailing slash)."""
    return ["/" + entry.strip("/") for entry in links]


def install(root: Path | str, patterns: list[str]) -> bool:
    """Make the managed block of the exclude file hold exactly `patterns`; True when it changed."""
    common = git_common_dir(root)
    wanted = list(dict.fromkeys(p.strip() for p in patterns if p.strip()))
    (fleet_state_dir(root) / PATTERNS_FILE).write_text("".join(p + "\n" for p in wanted))
    exclude = common / "info" / "exclude"
    text = exclude.read_text() if exclude.exists() else ""
    kept = _without_block(text.splitlines())
    block = [BEGIN, *wanted, END] if wanted else []
    lines = kept + block
    new = "\n".join(lines) + "\n" if lines else ""
    if new == text:
        return False
    exclude.parent.mkdir(parents=True, exist_ok=True)
    tmp = exclude.with_name("exclude.fleet-tmp")
    tmp.write_text(new)
    tmp.replace(exclude)
    return True


def _without_block(lines: list[str]) -> list[str]:
    out: list[str] = []
    inside = False
    for line in lines:
        if line == BEGIN:
            inside = True
        elif inside and line == END:
            inside = False
        elif not inside:
            out.append(line)
    return out


def unstage_litter(worktree: Path | str) -> list[str]:
    """Take tracked litter files back out of the index (after `git add --all`); the paths unstaged."""
    patterns = fleet_dir(worktree) / PATTERNS_FILE
    if not patterns.is_file() or not patterns.read_text().strip():
        return []
    out = run_git(worktree, "ls-files", "-z", "--cached", "--ignored", f"--exclude-from={patterns}", strip=False)
    paths = [path for path in out.split("\0") if path]
    if paths:
        run_git(worktree, "reset", "--quiet", "--", *paths)
    return paths
