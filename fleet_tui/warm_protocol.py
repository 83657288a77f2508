"""What `fleet-tui`'s launcher (fleet_tui/launch.py), the warm UI process (fleet_tui/ui/warm.py)
and the server that keeps it (fleet_tui/warm_host.py) agree on. Imports nothing: the launcher
reads it before anything else loads."""

from collections.abc import Mapping

WARM_UI_ENV = "FLEET_WARM_UI"  # 0 turns the warm UI process off (the server starts none, `fleet-tui` asks none)
MAGIC = b"FLTW1"  # a launcher's request starts with it
STALE_EXIT = 75  # the warm process found our code changed on disk: its server starts a fresh one at once
# Environment read when Textual, Python or our modules are imported: a warm process imported with
# other values would behave differently, so any difference means the ordinary path.
IMPORT_TIME_PREFIXES = ("TEXTUAL_", "PYTHON")
IMPORT_TIME_NAMES = ("ESCDELAY",)
IGNORED_PYTHON_VARIABLES = ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")  # change nothing of ours
# What a Textual app undoes on exit: the alternate screen, the hidden cursor, mouse reports,
# bracketed paste, the kitty keyboard protocol. Sent when a TUI died without undoing them.
LEAVE_APPLICATION_MODE = b"\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[<u"


def warm_ui_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get(WARM_UI_ENV, "1").strip().lower() not in ("0", "no", "false", "off")


def import_time_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables whose values the warm process and a launcher must share."""
    return {name: value for name, value in environ.items()
            if (name.startswith(IMPORT_TIME_PREFIXES) or name in IMPORT_TIME_NAMES)
            and name not in IGNORED_PYTHON_VARIABLES}
