"""python -m fleet_tui.demo PATH: make the demo repository at PATH."""

import sys
from pathlib import Path

from fleet_tui.demo.repo import create_demo_repo
from fleet_tui.errors import FleetError


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m fleet_tui.demo PATH", file=sys.stderr)
        return 2
    try:
        repo = create_demo_repo(Path(argv[0]))
    except FleetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"Demo repository created in {repo}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
