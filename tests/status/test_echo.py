"""Typing into an agent echoes characters back; that echo must not read as the agent working."""

from fleet_tui.core.status import ECHO_WINDOW, StatusDetector


def test_echo_of_typing_is_not_work():
    detector = StatusDetector(None)
    detector.on_output(0.0)  # the first prompt
    assert detector.decide(5.0, ["$"])[0] == "idle"
    detector.on_input(5.0)
    detector.on_output(5.0 + ECHO_WINDOW / 2)  # the echoed key
    status, reason = detector.decide(5.5, ["$ l"])
    assert status == "idle", reason


def test_output_after_the_echo_is_work():
    detector = StatusDetector(None)
    detector.on_output(0.0)
    detector.on_input(5.0)
    detector.on_output(5.0 + ECHO_WINDOW * 2)  # the command's own output, after the echo
    assert detector.decide(5.5, ["$ ls", "file"])[0] == "working"
