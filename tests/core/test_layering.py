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


@pytest.mark.real
def test_the_cli_starts_without_pydantic_or_the_config_schema():
    # Every command, and the bridge on every SSH link, starts here: the schema loads only where a
    # fleet.yaml is read.
    probe = "import sys, fleet_tui.cli; print(sorted(m for m in ('pydantic', 'fleet_tui.config') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


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


# The schema layer: what fleet.yaml and the presets mean. The engine stands on it, never the reverse.
CONFIG_MODULES = ("fleet_tui.config", "fleet_tui.yamlload", "fleet_tui.presets", "fleet_tui.pipeline_config",
                  "fleet_tui.names")


def module_files() -> dict[str, "Path"]:
    """Every fleet_tui module by dotted name -> its file."""
    from pathlib import Path
    import fleet_tui
    package = Path(fleet_tui.__file__).parent
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Which fleet_tui modules each fleet_tui module imports, at any depth.

    `from fleet_tui.core import gitrepo` counts as importing the module fleet_tui.core.gitrepo.
    """
    import ast
    modules = module_files()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:  # relative: from its own package upwards
                    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                    base = ".".join(package[:len(package) - node.level + 1] + [node.module])
                targets |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                            for alias in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_config_never_imports_the_engine_even_lazily():
    graph = import_graph()
    assert set(CONFIG_MODULES) <= set(graph)
    offenders = [f"{name} imports {target}" for name in CONFIG_MODULES for target in sorted(graph[name])
                 if target.startswith("fleet_tui.core")]
    assert offenders == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycle_among_fleet_tui_modules_even_through_lazy_imports():
    graph = import_graph()
    assert len(graph) > 40 and "fleet_tui.core.fleet" in graph["fleet_tui.server"]  # the walk saw real edges
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
