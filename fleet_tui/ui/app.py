"""The fleet command center: a client of the fleet server, owning no process and no git state."""

from __future__ import annotations

import asyncio
import gc
import time
from itertools import groupby
from operator import itemgetter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from fleet_tui.client import FleetApi
from fleet_tui.core.status import Status
from fleet_tui.errors import FleetError
from fleet_tui.protocol import ScreenMirror
from fleet_tui.ui import keymap, theme
from fleet_tui.ui.css_cache import SharedParseStylesheet
from fleet_tui.ui.direct_draw import DirectDraw
from fleet_tui.ui.scrollback import ServerHistory
from fleet_tui.ui.widgets.budget_meters import BudgetMeters
from fleet_tui.ui.widgets.event_feed import EventFeed
from fleet_tui.ui.widgets.tasks_panel import TasksPanel, waiting_for_a_person
from fleet_tui.ui.widgets.key_hints import KeyHints
from fleet_tui.ui.widgets.mode_indicator import ModeIndicator
from fleet_tui.ui.widgets.pane_grid import PaneGrid
from fleet_tui.ui.widgets.prompt_bar import PromptBar
from fleet_tui.ui.widgets.terminal_pane import TerminalPane
from fleet_tui.wire import AgentInfo, ClientSettings, EventView, SessionView, TaskView

# The dialogs and screens (and the Textual widgets they use) are imported where they open:
# reattaching needs none of them, and every import delays the first frame.

if TYPE_CHECKING:
    from fleet_tui.client import FleetClient

T = TypeVar("T")

ClientFactory = Callable[[], Awaitable["FleetApi"]]

# Statuses worth interrupting the user for, wherever they are looking.
ALERT_STATUSES = {Status.WAITING: "is waiting for input", Status.DONE: "finished its turn",
                  Status.EXITED: "finished"}
# Which pane actions make sense in which status (the footer greys out the others).
_ALIVE = {Status.STARTING, Status.WORKING, Status.WAITING, Status.IDLE, Status.DONE}
ACTION_STATUSES = {
    "pause": _ALIVE,
    "resume": {Status.PAUSED},
    "kill": _ALIVE | {Status.PAUSED, Status.OVER_BUDGET, Status.ORPHANED},
}
RUNNING = ACTION_STATUSES["kill"] - {Status.ORPHANED}  # an orphan runs, but nothing reaches its terminal
# After a keystroke, other panes' redraws wait this long (at most), so the frame that draws the
# echo draws the focused pane alone instead of queueing behind sixteen others.
ECHO_WINDOW = 0.05
OTHER_PANES_BATCH = 0.04  # unfocused panes' redraws are gathered into one frame this often
SIDEBAR_MIN_WIDTH = 120
NO_SESSIONS = "No sessions.\n\n/ fans a prompt out to new sessions · n starts an agent · : for every command"
# The worktrees' disk use changes slowly and costs a walk of every worktree (on the server, off its
# loop, cached there): asked for this often, not on every sessions message.
DISK_POLL_SECONDS = 30.0
# What stays usable while the prompt bar has the keyboard.
PROMPT_BAR_ACTIONS = {"command_palette", "show_keys"}


def osc9(text: str) -> str:
    """A desktop notification request terminals honour even over SSH (iTerm2, kitty, WezTerm...)."""
    clean = "".join(ch for ch in text if ch.isprintable())
    return f"\x1b]9;{clean}\x07"


