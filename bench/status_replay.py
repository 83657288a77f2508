"""Benchmark: the labelled corpus of real agent sessions replayed through the status logic (issue 13).

No agent runs: each recording in tests/status/corpus/ (real Claude Code, Codex, aider and
Gemini CLI through whole turns, see bench/status_corpus_record.py) is fed into a real Session on the
recording's clock, looked at when the fleet server would, and its status sampled every 20 ms
against the labels. Printed per agent, with its hooks and with the screen alone: the share of
labelled moments right, samples reading idle while the agent worked or waited, and the delay
from each real transition to the status showing it (median / max).

  python -m bench.status_replay [--corpus DIR] [--wrong]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.harness import table
from tests.status.corpus import CORPUS, Recording, replay, score

TARGET_RIGHT = 0.98
TARGET_DELAY = {True: 0.3, False: 2.0}  # with hooks, without


def spans(wrong: list[tuple[float, str, str]]) -> list[tuple[float, float, str, str]]:
    """Consecutive wrong samples with the same label and status, as (start, end, label, shown)."""
    out: list[list] = []
    for t, label, shown in wrong:
        if out and out[-1][2:] == [label, shown] and t - out[-1][1] < 0.03:
            out[-1][1] = t
        else:
            out.append([t, t, label, shown])
    return [tuple(span) for span in out]


def rows_for(recordings: list[Recording], show_wrong: bool = False) -> list[list]:
    rows = []
    for recording in recordings:
        hooked = any(kind == "h" for _, kind, _ in recording.events)
        for hooks in (True, False) if hooked else (False,):
            result = score([replay(recording, hooks)])

            def delay(label: str) -> str:
                d = result.delay(label)
                return f"{d[0] * 1000:.0f} / {d[1] * 1000:.0f} ms" if d else "-"
            rows.append([f"{recording.name}{'' if hooks else ' (screen only)' if hooked else ' (no hooks)'}", f"{100 * result.right:.1f}%",
                         result.samples, result.idle_while_busy, delay("working"), delay("waiting"),
                         delay("done"), delay("idle")])
            if show_wrong:
                for start, end, label, shown in spans(result.wrong):
                    print(f"  {recording.name}{'' if hooks else ' (screen only)'}: {start:7.2f}-{end:7.2f} s "
                          f"shown {shown}, really {label}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--wrong", action="store_true", help="list every wrong sample")
    args = parser.parse_args()
    recordings = [Recording.load(p) for p in sorted(args.corpus.glob("*.json.gz"))]
    rows = rows_for(recordings, args.wrong)
    print(f"{len(recordings)} recordings; samples every 20 ms; delays median / max; target >= "
          f"{TARGET_RIGHT:.0%} right, <= 300 ms with hooks, <= 2 s without")
    print(table(["agent", "right", "samples", "idle while busy", "-> working", "-> waiting", "-> done",
                 "-> idle"], rows))


if __name__ == "__main__":
    main()
