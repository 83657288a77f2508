"""The tasks panel: the queue beside the event feed, tasks waiting for a person first."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from fleet_tui.ui.theme import rich_colours
from fleet_tui.wire import TaskView

FINISHED = ("done", "failed", "rejected")
RECENT_FINISHED = 3  # finished tasks still shown, newest first
# state -> (symbol, theme colour)
LOOKS = {
    "gate": ("⏸", "warning"), "blocked": ("✋", "error"), "queued": ("…", "secondary"),
    "running": ("▶", "primary"), "done": ("✔", "success"), "failed": ("✘", "error"), "rejected": ("✘", "error"),
}


def waiting_for_a_person(tasks: list[TaskView]) -> list[TaskView]:
    return [t for t in tasks if t.state in ("gate", "blocked")]


def age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 5400 else f"{seconds / 3600:.1f}h"


class TasksPanel(Static):
    """Hidden until the fleet has a task, so a fleet without tasks looks as it always did."""

    DEFAULT_CSS = """
    TasksPanel {
        display: none;
        height: auto;
        max-height: 14;
        border: round $panel-lighten-2;
        border-title-color: $foreground-muted;
        padding: 0 1;
    }
    TasksPanel.-has-tasks {
        display: block;
    }
    TasksPanel.-waiting {
        border: round $warning;
        border-title-color: $warning;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tasks: list[TaskView] = []

    def update_tasks(self, tasks: list[TaskView]) -> None:
        """The server's list: waiting for a person first, then the queue in order, then finished ones."""
        active = [t for t in tasks if t.state not in FINISHED]
        finished = [t for t in tasks if t.state in FINISHED][:RECENT_FINISHED]
        self.tasks = active + finished
        waiting = waiting_for_a_person(tasks)
        self.set_class(bool(self.tasks), "-has-tasks")
        self.set_class(bool(waiting), "-waiting")
        self.border_title = "tasks" + (f" · {len(waiting)} waiting for you (a)" if waiting else "")
        self.update(self.describe())

    def describe(self) -> Text:
        colours = rich_colours(self.app.get_css_variables())
        now = time.time()
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, task in enumerate(self.tasks):
            symbol, colour = LOOKS.get(task.state, ("?", "foreground"))
            if i:
                text.append("\n")
            text.append(f"{task.id} ", style="bold")
            text.append(f"{symbol} {task.stage_name}", style=colours.get(colour, ""))
            text.append(f" · {task.agent}" if task.agent else "", style="dim")
            text.append(f" · {age(now - task.created)}\n", style="dim")
            text.append(f"  {' '.join(task.text.split())}", style="")
        return text
