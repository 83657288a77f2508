"""The compare screen: a run's attempts side by side, ranked, one key from the diff or the merge."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from fleet_tui.comparetable import _duration
from fleet_tui.errors import FleetError
from fleet_tui.text import plural
from fleet_tui.ui.screens.dialog import DialogScreen
from fleet_tui.ui.server_client import client_of
from fleet_tui.ui.theme import rich_colours
from fleet_tui.ui.widgets.key_hints import KeyHints
from fleet_tui.wire import AttemptRow, CheckView, CompareAnswer, MergeAnswer


def check_cell(check: CheckView | None, colours: dict[str, str]) -> Text:
    if not check:
        return Text("-", style="dim")
    if check.timed_out:
        return Text("timeout", style=f"bold {colours['warning']}")
    return Text("pass", style=colours["success"]) if check.passed else Text("FAIL", style=f"bold {colours['error']}")


class CompareScreen(Screen):
    """Runs `compare` (which runs the checks in every worktree) in a worker, then lists the attempts."""

    DEFAULT_CSS = """
    CompareScreen #compare {
        height: 1fr;
        padding: 0 1;
    }
    CompareScreen #run-title {
        height: 1;
        margin: 1 0;
    }
    CompareScreen #base-moved {
        color: $warning;
        text-style: bold;
        margin-bottom: 1;
    }
    CompareScreen #attempts {
        height: auto;
        max-height: 50%;
    }
    /* The highlighted attempt in full, in the room the table leaves. */
    CompareScreen #attempt-detail {
        height: 1fr;
        margin-top: 1;
        border-top: solid $pane-border;
    }
    CompareScreen #ranking-rule {
        width: 1fr;
        margin-top: 1;
        color: $foreground-muted;
    }
    """

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "back"),
        Binding("enter", "diff", "diff", key_display="⏎", priority=True),
        Binding("o", "output", "check output"),
        Binding("m", "merge", "merge"),
        Binding("r", "refresh", "re-run checks"),
    ]

    def __init__(self, run: str | None = None) -> None:
        super().__init__()
        self.run_id = run
        self.result: CompareAnswer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="compare"):
            yield Label("comparing…", id="run-title")
            yield Label("", id="base-moved")
            yield DataTable(id="attempts", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="attempt-detail", can_focus=False):
                yield Static(id="detail-text")
            yield Label("", id="ranking-rule")
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one("#base-moved").display = False
        self.action_refresh()

    @work(exclusive=True, group="compare")
    async def action_refresh(self) -> None:
        table = self.query_one(DataTable)
        table.loading = True
        try:
            result = await client_of(self.app).compare(self.run_id)
        except FleetError as error:
            self.notify(str(error), severity="error")
            self.query_one("#run-title", Label).update(Text(str(error), style="bold"))
            return
        finally:
            table.loading = False
        self.result = result
        self.run_id = result.run
        self.show(result)

    def show(self, result: CompareAnswer) -> None:
        self.query_one("#run-title", Label).update(Text.assemble(
            (f"run {result.run} ", "bold"), (repr(result.prompt), "italic"),
            (f"   base {result.base_branch} @ {result.base_commit[:10]}", "dim")))
        moved = self.query_one("#base-moved", Label)
        moved.display = result.base_moved
        moved.update(f"⚠ {result.base_branch} has moved since the run began: the checks ran on the old base.")
        self.query_one("#ranking-rule", Label).update(Text.assemble(("ranking: ", "bold"), result.ranking_rule))
        table = self.query_one(DataTable)
        selected = self.selected
        table.clear(columns=True)
        check_names = result.check_names
        colours = rich_colours(self.app.get_css_variables())
        table.add_columns("#", "attempt", "agent", "status", "active", "cost", "files", "+/-", *check_names)
        for attempt in result.attempts:
            cost = attempt.cost
            table.add_row(
                Text(str(attempt.rank), style="bold"), attempt.session, attempt.agent, attempt.status,
                _duration(attempt.duration), f"${cost:.2f}" if cost is not None else "-",
                str(attempt.files_changed),
                Text.assemble((f"+{attempt.added}", colours["success"]), "/",
                              (f"-{attempt.removed}", colours["error"])),
                *(check_cell(attempt.checks.get(name), colours) for name in check_names),
                key=attempt.session,
            )
        if selected is not None and selected.session in table.rows:
            table.move_cursor(row=table.get_row_index(selected.session))
        table.focus()
        self.show_detail()

    @on(DataTable.RowHighlighted)
    def show_detail(self) -> None:
        """The highlighted attempt in full: times, diff stat per file, each check's last lines."""
        attempt = self.selected
        if attempt is not None:
            self.query_one("#detail-text", Static).update(attempt_detail(attempt, rich_colours(self.app.get_css_variables())))

    @property
    def selected(self) -> AttemptRow | None:
        if not self.result or not self.result.attempts:
            return None
        table = self.query_one(DataTable)
        row = min(table.cursor_row, len(self.result.attempts) - 1)
        return self.result.attempts[row]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("diff", "output", "merge") and self.selected is None:
            return None
        return True

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_diff()

    def action_diff(self) -> None:
        from fleet_tui.ui.screens.diff import DiffScreen

        if self.result and self.selected:
            self.app.push_screen(DiffScreen(self.result.attempts, self.selected.session))

    def action_output(self) -> None:
        if self.selected:
            self.app.push_screen(CheckOutputScreen(self.selected))

    def action_merge(self) -> None:
        from fleet_tui.ui.screens.merge import MergeScreen

        attempt = self.selected
        if attempt is None:
            return

        def merged(result: MergeAnswer | None) -> None:
            if result is not None:
                self.dismiss()

        self.app.push_screen(MergeScreen(attempt.session), merged)


