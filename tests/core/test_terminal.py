from __future__ import annotations

import random

import pytest

from fleet_tui.core.terminal import Terminal
from fleet_tui.protocol import (
    ATTR_BOLD,
    ATTR_DIM,
    ATTR_ITALIC,
    ATTR_REVERSE,
    ATTR_STRIKE,
    ATTR_UNDERLINE,
)


def term(data: str = "", cols: int = 20, rows: int = 5, **kwargs) -> Terminal:
    t = Terminal(cols, rows, **kwargs)
    t.feed(data)
    return t


def test_plain_text_and_cursor():
    t = term("hello\r\nworld")
    assert t.display() == ["hello", "world", "", "", ""]
    assert (t.cursor_x, t.cursor_y) == (5, 1)


def test_wide_and_combining_characters():
    t = term("日本x\r\ne\u0301!\r\n👍.")
    assert t.display()[:3] == ["日本x", "e\u0301!", "👍."]
    assert t.line(0) == [("日本x", None, None, 0)]
    t.feed("\x1b[1;2HZ")  # overwrite the right half of 日: the left half goes too
    assert t.display()[0] == " Z本x"


def test_autowrap_and_pending_wrap():
    t = term("abcde", cols=5)
    assert (t.cursor_x, t.cursor_y) == (4, 0)  # pending wrap: cursor stays on the last cell
    assert t.display()[:2] == ["abcde", ""]
    t.feed("f")
    assert t.display()[:2] == ["abcde", "f"]
    t = term("abcde\r\nx", cols=5)  # CR cancels the pending wrap: no blank line
    assert t.display()[:2] == ["abcde", "x"]
    t = term("\x1b[?7labcdefgh", cols=5)
    assert t.display()[0] == "abcdh"
    t = term("abcd日", cols=5)  # a wide char that does not fit wraps whole
    assert t.display()[:2] == ["abcd", "日"]


def test_controls_and_tabs():
    t = term("abc\x08\x08X\tY\x1b[3g\x1b[1;10H\x1bH\rZ\tT")
    assert t.display()[0] == "ZXc     YT"
    t = term("1\x0b2\x0c3")  # VT and FF are line feeds
    assert t.display()[:3] == ["1", " 2", "  3"]


def test_tab_forward_and_back():
    t = term("a\x1b[2Ib", cols=30)
    assert t.display()[0] == "a" + " " * 15 + "b"
    t.feed("\x1b[Zc")
    assert t.display()[0] == "a" + " " * 15 + "c"
    t.feed("\x1b[999999999Id\x1b[999999999Ze")  # huge counts stop at the edges
    assert t.display()[0] == "e" + " " * 15 + "c" + " " * 12 + "d"


def test_index_next_line_reverse_index_and_scroll_region():
    t = term("1\r\n2\r\n3\r\n4\r\n5")
    t.feed("\x1bD")  # IND at the bottom scrolls
    assert t.display() == ["2", "3", "4", "5", ""]
    t.feed("\x1b[H\x1bM")  # RI at the top scrolls down
    assert t.display() == ["", "2", "3", "4", "5"]
    t = term("1\r\n2\r\n3\r\n4\r\n5\x1b[2;4r\x1b[4;1H\nX")
    assert t.display() == ["1", "3", "4", "X", "5"]
    assert list(t.history) == []  # a partial region never feeds history
    t.feed("\x1bEn")
    assert t.display()[3] == "n"


def test_cursor_movement():
    t = term("\x1b[3;4H", cols=10)
    assert (t.cursor_x, t.cursor_y) == (3, 2)
    moves = {"\x1b[A": (3, 1), "\x1b[2B": (3, 4), "\x1b[C": (4, 2), "\x1b[9D": (0, 2),
             "\x1b[E": (0, 3), "\x1b[2F": (0, 0), "\x1b[7G": (6, 2), "\x1b[2d": (3, 1),
             "\x1b[5`": (4, 2), "\x1b[2;2f": (1, 1), "\x1b[99;99H": (9, 4), "\x1b[H": (0, 0),
             "\x1b[2a": (5, 2), "\x1b[e": (3, 3)}
    for seq, where in moves.items():
        t.feed("\x1b[3;4H" + seq)
        assert (t.cursor_x, t.cursor_y) == where, repr(seq)


