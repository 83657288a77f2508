"""PtyProcess against real children on real ptys."""

import asyncio
import json
import os
import signal
import sys
import textwrap

import psutil
import pytest

from fleet_tui.core.ptyproc import EOF_WAIT, PtyProcess
from fleet_tui.errors import FleetError

pytestmark = pytest.mark.real

PY = sys.executable
ENV = {"PATH": os.environ["PATH"], "TERM": "xterm-256color", "HOME": os.environ.get("HOME", "/")}


class Child:
    """A spawned PtyProcess plus what it printed and how it ended."""

    def __init__(self, argv, cwd="/", env=ENV, cols=80, rows=24):
        self.output = ""
        self.output_at_exit = None
        self.exited = asyncio.get_running_loop().create_future()
        self.proc = PtyProcess.spawn(argv, cwd=cwd, env=env, cols=cols, rows=rows,
                                     on_output=self._on_output, on_exit=self._on_exit)

    def _on_output(self, text):
        assert not self.exited.done(), "output after on_exit"
        self.output += text

    def _on_exit(self, code):
        self.output_at_exit = self.output
        self.exited.set_result(code)

    async def wait_for(self, text, timeout=5.0):
        deadline = asyncio.get_running_loop().time() + timeout
        while text not in self.output:
            assert asyncio.get_running_loop().time() < deadline, f"{text!r} not in {self.output!r}"
            await asyncio.sleep(0.01)

    async def exit_code(self, timeout=5.0):
        return await asyncio.wait_for(asyncio.shield(self.exited), timeout)


def python(code):
    return [PY, "-c", textwrap.dedent(code)]


def run(coro):
    return asyncio.run(coro)


def test_slave_is_the_controlling_terminal_of_a_new_session(tmp_path):
    async def main():
        child = Child(python("""
            import json, os
            print(json.dumps({"tty": os.ttyname(0), "out_tty": os.ttyname(1),
                              "foreground": os.tcgetpgrp(0) == os.getpgrp(),
                              "leader": os.getsid(0) == os.getpid(), "cwd": os.getcwd()}))
        """), cwd=tmp_path)
        assert await child.exit_code() == 0
        return json.loads(child.output.strip().splitlines()[-1])

    seen = run(main())
    assert seen["tty"].startswith("/dev/pts/") and seen["out_tty"] == seen["tty"]
    assert seen["foreground"] and seen["leader"]
    assert seen["cwd"] == str(tmp_path)


def test_no_descriptor_leaks_into_the_child(tmp_path):
    async def main():
        leaky_r, leaky_w = os.pipe()
        os.set_inheritable(leaky_w, True)  # as a careless library in the server might leave it
        try:
            child = Child(python(f"""
                import os
                for fd in ({leaky_r}, {leaky_w}):
                    try:
                        os.fstat(fd); print("open", fd)
                    except OSError:
                        print("closed", fd)
            """))
            assert await child.exit_code() == 0
            return child.output
        finally:
            os.close(leaky_r)
            os.close(leaky_w)

    output = run(main())
    assert "open" not in output and output.count("closed") == 2


def test_master_fd_is_not_visible_to_the_child():
    async def main():
        child = Child(python("""
            import os
            print(sorted(int(fd) for fd in os.listdir("/proc/self/fd")))
        """))
        assert await child.exit_code() == 0
        return child.output

    fds = json.loads(run(main()).strip().splitlines()[-1])
    assert fds[:3] == [0, 1, 2] and len(fds) <= 4  # plus the listing's own descriptor


def test_environment_is_passed_exactly():
    env = {"PATH": os.environ["PATH"], "FLEET_SESSION": "s-1", "TERM": "xterm-256color",
           "COLORTERM": "truecolor", "ODD": "a b=c"}

    async def main():
        child = Child(["env"], env=env)
        assert await child.exit_code() == 0
        return child.output

    lines = run(main()).replace("\r\n", "\n").strip().split("\n")
    assert dict(line.split("=", 1) for line in lines) == env


def test_ctrl_c_interrupts_a_sleeping_program():
    async def main():
        child = Child(["sleep", "100"])
        await asyncio.sleep(0.2)
        child.proc.write(b"\x03")
        return await child.exit_code()

    assert run(main()) == -signal.SIGINT


def test_ctrl_c_raises_keyboard_interrupt_in_python():
    async def main():
        child = Child(python("""
            import time
            try:
                print("ready", flush=True)
                time.sleep(100)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
        """))
        await child.wait_for("ready")
        child.proc.write(b"\x03")
        code = await child.exit_code()
        return code, child.output

    code, output = run(main())
    assert code == 0 and "interrupted" in output


