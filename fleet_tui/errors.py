"""Errors a user can act on. The CLI prints their message on one line, no traceback."""


class FleetError(Exception):
    """A problem the user can fix; the message says what happened and what to do."""

    exit_code = 1


class UsageError(FleetError):
    """The command line or the configuration is wrong (exit code 2)."""

    exit_code = 2