def test_erase_and_edit():
    t = term("abcdefgh\x1b[1;3H\x1b[K")
    assert t.display()[0] == "ab"
    t = term("abcdefgh\x1b[1;3H\x1b[1K")
    assert t.display()[0] == "   defgh"
    t = term("abcdefgh\x1b[1;3H\x1b[2X")
    assert t.display()[0] == "ab  efgh"
    t = term("abcdefgh\x1b[1;3H\x1b[2P")
    assert t.display()[0] == "abefgh"
    t = term("abcdefgh\x1b[1;3H\x1b[2@")
    assert t.display()[0] == "ab  cdefgh"
    t = term("abc\x1b[1;2H\x1b[4hXY\x1b[4lZ")
    assert t.display()[0] == "aXYZc"
    t = term("1\r\n2\r\n3\x1b[2;1H\x1b[J")
    assert t.display() == ["1", "", "", "", ""]
    t = term("1\r\n2\r\n3\x1b[2;1H\x1b[1J")
    assert t.display() == ["", "", "3", "", ""]
    t = term("1\r\n2\r\n3\x1b[2J")
    assert t.display() == [""] * 5
    t = term("1\r\n2\r\n3\x1b[2;1H\x1b[L")
    assert t.display() == ["1", "", "2", "3", ""]
    t.feed("\x1b[2M")
    assert t.display() == ["1", "3", "", "", ""]
    t = term("1\r\n2\r\n3\x1b[S")
    assert t.display()[:3] == ["2", "3", ""]
    t.feed("\x1b[2T")
    assert t.display()[:3] == ["", "", "2"]
    t = term("ab\x1b[3b")
    assert t.display()[0] == "abbbb"
    t = term("\x1b#8", cols=3, rows=2)
    assert t.display() == ["EEE", "EEE"]


def test_origin_mode_and_save_restore():
    t = term("\x1b[2;4r\x1b[?6h\x1b[1;1HA\x1b[9;1HB")
    assert t.display()[1:4] == ["A", "", "B"]
    t = term("\x1b[2;3H\x1b[1m\x1b7\x1b[0m\x1b[5;5H\x1b8X")
    assert t.line(1) == [("  ", None, None, 0), ("X", None, None, ATTR_BOLD)]
    t = term("\x1b[2;3H\x1b[s\x1b[H\x1b[uY")
    assert t.display()[1] == "  Y"


@pytest.mark.parametrize("mode", [47, 1047, 1049])
def test_alternate_screen(mode):
    t = term("main\x1b[1;3H")
    t.feed(f"\x1b[?{mode}h")
    assert t.modes()["alt"] is True
    assert t.display()[0] == ""
    t.feed("\x1b[3;1Halt")
    t.feed(f"\x1b[?{mode}l")
    assert t.modes()["alt"] is False
    assert t.display()[0] == "main"
    if mode == 1049:
        assert (t.cursor_x, t.cursor_y) == (2, 0)  # 1049 restores the cursor


