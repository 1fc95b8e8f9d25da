"""The one exception type the CLI turns into a single clear line on stderr."""


class SkelgenError(Exception):
    """A user-facing error: the message says what is wrong and what to do."""
