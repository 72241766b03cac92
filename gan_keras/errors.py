"""Errors that the command-line scripts turn into one clear line on stderr."""


class GanKerasError(Exception):
    """A failure the user can act on. ``exit_code`` is 1 for runtime problems."""

    exit_code = 1


class UsageError(GanKerasError):
    """Nonsense arguments or a wrong kind of input: exit code 2, like argparse."""

    exit_code = 2


class DataError(GanKerasError):
    """A data file that is missing, unreadable, or not images of the expected shape."""


class TrainingDiverged(GanKerasError):
    """A loss became NaN or infinite."""