def test_modes_are_tracked():
    t = term()
    assert t.modes() == {"app_cursor": False, "app_keypad": False, "bracketed_paste": False,
                         "mouse": 0, "mouse_sgr": False, "focus": False, "alt": False, "sync": False}
    t.feed("\x1b[?1h\x1b=\x1b[?2004h\x1b[?1002h\x1b[?1006h\x1b[?1004h\x1b[?2026h\x1b[?25l")
    assert t.modes() == {"app_cursor": True, "app_keypad": True, "bracketed_paste": True,
                         "mouse": 1002, "mouse_sgr": True, "focus": True, "alt": False, "sync": True}
    assert t.cursor_visible is False
    t.feed("\x1b[?1003h")
    assert t.modes()["mouse"] == 1003
    t.feed("\x1b[?1000l\x1b>\x1b[?1l\x1b[?2026l\x1b[?25h")
    m = t.modes()
    assert (m["mouse"], m["app_keypad"], m["app_cursor"], m["sync"]) == (0, False, False, False)
    assert t.cursor_visible is True
    t.feed("\x1b[?9h")
    assert t.modes()["mouse"] == 9
    t.feed("\x1b[?66h")
    assert t.modes()["app_keypad"] is True


def test_osc_title_notifications_and_markers():
    t = term("\x1b]0;first\x07\x1b]2;second\x1b\\x\x07")
    assert t.title == "second"
    assert t.bells == 1  # BEL inside OSC strings is a terminator, not a bell
    t.feed("\x1b]9;build done\x07\x1b]777;notify;Claude;needs you\x1b\\")
    assert t.take_notifications() == ["build done", "Claude: needs you"]
    assert t.take_notifications() == []
    t.feed("\x1b]7501;state=working\x07\x1b]8;;http://example.com\x07link\x1b]8;;\x07\x1b]7501;state=idle\x07")
    assert t.take_osc() == [(7501, "state=working"), (7501, "state=idle")]
    assert t.take_osc() == []
    assert t.display()[0] == "xlink"


def test_strings_and_keyboard_protocols_leak_nothing():
    t = term("a\x1bP1$r0m\x1b\\b\x1b_Gdata\x1b\\c\x1b^pm\x1b\\d\x1bXsos\x1b\\e"
             "\x1b[>1uf\x1b[<ug\x1b[?uh\x1b[=5;1ui\x1b[>4;0mj\x1b[2 qk\x1b[!pl")
    assert t.display()[0] == "abcdefghijkl"


def test_line_drawing_charset_and_shift_out():
    t = term("\x1b(0lqk\x1b(Bq\x1b)0\x0eq\x0fq")
    assert t.display()[0] == "┌─┐q─q"


def test_full_reset():
    t = term("\x1b[31mred\x1b[?1h\x1b]0;t\x07")
    t.feed("\x1bc")
    assert t.display()[0] == ""
    assert t.modes()["app_cursor"] is False
    assert t.title == ""
    t.feed("x")
    assert t.line(0) == [("x", None, None, 0)]


@pytest.mark.parametrize("sgr, fg, bg, attrs", [
    ("31", 1, None, 0), ("91", 9, None, 0), ("42", None, 2, 0), ("102", None, 10, 0),
    ("38;5;208", 208, None, 0), ("48;5;17", None, 17, 0),
    ("38;2;255;128;0", "#ff8000", None, 0), ("48;2;0;0;255", None, "#0000ff", 0),
    ("38:2::1:2:3", "#010203", None, 0), ("38:2:1:2:3", "#010203", None, 0),
    ("38:5:99", 99, None, 0), ("1;2;3;4;7;9", None, None,
                                ATTR_BOLD | ATTR_DIM | ATTR_ITALIC | ATTR_UNDERLINE | ATTR_REVERSE | ATTR_STRIKE),
    ("4:3", None, None, ATTR_UNDERLINE), ("1;4:0", None, None, ATTR_BOLD),
    ("31;1;22;39", None, None, 0), ("58;2;1;2;3;32", 2, None, 0),
])
def test_sgr(sgr, fg, bg, attrs):
    t = term(f"\x1b[{sgr}mX")
    assert t.line(0) == [("X", fg, bg, attrs)]


def test_runs_and_erase_with_background():
    t = term("a\x1b[1mbc\x1b[0m d\x1b[44m\x1b[K")
    assert t.line(0) == [("a", None, None, 0), ("bc", None, None, ATTR_BOLD),
                         (" d", None, None, 0), (" " * 15, None, 4, 0)]
    assert term("x   ").line(0) == [("x", None, None, 0)]  # trailing default blanks dropped


