"""LookPacer: the screen is read when output settles, not on a fixed round, and never too often."""

from fleet_tui.core.status import LOOK_GAP, LOOK_LONGEST, LOOK_SETTLE, LookPacer


def fire(pacer: LookPacer, at: float) -> float | None:
    return pacer.due(at)


def test_a_burst_is_looked_at_once_it_settles():
    pacer = LookPacer()
    assert abs(pacer.output(10.0) - LOOK_SETTLE) < 1e-6
    assert pacer.output(10.01) is None  # the live timer will do
    # The timer fires at 10.04; the burst went on until 10.01, so 10.05 is when it settled.
    wait = fire(pacer, 10.04)
    assert abs(wait - 0.01) < 1e-6
    assert fire(pacer, 10.05) == 0.0
    pacer.looked(10.05)
    assert pacer.output(10.06) is not None


def test_endless_output_is_looked_at_every_longest_and_never_more_often_than_the_gap():
    pacer, looks, timer, t = LookPacer(), [], None, 0.0
    while t < 2.0:
        delay = pacer.output(t)
        if delay is not None:
            timer = t + delay
        if timer is not None and t >= timer - 1e-9:
            wait = pacer.due(t)
            timer = None if wait in (None, 0.0) else t + wait
            if wait == 0.0:
                looks.append(t)
                pacer.looked(t)
        t = round(t + 0.01, 2)
    gaps = [b - a for a, b in zip(looks, looks[1:])]
    assert looks and min(gaps) >= LOOK_GAP - 1e-6 and max(gaps) <= LOOK_LONGEST + 0.011


def test_nothing_new_since_the_last_look_costs_nothing():
    pacer = LookPacer()
    pacer.output(1.0)
    pacer.looked(1.02)  # a status tick saw it first
    assert pacer.due(1.04) is None


def test_again_asks_for_a_look_even_without_new_output():
    pacer = LookPacer()
    pacer.looked(5.0)
    assert abs(pacer.again(5.0, 0.2) - 0.2) < 1e-6
    assert pacer.due(5.2) == 0.0
