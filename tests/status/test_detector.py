"""The detector's layers on real screens captured from the CLIs (tmux, 120x40, no network)."""

import re

from fleet_tui.config import parse_config
from fleet_tui.core.agent_spec import resolve_agent
from fleet_tui.core.status import StatusDetector

# Claude Code 2.1.197, first start in a new folder.
CLAUDE_TRUST = """\
────────────────────────────────────────────────────────────────────────────────
 Accessing workspace:

 /tmp/sandbox/proj

 Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source
 project, or work from your team). If not, take a moment to review what's in this folder first.

 Claude Code'll be able to read, edit, and execute files here.

 Security guide

 ❯ 1. Yes, I trust this folder
   2. No, exit

 Enter to confirm · Esc to cancel""".splitlines()

# Codex 0.169.0, first start in a new folder, then its composer.
CODEX_TRUST = """\
  Folder access

  /tmp/sandbox/proj

  Trust this folder? Codex can read, edit, and run files here, subject to your permission settings. Folder settings
  can run code automatically, even without a model request. Continue only if you trust these files. Your trust
  decision will be saved.

› 1. Trust and continue
  2. Back to Agent Command Center

  enter continue · esc back""".splitlines()
CODEX_READY = """\
  >_ OpenAI Codex (v0.169.0)
     /tmp/sandbox/proj

› Ask Codex to do anything

  GPT-6.1-Sol default · /tmp/sandbox/proj
  ← for agents · ? for shortcuts""".splitlines()

# Gemini CLI 0.61.0: the folder-trust dialog, then the input box after trusting.
GEMINI_TRUST = """\
 ╭────────────────────────────────────────────────────────────────────╮
 │                                                                    │
 │ Do you trust the files in this folder?                             │
 │                                                                    │
 │ ● 1. Trust folder (proj)                                           │
 │   2. Trust parent folder (sandbox)                                 │
 │   3. Don't trust                                                   │
 │                                                                    │
 ╰────────────────────────────────────────────────────────────────────╯""".splitlines()
GEMINI_READY = """\
                                                                                                        ? for shortcuts
────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────
 Shift+Tab to accept edits
 >   Type your message or @path/to/file
 workspace (/directory)                                        sandbox                                           /model
 /tmp/sandbox/proj                                             no sandbox                                          Auto""".splitlines()

# aider 0.86.2, first start in a fresh repository, then its prompt.
AIDER_FIRST = """\
────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────
Update git name with: git config user.name "Your Name"
Update git email with: git config user.email "you@example.com"
You can skip this check with --no-gitignore
Add .aider* to .gitignore (recommended)? (Y)es/(N)o [Yes]:""".splitlines()
AIDER_READY = """\
Aider v0.86.2
Main model: gpt-4o with diff edit format
Weak model: gpt-4o-mini
Git repo: .git with 0 files
Repo-map: using 4096 tokens, auto refresh
────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────
>""".splitlines()


def spec(preset: str):
    return resolve_agent(parse_config(f"agents:\n  a:\n    preset: {preset}\n"), "a")


def detector(preset: str) -> StatusDetector:
    d = StatusDetector(spec(preset).status_rules)
    d.on_output(0.0)
    return d


def screen(rows: list[str], height: int = 40) -> list[str]:
    return rows + [""] * (height - len(rows))


def test_trust_dialogs_are_waiting_and_match_the_presets_trust_pattern():
    for preset, rows in (("claude", CLAUDE_TRUST), ("codex", CODEX_TRUST), ("gemini", GEMINI_TRUST),
                         ("aider", AIDER_FIRST)):
        status, reason = detector(preset).decide(0.1, screen(rows), "")
        assert status == "waiting", (preset, reason)
        assert re.search(spec(preset).trust_dialog["match"], "\n".join(rows)), preset
        # The dialog's selected menu row must not pass for the input box.
        assert not re.search(spec(preset).ready, "\n".join(rows)), preset


def test_ready_patterns_match_the_real_input_boxes():
    assert re.search(spec("codex").ready, "\n".join(CODEX_READY))
    assert re.search(spec("gemini").ready, "\n".join(GEMINI_READY))
    assert re.search(spec("claude").ready, "❯\u00a0")
    assert re.search(spec("aider").ready, "\n".join(AIDER_READY))
    assert detector("aider").decide(0.1, screen(AIDER_READY), "")[0] == "idle"


def test_waiting_reason_names_the_row_and_the_phrase():
    status, reason = detector("claude").decide(0.1, screen(CLAUDE_TRUST), "")
    assert reason == 'screen row 6 "Is this a project you created or one you trust?" matches waiting'


