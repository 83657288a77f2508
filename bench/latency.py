"""Benchmark 2: keystroke-to-screen latency in the focused pane, 0 and 8 busy panes.

fleet (client): a real server, a session running an echo program (`cat` in raw mode,
  so the echo comes from a user-space process as an agent's would), a FleetClient
  attached with focus on it. One key is sent with the `input` command; the clock stops
  when the screen update showing that key at the cursor reaches the client.
fleet (UI): the real FleetApp under run_test (headless driver) attached to the same
  server, the echo pane focused and steered. A Key event is posted to the app; the
  clock stops when the pane's render_lines hands the compositor the row with that key drawn.
  (Headless: everything but the final write to the outer terminal.)
tmux (control): the same echo program in a private tmux server, keys sent with
  `send-keys` over a control-mode client; the clock stops at the `%output` line.
tmux (attached): a real `tmux attach` client in a pty we own; the key is written into
  the pty like a keyboard, the clock stops when the drawn key comes out of the client.
Busy panes: sessions / tmux windows running bench/_gen.py at 25 KB/s each.

  python -m bench.latency [--samples 60] [--busy 8]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import string
import time

from bench.harness import (ECHO_CMD, FleetServer, Sandbox, Tmux, busy_cmd, make_repo, pct, sh, table,
                           wait_for, yaml_agents)

BUSY_RATE = 25_000
GAP = (0.015, 0.04)  # seconds between keys: a fast typist


async def fleet_client_latency(client, mirrors, changed, samples: int) -> list[float]:
    from fleet_tui.protocol import ScreenMirror  # noqa: F401

    out = []
    rnd = random.Random(5)
    for i in range(samples):
        m = mirrors["echo"]
        if m.cursor_x > min(60, m.cols - 4):  # before the line wraps (a pane may be narrow)
            asyncio.ensure_future(client.call("input", session="echo", data="\r\x1b[2K"))
            await wait_until(changed, lambda: mirrors["echo"].cursor_x == 0, 2)
            m = mirrors["echo"]
        x0, y0 = m.cursor_x, m.cursor_y
        ch = string.ascii_letters[i % 52]
        t0 = time.perf_counter()
        asyncio.ensure_future(client.call("input", session="echo", data=ch))

        def shown():
            mm = mirrors["echo"]
            return mm.cursor_x == x0 + 1 and mm.text()[y0][x0:x0 + 1] == ch
        if await wait_until(changed, shown, 2):
            out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(rnd.uniform(*GAP))
    return out


async def attached_latency(client, samples: int) -> list[float]:
    """fleet_client_latency on an attached client, focus on the echo session."""
    from fleet_tui.protocol import ScreenMirror

    mirrors: dict[str, ScreenMirror] = {}
    changed = asyncio.Event()

    async def read() -> None:
        async for msg in client.messages():
            if msg.get("t") == "screen":
                mirrors.setdefault(msg["s"], ScreenMirror(msg["s"])).apply(msg)
                if msg["s"] == "echo":
                    changed.set()

    pump = asyncio.ensure_future(read())
    try:
        await client.call("attach", focus="echo")
        await asyncio.sleep(0.5)
        return await fleet_client_latency(client, mirrors, changed, samples)
    finally:
        pump.cancel()


async def wait_until(event: asyncio.Event, predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        event.clear()
        try:
            await asyncio.wait_for(event.wait(), left)
        except asyncio.TimeoutError:
            return predicate()
    return True


async def fleet_ui_latency(repo, samples: int) -> list[float]:
    from textual import events

    from fleet_tui.client import FleetClient
    from fleet_tui.ui.app import FleetApp

    app = FleetApp(lambda: FleetClient.connect(repo, start_server=False))
    out: list[float] = []
    async with app.run_test(size=(200, 60)) as pilot:
        ok = await wait_for(lambda: app.pane("echo") is not None and "echo" in app.mirrors, 10)
        if not ok:
            return out
        pane = app.pane("echo")
        # At once, not queued as focus() is: a freshly attached app focuses its first pane
        # after the mount unless something already has the focus.
        app.set_focus(pane)
        await pilot.pause(0.3)
        if app.focused is not pane:
            raise RuntimeError(f"the echo pane lost the focus to {app.focused}")
        app.action_steer()
        await pilot.pause(0.5)  # resizes settle (debounced), the pty follows the pane
        seen = asyncio.Event()
        target: dict = {}
        original = pane.render_lines
        gutter = pane.styles.gutter

        def render_lines(crop):
            # What the compositor gets from the pane: rows of the whole pane, border included.
            strips = original(crop)
            row, col = target.get("y", -1) + gutter.top - crop.y, target.get("x", -1) + gutter.left - crop.x
            if target and 0 <= row < len(strips) and strips[row].text[col:col + 1] == target["ch"]:
                if not seen.is_set():
                    target["t"] = time.perf_counter()
                    seen.set()
            return strips
        pane.render_lines = render_lines
        rnd = random.Random(6)
        for i in range(samples):
            m = app.mirrors["echo"]
            if m.cursor_x > min(60, m.cols - 4):  # before the line wraps (a pane may be narrow)
                target.clear()
                for key in ("ctrl+m",):
                    app.post_message(events.Key(key, "\r"))
                await wait_for(lambda: app.mirrors["echo"].cursor_x == 0, 2, 0.002)
                await pilot.pause(0.05)
                m = app.mirrors["echo"]
            ch = string.ascii_letters[i % 52]
            seen.clear()
            target.update(x=m.cursor_x, y=m.cursor_y, ch=ch)
            t0 = time.perf_counter()
            app.post_message(events.Key(ch, ch))
            try:
                await asyncio.wait_for(seen.wait(), 2)
                out.append((target["t"] - t0) * 1000)
            except asyncio.TimeoutError:
                pass
            await asyncio.sleep(rnd.uniform(*GAP))
        pane.render_lines = original
    return out


async def fleet_run(busy: int, samples: int) -> tuple[list[float], list[float]]:
    with Sandbox("latency") as sb:
        repo = make_repo(sb.path / "repo", yaml_agents({"echo": ECHO_CMD, "busy": busy_cmd(BUSY_RATE)}))
        server = FleetServer(repo)
        pump = None
        try:
            client = await server.start()
            await client.call("start", agents=["echo"], count=1)
            if busy:
                await client.call("start", agents=["busy"], count=busy)
            client_ms = await attached_latency(client, samples)
            ui_ms = await fleet_ui_latency(repo, samples)
            return client_ms, ui_ms
        finally:
            if pump:
                pump.cancel()
            await server.stop()


async def tmux_run(busy: int, samples: int) -> tuple[list[float], list[float]]:
    from bench.ptyrun import PtyProgram

    with Sandbox("latency-tmux") as sb:
        tmux = Tmux("latency")
        proc = attached = None
        try:
            tmux("new-session", "-d", "-s", "b", "-x", "200", "-y", "60", sh(ECHO_CMD))
            pane = tmux("display-message", "-p", "-t", "b:0", "#{pane_id}").strip()
            for i in range(busy):
                tmux("new-window", "-d", "-t", "b:", sh(busy_cmd(BUSY_RATE)))
            await asyncio.sleep(0.5)
            proc = await asyncio.create_subprocess_exec(*tmux.argv("-C", "attach", "-t", "b"),
                                                        stdin=asyncio.subprocess.PIPE,
                                                        stdout=asyncio.subprocess.PIPE)
            got: asyncio.Queue = asyncio.Queue()

            async def read():
                while True:
                    line = await proc.stdout.readline()
                    if not line:
                        return
                    if line.startswith(f"%output {pane} ".encode()):
                        got.put_nowait((time.perf_counter(), line))
            reader = asyncio.ensure_future(read())
            await asyncio.sleep(0.3)
            control = []
            rnd = random.Random(7)
            for i in range(samples):
                if i % 50 == 0:
                    proc.stdin.write(f"send-keys -t {pane} -l '\r'\n".encode())
                    await asyncio.sleep(0.05)
                while not got.empty():
                    got.get_nowait()
                ch = string.ascii_letters[i % 52]
                t0 = time.perf_counter()
                proc.stdin.write(f"send-keys -t {pane} -l {ch}\n".encode())
                await proc.stdin.drain()
                try:
                    while True:
                        t, line = await asyncio.wait_for(got.get(), 2)
                        if ch.encode() in line.split(b" ", 2)[2]:
                            control.append((t - t0) * 1000)
                            break
                except asyncio.TimeoutError:
                    pass
                await asyncio.sleep(rnd.uniform(*GAP))
            reader.cancel()
            proc.stdin.close()
            # a real attached client: key in through its pty, drawn key out of it
            attached = PtyProgram(tmux.argv("attach", "-t", "b"), cols=200, rows=60)
            await asyncio.sleep(0.8)
            drawn = []
            for i in range(samples):
                if i % 50 == 0:
                    attached.write(b"\r")
                    await asyncio.sleep(0.05)
                ch = string.ascii_letters[(i * 7) % 52]
                marker = f"{ch}".encode()
                attached.buffer.clear()
                t0 = time.perf_counter()
                attached.write(marker)
                try:
                    t = await attached.wait_bytes(marker, 2)
                    drawn.append((t - t0) * 1000)
                except asyncio.TimeoutError:
                    pass
                await asyncio.sleep(rnd.uniform(*GAP))
            return control, drawn
        finally:
            if attached:
                attached.close()
            if proc and proc.returncode is None:
                proc.kill()
                await proc.wait()
            tmux.kill()


async def main_async(samples: int, busy_counts: list[int]) -> list[list]:
    rows = []
    for busy in busy_counts:
        fc, fu = await fleet_run(busy, samples)
        tc, ta = await tmux_run(busy, samples)
        rows.append([busy, "fleet client", pct(fc, 50), pct(fc, 95), len(fc),
                     pct(fc, 95) / pct(tc, 95) if tc else float("nan")])
        rows.append([busy, "fleet UI (headless)", pct(fu, 50), pct(fu, 95), len(fu),
                     pct(fu, 95) / pct(ta, 95) if ta else float("nan")])
        rows.append([busy, "tmux control mode", pct(tc, 50), pct(tc, 95), len(tc), 1.0])
        rows.append([busy, "tmux attached client", pct(ta, 50), pct(ta, 95), len(ta), 1.0])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--busy", type=int, nargs="*", default=[0, 8])
    args = parser.parse_args(argv)
    rows = asyncio.run(main_async(args.samples, args.busy))
    print("keystroke -> screen latency, ms (ratio: fleet p95 / tmux p95, client vs control mode, "
          "UI vs attached client)")
    print(table(["busy panes", "path", "p50 ms", "p95 ms", "n", "p95 ratio vs tmux"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
