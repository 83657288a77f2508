"""Where reattach's time goes: the real `fleet-tui` attaching to 16 panes of a real server,
(1) with a clock on each startup phase, (2) under `-X importtime`, (3) under cProfile.

  python -m bench.profile_reattach [--runs 3] [--sort cumtime] [--limit 40] [--only warm ...]

Each client runs in a 200x60 pty like bench/reattach.py's, is detached with `q` once all 16
panes have been drawn, and its figures are printed: the phase timeline (median over runs,
ms since the process was started), the imports costing most (self time, and the fleet_tui
modules' cumulative time), and the profile of the whole process. `--only warm`: the phases of
`fleet-tui` through a warm UI process (bench/_warm_probe.py: the warm process with the same
clocks), from the launcher's start to the first frame of the child it forks.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import os
import pstats
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.harness import PY, wait_for
from bench.ptyrun import PtyProgram
from bench.reattach import CLIENT, all_drawn, client_env, fleet_of_16

PROBE = [PY, str(Path(__file__).resolve().parent / "_reattach_probe.py")]
WARM_PROBE = [PY, str(Path(__file__).resolve().parent / "_warm_probe.py")]


async def run_client(argv: list[str], repo: Path, markers: list[bytes], env: dict[str, str]) -> tuple[float, float]:
    """Start `argv` in a pty, wait for all panes, detach with q; (process start monotonic, all-drawn ms)."""
    started = time.monotonic()
    prog = PtyProgram(argv, cols=200, rows=60, cwd=repo, env=env)
    try:
        _, drawn, _ = await all_drawn(prog, markers)
        await asyncio.sleep(0.3)
        prog.write(b"q")
        await wait_for(lambda: prog.proc.poll() is not None, 15, 0.05)
    finally:
        prog.close()
    return started, drawn


async def timeline(repo: Path, markers: list[bytes], runs: int) -> str:
    phases: dict[str, list[float]] = collections.defaultdict(list)
    drawn_all = []
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r", suffix=".log") as log:
            started, drawn = await run_client(PROBE, repo, markers, {**client_env(), "FLEET_PROBE_LOG": log.name})
            for line in Path(log.name).read_text().splitlines():
                when, phase = line.split(" ", 1)
                phases[phase].append((float(when) - started) * 1000)
        drawn_all.append(drawn)
        await asyncio.sleep(0.3)
    rows = sorted(((statistics.median(v), k) for k, v in phases.items()))
    rows.append((statistics.median(drawn_all), "all 16 panes drawn (seen by the outer terminal)"))
    return "\n".join(f"{ms:8.1f} ms  {phase}" for ms, phase in rows)


async def importtime(repo: Path, markers: list[bytes], limit: int) -> str:
    with tempfile.TemporaryDirectory() as folder:
        err = Path(folder) / "importtime"
        # -X importtime writes to fd 2, which Textual draws on: fd 2 goes to a file, and the probe
        # hands Textual the terminal on fd 3
        argv = ["sh", "-c", 'exec 3>&2 2>"$1" "$0" -X importtime "$2"', PY, str(err), PROBE[1]]
        env = {**client_env(), "FLEET_PROBE_TTY_FD": "3", "FLEET_PROBE_LOG": os.devnull}
        await run_client(argv, repo, markers, env)
        text = err.read_text()
    rows = []
    for line in text.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2, m.group(4)))
    total = sum(r[0] for r in rows)
    out = [f"{len(rows)} modules, {total / 1000:.0f} ms of imports in all (self times summed)", "",
           "most self time:"]
    out += [f"  {s / 1000:7.1f} ms  {name}" for s, _, _, name in sorted(rows, reverse=True)[:limit]]
    out += ["", "cumulative, top-level imports (what each first import pulled in):"]
    out += [f"  {c / 1000:7.1f} ms  {name}" for _, c, depth, name in sorted(rows, key=lambda r: -r[1])
            if depth == 0][:limit]
    by_package: dict[str, int] = collections.Counter()
    for s, _, _, name in rows:
        by_package[name.split(".")[0]] += s
    out += ["", "self time by top-level package:"]
    out += [f"  {s / 1000:7.1f} ms  {name}" for name, s in by_package.most_common(limit)]
    return "\n".join(out)


async def profile(repo: Path, markers: list[bytes], sort: str, limit: int, save: Path | None) -> str:
    with tempfile.TemporaryDirectory() as folder:
        out_file = save or Path(folder) / "prof"
        await run_client([PY, "-m", "cProfile", "-o", str(out_file), *CLIENT[1:]], repo, markers, client_env())
        await wait_for(out_file.exists, 10, 0.05)
        out = io.StringIO()
        pstats.Stats(str(out_file), stream=out).sort_stats(sort).print_stats(limit)
    return out.getvalue()


async def warm_timeline(repo: Path, markers: list[bytes], runs: int) -> str:
    """The launcher and the child of a probed warm process (the server keeps none: FLEET_WARM_UI=0)."""
    from fleet_tui.paths import warm_ui_socket_path

    socket_path = warm_ui_socket_path(repo)
    env = {k: v for k, v in client_env().items() if k != "FLEET_WARM_UI"}
    phases: dict[str, list[float]] = collections.defaultdict(list)
    drawn_all = []
    with tempfile.NamedTemporaryFile("r", suffix=".log") as log:
        warm = subprocess.Popen([*WARM_PROBE, "--socket", str(socket_path)], stdin=subprocess.PIPE, cwd=repo,
                                env={**env, "FLEET_PROBE_LOG": log.name})
        try:
            if not await wait_for(socket_path.exists, 60, 0.05):
                raise RuntimeError("the probed warm process never listened")
            for _ in range(runs):
                Path(log.name).write_text("")
                started, drawn = await run_client(CLIENT, repo, markers, env)
                lines = Path(log.name).read_text().splitlines()
                if not any(line.endswith(" child forked") for line in lines):
                    raise RuntimeError("the launcher did not take the warm path (FLEET_DEBUG=1 says why)")
                for line in lines:
                    when, phase = line.split(" ", 1)
                    phases[phase].append((float(when) - started) * 1000)
                drawn_all.append(drawn)
                await asyncio.sleep(0.3)
        finally:
            warm.stdin.close()  # its end of file: the warm process ends
            warm.wait(10)
    rows = sorted(((statistics.median(v), k) for k, v in phases.items()))
    rows.append((statistics.median(drawn_all), "all 16 panes drawn (seen by the outer terminal)"))
    return "\n".join(f"{ms:8.1f} ms  {phase}" for ms, phase in rows)


async def run(runs: int, sort: str, limit: int, save: Path | None, only: list[str]) -> None:
    # The server keeps no warm UI process of its own here: `--only warm` runs a probed one instead.
    os.environ["FLEET_WARM_UI"] = "0"
    async with fleet_of_16() as (repo, markers):
        if "warm" in only:
            print(f"through a warm UI process: ms since `fleet-tui` started (median of {runs}, "
                  f"load average {os.getloadavg()[0]:.1f}):")
            print(await warm_timeline(repo, markers, runs))
        await run_client(CLIENT, repo, markers, client_env())  # warm-up: bytecode caches
        if "phases" in only:
            print(f"phases, ms since the process started (median of {runs}, "
                  f"load average {os.getloadavg()[0]:.1f}):")
            print(await timeline(repo, markers, runs))
        if "imports" in only:
            print("\n" + await importtime(repo, markers, limit))
        if "profile" in only:
            print("\n" + await profile(repo, markers, sort, limit, save))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sort", default="cumtime")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--save", type=Path, default=None, help="keep the cProfile output here")
    parser.add_argument("--only", nargs="+", choices=["phases", "imports", "profile", "warm"],
                        default=["phases", "imports", "profile"])
    args = parser.parse_args(argv)
    asyncio.run(run(args.runs, args.sort, args.limit, args.save, args.only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
