"""Cost of redrawing terminal panes whose every line changed (a scrolling agent):
16 TerminalPanes in the real grid with the real stylesheet, each mirror filled with
coloured lines, every strip cache dropped before each redraw. Run headless; prints
ms per full redraw of all 16 panes, with the current TerminalPane and with the
Textual's per-line styling pass it replaced (`--compare`).

  python -m bench.pane_render [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from textual.app import App
from textual.containers import Horizontal
from textual.geometry import Region
from textual.widget import Widget

import fleet_tui.ui.app as app_module
from fleet_tui.protocol import ScreenMirror
from fleet_tui.ui import theme
from fleet_tui.ui.widgets.pane_grid import PaneGrid
from fleet_tui.ui.widgets.terminal_pane import TerminalPane
from fleet_tui.wire import SessionView

PANES = 16


def mirror(name: str, cols: int = 46, rows: int = 13) -> ScreenMirror:
    m = ScreenMirror(name, cols, rows)
    m.lines = [[(f"{y:06d} ", 33 + y % 8, None, 1), ("working on step ", None, None, 0),
                (f"{y:3d} lorem ipsum dolor", "#a0c0ff", None, 0)] for y in range(rows)]
    return m


class GridApp(App):
    CSS_PATH = str(Path(app_module.__file__).with_name(app_module.FleetApp.CSS_PATH))

    def get_theme_variable_defaults(self):  # the status colours fleet.tcss refers to
        return theme.status_variable_defaults(self.current_theme.to_color_system().generate())

    def compose(self):
        with Horizontal(id="main"):
            with PaneGrid(id="grid"):
                for i in range(PANES):
                    info = SessionView.model_construct(name=f"s{i}", status="working", budget={})
                    yield TerminalPane(mirror(f"s{i}"), info, leader="ctrl+backslash")


async def measure(rounds: int, per_line_style: bool) -> float:
    app = GridApp()
    saved = TerminalPane.render_lines
    if per_line_style:
        TerminalPane.render_lines = Widget.render_lines  # Textual's per-line styling around render_line
    try:
        async with app.run_test(size=(200, 60)) as pilot:
            grid = app.query_one(PaneGrid)
            grid.retile()
            await pilot.pause(0.3)
            panes = list(app.query(TerminalPane))
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                for pane in panes:
                    pane._strips.clear()
                    pane._styles_cache.clear()
                    w, h = pane.size
                    pane.render_lines(Region(0, 0, pane.outer_size.width, pane.outer_size.height))
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            return times[len(times) // 2]
    finally:
        TerminalPane.render_lines = saved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args(argv)
    asyncio.run(measure(3, False))  # warm-up: imports, Rich and run_style caches (else order decides)
    nows, befores = [], []
    for _ in range(3 if args.compare else 1):  # alternate, so machine noise hits both alike
        nows.append(asyncio.run(measure(args.rounds, False)))
        if args.compare:
            befores.append(asyncio.run(measure(args.rounds, True)))
    now = sorted(nows)[len(nows) // 2]
    print(f"full redraw of {PANES} panes (every line changed): {now:.1f} ms median "
          f"(runs: {' '.join(f'{x:.1f}' for x in nows)})")
    if args.compare:
        before = sorted(befores)[len(befores) // 2]
        print(f"  through Textual's per-line styling (before issue 17's drawing work): {before:.1f} ms median "
              f"(runs: {' '.join(f'{x:.1f}' for x in befores)}), {before / now:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