def test_device_queries_are_answered():
    replies: list[str] = []
    t = term("ab\x1b[c\x1b[>c\x1b[5n\x1b[6n\x1b[>q\x1b]10;?\x07\x1b]11;?\x1b\\\x1b[18t",
             respond=replies.append)
    assert replies[:5] == ["\x1b[?1;2c", "\x1b[>84;0;0c", "\x1b[0n", "\x1b[1;3R", "\x1bP>|fleet_tui\x1b\\"]
    assert replies[5].startswith("\x1b]10;rgb:") and replies[5].endswith("\x07")
    assert replies[6].startswith("\x1b]11;rgb:") and replies[6].endswith("\x1b\\")
    assert replies[7] == "\x1b[8;5;20t"
    assert t.display()[0] == "ab"
    term("\x1b[c\x1b[6n")  # without a responder queries are simply dropped


def test_dirty_rows():
    t = term()
    assert t.take_dirty() == set(range(5))  # everything is new at first
    assert t.take_dirty() == set()
    t.feed("\x1b[3;1Hx\x1b[5;1H\x1b[K")
    assert t.take_dirty() == {2, 4}
    t.feed("\n")  # a full-screen scroll moves every row
    assert t.take_dirty() == set(range(5))
    t.feed("\x1b[2;3r\x1b[3;1H\n")
    assert t.take_dirty() == {1, 2}
    t.feed("\x1b[?1049h")
    assert t.take_dirty() == set(range(5))
    t.resize(10, 3)
    assert t.take_dirty() == {0, 1, 2}


def test_history_keeps_scrolled_off_lines_as_runs():
    t = term("".join(f"\x1b[3{i % 8}mline{i}\x1b[0m\r\n" for i in range(12)), scrollback=4)
    assert len(t.history) == 4  # bounded, oldest dropped
    assert [line[0][0] for line in t.history] == ["line4", "line5", "line6", "line7"]
    assert t.history[0] == [("line4", 4, None, 0)]
    t.feed("\x1b[?1049h" + "alt\r\n" * 10 + "\x1b[?1049l")
    assert len(t.history) == 4 and t.history[-1][0][0] == "line7"  # alt screen adds nothing
    t.feed("\x1b[3J")
    assert len(t.history) == 0


def test_history_lines_read_back_exactly():
    t = term("a\x1b[1m日本\x1b[0;44m \x1b[0m\r\n\r\n\x1b[38;2;1;2;3mrgb\x1b[0m   x\r\n\r\n", rows=2)
    expected = [
        [("a", None, None, 0), ("日本", None, None, ATTR_BOLD), (" ", None, 4, 0)],
        [],
        [("rgb", "#010203", None, 0), ("   x", None, None, 0)],
    ]
    assert list(t.history) == expected
    assert t.history[-2:] == expected[1:]
    assert t.history[0] == expected[0] and t.history[-1] == expected[-1]


def test_resize_keeps_content_and_clamps_cursor():
    t = term("1\r\n2\r\n3\r\n4\r\n5abcdef", cols=10)
    t.resize(4, 3)
    assert (t.cols, t.rows) == (4, 3)
    assert t.display() == ["3", "4", "5abc"]  # the cursor row stays visible
    assert [line[0][0] for line in t.history] == ["1", "2"]
    assert (t.cursor_x, t.cursor_y) == (3, 2)
    t.resize(6, 5)
    assert t.display() == ["3", "4", "5abc", "", ""]
    t.feed("\x1b[5;1Hxxxxxxy")
    assert t.display()[3:] == ["xxxxxx", "y"]  # wraps at the new width
    t = term("ab日", cols=4)
    t.resize(3, 5)
    assert t.display()[0] == "ab"  # a wide char cut by the edge is blanked