def test_a_phrase_scrolled_above_the_bottom_region_is_prose_not_a_dialog():
    rows = ["Do you want to proceed? I asked this earlier in my reply."] + [f"line {i}" for i in range(30)] + ["❯"]
    d = detector("claude")
    d.prompted = True  # the reply to a prompt
    assert d.decide(0.1, rows, "")[0] == "working"  # by activity, not "waiting"
    assert d.decide(0.1, rows[-5:] + rows[:1], "")[0] == "waiting"


def test_blank_rows_below_the_drawing_do_not_push_a_dialog_out_of_the_region():
    # A CLI that just started draws at the top of a tall screen.
    assert detector("gemini").decide(0.1, screen(GEMINI_TRUST, 200), "")[0] == "waiting"


def test_gemini_titles():
    d = detector("gemini")
    assert d.decide(0.1, [], "✋  Action Required (proj)") == (
        "waiting", 'title "✋  Action Required (proj)" matches title_waiting')
    assert d.decide(0.1, [], "✦  Reading the code (proj)")[0] == "working"
    assert d.decide(5.0, GEMINI_READY, "◇  Ready (proj)")[0] == "idle"


def test_osc_state_persists_until_cleared():
    d = detector("codex")
    assert d.decide(0.1, [], "", ["state=working:app=codex"]) == ("working", "OSC 7501 state=working")
    assert d.decide(9.0, [], "", []) == ("working", "OSC 7501 state=working")  # no new marker: still working
    assert d.decide(9.0, CODEX_READY, "", ["7501;state=clear"]) == ("idle", "no output for 9.0 s (idle after 1.5 s)")


def test_osc_markers_are_ignored_by_presets_that_do_not_claim_them():
    d = detector("shell")
    assert d.decide(5.0, [], "", ["state=working"])[0] == "idle"


def test_starting_ends_after_a_grace_even_if_ready_never_shows():
    d = detector("aider")
    assert d.decide(1.0, ["loading..."], "")[0] == "starting"
    assert d.decide(31.0, ["loading..."], "") == ("idle", "no output for 31.0 s (idle after 1.5 s)")


def test_a_plain_command_without_rules():
    d = StatusDetector(None)
    assert d.decide(0.0, [], "") == ("starting", "no output yet")
    d.on_output(1.0)
    assert d.decide(1.5, ["$ make"], "bash") == ("working", "output 0.5 s ago (idle after 1.5 s)")
    assert d.decide(3.0, ["$ make"], "bash") == ("idle", "no output for 2.0 s (idle after 1.5 s)")


def test_a_title_saying_ready_before_the_input_box_shows_is_still_starting():
    # Gemini CLI 0.61.0 titles itself "◇  Ready" ~0.5 s before it draws anything.
    d = detector("gemini")
    d.on_output(1.0)
    assert d.decide(1.1, [], "◇  Ready (w)") == ("starting", "the input box (ready) has not shown yet")
    assert d.decide(1.6, GEMINI_READY, "◇  Ready (w)")[0] == "idle"
    assert detector("gemini").decide(0.1, [], "✦  Working… (w)")[0] == "working"  # busy titles still speak


def test_output_before_any_prompt_once_the_input_box_shows_is_the_cli_drawing_itself():
    # Codex 0.171 redraws its cursor for ~1 s after its input box shows, before anyone asked it anything.
    d = detector("codex")
    d.on_output(1.0)
    assert d.decide(1.1, CODEX_READY, "")[0] == "idle"
    d.on_input(2.0, b"h")
    d.on_output(2.5)
    assert d.decide(2.6, CODEX_READY, "")[0] == "working"  # something typed: output is work again
    prompted = detector("codex")
    prompted.prompted = True  # a prompt given on the command line
    prompted.on_output(1.0)
    assert prompted.decide(1.1, CODEX_READY, "")[0] == "working"
    plain = StatusDetector(None)  # no input box to go by: output is work
    plain.on_output(1.0)
    assert plain.decide(1.1, ["$ make"], "")[0] == "working"


def test_keys_that_only_answer_a_start_up_dialog_ask_the_agent_nothing():
    # Codex 0.171 keeps drawing for ~1 s after its trust dialog is answered: that is no turn.
    d = detector("codex")
    assert d.decide(0.1, screen(CODEX_TRUST), "")[0] == "waiting"
    for at, key in ((1.0, b"\x1b[B"), (1.5, b"\x1b[A"), (2.0, b"\r")):
        d.on_input(at, key)
    d.on_output(2.3)
    assert d.decide(2.4, screen(CODEX_READY), "")[0] == "idle"
    d.on_output(3.0)
    assert d.decide(3.1, screen(CODEX_READY), "")[0] == "idle"
    d.on_input(4.0, b"h")  # typed into the composer: what follows may be work
    d.on_output(4.5)
    assert d.decide(4.6, screen(CODEX_READY), "")[0] == "working"
