"""README's journeys, driven as a person would in a real terminal (tmux), in sequence and
without a restart: demo -> approve -> compare -> diff -> merge from the gate -> prompt bar
again -> fan out again -> kill -> help -> palette actions -> detach -> reattach, then a pane
removed from the CLI while another screen is on top. At 80x24, 120x40 and 200x50, each in
another theme; and a short pass opening every screen twice in every theme.

A step fails on a traceback, on a key that changes nothing (every wait has a deadline), and on
a control that is cut off (the labels of each dialog's buttons and the footer's `?` must show).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from tests.e2e.tmux import EXITED, Terminal
from tests.fleet.conftest import FleetCli

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
              pytest.mark.timeout(420),
              pytest.mark.real]

SPEED = "10"  # the demo agents' pace: fast, still slow enough to be caught working


class Demo:
    """An isolated `fleet-tui demo`: its own cache, config and runtime folders, one theme."""

    def __init__(self, theme: str, cols: int, rows: int):
        self.home = Path(tempfile.mkdtemp(prefix="fj-"))  # short: unix socket paths are limited
        repo = self.home / "cache" / "fleet-tui" / "demo" / "calc"
        self.cli = FleetCli(repo, self.home)
        self.cli.env.update(XDG_CACHE_HOME=str(self.home / "cache"), FLEET_DEMO_SPEED=SPEED)
        settings = self.home / "config" / "fleet-tui" / "settings.json"
        settings.parent.mkdir(parents=True)
        settings.write_text(json.dumps({"theme": theme}))
        self.term = Terminal(self.cli.env, self.home, cols, rows)

    @property
    def repo(self) -> Path:
        return self.cli.repo

    def statuses(self) -> dict[str, str]:
        if not (self.repo / ".git").exists():
            return {}
        return {s["name"]: s["status"] for s in self.cli.status()}

    def until(self, predicate, what: str, timeout: float = 90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.term.check(self.term.screen())
            value = predicate()
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"never: {what}; statuses {self.statuses()}\n{self.term.screen()}")

    def footer_offers_help(self) -> None:
        footer = self.term.screen().rstrip("\n").splitlines()[-1]
        assert "? keys" in footer or "esc" in footer, f"the footer lost its way out: {footer!r}"

    def close(self) -> None:
        self.term.close()
        pid = self.cli.server_pid() if (self.repo / ".git").exists() else None
        if (self.repo / ".git").exists():
            self.cli.run("down", check=False)
        if pid and psutil.pid_exists(pid):
            psutil.Process(pid).kill()
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def demo_at(request):
    made: list[Demo] = []

    def make(theme: str, cols: int, rows: int) -> Demo:
        made.append(Demo(theme, cols, rows))
        return made[-1]

    yield make
    for demo in made:
        demo.close()


FINISHED = {"idle", "done"}
# The grid's own footer. The prompt bar's starts with " NAV " too, and a notification can cover
# the bar's border: only this proves the bar (or any screen on top) closed.
GRID_FOOTER = " NAV  1-9 pane"


def steer(demo: Demo, session: str, number: int) -> None:
    """Focus pane `number` and steer it; the mode indicator must name `session`."""
    term = demo.term
    for _ in range(3):
        term.keys(str(number))
        term.keys("Enter")
        screen = term.wait("STEER ")
        if f"STEER {session}" in screen:
            return
        term.keys("C-\\")  # steering another pane: a key raced a redraw; back and again
        term.wait(footer=GRID_FOOTER)
    raise AssertionError(f"pane {number} is not {session}:\n{term.screen()}")


def approve_every_wait(demo: Demo) -> None:
    """README: press its number, enter to steer, enter to approve, the leader to come back."""
    term = demo.term
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = demo.statuses()
        if statuses and all(status in FINISHED for status in statuses.values()):
            return
        question = demo.cli.screen("r1-thorough")
        if statuses.get("r1-thorough") == "waiting" and "Do you want" in question:
            steer(demo, "r1-thorough", 3)
            term.keys("Enter")
            term.keys("C-\\")
            term.wait(footer=GRID_FOOTER)
            # The next question may follow at once: wait for this one to go, not for a status.
            demo.until(lambda: demo.cli.screen("r1-thorough") != question, "the approval taken", 30)
        time.sleep(0.3)
    raise AssertionError(f"the demo never finished: {demo.statuses()}")


JOURNEYS = [((80, 24), "fleet-dark"), ((120, 40), "fleet-light"), ((200, 50), "fleet-high-contrast")]


@pytest.mark.parametrize("size, theme", JOURNEYS, ids=[f"{c}x{r}-{t}" for (c, r), t in JOURNEYS])
def test_readme_journey_in_sequence(demo_at, size, theme):
    demo = demo_at(theme, *size)
    term = demo.term

    # demo: three agents, one stops for approval.
    term.run("demo")
    term.wait("r1-careful", "r1-thorough", "r1-hasty", timeout=90)
    demo.footer_offers_help()
    approve_every_wait(demo)

    # compare: the ranking and the highlighted attempt's detail, labelled times.
    term.keys("c")
    screen = term.wait("ranking:", "wall", "active", timeout=90)
    assert "r1-careful" in screen and "pass" in screen
    demo.footer_offers_help()

    # diff, and back.
    term.keys("Enter")
    term.wait("all files", "calc.py")
    term.keys("Escape")
    term.wait("ranking:")

    # merge from the gate: both buttons whole, Merge focused, so enter merges.
    term.keys("m")
    term.wait("Merge (y)", "Cancel (esc)", "then discard")
    term.keys("Enter")
    demo.until(lambda: demo.statuses() == {}, "the merge landed and the others were discarded")
    term.wait(footer=GRID_FOOTER, gone=("ranking:",))
    demo.footer_offers_help()

    # the prompt bar twice (it crashed the second time), then a new fan-out.
    term.keys("/")
    term.wait("ctrl+s send")
    term.keys("Escape")
    term.wait(footer=GRID_FOOTER, gone=("ctrl+s send",))
    term.keys("/")
    term.wait("ctrl+s send")
    term.keys("add a docstring to mean", literal=True)
    term.keys("C-s")
    term.wait("r2-careful", "r2-hasty", gone=("ctrl+s send",), timeout=60)
    demo.until(lambda: len(demo.statuses()) == 3, "run r2 started")
    # The feed names the sessions before their panes mount; a pane's title has its port.
    term.wait(*(f"{name} :31" for name in demo.statuses()), timeout=60)

    # kill pane 2 (r2-hasty or whichever sits there), confirmed.
    term.keys("2")
    term.keys("x")
    screen = term.wait("Kill (y)", "Cancel (n)")
    killed = next(name for name in demo.statuses() if f"Kill {name}?" in screen.replace("\n", " "))
    term.keys("y")
    demo.until(lambda: demo.statuses().get(killed) == "killed", f"{killed} killed")
    term.wait("killed")

    # help: the leader named, the grid keys in words; esc closes it.
    term.keys("?")
    term.wait("leader", "focus pane number")
    term.keys("Escape")
    # The help's own text says " NAV " and a notification can cover "focus pane number": only the
    # grid's footer proves it closed (a "1" sent while esc still waited would read as alt+1).
    term.wait(footer=GRID_FOOTER, gone=("focus pane number",))

    # palette actions on pane 1: pause, resume, zoom.
    term.keys("1")
    first = next(name for name, status in demo.statuses().items() if status != "killed")
    for verb, wanted in (("pause", {"paused"}), ("resume", {"working", "idle", "waiting"})):
        term.keys(":")
        term.wait("Search for commands")
        term.keys(f"{verb} {first}", literal=True)
        term.wait(f"{verb.capitalize()} {first}")
        term.keys("Enter")
        demo.until(lambda: demo.statuses()[first] in wanted, f"{first} {verb}d from the palette")
        if verb == "pause":
            # The palette offers Resume only for a pane the UI already shows paused, which can lag the CLI.
            term.wait(f"paused {first}")
    term.keys(":")
    term.wait("Search for commands")
    term.keys(f"zoom {first}", literal=True)
    term.wait(f"Zoom {first}")
    term.keys("Enter")
    term.wait(first, gone=(killed,))  # zoomed: the other panes are out of sight
    term.keys("z")
    term.wait(first, killed)

    # detach: the TUI exits 0, the agents keep running.
    running = {name: status for name, status in demo.statuses().items() if status != "killed"}
    term.keys("q")
    term.wait(f"{EXITED}0")
    assert {n: s for n, s in demo.statuses().items() if s != "killed"}.keys() == running.keys()

    # reattach: every pane back, the killed one still killed and showing its last screen.
    term.run("-C", str(demo.repo))
    screen = term.wait(first, killed, "killed", timeout=60)
    demo.footer_offers_help()

    # a pane removed from the CLI while another screen is on top; keys still live after.
    term.keys("?")
    term.wait("focus pane number")
    demo.cli.run("discard", killed)
    demo.until(lambda: killed not in demo.statuses(), f"{killed} discarded")
    term.keys("Escape")
    term.wait(first, gone=("✗ killed", "focus pane number"), footer=GRID_FOOTER)
    term.keys("?")
    term.wait("focus pane number")
    term.keys("Escape")
    term.wait(footer=GRID_FOOTER, gone=("focus pane number",))  # (esc then q at once would read as alt+q)
    term.keys("q")
    term.wait(f"{EXITED}0")


THEMES = ["fleet-dark", "fleet-light", "fleet-high-contrast"]


@pytest.mark.parametrize("theme", THEMES)
def test_every_screen_opens_twice(demo_at, theme):
    """Each screen and dialog opened, closed and opened again: nothing crashes, every key answers."""
    demo = demo_at(theme, 100, 30)
    term = demo.term
    term.run("demo")
    term.wait("r1-careful", "r1-thorough", "r1-hasty", timeout=90)
    screens = [
        ("?", "focus pane number", "Escape"),
        (":", "Search for commands", "Escape"),
        ("/", "ctrl+s send", "Escape"),
        ("n", "Start a new session of", "Escape"),
        ("x", "Cancel (n)", "n"),
        ("c", "ranking:", "Escape"),
    ]
    for _ in range(2):
        for key, shows, close in screens:
            term.keys(key)
            term.wait(shows, timeout=60)
            term.keys(close)
            term.wait(footer=GRID_FOOTER, gone=(shows,))
        term.keys("b")
        term.wait("events")
        term.keys("b")
        term.wait(footer=GRID_FOOTER, gone=("╭─ events",))
        term.keys("z")
        term.keys("z")
    term.keys("q")
    term.wait(f"{EXITED}0")
