"""The diff of one attempt, file by file; `[` and `]` walk through the other attempts of the run."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from fleet_tui.errors import FleetError
from fleet_tui.text import plural
from fleet_tui.ui.server_client import client_of
from fleet_tui.ui.widgets.diff_view import DiffView, split_files
from fleet_tui.ui.widgets.key_hints import KeyHints
from fleet_tui.wire import AttemptRow

ALL_FILES = "\0all"  # the option id of "every file at once"; no path can contain NUL


class DiffScreen(Screen):
    DEFAULT_CSS = """
    DiffScreen #diff-title {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    DiffScreen #diff-main {
        height: 1fr;
    }
    DiffScreen #files {
        width: 36;
        height: 1fr;
        border: round $pane-border;
    }
    DiffScreen #files:focus {
        border: round $pane-focus;
    }
    """

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "back"),
        Binding("s", "toggle_layout", "side by side"),
        Binding("left_square_bracket", "attempt(-1)", "previous attempt", key_display="["),
        Binding("right_square_bracket", "attempt(1)", "next attempt", key_display="]"),
    ]

    def __init__(self, attempts: list[AttemptRow], session: str) -> None:
        super().__init__()
        self.attempts = attempts
        self.index = next((i for i, a in enumerate(attempts) if a.session == session), 0)
        self.diffs: dict[str, dict[str, str]] = {}  # session -> path -> diff; a run's diffs do not change

    @property
    def attempt(self) -> AttemptRow:
        return self.attempts[self.index]

    def compose(self) -> ComposeResult:
        yield Label(id="diff-title")
        with Horizontal(id="diff-main"):
            yield OptionList(id="files")
            yield DiffView(id="diff")
        yield KeyHints()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="diff")
    async def load(self) -> None:
        attempt = self.attempt
        session = attempt.session
        total = len(self.attempts)
        self.query_one("#diff-title", Label).update(Text.assemble(
            (f"{session}", "bold"), f"  {attempt.agent}  #{attempt.rank} of {total}  ",
            (f"{plural(attempt.files_changed, 'file')}  +{attempt.added}/-{attempt.removed}", "dim")))
        files = self.query_one("#files", OptionList)
        files.clear_options()
        files.add_options([Option(Text("all files", style="italic"), id=ALL_FILES), *(
            Option(Text.assemble((f"{f.status[:1]} ", "dim"), f.path,
                                 (f"  +{f.added}/-{f.removed}", "dim")), id=f.path)
            for f in attempt.files)])
        if session not in self.diffs:
            view = self.query_one(DiffView)
            view.loading = True
            try:
                diff = (await client_of(self.app).diff(session)).diff
            except FleetError as error:
                self.notify(str(error), severity="error")
                diff = ""
            finally:
                view.loading = False
            self.diffs[session] = {ALL_FILES: diff, **split_files(diff)}
        # Open on the first file: one file's diff is what a reviewer reads first.
        files.highlighted = 1 if files.option_count > 1 else 0
        files.focus()

    @on(OptionList.OptionHighlighted, "#files")
    def _file_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        diffs = self.diffs.get(self.attempt.session)
        if diffs is None:
            return
        path = event.option.id or ALL_FILES
        self.query_one(DiffView).show(diffs.get(path, ""), "" if path == ALL_FILES else path)

    def action_toggle_layout(self) -> None:
        view = self.query_one(DiffView)
        view.side_by_side = not view.side_by_side

    def action_attempt(self, step: int) -> None:
        self.index = (self.index + step) % len(self.attempts)
        self.load()
