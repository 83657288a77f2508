"""fleet_tui: run a fleet of CLI coding agents side by side, each in its own git worktree."""

__version__ = "0.1.0"
