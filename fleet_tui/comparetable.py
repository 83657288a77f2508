"""Plain-text views of a run's comparison and a merge summary, for the CLI."""

from __future__ import annotations

from fleet_tui.text import plural
from fleet_tui.wire import CheckView, CompareAnswer, MergeSummary


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def render_compare(result: CompareAnswer) -> str:
    lines = [f"run {result.run}: {result.prompt!r}",
             f"base {result.base_branch} @ {result.base_commit[:10]}"
             + ("  (the base branch has moved since: checks ran on the old base)" if result.base_moved else "")]
    check_names = list(result.check_names)
    header = ["#", "ATTEMPT", "AGENT", "STATUS", "TIME", "COST", "FILES", "+/-", *[n.upper() for n in check_names]]
    rows = [header]
    for a in result.attempts:
        rows.append([
            str(a.rank), a.session, a.agent, a.status, _duration(a.duration),
            f"${a.cost:.2f}" if a.cost is not None else "-",
            str(a.files_changed), f"+{a.added}/-{a.removed}",
            *[_check_cell(a.checks.get(n)) for n in check_names],
        ])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.append(f"ranking: {result.ranking_rule}")
    if result.attempts:
        lines.append(f"merge the best with: fleet-tui merge {result.attempts[0].session}")
    return "\n".join(lines)


def _check_cell(check: CheckView | None) -> str:
    if not check:
        return "-"
    if check.timed_out:
        return "timeout"
    return "pass" if check.passed else "FAIL"


def render_merge_summary(summary: MergeSummary) -> str:
    lines = [f"merge {summary.session} ({summary.branch}) into {summary.base}:",
             f"  {plural(len(summary.commits), 'commit')}, {plural(summary.files_changed, 'file')}, "
             f"+{summary.added}/-{summary.removed}"]
    for commit in summary.commits[:10]:
        lines.append(f"    {commit.commit[:10]} {commit.subject}")
    for path in summary.files[:20]:
        lines.append(f"    {path}")
    if summary.conflicts:
        lines.append(f"  WILL CONFLICT in: {', '.join(summary.conflicts)} (the merge would be refused)")
    if summary.base_moved:
        lines.append(f"  note: {summary.base} has moved since the run began; the checks ran on the old base")
    if summary.discard:
        lines.append(f"  then discard the other attempts: {', '.join(summary.discard)}")
    return "\n".join(lines)
