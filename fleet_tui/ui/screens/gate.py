"""A task's gate on one screen: the diff, the checks and the reviewer's verdict, then approve or reject."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from fleet_tui.errors import FleetError
from fleet_tui.ui.server_client import client_of
from fleet_tui.ui.theme import rich_colours
from fleet_tui.ui.widgets.toggles import ShapedCheckbox
from fleet_tui.wire import TaskView

if TYPE_CHECKING:
    from fleet_tui.client import FleetApi

OUTPUT_LINES = 12  # of a failing check's output


class GateScreen(ModalScreen[TaskView | None]):
    """Dismisses with the task as the server left it after approve/reject, or None when cancelled."""

    DEFAULT_CSS = """
    GateScreen {
        align: center middle;
    }
    GateScreen #gate-dialog {
        width: 92%;
        height: 90%;
        border: thick $warning;
        background: $surface;
        padding: 0 1;
    }
    GateScreen #gate-body {
        height: 1fr;
    }
    GateScreen #gate-buttons {
        height: auto;
        align-horizontal: right;
    }
    GateScreen #gate-buttons Button {
        margin-left: 1;
    }
    GateScreen #gate-refusal {
        color: $error;
    }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, task: TaskView) -> None:
        super().__init__()
        self.task_info = task
        self.diff: str | None = None  # once loaded

    def compose(self) -> ComposeResult:
        task = self.task_info
        with Vertical(id="gate-dialog"):
            yield Label(Text(f"{task.id}: {task.stage_name} — {task.reason or task.step}",
                             style="bold"), id="gate-question")
            with VerticalScroll(id="gate-body"):
                yield Static(id="gate-summary")
                yield Static(id="gate-diff")
            yield Label("", id="gate-refusal")
            with Horizontal(id="gate-buttons"):
                yield ShapedCheckbox("override the failing checks", id="gate-override")
                yield Button("Approve", variant="success", id="gate-approve")
                yield Button("Reject", variant="error", id="gate-reject")
                yield Button("Cancel", id="gate-cancel")

    def on_mount(self) -> None:
        self.query_one("#gate-refusal").display = False
        self.query_one("#gate-override").display = self.task_info.hold == "checks"
        self.query_one("#gate-summary", Static).update(self.describe())
        self.query_one("#gate-cancel", Button).focus()
        self.load_diff()

    def describe(self) -> Text:
        task = self.task_info
        colours = rich_colours(self.app.get_css_variables())
        text = Text()
        text.append("Task: ", style="bold")
        text.append(" ".join(task.text.split()) + "\n")
        text.append(f"Work: {task.session or '-'}   stages: {' → '.join(task.stages)}\n", style="dim")
        for row in task.ranking:
            text.append(f"  #{row.rank} {row.session}: {row.checks_passed}/{row.checks_total} checks, "
                        f"+{row.added}/-{row.removed}\n")
        text.append("\nChecks\n", style="bold")
        if not task.checks:
            text.append("  none ran\n", style="dim")
        for name, check in task.checks.items():
            passed = check.passed
            text.append(f"  {'✔' if passed else '✘'} {name}", style=colours["success" if passed else "error"])
            text.append(f" ({check.duration}s)\n", style="dim")
            if not passed:
                for line in check.output.rstrip().splitlines()[-OUTPUT_LINES:]:
                    text.append(f"      {line}\n", style="dim")
        verdict = task.verdict
        text.append("\nVerdict\n", style="bold")
        if verdict:
            ok = verdict.approved
            text.append(f"  {verdict.by}: {'APPROVED' if ok else verdict.first_line or 'changes'}\n",
                        style=colours["success" if ok else "warning"])
            for line in verdict.notes.splitlines():
                text.append(f"    {line}\n")
        else:
            text.append("  no review\n", style="dim")
        if task.risk:
            text.append("\nRisk: ", style=f"bold {colours['warning']}")
            text.append("; ".join(task.risk) + "\n")
        text.append("\nDiff\n", style="bold")
        return text

    @work(exclusive=True, group="gate")
    async def load_diff(self) -> None:
        box = self.query_one("#gate-diff", Static)
        session = self.task_info.session
        if not session:
            box.update(Text("  no attempt chosen yet", style="dim"))
            return
        try:
            diff = (await client_of(self.app).diff(session)).diff
        except FleetError as error:
            box.update(Text(f"  the diff is not available: {error}", style="dim"))
            return
        self.diff = diff
        box.update(Group(Syntax(diff, "diff", theme="ansi_dark", word_wrap=True))
                   if diff else Text("  (no changes)", style="dim"))

    @on(Button.Pressed, "#gate-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#gate-approve")
    def _approve(self) -> None:
        override = self.query_one("#gate-override", ShapedCheckbox).value
        seen = len(self.task_info.approvals)  # refused if someone approved it since this screen showed it
        self.answer("approve", lambda client: client.approve(self.task_info.id, override=override, seen=seen))

    @on(Button.Pressed, "#gate-reject")
    def _reject(self) -> None:
        seen = len(self.task_info.approvals)
        self.answer("reject", lambda client: client.reject(self.task_info.id, reason="rejected in the TUI", seen=seen))

    @work(exclusive=True, group="gate-answer")
    async def answer(self, cmd: str, request: Callable[[FleetApi], Awaitable[TaskView]]) -> None:
        try:
            task = await request(client_of(self.app))
        except FleetError as error:
            refusal = self.query_one("#gate-refusal", Label)
            refusal.update(str(error))
            refusal.display = True
            return
        self.notify(f"{'approved' if cmd == 'approve' else 'rejected'} {task.id}")
        self.dismiss(task)
