"""Usage readers against real log files written in each agent's format, appended to over time."""

import datetime
import json

import pytest

from fleet_tui.core.usage import (ClaudeUsageReader, CodexUsageReader, FleetUsageReader, UsageReader,
                                  UsageTotals, claude_project_dir)
from fleet_tui.errors import UsageError


def append(path, *lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as file:
        for line in lines:
            file.write(line if isinstance(line, str) else json.dumps(line) + "\n")


def claude_line(uuid, msg_id, request_id, model="claude-sonnet-4-5-20250929", input_tokens=4,
                output_tokens=50, cache_write=1000, cache_read=2000, text="ok"):
    return {
        "parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/w", "sessionId": "s1",
        "version": "2.0.14", "gitBranch": "fleet/a", "type": "assistant", "uuid": uuid, "requestId": request_id,
        "timestamp": "2025-10-01T10:00:00.000Z",
        "message": {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                    "content": [{"type": "text", "text": text}], "stop_reason": None,
                    "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": cache_write,
                              "cache_read_input_tokens": cache_read, "output_tokens": output_tokens,
                              "service_tier": "standard"}},
    }


USER_LINE = {"type": "user", "uuid": "u0", "message": {"role": "user", "content": "fix the bug"}}
SONNET_COST = (4 * 3 + 50 * 15 + 1000 * 3.75 + 2000 * 0.30) / 1e6


def test_claude_project_folder_replaces_every_non_alphanumeric(tmp_path):
    cwd = tmp_path / "repo.worktrees" / "fix_bug-1"
    cwd.mkdir(parents=True)
    folder = claude_project_dir(cwd, tmp_path / "home")
    assert folder.parent == tmp_path / "home" / ".claude" / "projects"
    assert folder.name.endswith("-repo-worktrees-fix-bug-1") and folder.name.startswith("-")
    assert all(ch.isalnum() or ch == "-" for ch in folder.name)


