"""Errors that reach the user as one line.

Every error a user can cause (bad input, a missing optional asset) is a
:class:`VasaError`; the command line prints ``error: <message>`` and exits
with status 2 instead of showing a traceback.
"""


class VasaError(Exception):
    """A problem the user can fix; the message says what and how."""


class InputError(VasaError):
    """An input file is missing, unreadable, empty or unusable."""


class FaceNotFoundError(InputError):
    """No usable face was found in an image."""


class MissingAssetError(VasaError):
    """An optional model file the user must supply is not there."""
