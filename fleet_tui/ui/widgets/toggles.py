"""A radio button and a checkbox whose state shows in the glyph's shape, not only its colour.

Textual draws an on and an off toggle with the same glyph in two colours: in a monochrome
terminal, for a colour-blind user, or in a screenshot, every option looks chosen.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton


class ShapedRadioButton(RadioButton):
    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "●" if self.value else "○"
        return super()._button


class ShapedCheckbox(Checkbox):
    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "✓" if self.value else " "
        return super()._button
