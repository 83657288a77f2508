"""How the server paces screen updates to a client: staggered unfocused panes."""

import pytest

from fleet_tui.server import OTHER_INTERVAL, ClientConnection


def test_unfocused_panes_each_keep_their_own_phase_of_the_interval():
    client = ClientConnection(None, None, None)  # pacing needs no server or socket
    now = 1000.0
    first = {f"agent-{i}": client._next_slot(f"agent-{i}", now) for i in range(16)}
    # Every pane waits between half and one and a half intervals after a send...
    assert all(OTHER_INTERVAL / 2 <= slot - now <= 1.5 * OTHER_INTERVAL for slot in first.values())
    # ...on a slot of its own, so sixteen busy panes never land in the same frame.
    phases = sorted(slot % OTHER_INTERVAL for slot in first.values())
    assert min(b - a for a, b in zip(phases, phases[1:])) > 0.003
    # Sent on its slot, a pane's next slot is one interval later; sent late, it keeps its phase.
    for name, slot in first.items():
        assert client._next_slot(name, slot) == pytest.approx(slot + OTHER_INTERVAL)
        assert client._next_slot(name, slot + 0.03) == pytest.approx(slot + OTHER_INTERVAL)


def test_an_unfocused_pane_is_read_just_before_its_screen_goes_out():
    import time
    from types import SimpleNamespace

    from fleet_tui.core.fleet import UNWATCHED_READ_PAUSE
    from fleet_tui.server import READ_LEAD, FleetServer

    client = ClientConnection(None, None, None)
    client.attached = True
    server = SimpleNamespace(clients=[client])
    now = time.monotonic()
    client.next_due["a"] = now + 0.15  # its screen goes out in 150 ms: read it just before
    assert 0.15 - READ_LEAD - 0.01 < FleetServer._until_sent(server, "a") <= 0.15 - READ_LEAD
    client.next_due["a"] = now + 0.01  # about to go out (with what was just read): the one after counts
    assert 0.01 + OTHER_INTERVAL - READ_LEAD - 0.01 < FleetServer._until_sent(server, "a") <= OTHER_INTERVAL
    assert FleetServer._until_sent(server, "never sent") >= UNWATCHED_READ_PAUSE  # never sooner than the floor
    client.attached = False  # nobody looks: read once a round
    assert OTHER_INTERVAL - 0.01 < FleetServer._until_sent(server, "a") <= OTHER_INTERVAL
