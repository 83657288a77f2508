"""The keys of the navigating mode, and the leader key that leaves steering mode.

The leader is ctrl+\\ (Textual "ctrl+backslash"): none of Claude Code, Codex, Gemini CLI
or Aider binds it, while ctrl+] is readline/prompt_toolkit's character-search, which Aider
inherits. A steered child in raw mode sees ctrl+\\ as a plain byte it ignores, so taking it
costs the agent nothing. Each user sets their own with "leader" in settings.json (ui/theme.py).
"""

from __future__ import annotations

from textual.binding import Binding

DEFAULT_LEADER = "ctrl+backslash"

# Actions that need a focused pane; the footer greys them out when there is none.
PANE_ACTIONS = {"steer", "scroll_back", "zoom", "kill", "pause", "resume", "restart", "toggle_mark"}

NAV_BINDINGS = [
    Binding("left,h", "move('left')", "pane", show=False),
    Binding("down,j", "move('down')", "pane", show=False),
    Binding("up,k", "move('up')", "pane", show=False),
    Binding("right,l", "move('right')", "pane", show=False),
    Binding("1", "focus_number(1)", "pane", key_display="1-9"),
    *(Binding(str(n), f"focus_number({n})", show=False) for n in range(2, 10)),
    Binding("enter,i", "steer", "steer", key_display="⏎/i"),
    Binding("left_square_bracket", "scroll_back", "scroll back", key_display="[", show=False),
    Binding("z", "zoom", "zoom"),
    Binding("x", "kill", "kill"),
    Binding("p", "pause", "pause"),
    Binding("r", "resume", "resume"),
    Binding("R", "restart", "restart"),
    Binding("n", "new_session", "new"),
    Binding("slash", "open_prompt", "prompt", key_display="/"),
    Binding("m", "toggle_mark", "mark"),
    Binding("c", "compare", "compare"),
    Binding("a", "approve_gate", "gate", show=False),  # a task waiting for a person: diff, checks, verdict
    Binding("f", "toggle_feed_filter", "filter feed"),
    Binding("b", "toggle_sidebar", "sidebar"),
    Binding("colon", "command_palette", "commands", key_display=":"),
    Binding("ctrl+p", "command_palette", show=False, priority=True),
    Binding("question_mark", "show_keys", "keys", key_display="?"),
    Binding("q", "detach", "detach"),
    # Priority, so it is seen before the steered pane swallows every key; the key itself
    # is set at runtime with App.set_keymap({"leader": ...}).
    Binding(DEFAULT_LEADER, "navigate", "navigate", priority=True, id="leader"),
]


# Scroll mode (a pane's own bindings, live only while it is scrolled back), like tmux's vi copy mode.
# Every other key does nothing there, so nothing reaches the agent by mistake.
SCROLL_BINDINGS = [
    Binding("q", "leave_scroll", "live"),
    Binding("escape", "scroll_escape", "live", show=False),
    Binding("slash", "search(False)", "search", key_display="/"),
    Binding("question_mark", "search(True)", "search back", show=False),
    Binding("n", "search_next(False)", "next", key_display="n/N"),
    Binding("N", "search_next(True)", "previous", show=False),
    Binding("v,space", "select", "select", key_display="v"),
    Binding("y,enter", "copy", "copy", key_display="y/⏎"),
    Binding("up,k", "cursor(-1, 0)", "up", show=False),
    Binding("down,j", "cursor(1, 0)", "down", show=False),
    Binding("left,h", "cursor(0, -1)", "left", show=False),
    Binding("right,l", "cursor(0, 1)", "right", show=False),
    Binding("pageup,ctrl+b", "page(-1)", "page up", show=False),
    Binding("pagedown,ctrl+f", "page(1)", "page down", show=False),
    Binding("ctrl+u", "page(-0.5)", "half page up", show=False),
    Binding("ctrl+d", "page(0.5)", "half page down", show=False),
    Binding("g,home", "edge(-1)", "oldest line", show=False),
    Binding("G,end", "edge(1)", "live screen", show=False),
    Binding("0", "line_edge(-1)", "line start", show=False),
    Binding("dollar_sign", "line_edge(1)", "line end", show=False),
]
SCROLL_ACTIONS = {key: binding.action for binding in SCROLL_BINDINGS for key in binding.key.split(",")}


def key_label(key: str) -> str:
    """How a Textual key name reads in the UI: "ctrl+backslash" -> "ctrl+\\"."""
    names = {"backslash": "\\", "right_square_bracket": "]", "left_square_bracket": "["}
    return "+".join(names.get(part, part) for part in key.split("+"))


# The grid's own actions: over another screen or the open prompt bar they are switched off.
NAV_ACTIONS = {binding.action.split("(")[0] for binding in NAV_BINDINGS} - {"navigate"}


# What the footer keeps when it is short of room (lower first); `?` lists everything else.
FOOTER_PRIORITY = {
    "show_keys": 0, "steer": 1, "open_prompt": 2, "compare": 3, "detach": 4, "focus_number": 5,
    "zoom": 10, "new_session": 11, "command_palette": 12, "kill": 13, "toggle_sidebar": 14,
    "pause": 20, "resume": 20, "restart": 21, "toggle_mark": 22, "toggle_feed_filter": 23,
}
OWN_KEYS_RANK = 6  # a screen's own keys (compare, diff, a dialog) come right after the essentials
