"""LookPacer: the screen is read when output settles, not on a fixed round, and never too often."""

from fleet_tui.core.status import LOOK_GAP, LOOK_LONGEST, LOOK_SETTLE, LookPacer

ROUND = 0.05  # the server's hook round, on which the pacer is asked


def rounds(pacer: LookPacer, start: float, end: float, outputs=lambda t: False) -> list[float]:
    """Ask the pacer every round from `start` to `end`, with output whenever `outputs(t)`; the looks."""
    looks, t = [], start
    while t < end:
        if outputs(t):
            pacer.output(t)
        if pacer.due(t):
            looks.append(t)
            pacer.looked(t)
        t = round(t + ROUND / 5, 3)
    return looks


def test_a_burst_is_looked_at_once_it_settles():
    pacer = LookPacer()
    pacer.output(10.0)
    pacer.output(10.01)
    assert not pacer.due(10.01 + LOOK_SETTLE - 0.005)
    assert pacer.due(10.01 + LOOK_SETTLE)
    pacer.looked(10.08)
    assert not pacer.pending and not pacer.due(10.3)


def test_endless_output_is_looked_at_every_longest_and_never_more_often_than_the_gap():
    looks = rounds(LookPacer(), 0.0, 3.0, outputs=lambda t: True)
    gaps = [b - a for a, b in zip(looks, looks[1:])]
    assert looks and min(gaps) >= LOOK_GAP - 1e-6 and max(gaps) <= LOOK_LONGEST + 2 * ROUND / 5 + 1e-6


def test_nothing_new_since_the_last_look_costs_nothing():
    pacer = LookPacer()
    pacer.output(1.0)
    pacer.looked(1.02)  # a status tick saw it first
    assert not pacer.due(1.5)


def test_again_asks_for_a_look_even_without_new_output():
    pacer = LookPacer()
    pacer.again(5.0, 0.2)
    assert not pacer.due(5.1)
    assert pacer.due(5.2)
    assert not pacer.due(5.3)


def test_a_look_asked_for_does_not_hold_back_the_look_at_the_output_after_it():
    # Claude's title turns idle ~80 ms before its dialog draws: both are read at once.
    pacer = LookPacer()
    pacer.again(1.0, 0.0)
    assert pacer.due(1.0)
    pacer.looked(1.0)
    pacer.output(1.02)
    assert pacer.due(1.02 + LOOK_SETTLE)
