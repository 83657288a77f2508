"""Pick a configured agent to start a new session of."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from fleet_tui.ui.screens.dialog import DialogScreen
from fleet_tui.ui.widgets.key_hints import KeyHints
from fleet_tui.wire import AgentInfo


class AgentPicker(DialogScreen[str | None]):
    DEFAULT_CSS = """
    AgentPicker #agents {
        height: auto;
        max-height: 16;
    }
    """

    AUTO_FOCUS = "OptionList"
    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, agents: list[AgentInfo]) -> None:
        super().__init__()
        self.agents = agents

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Start a new session of", id="question")
            yield OptionList(
                *(
                    Option(f"[b]{agent.name}[/]  [dim]{agent.role or ''}[/]", id=agent.name)
                    for agent in self.agents
                ),
                id="agents",
            )
        yield KeyHints()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
