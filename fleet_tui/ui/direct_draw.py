"""Changed pane rows written straight to the terminal, past Textual's compositor.

With sixteen busy panes, two thirds of the UI's time went to Textual's frame around the rows
that changed: cutting each frame's region at every widget edge, rendering the containers
behind the panes again, joining the cuts. A pane row that nothing covers can be written as the
compositor would write it (same bytes: TerminalPane.drawn_rows), so it is, when it is safe:

- the app draws to a real terminal (not headless, not inline, no batch under way),
- the pane is on the top screen, wholly inside its clip and the screen,
- no widget drawn above it overlaps it (a toast, a tooltip, a dropdown), per the
  compositor's own map of visible widgets, in its render order,
- no layout is pending (the map is current).

Otherwise the pane is refreshed the usual way. Textual keeps no copy of the screen to go
stale: whatever it draws later, it asks the pane for its rows again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from textual._compositor import CompositorUpdate
from textual.app import App
from textual.geometry import Region
from textual.screen import Screen

from fleet_tui.ui.widgets.terminal_pane import TerminalPane


class RowsUpdate(CompositorUpdate):
    """Pre-rendered rows, handed to App._display so they go out inside its synchronized update
    and the cursor is put back where Textual keeps it."""

    def __init__(self, sequences: str) -> None:
        self.sequences = sequences

    def render_segments(self, console: object) -> str:
        return self.sequences


class DirectDraw:
    """Draws panes' changed rows without a compositor frame when nothing covers them."""

    def __init__(self, app: App) -> None:
        self.app = app
        # FLEET_DIRECT_DRAW=0: every row through Textual (a terminal that misdraws, a benchmark's baseline).
        self.enabled = os.environ.get("FLEET_DIRECT_DRAW", "1") != "0"
        self._map: dict | None = None  # the compositor's visible widgets the answers below are for
        self._places: dict[TerminalPane, Region | None] = {}

    def usable(self) -> Screen | None:
        """The screen rows can be written to directly now, if any."""
        app = self.app
        if not self.enabled or app._driver is None or not app._running or app._closed or app.is_headless:
            return None
        if app.is_inline or app._batch_count:
            return None
        return self.top_screen()

    def top_screen(self) -> Screen | None:
        """The grid's screen, when it is the one shown (no dialog over it) and its map is current."""
        stack = self.app._screen_stack
        if len(stack) != 1 or stack[0]._layout_required or stack[0]._scroll_required:
            return None
        return stack[0]

    def place(self, pane: TerminalPane, screen: Screen) -> Region | None:
        """Where the pane is on `screen`, when it is whole there and nothing is drawn over it."""
        compositor = screen._compositor
        visible = compositor.visible_widgets
        if visible is not self._map:
            self._map, self._places = visible, {}
        if pane in self._places:
            return self._places[pane]
        self._places[pane] = place = self._uncovered(pane, visible, compositor.size.region)
        return place

    @staticmethod
    def _uncovered(pane: TerminalPane, visible: dict, screen_region: Region) -> Region | None:
        if pane not in visible:  # not on this screen, hidden, or scrolled out of the grid
            return None
        region, clip = visible[pane]
        if clip.intersection(region) != region:
            return None
        if screen_region.intersection(region) != region:
            return None
        for widget, (other, other_clip) in visible.items():  # in render order: the topmost first
            if widget is pane:
                return region
            if other.intersection(other_clip).overlaps(region):
                return None
        return None

    def draw(self, changes: Iterable[tuple[TerminalPane, set[int]]]) -> list[tuple[TerminalPane, set[int]]]:
        """Write what it can; returns the (pane, rows) left for Textual to draw."""
        screen = self.usable()
        if screen is None:
            return list(changes)
        left: list[tuple[TerminalPane, set[int]]] = []
        parts: list[str] = []
        console = self.app.console
        for pane, rows in changes:
            place = self.place(pane, screen)
            sequences = None if place is None else pane.drawn_rows(rows, place, console)
            if sequences is None:
                left.append((pane, rows))
            elif sequences:
                parts.append(sequences)
        if parts:
            self.app._display(screen, RowsUpdate("".join(parts)))
        return left