class FleetApp(App[int]):
    CSS_PATH = "fleet.tcss"
    TITLE = "fleet"
    # Escape closes the prompt bar even before its text area has taken focus (an Escape typed
    # right after `/`): the bar's own binding sees only keys that reach the bar.
    BINDINGS = [*keymap.NAV_BINDINGS, Binding("escape", "close_prompt", show=False)]
    # The maximized pane may be steered; escape belongs to the agent then.
    ESCAPE_TO_MINIMIZE = False
    ALLOW_IN_MAXIMIZED_VIEW = "#bottom-bar"
    AUTO_FOCUS = None  # the first pane takes focus when the server has sent it
    # Below this width the sidebar folds away so the panes keep room; `b` shows it at any size.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (SIDEBAR_MIN_WIDTH, "-wide")]

    mode: reactive[str] = reactive("nav")

    def __init__(self, client: "FleetApi | ClientFactory") -> None:
        super().__init__()
        self.stylesheet = SharedParseStylesheet(variables=self.get_css_variables())  # parsed once a process
        self._client_source = client
        self.client: FleetApi | None = None
        self.mirrors: dict[str, ScreenMirror] = {}
        self._panes: dict[str, TerminalPane] = {}  # by session name, kept in step with the grid
        self.sessions: dict[str, SessionView] = {}
        self.tasks: list[TaskView] = []  # from the server's task runner, waiting gates first
        self.agents: list[AgentInfo] = []
        self.config = ClientSettings()
        self.settings = theme.load_settings()
        self.leader = keymap.DEFAULT_LEADER
        self._inputs: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._typing_until = 0.0  # monotonic time until which other panes' redraws are held back
        self._held: dict[str, set[int]] = {}  # session -> rows changed while held back
        self._held_timer: Any = None
        self._direct = DirectDraw(self)
        self._choose_theme()

    def _choose_theme(self) -> None:
        """Set the theme before Textual first parses the CSS: set in on_mount, the change re-parsed
        every widget's CSS and restyled the whole screen once more while the app opened."""
        ours = theme.load_themes()
        # Only the themes in themes/, each held to WCAG contrast with the status colours by a test:
        # Textual's own (ansi-dark, nord, ...) lack those colours, and some crashed the feed.
        for name in set(self.available_themes) - {t.name for t in ours}:
            self.unregister_theme(name)
        for fleet_theme in ours:
            self.register_theme(fleet_theme)
        chosen = self.settings.get("theme", theme.DEFAULT_THEME)
        self.theme = chosen if chosen in self.available_themes else theme.DEFAULT_THEME

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield PaneGrid(id="grid")
            yield Static(NO_SESSIONS, id="no-sessions")
            with Vertical(id="sidebar"):
                yield TasksPanel(id="tasks")
                yield EventFeed(id="feed")
                yield BudgetMeters(id="meters")
        yield PromptBar(id="prompt")
        with Horizontal(id="bottom-bar"):
            yield ModeIndicator(id="mode")
            yield KeyHints(id="keys")

    def on_mount(self) -> None:
        self.watch(self, "theme", self._remember_theme, init=False)
        self.query_one("#feed").border_title = "events"
        self.query_one("#meters").border_title = "budgets"
        self._connect()
        self._send_inputs()
        self.set_interval(DISK_POLL_SECONDS, self._refresh_disk)
        self._freeze_long_lived()

    @staticmethod
    def _freeze_long_lived() -> None:
        """Take what exists now (Textual, the widgets, the panes) out of the collector's sight.

        A full collection re-scans every long-lived object: ~110,000 of them once the UI is up,
        90-150 ms with the UI frozen on a small VM. Frozen, it takes ~4 ms plus the garbage.
        Called once at start and when panes are mounted. `fleet-tui` keeps the collector off
        while the UI is imported and opened (cli.cmd_up): from here on it runs.
        """
        gc.freeze()
        gc.enable()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme.status_variable_defaults(self.current_theme.to_color_system().generate())

    def _remember_theme(self, name: str) -> None:
        theme.save_setting("theme", name)

    # ------------------------------------------------------------------ server
    @work(exclusive=True, group="client")
    async def _connect(self) -> None:
        try:
            source = self._client_source
            client = source if isinstance(source, FleetApi) else await source()
            self.client = client
            # Asked together: one round trip to the server instead of three before the panes come.
            # What attaching pushes waits in the client's queue until the loop below reads it.
            self.config, agents = await client.open_ui()
            self.agents = agents.agents
            self.leader = self.settings.get("leader") or self.leader  # the user's, not the fleet's
            self.set_keymap({"leader": self.leader})
            self._refresh_disk()
        except FleetError as error:
            self.exit(1, message=str(error))
            return
        async for message in client.messages():
            self.handle_message(message)
        self.notify("The fleet server went away; agents may still run. Press q.", severity="error")

    @work(exclusive=True, group="disk")
    async def _refresh_disk(self) -> None:
        if self.client is None:
            return
        try:
            disk = await self.client.worktree_disk()
        except FleetError:
            return  # a server without the command: the panel shows no figure
        for meters in self.query(BudgetMeters):  # none once the app is closing
            meters.show_disk(disk.bytes, disk.worktrees)

    @work(exclusive=True, group="input")
    async def _send_inputs(self) -> None:
        """One sender, so keys reach the agent in the order they were typed."""
        while True:
            batch = [await self._inputs.get()]
            while not self._inputs.empty():
                batch.append(self._inputs.get_nowait())
            # Coalesce what piled up for one session (a fast typist, a paste) into one call.
            for session, chunks in groupby(batch, key=itemgetter(0)):
                data = b"".join(chunk for _, chunk in chunks)
                text = data.decode("utf-8", "surrogateescape")
                await self.ask(lambda client: client.input(session, text))

    async def ask(self, request: Callable[[FleetApi], Awaitable[T]]) -> T | None:
        """One request through the typed client (`lambda client: client.kill(name)`); a refusal
        becomes a toast and None, never a crash. Screens that show a refusal their own way call
        `client_of(self.app)` (ui/server_client.py) and catch FleetError."""
        if self.client is None:
            return None
        try:
            return await request(self.client)
        except FleetError as error:
            self.notify(str(error), severity="error")
            return None

    def command(self, request: Callable[[FleetApi], Awaitable[Any]]) -> None:
        """Fire a request without blocking the UI."""
        self.run_worker(self.ask(request), group="commands")

    def handle_message(self, message: dict[str, Any]) -> None:
        kind = message.get("t")
        if kind == "screen":
            name = message["s"]
            mirror = self.mirrors.setdefault(name, ScreenMirror(name))
            changed = mirror.apply(message)
            pane = self.pane(name)
            if pane is not None:
                self._draw_or_hold(pane, changed)
        elif kind == "sessions":
            self.update_sessions([SessionView.model_validate(info) for info in message.get("sessions", [])])
        elif kind == "event":
            self.query_one(EventFeed).add_event(EventView.model_validate(message["event"]))
        elif kind == "tasks":
            self.update_tasks([TaskView.model_validate(task) for task in message.get("tasks", [])])

    def update_tasks(self, tasks: list[TaskView]) -> None:
        self.tasks = tasks
        self.query_one(TasksPanel).update_tasks(tasks)
        for name, pane in self._panes.items():  # a pane's title names its task
            if name in self.sessions:
                pane.update_info(self.sessions[name], self._task_text(self.sessions[name]))

    def _task_text(self, info: SessionView) -> str:
        return next((t.text for t in self.tasks if t.id == info.task), "")

    def _draw_or_hold(self, pane: TerminalPane, rows: set[int]) -> None:
        if pane.has_focus:
            self._draw([(pane, rows)])
            return
        # Other panes are drawn together, OTHER_PANES_BATCH apart (later still while typing): the
        # server spreads their updates over its 0.2 s round, and each frame costs a pass over every
        # pane the frame's region touches, however few rows changed.
        self._held.setdefault(pane.session, set()).update(rows)
        if self._held_timer is None:
            wait = max(self._typing_until - time.monotonic(), OTHER_PANES_BATCH)
            self._held_timer = self.set_timer(wait, self._release_held)

    def _release_held(self) -> None:
        self._held_timer = None
        held, self._held = self._held, {}
        self._draw([(pane, rows) for name, rows in held.items() if (pane := self.pane(name)) is not None])

    def _draw(self, changes: list[tuple[TerminalPane, set[int]]]) -> None:
        """Changed rows straight to the terminal where nothing covers them, else through Textual."""
        for pane, rows in self._direct.draw(changes):
            pane.screen_changed(rows)

    def update_sessions(self, sessions: list[SessionView]) -> None:
        previous, self.sessions = self.sessions, {info.name: info for info in sessions}
        grid = self.query_one(PaneGrid)
        gone = [name for name in self._panes if name not in self.sessions]
        if gone:
            self._remove_panes([self._panes.pop(name) for name in gone])
        new_panes = []
        for name, info in self.sessions.items():
            pane = self._panes.get(name)
            if pane is None:
                mirror = self.mirrors.setdefault(name, ScreenMirror(name, info.cols, info.rows))
                pane = self._panes[name] = TerminalPane(mirror, info, leader=self.leader, task_text=self._task_text(info),
                                                        history=ServerHistory(self.ask, name))
                new_panes.append(pane)
            else:
                pane.update_info(info, self._task_text(info))
            before = previous[name].status if name in previous else None
            if previous and before != info.status and info.status in ALERT_STATUSES:
                self.alert(name, ALERT_STATUSES[info.status])
        if new_panes:
            grid.retile(len(self._panes))
            grid.mount_all(new_panes)
            self.call_after_refresh(self._freeze_long_lived)
            # Decided after the mount: a user who already picked a pane keeps it.
            first = new_panes[0]
            self.call_after_refresh(lambda: self.focused is None and first.focus())
        if new_panes or gone:
            self.screen_stack[0].set_class(not self._panes, "-no-sessions")
            grid.retile(len(self._panes))
            grid.call_after_refresh(grid.retile)
        self.query_one(BudgetMeters).update_sessions(sessions)
        # The footer depends on the focused pane's status only; rebuilding it costs a frame.
        focused = self.focused_pane
        if new_panes or gone or (focused and _status(previous, focused.session) != _status(self.sessions, focused.session)):
            self.refresh_bindings()

    def _remove_panes(self, gone: list[TerminalPane]) -> None:
        """Take panes away (merged, discarded, killed elsewhere) without ever stranding the keyboard.

        The grid's screen may be under the compare screen or a dialog when this happens, so
        focus is moved on that screen, to the pane that takes the removed one's place.
        """
        grid_screen = self.screen_stack[0]
        if grid_screen.maximized in gone:
            grid_screen.minimize()
        focused = grid_screen.focused
        if focused is None or focused in gone:
            if any(pane.steering for pane in gone):
                self._leave_steering()  # at once: a removed pane runs no callback
            target = self._successor(focused, gone)
            grid_screen.set_focus(target, scroll_visible=False)
        for pane in gone:
            pane.remove()

    def _successor(self, removed: Any, gone: list[TerminalPane]) -> Widget | None:
        """The pane nearest to `removed` that stays, else the event feed if shown, else nothing
        (the screen itself then gets the keys, so they all still work)."""
        panes = self.query_one(PaneGrid).panes
        index = panes.index(removed) if removed in panes else 0
        for pane in panes[index:] + panes[:index][::-1]:
            if pane not in gone:
                return pane
        return self.query_one(EventFeed) if self.query_one("#sidebar").display else None

    def alert(self, session: str, what: str) -> None:
        """Tell the user, even when they look at another pane or another window."""
        pane = self.pane(session)
        if pane is not None and not (pane.has_focus and self.mode == "steer"):
            pane.attention = True
        text = f"{session} {what}"
        self.notify(text, timeout=4)
        if self.config.notify:
            self.bell()
            if not self.is_headless and self._driver is not None:
                self._driver.write(osc9(text))

    # ------------------------------------------------------------------ panes
    def pane(self, session: str) -> TerminalPane | None:
        # A dictionary, not a DOM query: this runs for every screen update (the profile's top cost).
        return self._panes.get(session)

    @property
    def focused_pane(self) -> TerminalPane | None:
        return self.focused if isinstance(self.focused, TerminalPane) else None

    @on(TerminalPane.Input)
    def forward_input(self, message: TerminalPane.Input) -> None:
        self._typing_until = time.monotonic() + ECHO_WINDOW
        self._inputs.put_nowait((message.session, message.data))

    @on(TerminalPane.Resized)
    def forward_resize(self, message: TerminalPane.Resized) -> None:
        self.command(lambda client: client.resize(message.session, message.cols, message.rows))

    @on(TerminalPane.LeaderPressed)
    def leader_pressed(self) -> None:
        self._leave_steering()  # read by the pane itself, so after every key before it

    @on(TerminalPane.ScrollChanged)
    def scroll_changed(self) -> None:
        self.query_one(ModeIndicator).scrolled = bool(self.focused_pane and self.focused_pane.scrolled)
        self.refresh_bindings()

    def on_descendant_focus(self, event: Any) -> None:
        pane = self.focused_pane
        self.query_one(ModeIndicator).scrolled = bool(pane and pane.scrolled)
        if pane is None:
            return
        session = pane.session
        self.command(lambda client: client.focus(session))
        feed = self.query_one(EventFeed)
        if feed.has_class("-follow"):
            feed.session_filter = pane.session
        self.refresh_bindings()

    def watch_mode(self, mode: str) -> None:
        indicator = self.query_one(ModeIndicator)
        indicator.mode = mode
        indicator.target = self.focused_pane.session if self.focused_pane else ""
        self.screen.set_class(mode == "steer", "-steering")
        self.refresh_bindings()

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.mode == "steer":
            # Every key but the leader belongs to the steered agent, ctrl+q and ctrl+p too.
            return action == "navigate"
        if action == "navigate":
            return False
        if action == "close_prompt":
            return len(self.screen_stack) == 1 and self.query_one(PromptBar).is_open
        if action in keymap.NAV_ACTIONS and self.focused_pane is not None and self.focused_pane.scrolled:
            return False  # the scrolled pane's own keys are the ones that work
        if action in keymap.NAV_ACTIONS and action not in PROMPT_BAR_ACTIONS:
            # The grid's single keys mean nothing over the compare, the diff, a dialog or the prompt bar.
            if len(self.screen_stack) > 1 or self.query_one(PromptBar).is_open:
                return False
        if action in keymap.PANE_ACTIONS:
            pane = self.focused_pane
            if pane is None:
                return None
            allowed = ACTION_STATUSES.get(action)
            if allowed is not None and pane.info.status not in allowed:
                return None
        return True

    def action_move(self, direction: str) -> None:
        panes = self.query_one(PaneGrid).panes
        if not panes:
            return
        current = self.focused_pane
        index = panes.index(current) if current in panes else 0
        columns = self.query_one(PaneGrid).columns
        step = {"left": -1, "right": 1, "up": -columns, "down": columns}[direction]
        target = index + step
        if 0 <= target < len(panes):
            self._focus_now(panes[target])

    def action_focus_number(self, number: int) -> None:
        panes = self.query_one(PaneGrid).panes
        if number <= len(panes):
            self._focus_now(panes[number - 1])

    def _focus_now(self, pane: TerminalPane) -> None:
        """Focus at once, not on the next turn of the queue (Widget.focus): `2` then `x` typed
        together must kill pane 2, not the pane that had focus before."""
        pane.screen.set_focus(pane)

    def action_steer(self) -> None:
        pane = self.focused_pane
        if pane is not None:
            pane.attention = False
            self.mode = "steer"
            pane.steering = True

    def on_key(self, event: events.Key) -> None:
        # Keys typed in one burst with the Enter that steers were queued on the pane before it
        # steered: they bubble up here, after the Enter. They belong to the agent, in their order.
        pane = self.focused_pane
        if (self.mode == "steer" and pane is not None and pane.steering and self.focused is pane
                and len(self.screen_stack) == 1):
            event.stop()
            pane.type_key(event)

    def action_navigate(self) -> None:
        # The leader is a priority binding, run as soon as the app reads it, while the keys typed
        # just before it still wait in the steered pane's queue: leave STEER after them, or they
        # would arrive in NAV (an Enter meant for the agent would steer again).
        pane = self.focused_pane
        if pane is not None and pane.steering and pane.call_later(self._leave_steering):
            return
        self._leave_steering()

    def _leave_steering(self) -> None:
        for pane in self.query(TerminalPane):
            pane.steering = False
        self.mode = "nav"

    def action_scroll_back(self) -> None:
        pane = self.focused_pane
        if pane is not None:
            pane.enter_scroll()

    def action_zoom(self) -> None:
        pane = self.focused_pane
        if self.screen.maximized is not None:
            self.screen.minimize()
        elif pane is not None:
            self.screen.maximize(pane, container=False)

    def action_kill(self) -> None:
        pane = self.focused_pane
        if pane is None:
            return
        session = pane.session

        def answered(yes: bool | None) -> None:
            if yes:
                self.command(lambda client: client.kill(session))

        confirm = self.settings.get("confirm_kill", True)
        if confirm:
            question = f"Kill {session}? Its worktree and branch stay until you discard them."
            from fleet_tui.ui.screens.confirm import ConfirmScreen

            self.push_screen(ConfirmScreen(question, yes="Kill"), answered)
        else:
            answered(True)

    def action_pause(self) -> None:
        if self.focused_pane:
            session = self.focused_pane.session
            self.command(lambda client: client.pause(session))

    def action_resume(self) -> None:
        if self.focused_pane:
            session = self.focused_pane.session
            self.command(lambda client: client.resume(session))

    def action_restart(self) -> None:
        if self.focused_pane:
            session = self.focused_pane.session
            self.command(lambda client: client.restart(session))

    def action_new_session(self) -> None:
        def picked(agent: str | None) -> None:
            if agent:
                self.command(lambda client: client.start([agent]))

        if self.agents:
            from fleet_tui.ui.screens.agent_picker import AgentPicker

            self.push_screen(AgentPicker(self.agents), picked)
        else:
            self.notify("No agents are configured in fleet.yaml.", severity="warning")

    def action_toggle_mark(self) -> None:
        pane = self.focused_pane
        if pane is not None:
            pane.marked = not pane.marked

    # ------------------------------------------------------------------ runs
    def action_open_prompt(self) -> None:
        running = [info for info in self.sessions.values() if info.status in RUNNING]
        roles = sorted({info.role for info in running if info.role})
        marked = [pane for pane in self.query(TerminalPane) if pane.marked]
        self.query_one(PromptBar).open(self.agents, running=len(running), marked=len(marked), roles=roles,
                                       pipelines=self.config.pipelines)
        self.refresh_bindings()

    def action_close_prompt(self) -> None:
        self.query_one(PromptBar).action_close()

    @on(PromptBar.Closed)
    def prompt_closed(self) -> None:
        panes = self.query_one(PaneGrid).panes
        if panes and self.focused_pane is None:
            panes[0].focus()
        self.refresh_bindings()

    @on(PromptBar.Send)
    def send_prompt(self, message: PromptBar.Send) -> None:
        """Turn the bar's target into a fan-out; a prompt for several running agents is confirmed first."""
        target = message.target
        if target.startswith(("task:", "pipeline:")):
            kind, _, name = target.partition(":")
            self.queue_task(message.prompt, **{"role" if kind == "task" else "pipeline": name})
            return
        if target == "new":
            agents = [agent for agent, count in message.counts.items() for _ in range(count)]
            if not agents:
                self.notify("Choose at least one agent.", severity="warning")
                return
            self.fan_out(message.prompt, agents=agents)
            return
        if target == "marked":
            sessions = [pane.session for pane in self.query(TerminalPane) if pane.marked]
            args: dict[str, Any] = {"sessions": sessions}
        elif target.startswith("role:"):
            role = target.removeprefix("role:")
            sessions = [n for n, info in self.sessions.items() if info.status in RUNNING and info.role == role]
            args = {"role": role}
        else:
            sessions = [n for n, info in self.sessions.items() if info.status in RUNNING]
            args = {"sessions": sessions}
        if len(sessions) <= 1:
            self.fan_out(message.prompt, **args)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.fan_out(message.prompt, **args)

        from fleet_tui.ui.screens.confirm import ConfirmScreen

        question = f"Send this prompt to {len(sessions)} running sessions: {', '.join(sessions)}?"
        self.push_screen(ConfirmScreen(question, yes="Send"), answered)

    @work(group="commands")
    async def queue_task(self, text: str, **args: Any) -> None:
        task = await self.ask(lambda client: client.submit_task(text, **args))
        if task is not None:
            self.query_one(PromptBar).sent()
            self.notify(f"queued {task.id}: {task.step}")

    @work(group="commands")
    async def fan_out(self, prompt: str, **args: Any) -> None:
        run = await self.ask(lambda client: client.fanout(prompt, **args))
        if run is not None:
            self.query_one(PromptBar).sent()
            self.notify(f"run {run.run}: sent to {', '.join(run.sessions)}")

    def action_compare(self) -> None:
        from fleet_tui.ui.screens.compare import CompareScreen

        self.push_screen(CompareScreen())

    def action_approve_gate(self) -> None:
        """The gate of the focused pane's task if it waits, else the first task waiting for a person."""
        from fleet_tui.ui.screens.gate import GateScreen

        waiting = waiting_for_a_person(self.tasks)
        if not waiting:
            self.notify("no task is waiting for you")
            return
        pane = self.focused_pane
        mine = [t for t in waiting if pane is not None and t.session == pane.session]
        self.push_screen(GateScreen((mine or waiting)[0]))

    def action_toggle_feed_filter(self) -> None:
        feed = self.query_one(EventFeed)
        follow = not feed.has_class("-follow")
        feed.set_class(follow, "-follow")
        pane = self.focused_pane
        feed.session_filter = pane.session if follow and pane else None

    def action_toggle_sidebar(self) -> None:
        grid_screen = self.screen_stack[0]
        shown = self.query_one("#sidebar").display
        grid_screen.set_class(not shown, "-sidebar-on")
        grid_screen.set_class(shown, "-sidebar-off")

    def action_show_keys(self) -> None:
        from fleet_tui.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.leader))

    def action_detach(self) -> None:
        self.exit(0)

    def action_stop_fleet(self) -> None:
        from fleet_tui.ui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.stop_fleet()

        running = sum(info.status in RUNNING for info in self.sessions.values())
        question = (f"Stop the fleet? {running} running agent{'s' if running != 1 else ''} will be stopped; "
                    "worktrees stay until discarded. (Detach, q, leaves them running.)")
        self.push_screen(ConfirmScreen(question, yes="Stop"), answered)

    @work(group="commands")
    async def stop_fleet(self) -> None:
        if self.client is not None:
            try:
                await self.client.stop_server()
            except FleetError as error:
                self.notify(str(error), severity="error")
                return
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own Quit, Keys and Maximize are replaced by Detach/Stop, Help and Zoom below.
        replaced = {"Quit", "Keys", "Maximize", "Minimize"}
        yield from (command for command in super().get_system_commands(screen) if command.title not in replaced)
        pane = self.focused_pane or self.screen_stack[0].focused
        if isinstance(pane, TerminalPane):
            status = pane.info.status
            for action, verb in (("kill", "Kill"), ("pause", "Pause"), ("resume", "Resume"), ("restart", "Restart")):
                allowed = ACTION_STATUSES.get(action)
                if allowed is None or status in allowed:
                    yield SystemCommand(f"{verb} {pane.session}", f"{verb} the focused agent ({status})",
                                        getattr(self, f"action_{action}"))
            yield SystemCommand(f"Zoom {pane.session}", "Zoom the focused pane to the whole screen, or back (z)",
                                self.action_zoom)
        for agent in self.agents:
            yield SystemCommand(f"Start {agent.name}", f"Start a new {agent.name} session",
                                lambda name=agent.name: self.command(lambda client: client.start([name])))
        yield SystemCommand("Compare", "Compare the latest run's attempts (c)", self.action_compare)
        yield SystemCommand("Filter feed", "Show only the focused session's events (f)", self.action_toggle_feed_filter)
        yield SystemCommand("Sidebar", "Show or hide the events and budgets (b)", self.action_toggle_sidebar)
        yield SystemCommand("Help", "Every key, in words (?)", self.action_show_keys)
        yield SystemCommand("Detach", "Close the UI; every agent keeps running, `fleet-tui` comes back (q)",
                            self.action_detach)
        yield SystemCommand("Stop the fleet and quit", "Stop every agent and the fleet server, like `fleet-tui down`",
                            self.action_stop_fleet)

    async def on_unmount(self) -> None:
        if self.client is not None:
            await self.client.close()


