"""A warm UI process (fleet_tui/ui/warm.py) with _reattach_probe's clocks in it, for
`python -m bench.profile_reattach --only warm`: each forked child logs its phases, from the
warm process accepting the launcher to the first frame, to FLEET_PROBE_LOG.

  python bench/_warm_probe.py --socket PATH   (stdin: a pipe; its end stops it)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

probe = (Path(__file__).resolve().parent / "_reattach_probe.py").read_text()
exec(compile(probe[:probe.index('mark("probe ready")')], "_reattach_probe", "exec"))  # the clocks, not its main

from fleet_tui.ui import warm  # noqa: E402

_receive, _run_child = warm.receive, warm.run_child


def receive(conn):
    mark("launcher accepted")  # noqa: F821 - defined by the probe
    return _receive(conn)


def run_child(*args, **kwargs):
    for flag in SEEN:  # noqa: F821 - the warm-up's app fired them: the child's own first times count
        flag[0] = False
    mark("child forked")  # noqa: F821
    return _run_child(*args, **kwargs)


warm.receive, warm.run_child = receive, run_child
sys.exit(warm.main(sys.argv[1:]))
