"""Turns the agent itself shows: one typed in the pane ends as done, as a prompt sent by the fleet does."""

from tests.status.corpus import Recording, replay

TITLE = "\x1b]0;{}\x07"


def gemini_like(prompted: bool) -> Recording:
    events = [[0.1, "o", TITLE.format("◇  Ready (w)") + "> "],
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
