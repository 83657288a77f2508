"""The footer: one line naming the keys that work now; clicking a key presses it."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget

from fleet_tui.ui.keymap import FOOTER_PRIORITY, OWN_KEYS_RANK


def footer_rank(action: str, position: int) -> float:
    """Lower shows first when the footer is short of room; a screen's own keys rank by their order."""
    return FOOTER_PRIORITY.get(action, OWN_KEYS_RANK + position / 100)


def fitting(hints: list[tuple[Content, str, bool]], actions: list[str], width: int) -> list[tuple[Content, str, bool]]:
    """The hints that fit in `width` cells, most important first, shown in their usual order."""
    order = sorted(range(len(hints)), key=lambda i: footer_rank(actions[i], i))
    chosen, used = set(), 0
    for index in order:
        length = hints[index][0].cell_length
        if used + length <= width:
            chosen.add(index)
            used += length
    return [hint for index, hint in enumerate(hints) if index in chosen]


class KeyHints(Widget, can_focus=False):
    """The keys of the screen's active bindings, greyed out where they would do nothing.

    Textual's Footer mounts a widget per key and rebuilds them all whenever the bindings
    change (a focus move, a status change of the focused pane, each pane mounted): 20
    widgets styled each time, the largest single cost of opening the UI. This draws one
    line of text, and only when it would read differently.
    """

    COMPONENT_CLASSES = {"key-hints--key", "key-hints--description"}
    DEFAULT_CSS = """
    KeyHints {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        .key-hints--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-hints--description {
            color: $footer-description-foreground;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._hints: list[tuple[str, str, str, bool, str]] = []  # (key, shown, description, enabled, action)
        self._spans: list[tuple[int, int, str, bool]] = []  # cells of each hint, for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        hints, actions = [], set()
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.show and binding.action not in actions:
                actions.add(binding.action)
                hints.append((binding.key, self.app.get_key_display(binding), binding.description, enabled,
                              binding.action.split("(")[0]))
        if hints != self._hints:
            self._hints = hints
            self.refresh()

    def render(self) -> Content:
        key_style = self.get_visual_style("key-hints--key")
        description_style = self.get_visual_style("key-hints--description")
        hints = []
        for key, shown, description, enabled, _action in self._hints:
            hint = Content.assemble((f" {shown} ", key_style), (f"{description} ", description_style))
            hints.append((hint.stylize("dim") if not enabled else hint, key, enabled))
        parts: list[Content] = []
        self._spans = []
        x = 0
        for hint, key, enabled in fitting(hints, [h[4] for h in self._hints], self.size.width):
            parts.append(hint)
            self._spans.append((x, x + hint.cell_length, key, enabled))
            x += hint.cell_length
        return Content.assemble(*parts)

    def on_click(self, event: events.Click) -> None:
        for start, end, key, enabled in self._spans:
            if start <= event.x < end:
                if enabled:
                    self.app.simulate_key(key)
                else:
                    self.app.bell()
                return
