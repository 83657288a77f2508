"""Turns the agent itself shows: one typed in the pane ends as done, as a prompt sent by the fleet does."""

from tests.status.corpus import Recording, replay

TITLE = "\x1b]0;{}\x07"
INPUT_BOX = " >   Type your message or @path/to/file\r\n"  # Gemini's: it is ready


def gemini_like(prompted: bool) -> Recording:
    events = [[0.1, "o", TITLE.format("◇  Ready (w)") + INPUT_BOX],
              [1.0, "i", "hello"], [1.1, "w", "\r"],
              [1.3, "o", TITLE.format("✦  Working… (w)") + "thinking"],
              [3.0, "o", TITLE.format("◇  Ready (w)") + "answered"]]
    if prompted:
        events.insert(3, [1.1, "p", ""])
    return Recording("gemini", {"preset": "gemini", "cols": 80, "rows": 24}, events,
                     [(0.5, "idle"), (1.1, "working"), (3.0, "done")], "typed")


def test_a_turn_typed_in_the_pane_ends_done_like_a_sent_prompt():
    for prompted in (True, False):
        result = replay(gemini_like(prompted), hooks=False)
        last = result.samples[-1][1]
        shown = [s for t, s in result.samples if 1.5 < t < 2.9]
        assert set(shown) == {"working"} and last == "done", (prompted, result.samples)


def test_a_typed_line_the_agent_never_shows_working_on_is_no_turn():
    # The same turn with no sign from the agent that it worked (no working title) stays idle.
    recording = gemini_like(False)
    recording.events = [e for e in recording.events if "Working" not in e[2]]
    assert replay(recording, hooks=False).samples[-1][1] == "idle"


def cancelled_turn(hint: bool, redraw: float = 2.25) -> Recording:
    """Gemini at work ("esc to cancel" on its bottom row), Escape at 2.0, its redraw at `redraw`."""
    spinner = " ⠹ Thinking (esc to cancel, 1s)" if hint else " ⠹ Thinking"
    events = [[0.1, "o", TITLE.format("◇  Ready (w)") + INPUT_BOX],
              [1.0, "i", "hello"], [1.1, "w", "\r"], [1.1, "p", ""],
              [1.3, "o", TITLE.format("✦  Working… (w)") + "\r\n" + spinner],
              [2.0, "i", "\x1b"]]
    events += [[round(1.4 + i * 0.1, 2), "o", "\x1b[2K\r" + spinner] for i in range(int((redraw - 1.4) / 0.1))]
    events.append([redraw, "o", TITLE.format("◇  Ready (w)") + "\x1b[2J\x1b[H Request cancelled."])
    return Recording("gemini", {"preset": "gemini", "cols": 80, "rows": 24}, events,
                     [(0.5, "idle"), (1.1, "working"), (2.0, "idle")], "cancelled")


def test_escape_while_the_screen_says_it_cancels_reads_idle_before_the_cli_redraws():
    shown = {t: s for t, s in replay(cancelled_turn(hint=True), hooks=False).samples}
    assert {s for t, s in shown.items() if 2.07 <= t < 2.25} == {"idle"}, shown
    assert shown[max(shown)] == "idle"  # idle, not done: the user ended it and saw it end
    # Without the hint on screen the same key is not known to cancel: working until the redraw.
    plain = {t: s for t, s in replay(cancelled_turn(hint=False), hooks=False).samples}
    assert {s for t, s in plain.items() if 2.07 <= t < 2.25} == {"working"}, plain


def test_an_escape_the_cli_did_not_take_reads_working_again():
    # Gemini still says working 3 s after the key (no redraw until 5.0): idle only for CANCEL_GRACE.
    shown = {t: s for t, s in replay(cancelled_turn(hint=True, redraw=5.0), hooks=False).samples}
    assert shown[min(t for t in shown if t >= 2.1)] == "idle"
    assert {s for t, s in shown.items() if 3.3 <= t < 4.9} == {"working"}, shown  # the next tick after 1 s
    assert shown[max(shown)] == "done"  # the turn went on and ended unseen


def test_a_title_that_changes_its_meaning_is_read_at_the_next_round_even_while_output_streams():
    # The title turns Ready at 3.0 while the CLI keeps redrawing every 20 ms (no settled output).
    events = [[0.1, "o", TITLE.format("◇  Ready (w)") + INPUT_BOX], [1.0, "i", "hello"], [1.1, "w", "\r"],
              [1.1, "p", ""], [1.3, "o", TITLE.format("✦  Working… (w)") + "thinking"],
              [3.0, "o", TITLE.format("◇  Ready (w)") + "answered"]]
    events += [[round(3.0 + i * 0.02, 2), "o", "\x1b[2K\r> "] for i in range(1, 20)]
    recording = Recording("gemini", {"preset": "gemini", "cols": 80, "rows": 24}, events,
                          [(0.5, "idle"), (1.1, "working"), (3.0, "done")], "title")
    first_done = next(t for t, s in replay(recording, hooks=False).samples if s == "done")
    assert 3.0 <= first_done <= 3.07, first_done
