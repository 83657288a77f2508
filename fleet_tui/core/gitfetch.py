"""Bring a branch of another clone of the repository (on another machine) into this one, with
git's own transport, so it can be compared and merged like a local attempt."""

from __future__ import annotations

import shlex
from pathlib import Path

from fleet_tui.core.gitrepo import GitFailed, head_commit, run_git
from fleet_tui.errors import FleetError


def fetch_branch(root: Path | str, source: str, branch: str, into: str, ssh_command: list[str] | None = None) -> str:
    """Fetch `branch` of the repository at `source` (a path, or DEST:PATH over ssh) into the local
    branch `into`, replacing what an earlier fetch left there; returns its commit.

    `ssh_command` is the ssh git runs (git quotes the remote path for the remote shell itself).
    """
    config = ["-c", f"core.sshCommand={shlex.join(ssh_command)}"] if ssh_command else []
    try:
        run_git(root, *config, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", source,
                f"+refs/heads/{branch}:refs/heads/{into}")
    except GitFailed as error:
        raise FleetError(f"could not fetch {branch} from {source}: {error}") from None
    return head_commit(root, f"refs/heads/{into}")
