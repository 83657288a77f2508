"""The server's API as types (fleet_tui/wire.py): the command table matches the request models, and
answers read by an older client keep what they do not know."""

from __future__ import annotations

from fleet_tui import wire
from fleet_tui.server import FleetServer


def test_every_request_model_has_one_handler_and_every_handler_a_request_model():
    server = FleetServer.__new__(FleetServer)  # the table only needs the bound handlers
    table = server._command_table()
    assert set(table) == set(wire.REQUESTS)
    for name, command in table.items():
        assert command.request is wire.REQUESTS[name]
        handler_request = command.handler.__annotations__["request"]
        assert handler_request == f"wire.{command.request.__name__}", f"{name}'s handler takes {handler_request}"


def test_answers_keep_fields_they_do_not_know_so_a_newer_server_can_add_some():
    answer = wire.StatusAnswer.model_validate({"sessions": [{"name": "a", "status": "idle", "mood": "calm"}],
                                               "base": "main"})
    assert answer.sessions[0].status == "idle"
    assert answer.wire() == {"sessions": [{"name": "a", "status": "idle", "mood": "calm"}], "base": "main"}
