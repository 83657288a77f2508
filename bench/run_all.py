"""Run every benchmark in sequence and print their tables.

  python -m bench.run_all [--quick] [--only latency busy_panes ...]

Each benchmark runs in its own process (a crash or a hang in one does not stop the
others; each has a time limit) and cleans up its own servers, tmux and processes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BENCHMARKS = [
    # name, arguments, quick arguments, time limit (s)
    ("emulator_throughput", [], ["--mb", "1"], 600),
    ("latency", [], ["--samples", "30"], 300),
    ("busy_panes", [], ["--seconds", "3"], 300),
    ("reattach", [], ["--repeat", "1"], 180),
    ("spawn", [], ["--files", "1000"], 300),
    ("memory", [], ["--sessions", "4"], 300),
    ("pane_render", ["--compare"], ["--rounds", "10"], 120),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke check")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args(argv)
    failed = []
    for name, full, quick, limit in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        extra = quick if args.quick else full
        print(f"\n## {name} ({' '.join(extra) or 'defaults'})", flush=True)
        t0 = time.monotonic()
        try:
            result = subprocess.run([sys.executable, "-m", f"bench.{name}", *extra], cwd=ROOT, timeout=limit)
            if result.returncode:
                failed.append(name)
        except subprocess.TimeoutExpired:
            print(f"{name}: over its {limit} s limit")
            failed.append(name)
        print(f"({name}: {time.monotonic() - t0:.0f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