def test_ignored_and_blocked_signals_are_reset_in_the_child():
    # Python ignores SIGPIPE and SIGXFSZ; a child inheriting that would not die on a closed pipe.
    def masks(status_text):
        fields = dict(line.split(":", 1) for line in status_text.splitlines() if ":" in line)
        settable = sum(1 << (sig - 1) for sig in signal.valid_signals())  # not glibc's own 32, 33
        return int(fields["SigIgn"], 16) & settable, int(fields["SigBlk"], 16) & settable

    async def main():
        child = Child(["cat", "/proc/self/status"])
        assert await child.exit_code() == 0
        return child.output

    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        with open("/proc/self/status") as own:
            ignored, blocked = masks(own.read())
        assert ignored and blocked, "the test needs a parent that ignores and blocks something"
        assert masks(run(main())) == (0, 0)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def test_utf8_split_across_reads_is_kept():
    async def main():
        child = Child(python("""
            import os, time
            os.write(1, "caf".encode() + "é".encode()[:1]); time.sleep(0.3)
            os.write(1, "é".encode()[1:] + " 🚀"[:1].encode()); time.sleep(0.3)
            os.write(1, "🚀".encode()[:2]); time.sleep(0.3)
            os.write(1, "🚀".encode()[2:] + b"!")
        """))
        assert await child.exit_code() == 0
        return child.output

    output = run(main())
    assert output == "café 🚀!"


def test_all_output_arrives_before_exit_is_reported():
    async def main():
        child = Child(python("""
            import sys
            sys.stdout.write("x" * 200000 + "END")
        """))
        code = await child.exit_code()
        return code, child.output_at_exit

    code, output = run(main())
    assert code == 0 and output.endswith("END") and output.count("x") == 200000


def test_exit_codes_like_subprocess():
    async def main():
        plain = Child(["sh", "-c", "exit 3"])
        killed = Child(["sh", "-c", "kill -TERM $$"])
        return await plain.exit_code(), await killed.exit_code()

    assert run(main()) == (3, -signal.SIGTERM)


