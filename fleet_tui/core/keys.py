"""Turn Textual key names, pastes, mouse and focus events into the bytes an
xterm-compatible terminal would send to the program in the pty.

The encodings follow xterm (TERM=xterm-256color is what children see); the
child's modes (from Terminal.modes()) pick between CSI and SS3 cursor keys,
bracketed paste or not, and which mouse events it asked for.
"""

from __future__ import annotations

import unicodedata

_MODIFIER_BITS = {"shift": 1, "alt": 2, "meta": 2, "ctrl": 4}

_SIMPLE = {
    "enter": b"\r",
    "tab": b"\t",
    "backspace": b"\x7f",
    "escape": b"\x1b",
    "space": b" ",
}
# Cursor-style keys: CSI X normally, SS3 X in application cursor mode,
# CSI 1;<mod> X when modified.
_CURSOR = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
# F1-F4 are SS3 P..S unmodified, CSI 1;<mod> P..S when modified.
_SS3_FUNCTION = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
# CSI <n> ~ and CSI <n>;<mod> ~ keys.
_TILDE = {"insert": 2, "delete": 3, "pageup": 5, "pagedown": 6,
          "f5": 15, "f6": 17, "f7": 18, "f8": 19, "f9": 20, "f10": 21, "f11": 23, "f12": 24}
_ALIASES = {"return": "enter", "esc": "escape", "page_up": "pageup", "page_down": "pagedown",
            "ins": "insert", "del": "delete", "bs": "backspace"}
# ctrl+<char> for the non-letters that have a C0 code (xterm's legacy table).
_CTRL_CHARS = {"@": 0, " ": 0, "2": 0, "[": 27, "3": 27, "\\": 28, "4": 28, "]": 29, "5": 29,
               "^": 30, "6": 30, "_": 31, "7": 31, "/": 31, "-": 31, "?": 127, "8": 127}

# Textual names a printable key after its Unicode name ("exclamation_mark"), shortened for a few
# ("slash") and with "_" where Unicode has "-" for others ("less_than_sign"). Those are listed.
_NAMED_CHARS = {"slash": "/", "backslash": "\\", "at": "@", "minus": "-", "plus": "+", "underscore": "_",
                "hyphen_minus": "-", "less_than_sign": "<", "greater_than_sign": ">"}

_PASTE_START, _PASTE_END = "\x1b[200~", "\x1b[201~"


def encode_key(key: str, modes: dict | None = None) -> bytes:
    """Bytes for one Textual key name such as "a", "ctrl+c", "shift+up", "f5"."""
    modes = modes or {}
    head, plus, name = key.rpartition("+")
    if plus and not name:  # the key is "+" itself: "+" or "ctrl++"
        name, head = "+", head.removesuffix("+")
    modifiers = head.split("+") if head else []
    bits = 0
    for modifier in modifiers:
        if modifier not in _MODIFIER_BITS:
            raise ValueError(f"unknown modifier {modifier!r} in key {key!r} "
                             "(use shift, alt or ctrl, e.g. ctrl+c, alt+enter, shift+up)")
        bits |= _MODIFIER_BITS[modifier]
    name = _ALIASES.get(name, name)
    shift, alt, ctrl = bits & 1, bits & 2, bits & 4
    mod = f"1;{bits + 1}" if bits else ""

    if name in _CURSOR:
        final = _CURSOR[name]
        if bits:
            return f"\x1b[{mod}{final}".encode()
        return f"\x1b{'O' if modes.get('app_cursor') else '['}{final}".encode()
    if name in _SS3_FUNCTION:
        final = _SS3_FUNCTION[name]
        return f"\x1b[{mod}{final}".encode() if bits else f"\x1bO{final}".encode()
    if name in _TILDE:
        number = _TILDE[name]
        return f"\x1b[{number};{bits + 1}~".encode() if bits else f"\x1b[{number}~".encode()
    if name == "tab" and shift:
        return b"\x1b" * bool(alt) + b"\x1b[Z"

    prefix = b"\x1b" if alt else b""
    if name in _SIMPLE:
        if ctrl and name == "space":
            return prefix + b"\x00"
        if ctrl and name == "backspace":
            return prefix + b"\x08"
        return prefix + _SIMPLE[name]

    char = name if len(name) == 1 else _character(name)
    if not char:
        raise ValueError(f"unknown key name {name!r} in {key!r}: use a character, a Textual key "
                         "name (enter, tab, up, pageup, f1..f12, exclamation_mark...) "
                         "with optional ctrl+/alt+/shift+ prefixes")
    if ctrl:
        lower = char.lower()
        if "a" <= lower <= "z" and len(lower) == 1:
            return prefix + bytes([ord(lower) - 96])
        if char in _CTRL_CHARS:
            return prefix + bytes([_CTRL_CHARS[char]])
        raise ValueError(f"{key!r} has no control code in a terminal")
    if shift and len(char) == 1:
        char = char.upper()
    return prefix + char.encode()


def _character(name: str) -> str | None:
    """The character a Textual key name stands for ("full_stop" -> "."), None if it names none."""
    if name in _NAMED_CHARS:
        return _NAMED_CHARS[name]
    try:
        return unicodedata.lookup(name.replace("_", " ").upper())
    except KeyError:
        return None


def encode_paste(text: str, bracketed: bool) -> bytes:
    """A paste as typed input. Newlines become CR like xterm sends them, and a
    stray end marker inside the text is removed so it cannot end the paste early."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    if not bracketed:
        return text.encode()
    return (_PASTE_START + text.replace(_PASTE_END, "") + _PASTE_END).encode()


_BUTTON_CODES = {"scroll_up": 64, "scroll_down": 65}


def encode_mouse(action: str, button: int, x: int, y: int, modes: dict, *,
                 shift: bool = False, alt: bool = False, ctrl: bool = False) -> bytes | None:
    """A mouse event in the child's encoding, or None if its mode does not ask for it.

    action: press | release | move | scroll_up | scroll_down; button: 0 left,
    1 middle, 2 right (for move: the button held, or -1 for none); x, y: 0-based cells.
    """
    mode = modes.get("mouse", 0)
    if not mode or action not in ("press", "release", "move", "scroll_up", "scroll_down"):
        return None
    held = 0 <= button <= 2
    if mode == 9 and action != "press":
        return None  # X10 compatibility mode reports presses only
    if action == "move" and not (mode == 1003 or (mode == 1002 and held)):
        return None
    if action in _BUTTON_CODES:
        code = _BUTTON_CODES[action]
    elif action == "move":
        code = 32 + (button if held else 3)
    else:
        code = button if held else 0
    if mode != 9:
        code |= 4 * bool(shift) | 8 * bool(alt) | 16 * bool(ctrl)
    if modes.get("mouse_sgr"):
        final = "m" if action == "release" else "M"
        return f"\x1b[<{code};{x + 1};{y + 1}{final}".encode()
    if action == "release":
        code = (code & ~3) | 3  # the legacy encoding cannot say which button was released
    cx, cy = x + 33, y + 33
    if cx > 255 or cy > 255:
        return None  # beyond what the legacy one-byte encoding can carry
    return b"\x1b[M" + bytes([32 + code, cx, cy])


def encode_focus(gained: bool, modes: dict) -> bytes | None:
    """Focus in/out report, only when the child enabled focus events (DECSET 1004)."""
    if not modes.get("focus"):
        return None
    return b"\x1b[I" if gained else b"\x1b[O"
