"""Small wording helpers shared by the CLI, the UI and the demo (standard library only)."""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """"1 file", "2 files", "0 files"."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


def ellipsize(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis when it does not fit."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"
