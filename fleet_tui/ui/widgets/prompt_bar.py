"""The prompt bar: one prompt, fanned out to new sessions or to sessions already running.

The bar only gathers the prompt and the target; the app decides what that means (which
sessions, whether to ask first), so the bar never talks to the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, Select, TextArea

from fleet_tui.wire import AgentInfo

SEND_HINT = "ctrl+s send · enter new line · esc close"


class AgentCounter(Widget, can_focus=True):
    """How many new sessions of one agent: +/- or a digit changes it."""

    DEFAULT_CSS = """
    AgentCounter {
        width: auto;
        height: 1;
        padding: 0 1;
        margin-left: 1;
        background: $boost;
    }
    AgentCounter.-zero {
        color: $foreground-muted;
    }
    AgentCounter:focus {
        background: $accent 40%;
    }
    """

    BINDINGS = [
        Binding("plus,equals_sign,up", "change(1)", "more", show=False),
        Binding("minus,down", "change(-1)", "fewer", show=False),
    ]
    count: reactive[int] = reactive(1)

    def __init__(self, agent: str, count: int = 1) -> None:
        super().__init__(id=f"count-{agent}")
        self.agent = agent
        self.set_reactive(AgentCounter.count, count)

    def render(self) -> str:
        return f"{self.agent} [b]×{self.count}[/]"

    def action_change(self, step: int) -> None:
        self.count = max(0, min(9, self.count + step))

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character.isdigit():
            event.stop()
            self.count = int(event.character)

    def on_click(self) -> None:
        self.count = (self.count + 1) % 10

    def watch_count(self, count: int) -> None:
        self.set_class(count == 0, "-zero")


class PromptBar(Vertical):
    DEFAULT_CSS = """
    PromptBar {
        display: none;
        height: auto;
        border: round $accent;
        border-title-align: left;
        border-subtitle-align: right;
        border-subtitle-color: $foreground-muted;
        background: $surface;
        padding: 0 1;
    }
    PromptBar.-open {
        display: block;
    }
    PromptBar #targets {
        height: 1;
        margin-bottom: 1;
    }
    PromptBar #to {
        margin-right: 1;
        color: $foreground-muted;
    }
    PromptBar #target {
        width: 26;
    }
    PromptBar #counters {
        height: 1;
        width: 1fr;
    }
    PromptBar TextArea {
        height: 5;
    }
    """

    BINDINGS = [
        # ctrl+s reaches us over SSH too (Textual's raw mode turns XON/XOFF off).
        Binding("ctrl+s,alt+enter", "send", "send", priority=True),
        Binding("escape", "close", "close"),
    ]

    class Send(Message):
        """Send `prompt` to `target`: "new" (with agent counts), "all", "marked" or "role:NAME";
        or queue it as a task: "task:ROLE" or "pipeline:NAME"."""

        def __init__(self, prompt: str, target: str, counts: dict[str, int]) -> None:
            super().__init__()
            self.prompt = prompt
            self.target = target
            self.counts = counts

    class Closed(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "prompt"
        self.border_subtitle = SEND_HINT

    def compose(self) -> ComposeResult:
        # The target's Select (with its option list, ~15 ms of compose and mount) comes when the bar
        # first opens: opening the TUI, which shows the bar hidden, need not wait for it.
        with Horizontal(id="targets"):
            yield Label("to", id="to")
            yield Horizontal(id="counters")
        yield TextArea(id="prompt-text", compact=True, placeholder="what should the fleet do?")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self, agents: list[AgentInfo], *, running: int, marked: int, roles: list[str],
             pipelines: Sequence[str] = ()) -> None:
        """Show the bar with targets that make sense right now, keeping what was typed.

        Besides sending, it can queue a task (core.pipeline): for a role the fleet has, or through
        one of its pipelines.
        """
        options = [("new sessions", "new")]
        if running:
            options.append((f"all running ({running})", "all"))
        if marked:
            options.append((f"marked panes ({marked})", "marked"))
        options += [(f"role {role}", f"role:{role}") for role in roles]
        task_roles = sorted({agent.role for agent in agents if agent.role})
        options += [(f"a task for role {role}", f"task:{role}") for role in task_roles]
        options += [(f"a task through pipeline {name}", f"pipeline:{name}") for name in pipelines]
        values = [value for _, value in options]
        shown = self.query("#target")
        if not shown:
            value: object = "marked" if marked else "new"  # marking panes says where the next prompt goes
            self.query_one("#targets").mount(Select(options, value=value, allow_blank=False, compact=True,
                                                    id="target"), before="#counters")
        else:
            target = shown.only_one(Select)
            previous = target.value
            target.set_options(options)
            target.value = value = "marked" if marked else previous if previous in values else "new"
        self._sync_counters([agent.name for agent in agents])
        self._show_counters(value)
        self.add_class("-open")
        self.query_one(TextArea).focus()

    def _sync_counters(self, agents: list[str]) -> None:
        """One counter per configured agent, each keeping its count across openings.

        Counters are kept and only the missing ones mounted: removing them all and mounting
        new ones with the same ids raced the (deferred) removal and crashed with DuplicateIds.
        """
        counters = self.query_one("#counters")
        existing = {counter.agent: counter for counter in counters.query_children(AgentCounter)}
        for agent, counter in existing.items():
            if agent not in agents:
                counter.remove()
        missing = [AgentCounter(agent) for agent in agents if agent not in existing]
        if missing:
            counters.mount_all(missing)

    def action_close(self) -> None:
        self.remove_class("-open")
        self.post_message(self.Closed())

    def action_send(self) -> None:
        # ctrl+s is a priority binding, seen before the text area has taken the keys typed just
        # before it (a fast typist, a paste): read the text once the text area's queue is drained.
        self.query_one(TextArea).call_later(self._send)

    def _send(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.notify("Type a prompt first.", severity="warning")
            return
        counts = {counter.agent: counter.count for counter in self.query(AgentCounter)}
        self.post_message(self.Send(text, str(self.query_one("#target", Select).value), counts))

    def sent(self) -> None:
        """The prompt went out: clear it for the next one and get out of the way."""
        self.query_one(TextArea).clear()
        self.action_close()

    @on(Select.Changed, "#target")
    def _target_changed(self, event: Select.Changed) -> None:
        self._show_counters(event.value)

    def _show_counters(self, target: object) -> None:
        self.query_one("#counters").display = target == "new"
