"""Typing a prompt into an agent's terminal, and waiting until the agent can take one."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from fleet_tui.core.agent_spec import AgentSpec
from fleet_tui.core.keys import encode_key, encode_paste
from fleet_tui.core.session import Session
from fleet_tui.core.status import Status

PROMPT_ENTER_DELAY = 0.08  # agents drop an Enter that arrives glued to the typed text
PROMPT_DRAWN_TIMEOUT = 1.5  # the longest an Enter waits for the agent to draw what was typed
PROMPT_READY_TIMEOUT = 90.0
READY_POLL_SECONDS = 0.2
QUIET_READY_SECONDS = 0.3  # an agent without a `ready` pattern is ready once quiet this long


async def type_prompt(session: Session, text: str) -> None:
    """Type `text` into the session, then submit it with Enter."""
    modes = session.terminal.modes()
    typed_at = session.clock()  # before typing: an agent may draw it before we look again
    if modes.get("bracketed_paste"):
        # As one paste: a CLI that guesses pastes from fast typing (Codex) would otherwise take
        # the Enter that follows as part of the paste when a loaded machine delivers both at once.
        session.type(encode_paste(text, True))
        # A program that takes pastes can be slow to handle one; an Enter before it has is
        # part of the paste. One that does not (a plain command) need not draw anything.
        await _drawn(session, since=typed_at)
    else:
        session.type(text.replace("\n", " ").encode())
        await asyncio.sleep(PROMPT_ENTER_DELAY)
    session.write(b"\r")


async def _drawn(session: Session, since: float) -> None:
    """Until the agent has drawn what was typed and paused PROMPT_ENTER_DELAY (or the timeout).

    An Enter that comes before the agent has handled the paste is taken as part of it: Gemini
    CLI makes it a newline in the prompt, and a loaded machine can take longer than any fixed
    pause to get there.
    """
    deadline = since + PROMPT_DRAWN_TIMEOUT
    await asyncio.sleep(PROMPT_ENTER_DELAY)
    while session.alive and session.clock() < deadline:
        drawn_at = session.detector.any_output  # the last output, echo included
        if drawn_at is not None and drawn_at > since and session.clock() - drawn_at >= PROMPT_ENTER_DELAY:
            return
        await asyncio.sleep(0.02)


async def wait_until_ready(session: Session, spec: AgentSpec, *, on_trust_answered: Callable[[], object],
                           on_late: Callable[[], None]) -> bool:
    """Wait for the agent to accept input, answering a first-start trust dialog; False if it ended.

    Never gives up while the session lives: past PROMPT_READY_TIMEOUT `on_late` is called once.
    """
    deadline = time.monotonic() + PROMPT_READY_TIMEOUT
    trust = spec.trust_dialog
    answered_trust = False
    ready = re.compile(spec.ready) if spec.ready else None
    quiet_since: float | None = None
    late = False
    while session.alive:
        if not late and time.monotonic() > deadline:
            late = True
            on_late()
        await asyncio.sleep(READY_POLL_SECONDS)
        screen = "\n".join(session.terminal.display())
        if trust and not answered_trust and re.search(trust["match"], screen):
            session.write(b"".join(encode_key(k, session.terminal.modes()) for k in trust.get("keys", ["enter"])))
            answered_trust = True
            on_trust_answered()
            continue
        if ready is not None:
            if ready.search(screen):
                return True
        elif session.status in (Status.IDLE, Status.DONE):
            # No ready pattern: an agent that has gone quiet (or never printed) is ready.
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > QUIET_READY_SECONDS:
                return True
    return False
