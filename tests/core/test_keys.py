from __future__ import annotations

import os
import re
import select
import subprocess
import sys

import pytest

from fleet_tui.core.keys import encode_focus, encode_key, encode_mouse, encode_paste


@pytest.mark.parametrize("key, expected", [
    ("a", b"a"), ("A", b"A"), ("é", "é".encode()), (" ", b" "), ("space", b" "),
    ("enter", b"\r"), ("tab", b"\t"), ("shift+tab", b"\x1b[Z"), ("backspace", b"\x7f"),
    ("escape", b"\x1b"), ("up", b"\x1b[A"), ("down", b"\x1b[B"), ("right", b"\x1b[C"),
    ("left", b"\x1b[D"), ("home", b"\x1b[H"), ("end", b"\x1b[F"), ("pageup", b"\x1b[5~"),
    ("pagedown", b"\x1b[6~"), ("insert", b"\x1b[2~"), ("delete", b"\x1b[3~"),
    ("f1", b"\x1bOP"), ("f4", b"\x1bOS"), ("f5", b"\x1b[15~"), ("f12", b"\x1b[24~"),
    ("ctrl+a", b"\x01"), ("ctrl+c", b"\x03"), ("ctrl+z", b"\x1a"), ("ctrl+h", b"\x08"),
    ("ctrl+space", b"\x00"), ("ctrl+@", b"\x00"), ("ctrl+left_square_bracket", b"\x1b"),
    ("ctrl+backslash", b"\x1c"), ("ctrl+right_square_bracket", b"\x1d"),
    ("ctrl+circumflex_accent", b"\x1e"), ("ctrl+underscore", b"\x1f"),
    ("alt+x", b"\x1bx"), ("alt+enter", b"\x1b\r"), ("alt+ctrl+a", b"\x1b\x01"),
    ("shift+up", b"\x1b[1;2A"), ("alt+left", b"\x1b[1;3D"), ("ctrl+right", b"\x1b[1;5C"),
    ("ctrl+shift+home", b"\x1b[1;6H"), ("shift+f1", b"\x1b[1;2P"), ("ctrl+f5", b"\x1b[15;5~"),
    ("shift+delete", b"\x1b[3;2~"), ("exclamation_mark", b"!"), ("slash", b"/"),
    ("question_mark", b"?"), ("backslash", b"\\"), ("plus", b"+"), ("+", b"+"),
    ("minus", b"-"), ("full_stop", b"."), ("shift+a", b"A"),
])
def test_encode_key(key, expected):
    assert encode_key(key) == expected


def test_cursor_keys_follow_application_cursor_mode():
    app = {"app_cursor": True}
    assert encode_key("up", app) == b"\x1bOA"
    assert encode_key("home", app) == b"\x1bOH"
    assert encode_key("ctrl+up", app) == b"\x1b[1;5A"  # modified keys are always CSI
    assert encode_key("up", {"app_cursor": False}) == b"\x1b[A"


@pytest.mark.parametrize("bad", ["nope", "hyper+a", "f13", "", "ctrl+é", "ctrl++"])
def test_unknown_keys_raise_helpful_errors(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        encode_key(bad)


def test_paste():
    assert encode_paste("a\nb", bracketed=False) == b"a\rb"
    assert encode_paste("x\r\ny", bracketed=True) == b"\x1b[200~x\ry\x1b[201~"
    # an embedded end marker must not end the paste early
    assert encode_paste("evil\x1b[201~rm -rf", bracketed=True) == b"\x1b[200~evilrm -rf\x1b[201~"


def test_mouse_respects_the_mode_the_child_asked_for():
    off = {"mouse": 0}
    assert encode_mouse("press", 0, 1, 1, off) is None
    x10 = {"mouse": 9}
    assert encode_mouse("press", 0, 0, 0, x10, ctrl=True) == b"\x1b[M !!"  # no modifiers in X10
    assert encode_mouse("release", 0, 0, 0, x10) is None
    normal = {"mouse": 1000}
    assert encode_mouse("press", 2, 4, 5, normal) == b"\x1b[M\x22\x25\x26"
    assert encode_mouse("release", 2, 4, 5, normal) == b"\x1b[M\x23\x25\x26"
    assert encode_mouse("move", 0, 4, 5, normal) is None
    assert encode_mouse("scroll_up", 0, 0, 0, normal) == b"\x1b[M`!!"
    assert encode_mouse("press", 0, 300, 0, normal) is None  # too far for one byte
    drag = {"mouse": 1002, "mouse_sgr": True}
    assert encode_mouse("move", 0, 9, 3, drag) == b"\x1b[<32;10;4M"
    assert encode_mouse("move", -1, 9, 3, drag) is None
    anymove = {"mouse": 1003, "mouse_sgr": True}
    assert encode_mouse("move", -1, 9, 3, anymove) == b"\x1b[<35;10;4M"
    sgr = {"mouse": 1000, "mouse_sgr": True}
    assert encode_mouse("press", 0, 300, 0, sgr) == b"\x1b[<0;301;1M"
    assert encode_mouse("release", 1, 2, 2, sgr) == b"\x1b[<1;3;3m"
    assert encode_mouse("scroll_down", 0, 0, 0, sgr, shift=True, ctrl=True) == b"\x1b[<85;1;1M"


def test_focus():
    assert encode_focus(True, {"focus": False}) is None
    assert encode_focus(True, {"focus": True}) == b"\x1b[I"
    assert encode_focus(False, {"focus": True}) == b"\x1b[O"


# A child in raw mode that prints, as hex, each chunk it reads from its tty.
_ECHO_HEX = r"""
import os, sys, tty
tty.setraw(0)
os.write(1, b"ready\r\n")
while True:
    data = os.read(0, 1024)
    os.write(1, data.hex().encode() + b"\r\n")
    if data == b"\x04":
        break
"""


@pytest.mark.real
def test_keys_arrive_unchanged_through_a_real_pty():
    master, slave = os.openpty()
    child = subprocess.Popen([sys.executable, "-c", _ECHO_HEX], stdin=slave, stdout=slave,
                             stderr=slave, start_new_session=True)
    os.close(slave)
    buffer = b""

    def read_line() -> bytes:
        nonlocal buffer
        while b"\r\n" not in buffer:
            ready, _, _ = select.select([master], [], [], 10)
            assert ready, "the child stopped answering"
            buffer += os.read(master, 4096)
        line, _, buffer = buffer.partition(b"\r\n")
        return line

    try:
        assert read_line() == b"ready"
        keys = ["a", "enter", "ctrl+c", "ctrl+z", "escape", "up", "shift+tab", "f5",
                "ctrl+left", "alt+x", "é", "backspace", "ctrl+backslash"]
        for key in keys:
            sent = encode_key(key)
            os.write(master, sent)
            assert bytes.fromhex(read_line().decode()) == sent, key
        pasted = encode_paste("two\nlines", bracketed=True)
        os.write(master, pasted)
        received = b""
        while len(received) < len(pasted):
            received += bytes.fromhex(read_line().decode())
        assert received == pasted
        os.write(master, b"\x04")
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