def _status(sessions: dict[str, SessionView], name: str) -> str | None:
    return sessions[name].status if name in sessions else None


def with_machines(client: "FleetClient") -> "FleetApi":
    """The local fleet alone, or with every configured machine's in the same grid."""
    from fleet_tui.machines import load_machines

    machines = list(load_machines().machines.values())
    if not machines:
        return client
    from fleet_tui.multiclient import MultiClient
    from fleet_tui.remote import connect_machine

    return MultiClient(client, machines, connect_machine)


async def keep_warm(client: "FleetClient") -> None:
    """Ask the server for a warm UI process, which opens the next `fleet-tui` in a fraction of the
    time (fleet_tui/launch.py); FLEET_WARM_UI=0 asks for none."""
    import os

    from fleet_tui.warm_protocol import warm_ui_enabled

    if not warm_ui_enabled(os.environ):
        return
    try:
        await client.warm_ui()
    except FleetError:
        pass  # a server older than the request: it opens the slow way, as before


def run_tui(root: Path, config_path: Path | None = None) -> int:
    """Open the command center for the fleet of the repository at `root`; 0 on detach."""
    from fleet_tui.client import FleetClient
    from fleet_tui.paths import CONFIG_NAME, socket_path

    running = socket_path(root).exists()
    if not running:
        from fleet_tui.config import load_config  # only here: reattaching to a running fleet reads no fleet.yaml

        load_config(config_path or root / CONFIG_NAME)  # a broken fleet.yaml: one located line, exit 2, no UI flash

    async def connect() -> FleetApi:
        client = await FleetClient.connect(root, config_path=config_path)
        # A fresh fleet starts its configured agents; later opens leave killed ones alone.
        status, _ = await asyncio.gather(client.status(), keep_warm(client))
        if not status.sessions:
            await client.start()
        fleet = with_machines(client)
        if fleet is client:
            client.open_ui_early()
        return fleet

    async def run() -> int:
        source: FleetApi | ClientFactory = connect
        if running:
            # Reattaching: connected and asked before Textual starts, so the server answers while
            # the app is built; the first frame then has the panes, not an empty grid drawn first.
            try:
                source = await connect()
            except FleetError:
                pass  # stopped meanwhile: the app connects (and starts it) the usual way
        app = FleetApp(source)
        await app.run_async()
        return app.return_code or 0

    return asyncio.run(run())
