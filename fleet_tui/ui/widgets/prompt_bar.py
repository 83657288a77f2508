"""The prompt bar that will fan one prompt out to several agents (fan-out lands later).

For now it only exists so the layout has its place; it stays hidden.
"""

from __future__ import annotations

from textual.widgets import Input


class PromptBar(Input):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="prompt for the fleet…", id=id)
