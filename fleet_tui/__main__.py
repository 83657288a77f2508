import sys

from fleet_tui.cli import main

sys.exit(main())
