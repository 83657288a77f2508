"""Textual's parsed CSS, kept for the next app of the same process.

Textual parses every widget's DEFAULT_CSS and fleet.tcss again for each App (its parse cache
belongs to the App's stylesheet): ~25 ms of every `fleet-tui` opened by the warm UI process
(fleet_tui/ui/warm.py), which has parsed the very same text before. Parsed rules depend on the
text, where it came from and the theme's variables, so all of them are the key; Textual already
reuses parsed rules within one stylesheet, so sharing them between stylesheets changes nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.css.model import RuleSet
from textual.css.stylesheet import Stylesheet

MAX_ENTRIES = 1024  # ~110 sources per theme: enough for every theme the user cycles through


class SharedParseStylesheet(Stylesheet):
    _parsed: ClassVar[dict[tuple[Any, ...], list[RuleSet]]] = {}

    def _parse_rules(self, css: str, read_from: Any, is_default_rules: bool = False, tie_breaker: int = 0,
                     scope: str = "") -> list[RuleSet]:
        key = (css, read_from, is_default_rules, tie_breaker, scope, tuple(sorted(self._variables.items())))
        rules = self._parsed.get(key)
        if rules is None:
            rules = super()._parse_rules(css, read_from, is_default_rules, tie_breaker, scope)
            if len(self._parsed) >= MAX_ENTRIES:
                self._parsed.clear()
            self._parsed[key] = rules
        return rules
