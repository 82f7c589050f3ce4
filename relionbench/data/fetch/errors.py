"""The failures fetch-dataset reports: one line each, with the exit status they map to."""


class FetchError(Exception):
    """A failure, reported to the user as one line (exit 1)."""


class UsageError(FetchError):
    """A bad command line (exit 2)."""
