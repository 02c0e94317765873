"""Errors that carry a message for a person, not a traceback.

Command lines catch `UserFacingError`, print its message on one line and exit with status 2;
the app shows it as a `gr.Error`.
"""


class UserFacingError(RuntimeError):
    """Bad input or a missing resource, explained in one sentence that says what to do."""


class ModelUnavailable(UserFacingError):
    """A model could not be found or loaded: the message says what to install or set."""
