"""The engine and the server know nothing of Textual: importing them must not load it."""

import os
import subprocess
import sys

import pytest

ENGINE_MODULES = ["fleet_tui.server", "fleet_tui.cli", "fleet_tui.core.fleet", "fleet_tui.core.keys"]


@pytest.mark.real
def test_engine_and_server_do_not_import_textual():
    probe = (
        "import importlib, sys\n"
        f"for name in {ENGINE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.real
def test_the_ui_draws_up_to_240_frames_a_second_whoever_imported_textual_first():
    # The screen reads UPDATE_PERIOD when it first draws; a headless draw is in tests/ui.
    probe = "import textual.app, fleet_tui.ui.app, textual.screen as s; print(round(1 / s.UPDATE_PERIOD))"
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split()[-1] == "240"


FORBIDDEN_IN_ENGINE = ("textual", "rich", "fleet_tui.ui", "fleet_tui.server", "fleet_tui.client", "fleet_tui.cli")


def imported_names(path) -> list[str]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    import ast
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_engine_never_imports_ui_server_client_or_cli_even_lazily():
    from pathlib import Path
    import fleet_tui.core
    core = Path(fleet_tui.core.__file__).parent
    offenders = [f"{path.name} imports {name}"
                 for path in sorted(core.rglob("*.py"))
                 for name in imported_names(path)
                 if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_IN_ENGINE)]
    assert offenders == []
    assert len(list(core.rglob("*.py"))) > 10  # the walk really saw the engine
