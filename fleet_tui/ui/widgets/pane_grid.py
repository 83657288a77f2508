"""The tiled grid of terminal panes, re-tiled for any number of sessions and any size."""

from __future__ import annotations

import math

from textual import events
from textual.containers import VerticalScroll

from fleet_tui.ui.widgets.terminal_pane import TerminalPane

MIN_PANE_ROWS = 8  # below this a pane shows too little; the grid scrolls instead
MIN_PANE_COLS = 24
PREFERRED_ASPECT = 1.4  # width/height in square units: a little wider than square


def grid_shape(count: int, width: int, height: int) -> tuple[int, int]:
    """(columns, rows) for `count` panes in `width` x `height` cells.

    Cells are about twice as tall as they are wide, so a pane looks square at w == 2h.
    Agent UIs are line oriented, so the best shape is a little wider than square; empty
    cells in the last row cost a little too.
    """
    if count <= 1:
        return 1, 1
    max_columns = max(1, min(count, width // MIN_PANE_COLS))

    def cost(columns: int) -> float:
        rows = math.ceil(count / columns)
        pane_width = width / columns
        pane_height = max(height / rows, MIN_PANE_ROWS)
        aspect = pane_width / (2 * pane_height)
        return abs(math.log(aspect / PREFERRED_ASPECT)) + 0.1 * (columns * rows - count)

    columns = min(range(1, max_columns + 1), key=cost)
    return columns, math.ceil(count / columns)


class PaneGrid(VerticalScroll, can_focus=False):
    """Lays out TerminalPanes in a near-square grid; scrolls when they would get too small."""

    DEFAULT_CSS = """
    PaneGrid {
        layout: grid;
        grid-gutter: 0;
        width: 1fr;
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    /* Too many panes to fit: each keeps a readable height and the grid scrolls. */
    PaneGrid.-scrolling TerminalPane {
        height: 8;
    }
    PaneGrid.-scrolling TerminalPane.-maximized {
        height: 1fr;
    }
    """

    columns = 1

    @property
    def panes(self) -> list[TerminalPane]:
        return list(self.query_children(TerminalPane))

    def on_resize(self, event: events.Resize) -> None:
        self.retile()

    def retile(self, count: int | None = None) -> None:
        """Shape the grid for its panes, or for `count` panes (about to be mounted or removed).

        The last pane spans the cells its row leaves empty, so three panes fill the area
        instead of leaving a quarter of it blank.
        """
        panes = [pane for pane in self.panes if not pane._pruning]
        count = len(panes) if count is None else count
        width, height = self.size
        if not count or not width:
            return
        columns, rows = grid_shape(count, width, height)
        self.columns = columns
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = rows
        fits = height // rows >= MIN_PANE_ROWS
        self.styles.grid_rows = "1fr" if fits else str(MIN_PANE_ROWS)
        self.set_class(not fits, "-scrolling")
        spare = columns * rows - count
        for index, pane in enumerate(panes):
            pane.styles.column_span = 1 + spare if index == count - 1 else 1
