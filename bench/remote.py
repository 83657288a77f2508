"""Benchmark: a fleet on another machine over ssh (issue 14).

The "other machine" is a throwaway OpenSSH server on a loopback port (bench/loopback_sshd.py),
with a repository of its own, so the figures measure ssh + the bridge + our protocol, not a
network. Three paths for one keystroke, each on the same echo program (`cat` in raw mode):

  local pane     FleetClient on the local server's unix socket (as bench/latency.py)
  remote pane    FleetClient over `ssh HOST fleet-tui bridge` (shared ssh connection)
  ssh + tmux     `ssh -tt HOST tmux attach` in a pty we own: the key written into the pty,
                 the clock stops when the drawn key comes back out of ssh

Also: bytes per second on the ssh link with 8 busy remote panes (25 KB/s of output each),
and the time to reattach to 16 remote panes (connect, attach, every full screen received),
with the shared ssh connection already up and from cold.

  python -m bench.remote [--samples 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from bench import loopback_sshd
from bench.harness import ECHO_CMD, FleetServer, Sandbox, Tmux, busy_cmd, make_repo, pct, sh, table, yaml_agents
from bench.latency import BUSY_RATE, GAP, attached_latency  # noqa: F401

LINK_SECONDS = 5.0


async def ssh_tmux_latency(samples: int) -> list[float]:
    import random
    import string

    from bench.ptyrun import PtyProgram

    tmux = Tmux("remote")
    attached = None
    try:
        tmux("new-session", "-d", "-s", "b", "-x", "200", "-y", "60", sh(ECHO_CMD))
        socket_path = tmux("display-message", "-p", "#{socket_path}").strip()
        remote = f"tmux -S {socket_path} attach -t b"
        attached = PtyProgram(["ssh", "-F", os.environ["FLEET_SSH_CONFIG"], "-tt", loopback_sshd.HOST, remote],
                              cols=200, rows=60)
        await asyncio.sleep(1.5)
        out, rnd = [], random.Random(8)
        for i in range(samples):
            if i % 50 == 0:
                attached.write(b"\r")
                await asyncio.sleep(0.05)
            ch = string.ascii_letters[(i * 7) % 52].encode()
            attached.buffer.clear()
            t0 = time.perf_counter()
            attached.write(ch)
            try:
                out.append((await attached.wait_bytes(ch, 2) - t0) * 1000)
            except asyncio.TimeoutError:
                pass
            await asyncio.sleep(rnd.uniform(*GAP))
        return out
    finally:
        if attached:
            attached.close()
        tmux.kill()


async def link_bytes_per_second(machine) -> float:
    """Bytes ssh delivers to an attached client in LINK_SECONDS (after the attach burst)."""
    from fleet_tui import protocol, ssh
    from fleet_tui.remote import bridge_argv

    process = await asyncio.create_subprocess_exec(
        *ssh.ssh_argv(machine.dest, bridge_argv(machine)), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, limit=protocol.MAX_MESSAGE_BYTES)
    try:
        await process.stdout.readline()  # hello
        process.stdin.write(protocol.encode({"id": 1, "cmd": "attach", "args": {"focus": None}}))
        await process.stdin.drain()
        await asyncio.sleep(1.0)
        while True:  # drop the attach burst
            try:
                await asyncio.wait_for(process.stdout.read(1 << 16), 0.01)
            except asyncio.TimeoutError:
                break
        total, started = 0, time.monotonic()
        while (left := started + LINK_SECONDS - time.monotonic()) > 0:
            try:
                total += len(await asyncio.wait_for(process.stdout.read(1 << 16), left))
            except asyncio.TimeoutError:
                break
        return total / LINK_SECONDS
    finally:
        process.kill()
        await process.wait()


async def reattach_seconds(connect, names: set[str]) -> float:
    started = time.perf_counter()
    client = await connect()
    try:
        seen: set[str] = set()
        await client.attach()
        async for msg in client.messages():
            if msg.get("t") == "screen" and msg.get("full"):
                seen.add(msg["s"])
                if names <= seen:
                    return time.perf_counter() - started
        return float("nan")
    finally:
        await client.close()


async def run(samples: int) -> None:
    from fleet_tui import ssh
    from fleet_tui.machines import Machine
    from fleet_tui.remote import connect_machine

    with Sandbox("remote") as sb:
        remote_rt = sb.path / "remote-run"
        remote_rt.mkdir(mode=0o700)
        server = loopback_sshd.start_sshd([], {"XDG_RUNTIME_DIR": str(remote_rt),
                                               "XDG_CONFIG_HOME": str(sb.path / "remote-config")})
        os.environ["FLEET_SSH_CONFIG"] = str(server.ssh_config)
        agents = yaml_agents({"echo": ECHO_CMD, "busy": busy_cmd(BUSY_RATE)})
        local_repo = make_repo(sb.path / "local", agents)
        remote_repo = make_repo(sb.path / "remote", agents)
        machine = Machine(name="bench", dest=loopback_sshd.HOST, path=str(remote_repo),
                          command=str(Path(sys.executable).parent / "fleet-tui"))
        local = FleetServer(local_repo)
        remote = None
        rows = []
        try:
            client = await local.start()
            await client.call("start", agents=["echo"])
            local_ms = await attached_latency(client, samples)
            await client.close()
            local.client = None

            remote = await connect_machine(machine)
            remote_pid = (await remote.call("ping"))["pid"]
            await remote.call("start", agents=["echo"])
            remote_ms = await attached_latency(remote, samples)
            tmux_ms = await ssh_tmux_latency(samples)
            rows += [["local pane (unix socket)", pct(local_ms, 50), pct(local_ms, 95), len(local_ms)],
                     ["remote pane (ssh + bridge)", pct(remote_ms, 50), pct(remote_ms, 95), len(remote_ms)],
                     ["plain ssh -tt + tmux attach", pct(tmux_ms, 50), pct(tmux_ms, 95), len(tmux_ms)]]
            print("keystroke -> screen, ms")
            print(table(["path", "p50 ms", "p95 ms", "n"], rows))

            remote = await _fresh(remote, machine)
            await remote.call("start", agents=["busy"], count=8)
            rate = await link_bytes_per_second(machine)
            print(f"\nssh link, 8 busy remote panes ({BUSY_RATE // 1000} KB/s of output each): "
                  f"{rate / 1000:.0f} KB/s to the client")

            await remote.call("start", agents=["echo"], count=7)  # 16 sessions in all
            names = {s["name"] for s in (await remote.call("status"))["sessions"]}
            await remote.close()
            remote = None
            warm = [await reattach_seconds(lambda: connect_machine(machine), names) for _ in range(3)]
            cold = []
            for _ in range(3):
                ssh.close_master(machine.dest)
                cold.append(await reattach_seconds(lambda: connect_machine(machine), names))
            print(f"\nreattach to {len(names)} remote panes (connect + attach + every full screen): "
                  f"shared ssh connection up {min(warm):.2f}-{max(warm):.2f} s, "
                  f"cold (new ssh connection) {min(cold):.2f}-{max(cold):.2f} s")
            remote = await connect_machine(machine)
            await remote.call("down")
            _wait_gone(remote_pid)
        finally:
            if remote is not None:
                await remote.close()
            await local.stop()
            ssh.close_master(machine.dest)
            server.stop()


async def _fresh(client, machine):
    from fleet_tui.remote import connect_machine

    await client.close()
    return await connect_machine(machine)


def _wait_gone(pid: int) -> None:
    import psutil

    try:
        psutil.Process(pid).wait(10)
    except psutil.Error:
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args(argv)
    if not loopback_sshd.available():
        print("needs OpenSSH's server (apt-get install openssh-server)")
        return 1
    asyncio.run(run(args.samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
