"""The one exception type for problems the user can fix (bad files, wrong options)."""


class IfanError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits non-zero."""
