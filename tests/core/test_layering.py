"""The engine and the server know nothing of Textual: importing them must not load it."""

import os
import subprocess
import sys

ENGINE_MODULES = ["fleet_tui.server", "fleet_tui.cli", "fleet_tui.core.fleet", "fleet_tui.core.keys"]


def test_engine_and_server_do_not_import_textual():
    probe = (
        "import importlib, sys\n"
        f"for name in {ENGINE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_ui_draws_up_to_240_frames_a_second_whoever_imported_textual_first():
    # The screen reads UPDATE_PERIOD when it first draws; a headless draw is in tests/ui.
    probe = "import textual.app, fleet_tui.ui.app, textual.screen as s; print(round(1 / s.UPDATE_PERIOD))"
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split()[-1] == "240"