def test_claude_counts_each_response_once_and_prices_it(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "wt"
    cwd.mkdir()
    log = claude_project_dir(cwd, home) / "session-1.jsonl"
    reader = UsageReader.for_format("claude-jsonl", cwd=cwd, home=home, log_path=None)
    assert isinstance(reader, ClaudeUsageReader)
    assert reader.read() == UsageTotals()  # no folder yet

    # One API response written as two content-block lines repeating its usage.
    append(log, USER_LINE, claude_line("a1", "msg_1", "req_1"), claude_line("a2", "msg_1", "req_1", text="more"))
    totals = reader.read()
    assert (totals.input_tokens, totals.output_tokens, totals.cache_tokens) == (4, 50, 3000)
    assert totals.cost == pytest.approx(SONNET_COST)
    assert totals.tokens == 54


def test_claude_reads_incrementally_and_survives_partial_lines_and_garbage(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "wt"
    cwd.mkdir()
    folder = claude_project_dir(cwd, home)
    reader = ClaudeUsageReader(cwd, home)
    append(folder / "s1.jsonl", claude_line("a1", "msg_1", "req_1"))
    first = reader.read()

    half = json.dumps(claude_line("b1", "msg_2", "req_2", model="claude-opus-4-5-20251101",
                                  input_tokens=10, output_tokens=100, cache_write=0, cache_read=0)) + "\n"
    append(folder / "s1.jsonl", "not json at all\n", "[1, 2]\n", half[:40])
    assert reader.read() == first  # the half-written line waits
    append(folder / "s1.jsonl", half[40:])
    second = reader.read()
    assert second.output_tokens == 150 and second.input_tokens == 14
    assert second.cost == pytest.approx(SONNET_COST + (10 * 5 + 100 * 25) / 1e6)

    # Only new bytes are parsed: overwriting what was already read changes nothing.
    text = (folder / "s1.jsonl").read_text()
    (folder / "s1.jsonl").write_text(" " * len(text))
    assert reader.read() == second


def test_claude_dedupes_copied_lines_across_transcripts_and_ignores_other_folders(tmp_path):
    home, cwd, other = tmp_path / "home", tmp_path / "wt", tmp_path / "wt2"
    cwd.mkdir()
    other.mkdir()
    reader = ClaudeUsageReader(cwd, home)
    append(claude_project_dir(cwd, home) / "s1.jsonl", claude_line("a1", "msg_1", "req_1"))
    # A resumed session copies earlier lines into its new transcript, then adds its own.
    append(claude_project_dir(cwd, home) / "s2.jsonl", claude_line("a1", "msg_1", "req_1"),
           claude_line("c1", "msg_3", "req_3", model="claude-haiku-4-5-20251001", input_tokens=1000,
                       output_tokens=1000, cache_write=0, cache_read=0))
    append(claude_project_dir(other, home) / "s9.jsonl", claude_line("z1", "msg_9", "req_9"))
    totals = reader.read()
    assert totals.output_tokens == 1050
    assert totals.cost == pytest.approx(SONNET_COST + (1000 * 1 + 1000 * 5) / 1e6)


def test_claude_keeps_the_most_complete_usage_of_a_streamed_response(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "wt"
    cwd.mkdir()
    reader = ClaudeUsageReader(cwd, home)
    log = claude_project_dir(cwd, home) / "s1.jsonl"
    append(log, claude_line("a1", "msg_1", "req_1", output_tokens=5))
    assert reader.read().output_tokens == 5
    append(log, claude_line("a2", "msg_1", "req_1", output_tokens=80))
    totals = reader.read()
    assert totals.output_tokens == 80 and totals.input_tokens == 4


def codex_rollout(home, day, name):
    return home / ".codex" / "sessions" / day.strftime("%Y/%m/%d") / f"rollout-{name}.jsonl"


def codex_meta(cwd):
    return {"timestamp": "2025-10-01T10:00:00.000Z", "type": "session_meta",
            "payload": {"id": "0199a0b0-aaaa", "timestamp": "2025-10-01T10:00:00.000Z", "cwd": str(cwd),
                        "originator": "codex_cli_rs", "cli_version": "0.46.0", "instructions": None}}


def codex_tokens(input_tokens, cached, output):
    total = {"input_tokens": input_tokens, "cached_input_tokens": cached, "output_tokens": output,
             "reasoning_output_tokens": 0, "total_tokens": input_tokens + output}
    return {"timestamp": "2025-10-01T10:00:05.000Z", "type": "event_msg",
            "payload": {"type": "token_count",
                        "info": {"total_token_usage": total, "last_token_usage": total,
                                 "model_context_window": 272000},
                        "rate_limits": {"primary": {"used_percent": 1.0, "window_minutes": 300}}}}


def test_codex_reads_cumulative_token_counts_of_its_own_cwd(tmp_path):
    home, cwd, other = tmp_path / "home", tmp_path / "wt", tmp_path / "elsewhere"
    cwd.mkdir()
    today = datetime.date.today()
    ours = codex_rollout(home, today, "2025-10-01T10-00-00-ours")
    append(ours, codex_meta(cwd),
           {"type": "turn_context", "payload": {"cwd": str(cwd), "model": "gpt-5-codex", "effort": "medium"}},
           {"type": "event_msg", "payload": {"type": "token_count", "info": None, "rate_limits": None}})
    append(codex_rollout(home, today, "2025-10-01T10-00-01-theirs"), codex_meta(other),
           codex_tokens(999_999, 0, 999_999))
    append(codex_rollout(home, today - datetime.timedelta(days=30), "old"), codex_meta(cwd),
           codex_tokens(777_777, 0, 777_777))

    reader = UsageReader.for_format("codex-jsonl", cwd=cwd, home=home)
    assert isinstance(reader, CodexUsageReader)
    assert reader.read() == UsageTotals()

    append(ours, codex_tokens(10_000, 8_000, 500))
    append(ours, codex_tokens(10_000, 8_000, 500))  # repeated totals (a rate-limit update) add nothing
    append(ours, codex_tokens(25_000, 20_000, 1_200))
    totals = reader.read()
    assert (totals.input_tokens, totals.cache_tokens, totals.output_tokens) == (5_000, 20_000, 1_200)
    assert totals.cost == pytest.approx((5_000 * 1.25 + 20_000 * 0.125 + 1_200 * 10) / 1e6)

    line = json.dumps(codex_tokens(30_000, 20_000, 2_000)) + "\n"
    append(ours, line[:25])
    assert reader.read() == totals
    append(ours, line[25:])
    assert reader.read().output_tokens == 2_000


def test_fleet_jsonl_sums_deltas(tmp_path):
    log = tmp_path / "usage" / "agent.jsonl"
    reader = UsageReader.for_format("fleet-jsonl", cwd=tmp_path, home=tmp_path, log_path=log)
    assert isinstance(reader, FleetUsageReader)
    assert reader.read() == UsageTotals()  # not written yet
    append(log, {"input_tokens": 100, "output_tokens": 20, "cost": 0.01})
    append(log, {"input_tokens": 50, "output_tokens": 5, "cost": 0.002}, "garbage\n",
           {"input_tokens": "many", "cost": "free"}, '{"input_tokens": 7')
    totals = reader.read()
    assert (totals.input_tokens, totals.output_tokens) == (150, 25)
    assert totals.cost == pytest.approx(0.012)
    append(log, ', "output_tokens": 1}\n')
    assert reader.read().input_tokens == 157


def test_for_format_choices(tmp_path):
    assert UsageReader.for_format(None, cwd=tmp_path, home=tmp_path, log_path=None) is None
    with pytest.raises(UsageError, match="unknown usage format 'csv'"):
        UsageReader.for_format("csv", cwd=tmp_path, home=tmp_path, log_path=None)
    with pytest.raises(UsageError, match="FLEET_USAGE_LOG"):
        UsageReader.for_format("fleet-jsonl", cwd=tmp_path, home=tmp_path, log_path=None)
