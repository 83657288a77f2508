"""The help screen: every key in words, the two modes and the leader key.

A modal screen over the grid, so the panes keep their size and no agent is resized.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from fleet_tui.ui.keymap import key_label
from fleet_tui.ui.screens.dialog import DialogScreen
from fleet_tui.ui.widgets.key_hints import KeyHints

# (keys, what they do, the action they stand for), in the order a new user needs them.
GRID_KEYS = [
    ("h j k l / arrows", "move the focus to the pane on the left, below, above or on the right", "move"),
    ("1 - 9", "focus pane number 1 to 9 (numbered left to right, top to bottom)", "focus_number"),
    ("enter / i", "steer the focused pane: every key goes to its agent until the leader", "steer"),
    ("[ / pageup / wheel", "scroll the focused pane back through its history (scroll mode, below)", "scroll_back"),
    ("z", "zoom the focused pane to the whole screen, and back", "zoom"),
    ("x", "kill the focused agent's whole process tree (asks first; the worktree stays)", "kill"),
    ("p / r / R", "pause / resume / restart the focused agent", "pause"),
    ("", "", "resume"),
    ("", "", "restart"),
    ("n", "start another session of a configured agent", "new_session"),
    ("/", "prompt bar: fan a prompt out to new or running sessions; ctrl+s sends", "open_prompt"),
    ("m", "mark the focused pane as a target of the next prompt", "toggle_mark"),
    ("c", "compare the latest run: enter diff, o check output, m merge, r re-run checks", "compare"),
    ("a", "open the gate of a task waiting for a person: its diff, checks and verdict", "approve_gate"),
    ("f", "show only the focused pane's events in the feed, and back", "toggle_feed_filter"),
    ("b", "show or hide the sidebar (events and budgets; hidden on narrow screens)", "toggle_sidebar"),
    (": / ctrl+p", "command palette: kill, pause, zoom, themes, start an agent, detach...", "command_palette"),
    ("?", "this help", "show_keys"),
    ("q", "detach: close the UI; every agent keeps running (fleet-tui down stops them)", "detach"),
]
OTHER_KEYS = [
    ("scroll mode", "arrows/hjkl pgup pgdn g G move · / ? search, n N next · v select, y copy · q or esc live"),
    ("compare", "enter diff · o check output · m merge · r re-run checks · esc back"),
    ("diff", "s side by side · [ ] previous / next attempt · esc back"),
    ("merge gate", "enter merge · tab next control · esc cancel"),
    ("prompt bar", "ctrl+s send · tab next field · +/- or a digit: how many of an agent · esc close"),
]


class HelpScreen(DialogScreen[None]):
    DEFAULT_CSS = """
    HelpScreen #help-dialog {
        width: 96;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $accent;
        background: $panel;
        padding: 0 1;
    }
    HelpScreen #help-title, HelpScreen #help-modes, HelpScreen #help-keys {
        margin-bottom: 1;
    }
    HelpScreen #help-body {
        height: auto;
        max-height: 1fr;
    }
    """

    BINDINGS = [Binding("escape,q,question_mark", "dismiss(None)", "close", key_display="esc")]

    def __init__(self, leader: str) -> None:
        super().__init__()
        self.leader = key_label(leader)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Label(Text("Keys", style="bold"), id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(self.modes(), id="help-modes")
                yield Static(self.table(GRID_KEYS), id="help-keys")
                yield Static(self.table([(name, words, "") for name, words in OTHER_KEYS]), id="help-other")
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def modes(self) -> Text:
        return Text.assemble(
            ("NAV", "bold"), " moves around the fleet with the keys below. ",
            ("STEER", "bold"), " sends every key to the focused agent, as a terminal would, ctrl+c and q included. ",
            "The one key that leaves STEER is the leader, ", (self.leader, "bold reverse"),
            " (change it with \"leader\" in ~/.config/fleet-tui/settings.json).\n",
        )

    @staticmethod
    def table(rows: list[tuple[str, str, str]]) -> Table:
        table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
        table.add_column(no_wrap=True, style="bold")
        table.add_column(ratio=1)
        for keys, words, _action in rows:
            if keys:
                table.add_row(keys, words)
        return table
