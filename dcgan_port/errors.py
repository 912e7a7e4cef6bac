"""The one-line error."""


class UsageError(Exception):
    """Bad input, or a save the disk refused: dc_gan.py reports it as one line and exits with status 2,
    and nothing saved is touched."""
