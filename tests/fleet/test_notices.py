"""An agent's own desktop notifications (OSC 9 and OSC 777) reach the feed and the audit trail,
in its words, cleaned of control characters, and never as a flood."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from tests.fleet.conftest import FleetCli, make_repo

pytestmark = pytest.mark.real

# One notification, then a burst of 30 in one go, then silence.
NOTIFIER = r"""printf '\033]9;Build\001 finished\007'; sleep 3
for i in $(seq 1 30); do printf '\033]777;notify;Codex;turn %s done\007' $i; done; exec sleep 600"""


def test_an_agents_notifications_reach_the_feed_coalesced(tmp_path, runtime_dir):
    fleet_yaml = textwrap.dedent(
        f"""\
        agents:
          notifier:
            command: [bash, -c, {json.dumps(NOTIFIER)}]
        """)
    cli = FleetCli(make_repo(tmp_path / "repo", fleet_yaml), runtime_dir)
    try:
        cli.run("start", "notifier")
        deadline = time.monotonic() + 40
        notices: list[dict] = []
        while time.monotonic() < deadline:
            log = [json.loads(line) for line in cli.run("log", "--json", "-n", "0").stdout.splitlines()]
            notices = [e for e in log if e["kind"] == "notice"]
            if sum(e["data"]["count"] for e in notices) >= 31:
                break
            time.sleep(0.5)
        assert notices and notices[0]["session"] == "notifier"
        assert notices[0]["message"] == "says: Build finished", "a control character is a space, spaces squeezed"
        assert sum(e["data"]["count"] for e in notices) == 31, notices
        assert len(notices) <= 4, "a burst of 30 is told in a line or two, not 30"
        assert notices[-1]["data"]["text"] == "Codex: turn 30 done"
        assert any(e["message"].endswith("more)") for e in notices), "the burst says how many it stands for"
    finally:
        cli.shut_down()
