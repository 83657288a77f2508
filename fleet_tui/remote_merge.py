"""Merging an attempt made on another machine into the local repository.

The remote fleet captures the attempt's work as a commit on its branch (as for a local merge);
git fetches that branch over the same ssh (sharing the link's connection) into the local branch
machines/<machine>/<session>; the local fleet lands it with the guarantees of a local merge (a
dirty base or a conflict changes nothing); then the remote fleet discards the run's other attempts
and the winner's worktree, as a local merge does.
"""

from __future__ import annotations

import asyncio

from fleet_tui import ssh
from fleet_tui.client import FleetClient
from fleet_tui.core.runs import FETCHED_PREFIX
from fleet_tui.core.gitfetch import fetch_branch
from fleet_tui.errors import FleetError
from fleet_tui.machines import Machine
from fleet_tui.wire import MergeAnswer, MergeSummary


def fetched_branch(machine: Machine, session: str) -> str:
    return f"{FETCHED_PREFIX}{machine.name}/{session}"


async def fetch_attempt(local: FleetClient, remote: FleetClient, machine: Machine, session: str) -> MergeSummary:
    """Capture the remote attempt's work, fetch it here; returns the local merge summary."""
    remote_summary = await remote.merge_summary(session)
    into = fetched_branch(machine, session)
    await asyncio.to_thread(fetch_branch, local.root, f"{machine.dest}:{remote.root}", remote_summary.branch,
                            into, ssh.ssh_command(machine.dest))
    summary = await local.merge_branch_summary(into)
    return summary.model_copy(update={"session": f"{machine.name}:{session}", "fetched": into, "discard": [
        f"{machine.name}:{name}" for name in remote_summary.discard]})


async def merge_remote(local: FleetClient, remote: FleetClient, machine: Machine, session: str,
                       strategy: str = "merge", keep: bool = False) -> MergeAnswer:
    """Land the remote attempt `session` on the local base branch, then tidy its run up there."""
    status = {s.name: s for s in (await remote.status()).sessions}
    if session in status and status[session].status == "working":
        raise FleetError(f"{machine.name}:{session} is still working: wait until it is idle, or "
                         f"`fleet-tui kill {machine.name}:{session}` first")
    summary = await fetch_attempt(local, remote, machine, session)
    assert summary.fetched is not None
    result = await local.merge_branch(summary.fetched, label=f"{machine.name}:{session}", strategy=strategy)
    discarded = []
    if not keep:
        for target in summary.discard:
            await remote.discard(target.split(":", 1)[1])
            discarded.append(target)
        # As for a local merge: the winner's worktree goes, its branch stays there as a record.
        await remote.discard(session, keep_branch=True)
    return result.model_copy(update={"discarded": discarded, "fetched": summary.fetched})

