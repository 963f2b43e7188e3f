"""Errors raised on bad input data."""


class DataFormatError(ValueError):
    """A data file is missing, corrupt, or does not hold what its format promises.

    The message names the file, and the key or shape that is wrong.
    """
