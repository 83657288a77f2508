"""Hook events: the relay the agents run, the channel the server reads, the per-launch install,
and how hook events and the screen are layered into one status with a reason."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from fleet_tui.core.hooks import RELAY, HookChannel, HookEvent, install_args
from fleet_tui.core.status import layered
from fleet_tui.presets import load_preset

pytestmark = pytest.mark.real

CLAUDE = load_preset("claude").hooks


def relay(env: dict[str, str], *args: str, stdin: bytes | None = b"", timeout: float = 5) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", str(RELAY), *args], input=stdin, env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, timeout=timeout)


def test_relay_appends_one_line_with_the_token_and_the_event(tmp_path):
    channel = HookChannel(tmp_path / "s", CLAUDE.events)
    payload = {"session_id": "abc-123", "transcript_path": "/x/t.jsonl", "hook_event_name": "Stop",
               "tool_input": {"content": "line1\nline2\ttab"}}
    done = relay(channel.env(), "Stop", "stdin", stdin=json.dumps(payload, indent=2).encode())
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), "a hook prints nothing, ever"
    [event] = channel.poll()
    assert (event.event, event.meaning) == ("Stop", "done")
    assert channel.session_id == "abc-123" and channel.transcript_path == "/x/t.jsonl"
    assert oct(channel.path.stat().st_mode & 0o777) == "0o600"


def test_a_big_payload_is_cut_but_its_identity_survives(tmp_path):
    channel = HookChannel(tmp_path / "s", CLAUDE.events)
    payload = json.dumps({"session_id": "s-1", "transcript_path": "/t.jsonl", "hook_event_name": "Stop",
                          "last_assistant_message": "x" * 500_000})
    started = time.monotonic()
    assert relay(channel.env(), "Stop", "stdin", stdin=payload.encode()).returncode == 0
    assert time.monotonic() - started < 2
    [event] = channel.poll()
    assert channel.session_id == "s-1" and event.meaning == "done"
    assert channel.path.stat().st_size < 5000


def test_codex_notify_passes_its_json_as_the_last_argument(tmp_path):
    codex = load_preset("codex").hooks
    channel = HookChannel(tmp_path / "s", codex.events, codex.ignore)
    # Seen on Codex 0.171: naming the task runs a side thread, whose end runs notify too.
    title = json.dumps({"type": "agent-turn-complete", "thread-id": "th-1", "input-messages": [
        "Generate a concise, single-line task title of at most 36 characters"], "last-assistant-message": "Fix"})
    note = json.dumps({"type": "agent-turn-complete", "thread-id": "th-9", "input-messages": ["fix it"],
                       "last-assistant-message": "ok"})
    for payload in (title, note):
        assert relay(channel.env(), "agent-turn-complete", payload, stdin=None).returncode == 0
    [event] = channel.poll()
    assert event.meaning == "done" and channel.session_id == "th-9"


def test_a_stopped_or_missing_server_never_blocks_or_fails_the_agent(tmp_path):
    gone = {"FLEET_HOOK_FILE": str(tmp_path / "removed" / "hooks.log"), "FLEET_HOOK_TOKEN": "t"}
    for env in (gone, {}):
        started = time.monotonic()
        done = relay(env, "Stop", "stdin", stdin=b'{"session_id": "x"}')
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
        assert time.monotonic() - started < 1
    # No server at all is the normal case: the line waits in the file for the next server.
    channel = HookChannel(tmp_path / "s", CLAUDE.events)
    assert relay(channel.env(), "UserPromptSubmit", "stdin", stdin=b"{}").returncode == 0
    assert channel.pending()


def test_nothing_from_another_session_fleet_or_user_is_taken(tmp_path):
    channel = HookChannel(tmp_path / "s", CLAUDE.events)
    other = HookChannel(tmp_path / "o", CLAUDE.events)
    relay({**channel.env(), "FLEET_HOOK_TOKEN": other.token}, "Stop", "stdin", stdin=b"{}")
    relay(channel.env(), "NotAnEventWeInstalled", "stdin", stdin=b"{}")
    assert channel.poll() == []
    # A file others could write to is not read at all.
    relay(channel.env(), "Stop", "stdin", stdin=b"{}")
    os.chmod(channel.path, 0o622)
    assert channel.poll() == []
    os.chmod(channel.path, 0o600)
    assert [e.event for e in channel.poll()] == ["Stop"]


def test_a_symlink_in_place_of_the_hook_file_is_replaced_not_followed(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (folder / "hooks.log").symlink_to(victim)
    channel = HookChannel(folder, CLAUDE.events)
    assert not channel.path.is_symlink() and victim.read_text() == "keep me\n"


def test_claude_gets_a_settings_file_in_the_session_folder_with_every_hook(tmp_path):
    channel = HookChannel(tmp_path / "sessions" / "a", CLAUDE.events)
    args = install_args(CLAUDE, channel)
    assert args[0] == "--settings" and Path(args[1]).parent == tmp_path / "sessions" / "a"
    hooks = json.loads(Path(args[1]).read_text())["hooks"]
    matchers = {entry.get("matcher") for entry in hooks["Notification"]}
    assert matchers == {"permission_prompt", "elicitation_dialog", "idle_prompt"}
    command = hooks["Stop"][0]["hooks"][0]["command"]
    assert command.endswith("hookrelay.sh Stop stdin") and hooks["PostToolUse"][0]["hooks"][0]["command"].endswith(
        "PostToolUse drain")


def test_codex_and_aider_get_their_hooks_on_the_command_line(tmp_path):
    channel = HookChannel(tmp_path / "s", {})
    codex = install_args(load_preset("codex").hooks, channel)
    assert codex[0] == "-c" and codex[1].startswith('notify=["/bin/sh", ') and codex[1].endswith(
        'hookrelay.sh", "agent-turn-complete"]')
    aider = install_args(load_preset("aider").hooks, channel)
    assert aider[:2] == ["--notifications", "--notifications-command"] and aider[2].endswith("aider-waiting")
    assert install_args(load_preset("gemini").hooks, channel) == []
    assert load_preset("gemini").hooks.note, "what the CLI offers is written down in its preset"


# -- layering -----------------------------------------------------------------------------

def hook(meaning: str, at: float = 10.0, event: str = "Stop") -> HookEvent:
    return HookEvent(event, meaning, at, time.time())


@pytest.mark.parametrize("meaning,screen,signal,typed,since,expect", [
    # no hook yet: the screen decides
    (None, ("working", "output 0.2 s ago"), "activity", None, 0.0, ("working", "activity")),
    # hooks blind during a silent model wait: the hook holds working while the screen is quiet
    ("working", ("idle", "no output for 6 s"), "activity", None, 12.0, ("working", "hooks")),
    # an exact dialog on screen wins over a working hook (the permission hook comes a moment later)
    ("working", ("waiting", "dialog"), "dialog", None, 12.0, ("waiting", "screen")),
    # interrupted with escape in the pane: no hook follows, the screen says so
    ("working", ("idle", 'title "✳ x"'), "title", 11.0, 11.5, ("idle", "title")),
    # typing alone (a queued follow-up) does not end the turn while the screen shows work
    ("working", ("working", "spinner"), "title", 11.0, 11.5, ("working", "hooks")),
    # the permission hook holds waiting even if the dialog's wording changed
    ("waiting", ("idle", "no output"), "activity", None, 12.0, ("waiting", "hooks")),
    # a permission answered in the pane (refused): the screen decides again
    ("waiting", ("idle", 'title "✳ x"'), "title", 11.0, 11.5, ("idle", "title")),
    # after an end-of-turn hook, a new turn the hooks do not report (Codex, aider) shows on screen
    ("done", ("working", "OSC state=working"), "osc", None, 12.0, ("working", "osc")),
    # ...but a redraw right at the end of the turn is not one
    ("done", ("working", "output 0.1 s ago"), "activity", None, 10.2, ("done", "hooks")),
    ("done", ("working", "output 0.1 s ago"), "activity", None, 12.0, ("done", "hooks")),
])
def test_layers(meaning, screen, signal, typed, since, expect):
    event = hook(meaning) if meaning else None
    status, reason, layer = layered(event, screen, signal, typed, since, now=13.0)
    assert (status, layer) == expect, reason
    assert reason


def test_the_reason_names_the_hook_and_its_age():
    status, reason, layer = layered(hook("working", 10.0, "UserPromptSubmit"), ("idle", "quiet"), "activity",
                                    None, 0.0, now=12.5)
    assert (status, reason, layer) == ("working", "hook UserPromptSubmit 2.5 s ago", "hooks")
