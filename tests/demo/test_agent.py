"""The demo agent, run for real in a pty inside a real demo repository."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

import fleet_tui
from fleet_tui.demo.agent import KeyReader
from fleet_tui.demo.repo import create_demo_repo

pytestmark = pytest.mark.real

CHECKOUT = str(Path(fleet_tui.__file__).resolve().parent.parent)
READY = "ctrl\\+d to quit"
QUESTION = "Do you want to make this edit to calc.py?"
TITLE_IDLE = "\x1b]0;demo-agent: idle\x07"
TITLE_WORKING = "\x1b]0;[⠁-⣿] demo-agent: working\x07"
TITLE_WAITING = "\x1b]0;demo-agent: waiting for approval\x07"
DONE = "Tests: "  # the last line of every job's summary


@pytest.fixture
def repo(tmp_path):
    return create_demo_repo(tmp_path / "demo")


def spawn(cwd, *args, speed="50", usage_log=None):
    env = {k: v for k, v in os.environ.items() if k not in ("FLEET_USAGE_LOG", "FLEET_DEMO_SPEED")}
    env.update(PYTHONPATH=CHECKOUT, FLEET_DEMO_SPEED=speed, TERM="xterm-256color")
    if usage_log:
        env["FLEET_USAGE_LOG"] = str(usage_log)
    child = pexpect.spawn(sys.executable, ["-m", "fleet_tui.demo.agent", *args], cwd=str(cwd), env=env,
                          dimensions=(40, 100), encoding="utf-8", timeout=15)
    child.expect("Demo Agent")  # the banner: it started
    return child


def quit_with_ctrl_d(child):
    child.send("\x04")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def failing_tests(repo):
    run = subprocess.run([sys.executable, "-m", "unittest", "-q"], cwd=repo, capture_output=True, text=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return re.findall(r"^(?:FAIL|ERROR): (\w+)", run.stderr, re.M)


def changed(repo):
    stat = subprocess.run(["git", "diff", "--numstat"], cwd=repo, capture_output=True, text=True, check=True).stdout
    rows = (line.split("\t") for line in stat.splitlines())
    return {path: int(added) + int(removed) for added, removed, path in rows}


def test_typed_prompt_asks_then_fixes_the_bug_and_logs_usage(repo, tmp_path):
    usage = tmp_path / "usage.jsonl"
    child = spawn(repo, "--ask", "always", usage_log=usage)
    child.expect(READY)
    child.expect(TITLE_IDLE)
    child.send("fix the failing test")
    child.expect("fix the failing test")  # echoed in the prompt box
    child.send("\r")
    child.expect(TITLE_WORKING)
    child.expect("FAILED \\(failures=1\\)")  # it runs the tests before touching anything
    child.expect(QUESTION)
    child.expect(TITLE_WAITING)
    assert changed(repo) == {}  # nothing is edited before approval
    child.send("\r")  # the highlighted choice is "1. Yes"
    child.expect("Update\\S*\\(calc.py\\)")
    child.expect(" OK")
    child.expect(DONE)
    child.expect(READY)  # rows are drawn before the title in each frame
    child.expect(TITLE_IDLE)

    assert failing_tests(repo) == []
    assert changed(repo) == {"calc.py": 4}
    records = [json.loads(line) for line in usage.read_text().splitlines()]
    assert len(records) > 3
    assert all(set(r) == {"input_tokens", "output_tokens", "cost"} for r in records)
    assert all(r["input_tokens"] > 0 and r["output_tokens"] > 0 and r["cost"] > 0 for r in records)
    quit_with_ctrl_d(child)


def test_declining_the_edit_leaves_the_files_alone_and_returns_to_the_prompt(repo):
    child = spawn(repo, "--ask", "always", "--prompt", "fix it")
    child.expect(QUESTION)
    child.send("n")
    child.expect("Edit declined")
    child.expect(TITLE_IDLE)
    assert changed(repo) == {}
    assert failing_tests(repo) == ["test_median_even"]
    # Still interactive: a second prompt works and can be accepted with "1".
    child.send("try again\r")
    child.expect(QUESTION)
    child.send("1")
    child.expect(DONE)
    assert failing_tests(repo) == []
    quit_with_ctrl_d(child)


@pytest.mark.parametrize(
    "style, failing, diff",
    [
        ("clean", [], lambda d: d == {"calc.py": 4}),
        ("sloppy", ["test_median_odd"], lambda d: d == {"calc.py": 2}),
        ("big", [], lambda d: set(d) == {"calc.py", "test_calc.py"} and d["calc.py"] > 20),
    ],
)
def test_each_style_edits_the_worktree_its_own_way(repo, style, failing, diff):
    child = spawn(repo, "--style", style, "--ask", "never", "--prompt", "fix the failing test")
    child.expect(DONE)
    child.expect(READY)
    assert QUESTION not in child.before
    assert failing_tests(repo) == failing
    assert diff(changed(repo))
    quit_with_ctrl_d(child)


def test_auto_approval_asks_for_the_big_style(repo):
    child = spawn(repo, "--style", "big", "--prompt", "fix the failing test")
    child.expect(QUESTION)
    child.send("y")
    child.expect("Do you want to make this edit to test_calc.py\\?")
    child.send("y")
    child.expect(DONE)
    assert failing_tests(repo) == []
    quit_with_ctrl_d(child)


def test_an_unknown_project_gets_a_note_not_a_code_change(tmp_path):
    (tmp_path / "app.py").write_text("print('hello')\n")
    child = spawn(tmp_path, "--ask", "never", "--prompt", "add a feature")
    child.expect("Left a note")
    child.expect(DONE)
    assert (tmp_path / "app.py").read_text() == "print('hello')\n"
    assert "add a feature" in (tmp_path / "DEMO_AGENT_NOTES.md").read_text()
    quit_with_ctrl_d(child)


def test_esc_interrupts_the_work(repo):
    # So slow that the job is certainly still thinking when esc arrives.
    child = spawn(repo, "--prompt", "fix it", speed="0.001")
    child.expect(TITLE_WORKING)
    child.send("\x1b")
    child.expect("Interrupted")
    child.expect(TITLE_IDLE)
    assert changed(repo) == {}
    quit_with_ctrl_d(child)


def test_garbage_input_and_resizes_do_not_crash_it(repo):
    child = spawn(repo)
    child.expect(READY)
    garbage = [b"\xff\xfe\x80", b"\x1b[", b"12;99;zz", b"\x1b[999999999X", b"\x1bO", b"Q\x1b\x1b",
               b"\x00\x01\x02\x05\x07\x0b\x0c\x0e\x1a\x1c", "日本語 ✓".encode(), b"\x1b[200~multi\r\nline",
               b" paste\x1b[20", b"1~", b"\x7f" * 50, b"\x1b[A\x1b[B\x1bOA", "é".encode()[:1], "é".encode()[1:]]
    for chunk in garbage:
        os.write(child.child_fd, chunk)  # raw bytes, not necessarily valid UTF-8
    child.setwinsize(20, 50)  # SIGWINCH: it redraws for the new size
    child.expect("╭" + "─" * 48 + "╮")
    child.setwinsize(5, 8)
    child.setwinsize(40, 100)
    child.expect("╭" + "─" * 98 + "╮")
    assert child.isalive()
    child.send("\x03")  # ctrl+c clears the line
    child.send("hello\x7f\x7f\x7f\x7f\x7fbye")
    child.expect("\\x1b\\[0mbye {10,}│")  # right after the "> " prefix: "hello" is gone
    child.send("\x03\x03")  # clear, then the first press of an empty line only warns
    child.expect("Press ctrl\\+c again to exit")
    child.send("\x03")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_keys_are_the_same_wherever_a_read_splits_the_input():
    data = "ab\x1b[Ac\x1b[200~x\r\ny\x1b[201~\x7f\r\x03é\x1bOB".encode()
    expected = ["a", "b", "up", "c", ("paste", "x\ny"), "backspace", "enter", "ctrl+c", "é", "down"]
    assert KeyReader().feed(data) == expected
    for cut in range(1, len(data)):
        if data[cut - 1:cut] == b"\x1b":
            continue  # a lone ESC at the end of a read is the esc key, as in every terminal app
        reader = KeyReader()
        assert reader.feed(data[:cut]) + reader.feed(data[cut:]) == expected, cut


def test_the_demo_preset_reads_the_real_agents_screens(repo):
    """The preset's ready/status rules, applied by fleet_tui's own emulator and detector, track each phase."""
    from fleet_tui.core.status import StatusDetector
    from fleet_tui.core.terminal import Terminal
    from fleet_tui.presets import load_preset

    preset = load_preset("demo")
    ready = re.compile(preset.ready)
    detector = StatusDetector({**preset.status.model_dump(), "ready": preset.ready})
    terminal = Terminal(100, 40)
    child = spawn(repo, "--ask", "always")

    def phase(*patterns):
        for pattern in patterns:
            child.expect(pattern)
            terminal.feed(child.before + child.after)
        screen = terminal.display()
        detector.on_output(0.0)
        return detector.decide(0.0, screen, terminal.title)[0], any(ready.search(row) for row in screen)

    assert phase(READY, TITLE_IDLE) == ("idle", True)
    child.send("\x1b[200~fix the\nfailing test\x1b[201~")
    child.send("\r")
    assert phase(TITLE_WORKING) == ("working", False)
    assert phase(QUESTION, TITLE_WAITING) == ("waiting", False)
    child.send("\r")
    assert phase(DONE, READY, TITLE_IDLE) == ("idle", True)
    quit_with_ctrl_d(child)
