"""The errors publisher raises; each reads ``path: field: reason``."""


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


class TemplateError(PublisherError):
    """A newsletter template cannot be rendered, or its CSS is invalid."""


class SendError(PublisherError):
    """The newsletter could not be delivered."""
