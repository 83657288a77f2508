"""The audit trail: append-only, hash-chained, and any tampering is named."""

import json

import pytest

from fleet_tui.core.events import AuditStore, EventBus, EventKind


@pytest.fixture
def trail(tmp_path):
    store = AuditStore(tmp_path / "fleet" / "audit.jsonl")
    bus = EventBus(store)
    for i in range(5):
        bus.emit(EventKind.STATUS, f"event {i}", "claude", n=i)
    return store


def lines(store):
    return store.path.read_text().splitlines()


def rewrite(store, new_lines):
    store.path.write_text("".join(line + "\n" for line in new_lines))


def test_intact_trail_verifies(trail):
    ok, summary = trail.verify()
    assert ok, summary
    assert "5 entries" in summary


def test_edited_entry_is_named(trail):
    entries = lines(trail)
    record = json.loads(entries[2])
    record["message"] = "nothing to see here"
    entries[2] = json.dumps(record)
    rewrite(trail, entries)
    ok, summary = trail.verify()
    assert not ok
    assert "entry 3" in summary and "modified" in summary


def test_deleted_entry_is_named(trail):
    entries = lines(trail)
    del entries[1]
    rewrite(trail, entries)
    ok, summary = trail.verify()
    assert not ok
    assert "line 2" in summary


def test_reordered_entries_are_named(trail):
    entries = lines(trail)
    entries[1], entries[2] = entries[2], entries[1]
    rewrite(trail, entries)
    ok, summary = trail.verify()
    assert not ok
    assert "line 2" in summary


def test_cut_tail_is_noticed(trail):
    rewrite(trail, lines(trail)[:-2])
    ok, summary = trail.verify()
    assert not ok
    assert "deleted" in summary


def test_rehashing_an_edit_still_breaks_the_chain(trail):
    """Recomputing the edited entry's own hash does not help: the next entry names the old one."""
    from fleet_tui.core.events import _digest

    entries = [json.loads(line) for line in lines(trail)]
    entries[1]["message"] = "forged"
    entries[1].pop("hash")
    entries[1]["hash"] = _digest(entries[1])
    rewrite(trail, [json.dumps(e) for e in entries])
    ok, summary = trail.verify()
    assert not ok
    assert "entry 3" in summary


def test_a_reopened_store_continues_the_chain(trail):
    again = AuditStore(trail.path)
    EventBus(again).emit(EventKind.KILLED, "later", "codex")
    ok, summary = again.verify()
    assert ok, summary
    assert again.read()[-1]["seq"] == 6


def test_bus_tells_listeners_after_storing(tmp_path):
    store = AuditStore(tmp_path / "a.jsonl")
    bus = EventBus(store)
    seen = []
    bus.listeners.append(lambda e: seen.append((e.seq, store.read()[-1]["seq"])))
    bus.emit(EventKind.SPAWNED, "hello", "x")
    assert seen == [(1, 1)]