CHECK_TAIL_LINES = 4  # of each check's output, in the detail; `o` shows all of it


def attempt_detail(attempt: AttemptRow, colours: dict[str, str]) -> Text:
    text = Text()
    text.append(f"{attempt.session}", style="bold")
    text.append(f"  {attempt.agent} · {attempt.status} · ")
    text.append("wall ", style="dim")
    text.append(_duration(attempt.wall))
    text.append("  active ", style="dim")
    # A comparison saved before active time was measured has only the duration.
    text.append(_duration(attempt.active if "active" in attempt.model_fields_set else attempt.duration))
    cost = attempt.cost
    if cost is not None:
        text.append("  cost ", style="dim")
        text.append(f"${cost:.2f}")
    text.append("\n")
    files = attempt.files
    text.append(f"{plural(len(files), 'file')} changed, ", style="bold")
    text.append(f"+{attempt.added}", style=colours["success"])
    text.append("/")
    text.append(f"-{attempt.removed}\n", style=colours["error"])
    for changed in files:
        text.append(f"  {changed.status[:1]} ", style="dim")
        text.append(changed.path)
        text.append(f"  +{changed.added}", style=colours["success"])
        text.append(f"/-{changed.removed}\n", style=colours["error"])
    for name, check in attempt.checks.items():
        text.append_text(check_cell(check, colours))
        text.append(f"  {name}", style="bold")
        text.append(f"  exit {check.exit_code}, {check.duration:.1f}s\n", style="dim")
        lines = [line for line in check.output.splitlines() if line.strip()]
        for line in lines[-CHECK_TAIL_LINES:] or ["(no output)"]:
            text.append(f"    {line}\n", style="dim")
    return text


class CheckOutputScreen(DialogScreen[None]):
    """Every check's full output for one attempt: what failed, and why."""

    DEFAULT_CSS = """
    CheckOutputScreen #output-dialog {
        width: 90%;
        height: 80%;
        border: thick $accent;
        background: $panel;
        padding: 1 2;
    }
    CheckOutputScreen .check-title {
        margin-top: 1;
    }
    CheckOutputScreen .check-output {
        color: $foreground-muted;
    }
    """

    BINDINGS = [Binding("escape,q,o", "dismiss(None)", "close")]

    def __init__(self, attempt: AttemptRow) -> None:
        super().__init__()
        self.attempt = attempt

    def compose(self) -> ComposeResult:
        with Vertical(id="output-dialog"):
            yield Label(Text(f"checks of {self.attempt.session}", style="bold"))
            with VerticalScroll():
                checks = self.attempt.checks
                colours = rich_colours(self.app.get_css_variables())
                if not checks:
                    yield Static("No checks are configured (checks: in fleet.yaml).")
                for name, check in checks.items():
                    yield Static(Text.assemble(check_cell(check, colours), f"  {name}  ",
                                               (f"exit {check.exit_code}, {check.duration:.1f}s",
                                                "dim")), classes="check-title")
                    yield Static(Text(check.output or "(no output)"), classes="check-output")
        yield KeyHints()