def test_write_never_blocks_when_the_child_does_not_read():
    size = 300_000  # far beyond the ~18 KB a pty holds

    async def main():
        child = Child(python(f"""
            import os, sys, time, tty
            tty.setraw(0)
            print("raw", flush=True)
            time.sleep(1)  # let the pty fill up while the parent keeps writing
            got = 0
            while got < {size}:
                got += len(os.read(0, 65536))
            print("got", got, flush=True)
        """))
        await child.wait_for("raw")
        for _ in range(size // 1000):
            child.proc.write(b"y" * 1000)  # each call must return at once
        queued = len(child.proc._pending)
        await child.wait_for(f"got {size}")
        assert await child.exit_code() == 0
        return queued

    assert run(main()) > 0, "the pty should have filled and left bytes queued"


def test_resize_reaches_the_child():
    async def main():
        child = Child(python("""
            import os, signal, time
            # os.write, not print: a SIGWINCH landing inside print's flush made the handler's print
            # a reentrant call into the same buffer (RuntimeError) on a loaded machine.
            def say(*_):
                os.write(1, ("size %d %d\\n" % tuple(os.get_terminal_size(0))).encode())
            signal.signal(signal.SIGWINCH, say)
            say()
            time.sleep(60)
        """), cols=90, rows=20)
        await child.wait_for("size 90 20", timeout=30)
        child.proc.resize(132, 43)
        await child.wait_for("size 132 43", timeout=30)
        child.proc.write(b"\x03")
        await child.exit_code()

    run(main())


def test_missing_command_is_a_clear_error(tmp_path):
    async def main():
        with pytest.raises(FleetError, match="command not found: no-such-agent-cli — install it"):
            Child(["no-such-agent-cli", "--help"])
        with pytest.raises(FleetError, match="command not found: ./agent.sh"):
            Child(["./agent.sh"], cwd=tmp_path)
        script = tmp_path / "agent.sh"
        script.write_text("#!/bin/sh\necho relative ok\n")
        script.chmod(0o755)
        child = Child(["./agent.sh"], cwd=tmp_path)
        assert await child.exit_code() == 0
        assert "relative ok" in child.output

    run(main())


def test_command_is_looked_up_on_the_childs_path(tmp_path):
    (tmp_path / "myagent").write_text("#!/bin/sh\necho from child path\n")
    (tmp_path / "myagent").chmod(0o755)

    async def main():
        child = Child(["myagent"], env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
        assert await child.exit_code() == 0
        return child.output

    assert "from child path" in run(main())


def test_close_hangs_up_the_terminal_and_exit_is_still_reported():
    # Closing the master is closing the terminal window: the kernel sends SIGHUP, we send nothing.
    async def main():
        child = Child(python("""
            import signal, time
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            print("ready", flush=True)
            time.sleep(100)
        """))
        await child.wait_for("ready")
        child.proc.close()
        child.proc.write(b"ignored")  # harmless after close
        await asyncio.sleep(0.3)
        assert psutil.Process(child.proc.pid).status() != psutil.STATUS_ZOMBIE
        os.kill(child.proc.pid, signal.SIGKILL)
        return await child.exit_code()

    assert run(main()) == -signal.SIGKILL


def test_exit_is_reported_even_if_a_grandchild_keeps_the_pty_open():
    async def main():
        child = Child(["sh", "-c", "sleep 30 & echo started $!"])
        await child.wait_for("started")
        grandchild = int(child.output.split("started")[1].split()[0])
        try:
            code = await child.exit_code(timeout=EOF_WAIT + 5)
        finally:
            os.kill(grandchild, signal.SIGKILL)
        return code

    assert run(main()) == 0


def test_a_flooding_child_cannot_starve_the_others():
    # `yes` writes faster than a terminal emulator can take it in: reading its pty "until it is
    # empty" never ends, and nothing else on the loop would ever run again.
    from fleet_tui.core.terminal import Terminal

    async def main():
        flood_bytes = 0
        screen = Terminal(80, 24)

        def consume(text):
            nonlocal flood_bytes
            flood_bytes += len(text)
            screen.feed(text)

        flood_exit = asyncio.get_running_loop().create_future()
        flood = PtyProcess.spawn(["yes", "flood"], cwd="/", env=ENV, cols=80, rows=24,
                                 on_output=consume, on_exit=flood_exit.set_result)
        echo = Child(["cat"])
        try:
            await asyncio.sleep(0.2)
            echo.proc.write(b"still heard\n")
            await echo.wait_for("still heard", timeout=10)
            assert flood_bytes > 100_000
        finally:
            os.kill(flood.pid, signal.SIGKILL)
            os.kill(echo.proc.pid, signal.SIGKILL)
            await echo.exit_code()
            await asyncio.wait_for(flood_exit, 10)

    run(main())


def streaming(quiet: float, lines: int) -> list[str]:
    """A child quiet for `quiet` s, then writing a line every 2 ms, then END."""
    return python(f"""
        import sys, time
        time.sleep({quiet})
        for n in range({lines}):
            sys.stdout.write(f"line {{n}}\\n")
            sys.stdout.flush()
            time.sleep(0.002)
        sys.stdout.write("END")
    """)


def test_a_streaming_child_is_read_in_fewer_larger_reads_when_paced_and_loses_nothing():
    # A child that writes a line every 2 ms for 0.6 s: unpaced, nearly every line is its own read;
    # paced at 0.1 s, the reads while it streams come at most ten a second. The first line after the
    # quiet start is read at once, and every byte arrives before the exit.
    program = streaming(quiet=0.3, lines=300)

    async def main(pause):
        child = Child(program)
        reads = []
        child.proc._on_output = lambda text: (reads.append(text), Child._on_output(child, text))
        child.proc.read_pause = lambda: pause
        code = await child.exit_code(timeout=20)
        return code, child.output_at_exit, len(reads)

    code, output, paced_reads = run(main(0.1))
    assert code == 0 and output.endswith("END")
    assert all(f"line {n}\r\n" in output for n in range(300))
    _, _, unpaced_reads = run(main(0.0))
    assert paced_reads < unpaced_reads / 2, (paced_reads, unpaced_reads)


def test_paced_children_are_read_together_and_lose_nothing():
    # Four children streaming a line every 2 ms, paced at 0.05 s: their paused reads share one timer,
    # so each wake-up reads all of them (back to back) instead of one wake-up per child and read.
    program = streaming(quiet=0.2, lines=250)

    async def main():
        loop = asyncio.get_running_loop()
        reads = []  # (time, child)
        children = []
        for i in range(4):
            child = Child(program)
            child.proc._on_output = lambda text, c=child, i=i: (reads.append((loop.time(), i)), Child._on_output(c, text))
            child.proc.read_pause = lambda: 0.05
            children.append(child)
        codes = [await child.exit_code(timeout=30) for child in children]
        return codes, [child.output_at_exit for child in children], reads

    codes, outputs, reads = run(main())
    assert codes == [0] * 4
    assert all(out.endswith("END") and all(f"line {n}\r\n" in out for n in range(250)) for out in outputs)
    reads.sort()
    batches = 1 + sum(1 for (a, _), (b, _) in zip(reads, reads[1:]) if b - a > 0.002)
    assert batches < 0.6 * len(reads), (batches, len(reads))


def test_input_ends_a_pause_in_reading():
    # A streaming child paused for 5 s: what it writes after a key is read at once, not after the
    # pause, also when its answer comes behind more of its stream.
    program = python("""
        import sys, threading, time
        def stream():
            n = 0
            while True:
                sys.stdout.write(f"tick {n}\\n"); sys.stdout.flush(); n += 1; time.sleep(0.01)
        threading.Thread(target=stream, daemon=True).start()
        sys.stdin.readline()
        time.sleep(0.3)  # an agent answers a moment after the key, behind its own stream
        sys.stdout.write("GOT KEY\\n"); sys.stdout.flush()
        time.sleep(30)
    """)

    async def main():
        loop = asyncio.get_running_loop()
        child = Child(program)
        child.proc.read_pause = lambda: 5.0
        try:
            await child.wait_for("tick 3", timeout=10)
            deadline = loop.time() + 10
            while child.proc._selected:  # streaming: the next read waits out the pause
                assert loop.time() < deadline, "the read never paused"
                await asyncio.sleep(0.01)
            sent = loop.time()
            child.proc.write(b"x\n")
            await child.wait_for("GOT KEY", timeout=10)
            return loop.time() - sent
        finally:
            os.kill(child.proc.pid, signal.SIGKILL)
            await child.exit_code(timeout=10)

    assert run(main()) < 2.5  # the pause alone would be 5 s
