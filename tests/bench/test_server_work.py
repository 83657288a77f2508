"""bench/server_work.py measures the real per-update path: its messages rebuild each pane's screen."""

from bench import server_work
from fleet_tui import protocol


def test_the_messages_rebuild_every_pane():
    sessions = server_work.panes(3)
    sink: list[bytes] = []
    sent = server_work.run(sessions, 3, sink)
    assert sent == sum(len(m) for m in sink) and len(sink) == 3 * server_work.PANES
    mirrors = {pane.name: protocol.ScreenMirror(pane.name) for pane, _ in sessions}
    for line in sink:
        message = protocol.decode(line)
        mirrors[message["s"]].apply(message)
    for pane, _ in sessions:
        assert mirrors[pane.name].text() == pane.terminal.display()
        assert any("working on step" in row for row in pane.terminal.display())
