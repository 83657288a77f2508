"""Benchmark: how right and how quick the status is on real agents through whole turns (issue 13).

The real Claude Code and Codex run offline in a real fleet against the scripted model endpoint
(tests/agents/model_endpoint.py) through the same turn, `--turns` times each:

  prompt sent -> a silent model wait (3 s, the endpoint holds its answer) -> a tool call that
  asks permission -> the dialog shows -> approved in the pane (1.5 s later) -> the tool runs ->
  the closing reply -> the turn ends.

Each moment is labelled from what really happened, not from fleet_tui: working from the
prompt's Enter; waiting from the first screen that shows the dialog (polled every 20 ms);
working from the approving key; done once the endpoint sent the closing reply's last byte.
fleet_tui's status is sampled every 20 ms through the server socket. Printed per agent: the
share of samples with the right status, samples reading idle while the agent worked or waited,
and the delay from each real transition to fleet_tui showing it. `claude (no hooks)` is the
same Claude with its preset's hooks switched off: the screen layers alone.

  python -m bench.status_accuracy [--turns 3] [--agents claude,codex,claude-nohooks]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import table
from fleet_tui.presets import BUILTIN_DIR
from tests.agents import model_endpoint as model
from tests.agents import offline
from tests.agents.conftest import Peek, find_cli, kill_processes_with_home
from tests.fleet.conftest import FleetCli, make_repo
from tests.status.corpus import label_at

SAMPLE = 0.02
SILENT_WAIT = 3.0
ANSWER_AFTER = 1.5
DIALOG = {"claude": "Do you want to create", "codex": "Would you like to run the following command?"}


@dataclass
class Turn:
    samples: list[tuple[float, str]] = field(default_factory=list)  # (time, fleet_tui's status)
    labels: list[tuple[float, str]] = field(default_factory=list)  # (time, the real status from then on)
    end: float = 0.0
    retried: bool = False  # the prompt's Enter had to be sent again

    def label_at(self, t: float) -> str | None:
        return label_at(self.labels, t)


class Sampler(threading.Thread):
    def __init__(self, peek: Peek, name: str, dialog: str):
        super().__init__(daemon=True)
        self.peek, self.name, self.dialog = peek, name, dialog
        self.samples: list[tuple[float, str]] = []
        self.dialog_seen: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            t = time.monotonic()
            status = next(s["status"] for s in self.peek.call("status")["sessions"] if s["name"] == self.name)
            self.samples.append((t, status))
            if self.dialog_seen is None and any(self.dialog in row for row in self.peek.screen(self.name)):
                self.dialog_seen = time.monotonic()
            time.sleep(max(0.0, SAMPLE - (time.monotonic() - t)))


def script_for(agent: str, worktree: Path, n: int, gate: threading.Event) -> list[model.Reply]:
    if agent == "claude":
        first = model.tool("Write", {"file_path": str(worktree / f"out-{n}.txt"), "content": "x\n"},
                           usage=model.Usage(1000, 50), gate=gate)
    else:
        first = model.tool("exec_command", {"cmd": f"touch out-{n}.txt", "sandbox_permissions": "require_escalated",
                                            "justification": "benchmark"}, usage=model.Usage(1000, 50), gate=gate)
    return [first, model.text("Done.", usage=model.Usage(1200, 20))]


def run_agent(kind: str, turns: int) -> list[Turn]:
    agent = "codex" if kind == "codex" else "claude"
    if find_cli(agent) is None:
        raise SystemExit(f"{agent} is not installed (scripts/install-agent-clis.sh)")
    root = Path(tempfile.mkdtemp(prefix="fsa-"))
    endpoint = model.ModelEndpoint().start()
    cli = None
    try:
        worktree = root / "repo.worktrees" / agent
        setup = offline.claude if agent == "claude" else offline.codex
        home = setup(root / "home", endpoint.url, [worktree])
        repo = make_repo(root / "repo", "agents:\n" + home.yaml(agent))
        if kind.endswith("nohooks"):
            # The same preset with its hooks switched off: what the screen layers alone do.
            text = (BUILTIN_DIR / "claude.yaml").read_text()
            (repo / ".fleet" / "presets").mkdir(parents=True)
            (repo / ".fleet" / "presets" / "claude.yaml").write_text(text.split("\nhooks:\n")[0] + "\n"
                                                                     + "litter: []\n")
        (root / "run").mkdir()
        cli = FleetCli(repo, root / "run")
        cli.run("start", agent)
        peek = Peek(cli)
        deadline = time.monotonic() + 90
        while cli.session(agent)["status"] not in ("idle", "done") and time.monotonic() < deadline:
            time.sleep(0.2)
        results = []
        for n in range(turns):
            peek.call("ack", session=agent)
            time.sleep(1.0)
            gate = threading.Event()
            endpoint.script(*script_for(agent, worktree, n, gate))
            sampler = Sampler(peek, agent, DIALOG[agent])
            sampler.start()
            time.sleep(0.3)
            turn = Turn()
            before = len(endpoint.scripted_requests())
            peek.call("send", session=agent, text=f"make out-{n}.txt")
            turn.labels.append((time.monotonic(), "working"))
            try:
                endpoint.wait_requests(agent, before + 1, timeout=3.0)
            except AssertionError:
                # Seen with Codex on a loaded machine: the Enter was taken as part of a paste and the
                # prompt sat in the composer. Submit it again; the turn starts from that Enter.
                peek.call("keys", session=agent, keys=["enter"])
                turn.labels[0] = (time.monotonic(), "working")
                turn.retried = True
            time.sleep(SILENT_WAIT)
            gate.set()
            while sampler.dialog_seen is None and time.monotonic() - turn.labels[0][0] < 60:
                time.sleep(0.01)
            if sampler.dialog_seen is None:
                sampler.stop.set()
                raise SystemExit(f"{kind}: the permission dialog never showed:\n" + "\n".join(peek.screen(agent)))
            turn.labels.append((sampler.dialog_seen, "waiting"))
            time.sleep(ANSWER_AFTER)
            peek.call("keys", session=agent, keys=["enter"])
            turn.labels.append((time.monotonic(), "working"))
            closing = None
            while closing is None and time.monotonic() - turn.labels[0][0] < 90:
                requests = endpoint.scripted_requests()[before:]
                closing = requests[1].finished if len(requests) > 1 else None
                time.sleep(0.01)
            turn.labels.append((closing, "done"))
            time.sleep(3.0)
            sampler.stop.set()
            sampler.join()
            turn.samples = [(t, s) for t, s in sampler.samples if t >= turn.labels[0][0]]
            turn.end = time.monotonic()
            results.append(turn)
        return results
    finally:
        if cli is not None:
            cli.run("down", check=False)
        endpoint.stop()
        kill_processes_with_home([root / "home"])
        shutil.rmtree(root, ignore_errors=True)


def score(turns: list[Turn]) -> dict:
    right = total = idle_wrong = 0
    delays: dict[str, list[float]] = {}
    for turn in turns:
        for t, status in turn.samples:
            label = turn.label_at(t)
            total += 1
            right += status == label
            idle_wrong += status == "idle" and label in ("working", "waiting")
        for start, label in turn.labels:
            shown = next((t for t, s in turn.samples if t >= start and s == label), None)
            if shown is not None:
                delays.setdefault(label, []).append(max(0.0, shown - start))
    return {"right": right / total if total else float("nan"), "samples": total, "idle_wrong": idle_wrong,
            "delays": {label: (statistics.median(v), max(v)) for label, v in delays.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--agents", default="claude,codex,claude-nohooks")
    parser.add_argument("--json", type=Path, help="also write every sample and label here (a labelled corpus)")
    args = parser.parse_args()
    rows, corpus = [], {}
    for kind in args.agents.split(","):
        turns = run_agent(kind, args.turns)
        corpus[kind] = [{"labels": t.labels, "samples": t.samples} for t in turns]
        r = score(turns)

        def delay(label: str) -> str:
            d = r["delays"].get(label)
            return f"{d[0] * 1000:.0f} / {d[1] * 1000:.0f} ms" if d else "never"
        rows.append([kind, f"{100 * r['right']:.1f}%", r["samples"], r["idle_wrong"], delay("working"),
                     delay("waiting"), delay("done")])
    print(f"{args.turns} turns per agent; samples every {SAMPLE * 1000:.0f} ms; delays median / max")
    print(table(["agent", "right", "samples", "idle while busy", "-> working", "-> waiting", "-> done"], rows))
    if args.json:
        args.json.write_text(json.dumps(corpus))


if __name__ == "__main__":
    main()
