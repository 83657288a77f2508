import sys

from fleet_tui.launch import main

sys.exit(main())
