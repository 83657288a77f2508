"""The one timer on which paused pty reads resume (ptyproc._PausedReads), on a real event loop."""

import asyncio

from fleet_tui.core.ptyproc import PACE_SLACK, _PausedReads


class Reader:
    """Stands in for a PtyProcess: records when its paused read resumed, and may pause again."""

    def __init__(self, paused: _PausedReads, loop: asyncio.AbstractEventLoop, again: float | None = None):
        self.paused, self.loop, self.again = paused, loop, again
        self.resumed: list[float] = []

    def _resume_reading(self) -> None:
        self.resumed.append(self.loop.time())
        if self.again is not None:
            self.paused.add(self, self.loop.time() + self.again)


def test_each_paused_read_resumes_on_time_even_when_another_pauses_again_for_longer():
    async def main():
        loop = asyncio.get_running_loop()
        paused = _PausedReads(loop)
        start = loop.time()
        first = Reader(paused, loop, again=0.5)  # read at once, then paused for longer than the second's
        second = Reader(paused, loop)
        paused.add(first, start + 0.05)
        paused.add(second, start + 0.05 + 3 * PACE_SLACK)
        await asyncio.sleep(0.3)
        return start, first.resumed, second.resumed

    start, first, second = asyncio.run(main())
    assert len(first) == 1 and first[0] - start >= 0.05
    # the first's new timer (0.5 s on) must not hold up the second, due 0.08 s in
    assert len(second) == 1 and 0.05 + 3 * PACE_SLACK <= second[0] - start < 0.25


def test_reads_due_close_together_resume_in_one_wake_up():
    async def main():
        loop = asyncio.get_running_loop()
        paused = _PausedReads(loop)
        start = loop.time()
        readers = [Reader(paused, loop) for _ in range(4)]
        for i, reader in enumerate(readers):
            paused.add(reader, start + 0.05 + i * PACE_SLACK / 4)
        await asyncio.sleep(0.2)
        return [reader.resumed for reader in readers]

    resumed = asyncio.run(main())
    assert all(len(times) == 1 for times in resumed)
    firsts = [times[0] for times in resumed]
    # due 7.5 ms apart from first to last, read together (one callback: microseconds apart)
    assert max(firsts) - min(firsts) < 0.005
