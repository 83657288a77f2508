"""A unified diff drawn with its code highlighted: unified, or the old and new side by side."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from fleet_tui.ui.theme import rich_colours

HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def split_files(diff: str) -> dict[str, str]:
    """One `git diff` output cut into each file's part, by path (the new path for renames)."""
    files: dict[str, str] = {}
    for part in re.split(r"^(?=diff --git )", diff, flags=re.M):
        if not part.startswith("diff --git "):
            continue
        header = part.split("\n", 1)[0]
        match = re.match(r"diff --git a/(.*?) b/(.*)$", header)
        files[match.group(2) if match else header] = part
    return files


@dataclass
class Line:
    kind: str  # "+", "-", " ", "@" (hunk header) or "#" (file header)
    text: Text
    old: int | None = None
    new: int | None = None


def parse(diff: str, path: str) -> list[Line]:
    """The diff's lines with line numbers, the code in them highlighted for `path`'s language."""
    raw = diff.splitlines()
    in_hunk = [False] * len(raw)
    inside = False
    for i, line in enumerate(raw):
        if line.startswith("diff --git "):
            inside = False
        elif line.startswith("@@"):
            inside = True
        elif inside:
            in_hunk[i] = True
    # Highlight the code of the whole file at once, so strings and comments spanning lines colour right.
    code = "\n".join(line[1:] for line, hunk in zip(raw, in_hunk) if hunk)
    lexer = Syntax.guess_lexer(path, code)
    highlighted = iter(Syntax(code, lexer, theme="ansi_dark").highlight(code).split("\n", allow_blank=True))
    lines: list[Line] = []
    old = new = 0
    for line, hunk in zip(raw, in_hunk):
        if hunk:
            kind = line[:1] if line[:1] in "+- " else " "
            text = next(highlighted, Text())
            text.rstrip()
            if kind == "+":
                new += 1
                lines.append(Line(kind, text, None, new))
            elif kind == "-":
                old += 1
                lines.append(Line(kind, text, old, None))
            else:
                old += 1
                new += 1
                lines.append(Line(kind, text, old, new))
        elif match := HUNK.match(line):
            old, new = int(match.group(1)) - 1, int(match.group(2)) - 1
            lines.append(Line("@", Text(line)))
        else:
            lines.append(Line("#", Text(line)))
    return lines


class DiffView(VerticalScroll):
    """Shows one diff; `side_by_side` flips between the two layouts without fetching anything."""

    DEFAULT_CSS = """
    DiffView {
        width: 1fr;
        height: 1fr;
        border: round $pane-border;
        background: $background;
    }
    DiffView:focus {
        border: round $pane-focus;
    }
    """

    side_by_side: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._diff = ""
        self._path = ""

    def compose(self):
        yield Static(id="diff-body")

    def show(self, diff: str, path: str = "") -> None:
        self._diff, self._path = diff, path
        self._draw()
        self.scroll_home(animate=False)

    def watch_side_by_side(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        body = self.query_one("#diff-body", Static)
        if not self._diff.strip():
            body.update(Text("no changes", style="dim italic"))
            return
        lines = parse(self._diff, self._path)
        body.update(self._split(lines) if self.side_by_side else self._unified(lines))

    def _styles(self) -> dict[str, Style]:
        variables = rich_colours(self.app.get_css_variables())
        return {
            "+": Style(bgcolor=variables["success-muted"]),
            "-": Style(bgcolor=variables["error-muted"]),
            " ": Style(),
            "@": Style(color=variables["accent"], bold=True),
            "#": Style(color=variables["foreground-muted"], bold=True),
            "sign+": Style(color=variables["success"], bold=True),
            "sign-": Style(color=variables["error"], bold=True),
            "number": Style(color=variables["foreground-muted"], dim=True),
        }

    def _code(self, line: Line | None, styles: dict[str, Style]) -> Text:
        if line is None:
            return Text()
        text = line.text.copy()
        text.style = styles[line.kind]
        text.justify = "left"  # pads to the column's width, so the background fills the row
        return text

    def _unified(self, lines: list[Line]) -> RenderableType:
        styles = self._styles()
        rows = []
        for line in lines:
            if line.kind in "@#":
                rows.append(Text(line.text.plain, style=styles[line.kind]))
                continue
            number = line.new if line.new is not None else line.old
            sign = Text(line.kind, style=styles.get(f"sign{line.kind}", styles[line.kind]) + styles[line.kind])
            rows.append(Text.assemble(Text(f"{number:>4} ", style=styles["number"]), sign,
                                      self._code(line, styles), justify="left", style=styles[line.kind]))
        return Group(*rows)

    def _split(self, lines: list[Line]) -> RenderableType:
        """Old on the left, new on the right; a run of removals pairs up with the additions after it."""
        styles = self._styles()
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column(width=4, justify="right", style=styles["number"])
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column(width=4, justify="right", style=styles["number"])
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        removed: list[Line] = []
        added: list[Line] = []

        def flush() -> None:
            for i in range(max(len(removed), len(added))):
                left = removed[i] if i < len(removed) else None
                right = added[i] if i < len(added) else None
                table.add_row(str(left.old) if left else "", self._code(left, styles),
                              str(right.new) if right else "", self._code(right, styles))
            removed.clear()
            added.clear()

        for line in lines:
            if line.kind == "-":
                if added:
                    flush()
                removed.append(line)
            elif line.kind == "+":
                added.append(line)
            else:
                flush()
                if line.kind in "@#":
                    if line.kind == "@" or line.text.plain.startswith("diff --git"):
                        table.add_row("", Text(line.text.plain, style=styles[line.kind]), "", "")
                else:
                    table.add_row(str(line.old), self._code(line, styles), str(line.new), self._code(line, styles))
        flush()
        return table
