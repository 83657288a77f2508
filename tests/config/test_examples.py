"""Every example fleet in examples/ loads, and examples/README.md describes each one."""

from pathlib import Path

import pytest

from fleet_tui.config import load_config
from fleet_tui.core.agent_spec import resolve_agent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_loads_and_resolves(path):
    config = load_config(path)
    for name in config.agents:
        assert resolve_agent(config, name).argv("hello")
    assert path.name in (EXAMPLES / "README.md").read_text()


def test_the_promised_examples_exist():
    assert {"solo.yaml", "trio.yaml", "pair.yaml", "pipeline.yaml"} <= {p.name for p in EXAMPLES.glob("*.yaml")}
    pipeline = load_config(EXAMPLES / "pipeline.yaml")
    assert [s.kind for s in pipeline.pipelines["feature"]] == ["do", "check", "review", "gate", "merge"]
    assert pipeline.pipelines["spike"][0].count == 3 and pipeline.risk.paths
    pair = load_config(EXAMPLES / "pair.yaml")
    assert {a.role for a in pair.agents.values()} == {"developer", "reviewer"}
    assert pair.checks and all(a.prompt for a in pair.agents.values())
    trio = load_config(EXAMPLES / "trio.yaml")
    assert {a.preset for a in trio.agents.values()} == {"claude", "codex", "gemini"}