def test_line_is_cached_until_the_row_changes():
    t = term("abc")
    first = t.line(0)
    assert t.line(0) is first
    t.feed("d")
    assert t.line(0) == [("abcd", None, None, 0)]


def test_sequences_split_across_feeds_at_every_point():
    data = ("\x1b[1;31mred\x1b[0m \x1b]0;ti\x1btle\x1b\\ \x1b]7501;state=idle\x07\x1bP+q\x1b\\"
            "\x1b[38:2::1:2:3mx\x1b(0q\x1b(B\x1b[?2004h日本\x1b[>1u!\r\n")
    whole = term(data, cols=30)
    for cut in range(1, len(data)):
        t = term(cols=30)
        t.feed(data[:cut])
        t.feed(data[cut:])
        assert [t.line(y) for y in range(5)] == [whole.line(y) for y in range(5)], cut
        assert t.title == whole.title and t.modes() == whole.modes()


def test_garbage_never_raises():
    rnd = random.Random(7)
    pieces = ["\x1b", "[", "]", "P", "?", ";", ":", "99", "\x1b[" + "9" * 5000 + "A", "\x07", "\x9c", "\x1b\\", "m", "H",
              "r", "h", "l", "J", "K", "@", "b", "38", "2", "5", "日", "\u0301", "\x00", "\x08",
              "\n", "\t", "\x0e", "(", "0", "#", "8", "c", "\x1b[99999999999999999999L"]
    for _ in range(25):
        t = Terminal(rnd.randint(1, 30), rnd.randint(1, 8), scrollback=50, respond=lambda s: None)
        raw = bytes(rnd.randrange(256) for _ in range(3000)).decode("utf-8", errors="replace")
        fuzz = "".join(rnd.choice(pieces) for _ in range(800))
        for data in (raw, fuzz):
            step = rnd.randint(1, 97)
            for i in range(0, len(data), step):
                t.feed(data[i:i + step])
            if rnd.random() < 0.3:
                t.resize(rnd.randint(1, 40), rnd.randint(1, 10))
        assert len(t.display()) == t.rows
        for y in range(t.rows):
            assert sum(len(run[0]) for run in t.line(y)) <= t.cols * 2
        assert 0 <= t.cursor_x < t.cols and 0 <= t.cursor_y < t.rows


def test_unterminated_string_does_not_swallow_forever():
    t = term("\x1b]0;" + "x" * (1 << 21))  # larger than any sane OSC: dropped
    for _ in range(1000):
        t.feed("y" * 1000)  # still inside the string
    t.feed("\x07after")
    assert t.display()[0] == "after"
    assert (t.title, t.bells) == ("", 0)


def test_overlong_sequence_split_across_feeds_is_discarded_whole():
    t = term()
    t.feed("a\x1b[")
    for _ in range(100):
        t.feed("1;" * 50)  # far longer than any real CSI
    t.feed("1mb")
    assert t.display()[0] == "ab"
    assert t.line(0) == [("ab", None, None, 0)]


def test_scrolled_rows_come_back_blank_and_history_keeps_them_whole():
    # rows scrolled off are reused for new lines: nothing of the old text, its
    # colours or its wrap flag may survive, and history keeps what was shown
    t = term("\x1b[31mred\x1b[0m tail   \r\n" + "x" * 25 + "\r\n\x1b[44m\x1b[Kbg\x1b[0m\r\n" + "\r\n" * 3, cols=20, rows=3)
    assert list(t.history)[:3] == [
        [("red", 1, None, 0), (" tail", None, None, 0)],
        [("x" * 20, None, None, 0)],
        [("xxxxx", None, None, 0)],
    ]
    assert list(t.history)[3] == [("bg" + " " * 18, None, 4, 0)]
    assert t.display() == ["", "", ""]
    assert all(t.line(y) == [] for y in range(3))
    t.feed("\x1b[2K\x1b[1;3Habc\x1b[1;4H\x1b[K")  # erase back to the start of a row's text
    assert t.line(0) == [("  a", None, None, 0)]
