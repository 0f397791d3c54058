"""What the web app answers besides 400 (a :class:`vasa3d.errors.VasaError`): each becomes one JSON line."""


class NotFound(Exception):
    """No such avatar, job or session (404)."""


class BusyError(Exception):
    """All live-session slots are taken (503)."""


class TooLarge(Exception):
    """An upload or request over its cap (413)."""


class Unsupported(Exception):
    """A body of the wrong kind: a photo that is not an image, audio that is not audio (415)."""
