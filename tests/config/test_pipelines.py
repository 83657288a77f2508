"""fleet.yaml's pipelines:, prompts: and risk: sections: valid ones load, mistakes are located."""

import textwrap

import pytest

from fleet_tui.config import parse_config
from fleet_tui.errors import UsageError

HEAD = textwrap.dedent(
    """\
    checks:
      tests: python -m pytest -q
    agents:
      dev: {command: [bash], role: developer, max_sessions: 2}
      rev: {command: [bash], role: reviewer}
    """
)


def load(tail: str):
    return parse_config(HEAD + textwrap.dedent(tail))


def error(tail: str) -> str:
    with pytest.raises(UsageError) as caught:
        load(tail)
    return str(caught.value)


def test_a_whole_pipeline_loads():
    config = load(
        """\
        pipelines:
          feature:
            - do: developer
            - check: [tests]
              retry: 2
            - review: reviewer
              approve_when: LGTM
            - gate: human
            - merge: squash
          race:
            - do: developer
              count: 3
            - gate: agent
        risk: {paths: ["migrations/**"], max_lines: 400}
        prompts:
          task: "Task: {task}"
        """
    )
    stages = config.pipelines["feature"]
    assert [s.kind for s in stages] == ["do", "check", "review", "gate", "merge"]
    assert stages[1].retry == 2 and stages[2].verdict_word == "LGTM" and stages[4].merge == "squash"
    assert config.pipelines["race"][0].count == 3
    assert config.risk.max_lines == 400 and config.agents["dev"].max_sessions == 2
    assert config.prompts.fill("task", task="x") == "Task: x"
    assert "{diff}" not in config.prompts.fill("review", task="t", diff="D", verdict_file="v", approve_when="A")


@pytest.mark.parametrize("tail, expected", [
    ("pipelines:\n  f:\n    - do: developer\n    - check: [test]\n",
     "fleet.yaml:9: pipelines.f[1].check: 'test' is not a configured check (checks: tests)"),
    ("pipelines:\n  f:\n    - do: develper\n",
     "fleet.yaml:8: pipelines.f[0].do: no agent has the role 'develper' (roles: developer, reviewer)"),
    ("pipelines:\n  f:\n    - do: developer\n    - review: reviewer\n      retyr: 2\n",
     "fleet.yaml:10: pipelines.f[1].retyr: unknown key (did you mean retry?)"),
    ("pipelines:\n  f:\n    - do: developer\n      retry: 2\n",
     "fleet.yaml:8: pipelines.f[0]: retry: does not go with a do: stage"),
    ("pipelines:\n  f:\n    - do: developer\n      merge: squash\n",
     "fleet.yaml:8: pipelines.f[0]: a stage has exactly one of"),
    ("pipelines:\n  f:\n    - do: developer\n    - merge: fast\n",
     "fleet.yaml:9: pipelines.f[1].merge: \"fast\" is not allowed"),
    ("pipelines:\n  f:\n    - gate: human\n", "fleet.yaml:8: pipelines.f[0]: the first stage must be do: ROLE"),
    ("prompts:\n  review: \"look at {difff}\"\n",
     "fleet.yaml:7: prompts.review: {difff} is not known here"),
    ("risk: {max_lines: many}\n", "fleet.yaml:6: risk.max_lines: \"many\" is not a whole number"),
])
def test_mistakes_are_reported_at_their_line(tail, expected):
    assert error(tail).startswith(expected)
