"""Plain-text views of a run's comparison and a merge summary, for the CLI."""

from __future__ import annotations

from typing import Any

from fleet_tui.text import plural


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def render_compare(result: dict[str, Any]) -> str:
    lines = [f"run {result['run']}: {result['prompt']!r}",
             f"base {result['base_branch']} @ {result['base_commit'][:10]}"
             + ("  (the base branch has moved since: checks ran on the old base)" if result.get("base_moved") else "")]
    check_names = list(result.get("check_names", []))
    header = ["#", "ATTEMPT", "AGENT", "STATUS", "TIME", "COST", "FILES", "+/-", *[n.upper() for n in check_names]]
    rows = [header]
    for a in result["attempts"]:
        checks = a.get("checks", {})
        rows.append([
            str(a["rank"]), a["session"], a["agent"], a["status"], _duration(a.get("duration")),
            f"${a['cost']:.2f}" if a.get("cost") is not None else "-",
            str(a.get("files_changed", 0)), f"+{a.get('added', 0)}/-{a.get('removed', 0)}",
            *[_check_cell(checks.get(n)) for n in check_names],
        ])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.append(f"ranking: {result['ranking_rule']}")
    if result["attempts"]:
        lines.append(f"merge the best with: fleet-tui merge {result['attempts'][0]['session']}")
    return "\n".join(lines)


def _check_cell(check: dict[str, Any] | None) -> str:
    if not check:
        return "-"
    if check.get("timed_out"):
        return "timeout"
    return "pass" if check.get("passed") else "FAIL"


def render_merge_summary(summary: dict[str, Any]) -> str:
    lines = [f"merge {summary['session']} ({summary['branch']}) into {summary['base']}:",
             f"  {plural(len(summary.get('commits', [])), 'commit')}, {plural(summary.get('files_changed', 0), 'file')}, "
             f"+{summary.get('added', 0)}/-{summary.get('removed', 0)}"]
    for commit in summary.get("commits", [])[:10]:
        lines.append(f"    {commit['commit'][:10]} {commit['subject']}")
    for path in summary.get("files", [])[:20]:
        lines.append(f"    {path}")
    if summary.get("conflicts"):
        lines.append(f"  WILL CONFLICT in: {', '.join(summary['conflicts'])} (the merge would be refused)")
    if summary.get("base_moved"):
        lines.append(f"  note: {summary['base']} has moved since the run began; the checks ran on the old base")
    others = summary.get("discard", [])
    if others:
        lines.append(f"  then discard the other attempts: {', '.join(others)}")
    return "\n".join(lines)
