"""The look every dialog shares: centred over the dimmed app, a bordered box, buttons on the right."""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class DialogScreen(ModalScreen[ResultType]):
    """A modal whose box is `#dialog`, its text `#question` and its buttons `#buttons`."""

    DEFAULT_CSS = """
    DialogScreen {
        align: center middle;
        background: $background 60%;
    }
    DialogScreen #dialog {
        width: 64;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $accent;
        background: $panel;
        padding: 1 2;
    }
    DialogScreen #question {
        width: 100%;
        margin-bottom: 1;
    }
    DialogScreen #buttons {
        height: auto;
        align-horizontal: right;
    }
    DialogScreen #buttons Button {
        margin-left: 2;
    }
    /* The control that enter presses is never a guess. */
    DialogScreen #dialog Button:focus, DialogScreen #dialog RadioSet:focus-within,
    DialogScreen #dialog Checkbox:focus {
        background: $pane-focus;
        color: $background;
        text-style: bold;
    }
    """
