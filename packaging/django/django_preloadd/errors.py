class PreloaddError(Exception):
    """The daemon could not be told: no answer, or an answer other than
    200. Its message is one line naming the address and what went wrong."""
