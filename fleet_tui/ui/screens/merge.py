"""The approval gate before a merge: what lands on the base branch, how, and what is thrown away."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Label, RadioButton, RadioSet, Static

from fleet_tui.errors import FleetError
from fleet_tui.text import plural
from fleet_tui.ui.screens.dialog import DialogScreen
from fleet_tui.ui.server_client import client_of
from fleet_tui.ui.theme import rich_colours
from fleet_tui.ui.widgets.key_hints import KeyHints
from fleet_tui.ui.widgets.toggles import ShapedCheckbox, ShapedRadioButton
from fleet_tui.wire import MergeAnswer, MergeSummary

STRATEGIES = ("merge", "squash", "rebase")


class MergeScreen(DialogScreen[MergeAnswer | None]):
    """Dismisses with the server's merge result, or None when cancelled."""

    DEFAULT_CSS = """
    MergeScreen #dialog {
        width: 76;
        padding: 0 1;
    }
    MergeScreen #summary {
        height: auto;
        max-height: 16;
        margin-bottom: 1;
    }
    MergeScreen #options {
        height: 1;
        margin-bottom: 1;
    }
    MergeScreen #strategy {
        layout: horizontal;
        width: auto;
        height: 1;
        margin-right: 2;
    }
    MergeScreen #strategy RadioButton {
        width: auto;
        margin-right: 1;
    }
    MergeScreen #keep {
        width: auto;
    }
    MergeScreen #refusal {
        color: $error;
        text-style: bold;
        margin-bottom: 1;
    }
    """

    BINDINGS = [
        Binding("y", "confirm", "merge"),
        Binding("escape,n", "dismiss(None)", "cancel", key_display="esc"),
        Binding("s", "next_strategy", "strategy"),
        Binding("k", "toggle_keep", "keep others"),
        Binding("pageup", "scroll_summary(-1)", "scroll", key_display="pgup/pgdn"),
        Binding("pagedown", "scroll_summary(1)", show=False),
    ]
    # The summary shrinks to what the screen leaves; these rows are the rest of the dialog.
    OTHER_ROWS = 2 + 2 + 1 + 1 + 1 + 1 + 1 + 1  # border, padding, question, options, refusal, buttons, gaps

    def __init__(self, session: str) -> None:
        super().__init__()
        self.session = session
        self.summary: MergeSummary | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(f"Merge {self.session}?", style="bold"), id="question")
            # Not a tab stop: pgup/pgdn and the mouse scroll it, tab goes straight to the controls.
            with VerticalScroll(id="summary", can_focus=False):
                yield Static(id="summary-text")
            with Horizontal(id="options"):
                with RadioSet(id="strategy", compact=True):
                    for strategy in STRATEGIES:
                        yield ShapedRadioButton(strategy, value=strategy == "merge", id=strategy, compact=True)
                yield ShapedCheckbox("keep the other attempts", id="keep", compact=True)
            yield Label("", id="refusal")
            with Horizontal(id="buttons"):
                yield Button("Merge (y)", variant="success", id="confirm", disabled=True, compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one("#refusal").display = False
        # Cancel until there is something to merge; set now, not deferred, so the summary's answer wins.
        self.set_focus(self.query_one("#cancel", Button))
        self.load_summary()

    def on_resize(self) -> None:
        self.query_one("#summary").styles.max_height = max(3, self.size.height - self.OTHER_ROWS)

    def action_confirm(self) -> None:
        if not self.query_one("#confirm", Button).disabled:
            self.merge()

    def action_next_strategy(self) -> None:
        buttons = list(self.query(RadioButton))
        pressed = self.query_one(RadioSet).pressed_index
        buttons[(pressed + 1) % len(buttons)].value = True

    def action_toggle_keep(self) -> None:
        self.query_one("#keep", Checkbox).toggle()

    def action_scroll_summary(self, pages: int) -> None:
        summary = self.query_one("#summary")
        summary.scroll_to(y=summary.scroll_y + pages * max(1, summary.size.height - 1), animate=False)

    @work(exclusive=True, group="merge")
    async def load_summary(self) -> None:
        summary_box = self.query_one("#summary")
        summary_box.loading = True
        try:
            summary = await client_of(self.app).merge_summary(self.session)
        except FleetError as error:
            self.refuse(str(error))
            return
        finally:
            summary_box.loading = False
        self.summary = summary
        self.query_one("#summary-text", Static).update(self.describe(summary))
        # A predicted conflict would be refused anyway: don't offer the button.
        confirm = self.query_one("#confirm", Button)
        confirm.disabled = bool(summary.conflicts)
        if not confirm.disabled and self.focused in (None, self.query_one("#cancel")):
            self.set_focus(confirm)  # what the eye goes to is what enter does

    def describe(self, summary: MergeSummary) -> Text:
        colours = rich_colours(self.app.get_css_variables())
        text = Text()
        text.append(f"{summary.branch} → {summary.base}\n", style="bold")
        commits, files = len(summary.commits), summary.files_changed
        text.append(f"{plural(commits, 'commit')}, {plural(files, 'file')}, ")
        text.append(f"+{summary.added}", style=colours["success"])
        text.append("/")
        text.append(f"-{summary.removed}\n", style=colours["error"])
        for commit in summary.commits[:8]:
            text.append(f"  {commit.commit[:8]} ", style="dim")
            text.append(f"{commit.subject}\n")
        for path in summary.files[:12]:
            text.append(f"  {path}\n", style=colours["accent"])
        if summary.base_moved:
            text.append(f"⚠ {summary.base} has moved since the run began: the checks ran on the old base.\n",
                        style=f"bold {colours['warning']}")
        if summary.conflicts:
            text.append(f"✗ will conflict in {', '.join(summary.conflicts)}: the merge would be refused.\n",
                        style=f"bold {colours['error']}")
        if summary.discard and not self.query_one("#keep", Checkbox).value:
            text.append("then discard: ", style="bold")
            text.append(", ".join(summary.discard) + "\n")
        return text

    def refuse(self, message: str) -> None:
        refusal = self.query_one("#refusal", Label)
        refusal.update(message)
        refusal.display = True
        self.notify(message, severity="error")

    @on(Checkbox.Changed, "#keep")
    def _keep_changed(self) -> None:
        if self.summary is not None:  # kept attempts drop out of the "then discard" line
            self.query_one("#summary-text", Static).update(self.describe(self.summary))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.merge()

    @work(exclusive=True, group="merge")
    async def merge(self) -> None:
        strategy = self.query_one(RadioSet).pressed_button
        keep = self.query_one("#keep", Checkbox).value
        confirm = self.query_one("#confirm", Button)
        confirm.disabled = True
        try:
            chosen = strategy.id if strategy is not None and strategy.id else "merge"
            result = await client_of(self.app).merge(self.session, strategy=chosen, keep=keep)
        except FleetError as error:
            confirm.disabled = False
            self.refuse(str(error))
            return
        discarded = f"; discarded {', '.join(result.discarded)}" if result.discarded else ""
        self.notify(f"merged {self.session} into {result.base} ({result.strategy}){discarded}")
        self.dismiss(result)
