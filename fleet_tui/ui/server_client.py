"""The app's typed client, for screens: one way to ask the fleet server anything from the UI."""

from __future__ import annotations

from typing import Any

from textual.app import App

from fleet_tui.client import FleetApi
from fleet_tui.errors import FleetError


def client_of(app: App[Any]) -> FleetApi:
    """The fleet server's typed client (FleetApi) of the running app; FleetError before it is connected,
    so a screen handles that as it handles any refusal."""
    client = getattr(app, "client", None)
    if not isinstance(client, FleetApi):
        raise FleetError("not connected to the fleet server yet")
    return client
