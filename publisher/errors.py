"""The errors publisher raises, and the one :class:`Problem` type; each reads
``path: field: reason``, on one line whatever the path holds."""

from dataclasses import dataclass


def quote_path(path: str) -> str:
    """``path`` as it can be shown on one line of a terminal or a log.

    A path of printable characters is shown as it is. Any other is quoted, with backslash
    escapes for control characters (a newline in a file name would forge a line of output),
    bidirectional controls (which reorder what follows them on the screen) and bytes that are
    not UTF-8 (which the file system hands over as lone surrogates): ``'bad\\xff\\n.md'``.
    """
    if path.isprintable():
        return path
    return f"'{_escaped(path, quote=True)}'"


def _escaped(text: str, *, quote: bool = False) -> str:
    return "".join(_escape(char, quote) for char in text)


def _escape(char: str, quote: bool) -> str:
    if char.isprintable():
        return f"\\{char}" if quote and char in "'\\" else char
    if "\udc80" <= char <= "\udcff":
        return f"\\x{ord(char) - 0xDC00:02x}"  # a byte that is not UTF-8, kept by os.fsdecode
    return repr(char)[1:-1]  # \n, \x1b, \u202e


def _one_line(path: str, field: str, message: str) -> str:
    text = ": ".join(part for part in (field, message) if part)
    if not text.isprintable():
        text = _escaped(text)
    return ": ".join(part for part in (quote_path(path), text) if part)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one article file was skipped; as a warning, what was left out of a published one."""

    path: str
    field: str
    message: str
    transient: bool = False
    """The file could not be read (permissions, say): it may pass by itself, so try again."""

    def __str__(self) -> str:
        return _one_line(self.path, self.field, self.message)


class PublisherError(Exception):
    """A problem a user can act on: bad config, bad usage, unwritable output."""

    def __init__(self, reason: str, *, path: str = "", field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path
        self.field = field

    def __str__(self) -> str:
        return _one_line(self.path, self.field, self.reason)


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
