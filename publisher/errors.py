"""The errors publisher raises, and the one :class:`Problem` type; each reads
``path: field: reason``."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one article file was skipped."""

    path: str
    field: str
    message: str
    transient: bool = False
    """The file could not be read (permissions, say): it may pass by itself, so try again."""

    def __str__(self) -> str:
        return ": ".join(part for part in (self.path, self.field, self.message) if part)


class PublisherError(Exception):
    """A problem a user can act on: bad config, bad usage, unwritable output."""

    def __init__(self, reason: str, *, path: str = "", field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path
        self.field = field

    def __str__(self) -> str:
        return ": ".join(part for part in (self.path, self.field, self.reason) if part)


class ConfigError(PublisherError):
    """config.toml is unreadable, or a key is unknown or has the wrong type."""


class ArticleError(PublisherError):
    """One article file cannot be used; the file is skipped."""


class OutputError(PublisherError):
    """The output folder cannot be locked or written."""


class OutputClash(OutputError):
    """Two planned outputs claim one relative path: writing both would lose one."""

    def __init__(self, path: str, first: str, second: str) -> None:
        super().__init__(f"claimed by both {first} and {second}", path=path)
        self.claimants = (first, second)


class LockTimeout(OutputError):
    """Another run holds the output folder's lock."""


class StoreError(PublisherError):
    """The state store cannot be opened or used (not a damaged file, which is rebuilt)."""


class TemplateError(PublisherError):
    """A newsletter template cannot be rendered, or its CSS is invalid."""


class SendError(PublisherError):
    """The newsletter could not be delivered, or its delivery could not be confirmed."""

    def __init__(
        self, reason: str, *, path: str = "", field: str = "", possibly_sent: bool = False
    ) -> None:
        super().__init__(reason, path=path, field=field)
        self.possibly_sent = possibly_sent
        """The server had the whole message when the connection failed: it may deliver it."""


class PreviewError(PublisherError):
    """Chromium is missing, or it could not take the newsletter's screenshot."""
