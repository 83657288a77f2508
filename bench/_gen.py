"""A busy pane: coloured lines at a fixed byte rate (bench helper, run inside a pty).

usage: _gen.py RATE_BYTES_PER_S [COUNTER_FILE]
Paced in 10 ms steps. The number of bytes really written so far is kept in
COUNTER_FILE, so a benchmark can compare what was produced with the target:
a consumer that falls behind fills the pty and blocks these writes.
"""
import os
import sys
import time

rate = float(sys.argv[1])
counter = sys.argv[2] if len(sys.argv) > 2 else None
out = sys.stdout.buffer
colours = [f"\x1b[38;5;{c}m" for c in (33, 39, 45, 118, 166, 196, 214, 226)]
start = time.monotonic()
written = 0
n = 0
last_save = 0.0
fd = os.open(counter, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if counter else None
out.write(b"READY\r\n")
out.flush()
while True:
    now = time.monotonic()
    due = rate * (now - start)
    chunk = []
    size = 0
    while written + size < due:
        line = (f"{colours[n % 8]}{n:08d}\x1b[0m \x1b[1mworking\x1b[22m on step {n % 97:3d} "
                + "lorem ipsum dolor sit amet " * 2 + "\r\n").encode()
        chunk.append(line)
        size += len(line)
        n += 1
    if chunk:
        out.write(b"".join(chunk))
        out.flush()
        written += size
    if fd is not None and now - last_save > 0.1:
        os.pwrite(fd, f"{written:<20d}".encode(), 0)
        last_save = now
    time.sleep(0.01)
