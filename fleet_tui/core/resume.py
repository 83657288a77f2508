"""Starting a session's agent again where its conversation left off, when its CLI can.

Each preset says, as data (its `resume:` section), how its CLI resumes one of its
own conversations (`claude --resume ID`, `codex resume ID`), how to give a fresh
start a known id (`claude --session-id ID`), and where the CLI keeps its
conversations. A restart resumes the session's conversation when its id is known
(or can be found in the CLI's files) and the conversation is there; otherwise the
agent starts fresh in the same worktree, and the plan says why.
"""

from __future__ import annotations

import glob
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from fleet_tui.core.session import SessionRecord

# Conversation ids found in file names are UUIDs (Claude Code's and Codex's are).
ID_PATTERN = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
FIRST_LINE_LIMIT = 64 * 1024  # a conversation file's first line is read up to this much


@dataclass(frozen=True)
class StartPlan:
    """How to start a session's agent: words to put after its command, and what to tell the user."""

    args: list[str]
    conversation_id: str | None  # the id the record holds once started
    resumed: bool
    note: str | None = None  # for the event feed; None for an ordinary fresh start


def plan_start(rules, record: SessionRecord, *, home: Path, resume: bool) -> StartPlan:
    """The plan for starting `record`'s agent: fresh (a new session) or, when `resume`, resumed.

    `rules` is the preset's ResumeRules (None when the CLI cannot resume); `home` is the
    HOME the agent runs with, where CLIs keep their conversations.
    """
    if rules is None:
        note = "started fresh in its worktree (this agent's CLI has no way to resume a conversation)"
        return StartPlan([], None, False, note if resume else None)
    if not resume:
        return _fresh(rules, None)
    needs_id = any("{id}" in word for word in rules.args)
    # Where the CLI keeps its conversations; None: not known, so not looked at.
    where = _Where(rules.conversations, home, Path(record.worktree)) if rules.conversations is not None else None
    if not needs_id:  # aider: it finds its own history in the worktree
        if where is not None and not where.matches():
            return _fresh(rules, "started fresh in its worktree: no earlier conversation was found there")
        return StartPlan(list(rules.args), None, True, "resumed its earlier conversation")
    conversation = record.conversation_id
    found_by = ""
    if conversation is None and where is not None:
        conversation = where.newest_naming_worktree(since=record.created)
        found_by = " (found in its conversation files)"
    if conversation is None:
        return _fresh(rules, "started fresh in its worktree: its conversation id is not known")
    if where is not None and not where.matches(conversation):
        return _fresh(rules, f"started fresh in its worktree: conversation {conversation} was not found "
                             f"(looked for {where.describe(conversation)})")
    args = [word.replace("{id}", conversation) for word in rules.args]
    return StartPlan(args, conversation, True, f"resumed conversation {conversation}{found_by}")


def _fresh(rules, note: str | None) -> StartPlan:
    if any("{id}" in word for word in rules.new_args):
        conversation = str(uuid.uuid4())
        return StartPlan([word.replace("{id}", conversation) for word in rules.new_args], conversation, False, note)
    return StartPlan(list(rules.new_args), None, False, note)


def argv_with(command: list[str], argv: list[str], args: list[str]) -> list[str]:
    """`argv` (which starts with `command`) with `args` right after the command: subcommands
    such as Codex's `resume ID` must come before any option."""
    if not args:
        return list(argv)
    n = len(command)
    return [*argv[:n], *args, *argv[n:]]


class _Where:
    """A preset's `conversations` glob, resolved for one session."""

    def __init__(self, pattern: str, home: Path, worktree: Path):
        if pattern.startswith("~/"):
            pattern = str(home) + pattern[1:]
        self.pattern = pattern.replace("{worktree}", glob.escape(str(worktree)))
        self.worktree = worktree

    def describe(self, conversation: str) -> str:
        return self.pattern.replace("{id}", conversation)

    def matches(self, conversation: str | None = None) -> bool:
        """True when the CLI's files hold the conversation (any, for a pattern without {id})."""
        if "{id}" in self.pattern and not conversation:
            return False
        return bool(glob.glob(self.pattern.replace("{id}", glob.escape(conversation or ""))))

    def newest_naming_worktree(self, since: float) -> str | None:
        """The id of the newest conversation file whose first line names the worktree."""
        if "{id}" not in self.pattern:
            return None
        folder, name = os.path.split(self.pattern)
        head, tail = name.split("{id}", 1)
        id_in_name = re.compile(_glob_regex(head) + f"(?P<id>{ID_PATTERN})" + _glob_regex(tail))
        named = json.dumps(str(self.worktree))[1:-1]  # as it appears inside a JSON string
        found: list[tuple[float, str]] = []
        for path in glob.glob(os.path.join(folder, head + "*" + tail)):
            match = id_in_name.fullmatch(os.path.basename(path))
            if match is None:
                continue
            try:
                mtime = os.stat(path).st_mtime
                if mtime < since - 1:
                    continue  # an earlier session of the same name, in the same folder
                with open(path, "rb") as file:
                    first = file.readline(FIRST_LINE_LIMIT).decode("utf-8", "replace")
            except OSError:
                continue
            if f'"{named}"' in first:
                found.append((mtime, match["id"]))
        return max(found)[1] if found else None


def _glob_regex(part: str) -> str:
    """A file-name glob fragment as a regex (only * and ? are expected in a preset)."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in part)
