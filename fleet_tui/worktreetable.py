"""`fleet-tui worktrees` and `prune` as text: one line per worktree, sizes and ages people read."""

from __future__ import annotations

from fleet_tui.wire import WorktreeView


def format_size(size: float) -> str:
    """Bytes as 12K, 340M, 1.2G."""
    for unit, scale in (("T", 2**40), ("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return f"{size:.0f}B"


def format_age(seconds: float | None) -> str:
    """Seconds as 45s, 12m, 5h, 3d."""
    if seconds is None:
        return "-"
    for unit, scale in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= scale:
            return f"{seconds // scale:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def render_worktrees(worktrees: list[WorktreeView], base: str) -> str:
    if not worktrees:
        return "the fleet has no worktrees"
    rows = [("SESSION", "BRANCH", "SIZE", "AGE", f"MERGED INTO {base.upper()}", "UNCOMMITTED", "PATH")]
    for wt in worktrees:
        merged = "yes" if wt.merged else f"no ({wt.ahead} commits)"
        dirty = f"{len(wt.uncommitted)} files" if wt.uncommitted else "no"
        rows.append((wt.session or "-", wt.branch or "(detached)", format_size(wt.size),
                     format_age(wt.age), merged, dirty, wt.path + (" (folder gone)" if wt.missing else "")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    total = sum(wt.size for wt in worktrees)
    lines.append(f"{len(worktrees)} worktrees, {format_size(total)} on disk")
    return "\n".join(lines)
