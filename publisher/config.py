"""``config.toml`` → a frozen :class:`Config`; every error names the key."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import tomllib
import types
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, make_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from publisher.errors import ConfigError

DEFAULT_CONFIG_NAME = "config.toml"
DEFAULT_SITE_URL = "http://localhost:8000/"
"""Where self links point while ``site.url`` is not set: a local preview server."""


@dataclass(frozen=True)
class SiteConfig:
    """What the feeds say about themselves."""

    title: str = "News"
    description: str = "Curated news"
    url: str = ""
    """Public URL of the output folder: every feed's ``rel="self"`` is under it; empty when not
    set (then :data:`DEFAULT_SITE_URL`, with a warning)."""
    link: str = ""
    """The site's home page; defaults to ``url``."""
    language: str = "en"

    @property
    def base_url(self) -> str:
        """The URL feeds are published under: ``url``, or the local default when it is unset."""
        return self.url or DEFAULT_SITE_URL

    @property
    def home(self) -> str:
        return self.link or self.base_url


@dataclass(frozen=True)
class TopicRule:
    """Per-topic overrides of the selection rules."""

    min_quality: int | None = None
    limit: int | None = None


@dataclass(frozen=True)
class SelectionConfig:
    """Which articles make it into feeds."""

    min_quality: int = 50
    include_unrated: bool = False
    limit: int = 50
    max_drop: float = 0.5
    """The largest share of the last build's selected articles a build may lose without
    ``--force``: a half-synced or unreadable folder must not empty the feeds."""
    retire_after_days: int = 30
    """A topic no article carries any more keeps its (empty) feeds this many days."""


@dataclass(frozen=True)
class ArchiveConfig:
    """RFC 5005 archive pages: every qualifying article stays reachable from each feed."""

    enabled: bool = True
    page_size: int = 100
    """Items per archive page."""


@dataclass(frozen=True)
class SmtpConfig:
    """How ``digest --send`` reaches a mail server; the password comes from the environment."""

    host: str = "localhost"
    port: int = 587
    tls: str = "starttls"
    user: str = ""
    password_env: str = "PUBLISHER_SMTP_PASSWORD"
    timeout: float = 30.0


@dataclass(frozen=True)
class DigestConfig:
    """The weekly newsletter."""

    templates: str = ""
    """Folder of edited copies of the templates; unset, the package's own are used."""
    out: str = "newsletters"
    archive: str = "_newsletters"
    per_topic: int = 8
    topic_order: tuple[str, ...] = ()
    timezone: str = "UTC"
    utm: bool = True
    utm_source: str = "newsletter"
    sender: str = "News <news@example.org>"
    list_address: str = "readers@example.org"
    list_id: str = ""
    unsubscribe_url: str = ""
    unsubscribe_mailto: str = ""
    postal_address: str = ""
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    week_starts: str = "monday"
    """The first day of an issue's week; the issue is dated the day after the week ends."""
    max_stories: int = 20
    """Stories in a whole issue, the lead included."""
    other_section: str = "More news"
    """The closing section: stories with no topic of their own but the site's umbrella."""
    umbrella_share: float = 0.8
    """A topic carried by at least this share of the qualifying articles is the site's
    umbrella, not a section."""
    subject: str = "{{ lead }}"
    """The Subject header, a Jinja template (see the README for its names). The default, the
    lead headline alone, is cut to fit a phone; the From name already says whose it is."""
    url: str = ""
    """Public URL of ``out``: the newsletter feeds' self links, and where issues are linked
    from when there is no ``archive_url``."""
    archive_url: str = ""
    """URL prefix of the archive pages: an issue's page is this plus its file name."""


CADENCES = ("daily", "weekly", "monthly")


def _edition_fields() -> list[tuple[str, Any, Any]]:
    """Every ``[digest]`` key, unset (``None``) unless the edition overrides it."""
    hints = get_type_hints(DigestConfig)
    return [
        (item.name, hints[item.name] | None, field(default=None)) for item in fields(DigestConfig)
    ]


if TYPE_CHECKING:
    EditionConfig = Any
else:
    EditionConfig = make_dataclass(
        "EditionConfig",
        [
            *_edition_fields(),
            ("topics", tuple[str, ...], field(default=())),
            ("cadence", str, field(default="weekly")),
            ("late_days", int, field(default=7)),
        ],
        frozen=True,
    )
    EditionConfig.__doc__ = """An ``[editions.NAME]`` table: ``[digest]`` keys that differ
    for this edition, the ``topics`` it carries (all when empty), its ``cadence`` and how
    many days late an article may arrive and still be sent (``late_days``)."""


@dataclass(frozen=True)
class WebSubConfig:
    """The WebSub hub told after each build which feeds changed; no hub, no pings."""

    hub: str = ""
    timeout: float = 5.0
    """Seconds the hub may take over all the pings of one build."""


@dataclass(frozen=True)
class Config:
    """Everything publisher can be told; paths are resolved against the config file."""

    content: str = "content/_news"
    out: str = "feeds"
    cache_dir: str = ".publisher-cache"
    site: SiteConfig = field(default_factory=SiteConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    topics: Mapping[str, TopicRule] = field(default_factory=dict)
    digest: DigestConfig = field(default_factory=DigestConfig)
    websub: WebSubConfig = field(default_factory=WebSubConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    editions: Mapping[str, EditionConfig] = field(default_factory=dict)

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with the given top-level values replaced; ``None`` means "not given"."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(self, **given)


TLS_MODES = ("starttls", "ssl", "none")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def load_config(path: Path | None) -> Config:
    """Read ``path``, or ``config.toml`` in the working directory when it exists, else defaults."""
    if path is None:
        default = Path(DEFAULT_CONFIG_NAME)
        if not default.is_file():
            return Config()
        path = default
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", path=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML: {error}", path=str(path)) from None
    # Paths are resolved before the checks, so that folders are compared where they really are.
    config = resolve_paths(_build(Config, raw, str(path), prefix=""), path.parent)
    check_config(config, str(path))
    return config


def parse_config(raw: Mapping[str, Any], source: str = DEFAULT_CONFIG_NAME) -> Config:
    """Check every key and type of a parsed TOML document and build the config; its relative
    paths are relative to the working directory."""
    config: Config = _build(Config, raw, source, prefix="")
    check_config(config, source)
    check_folders(config, source)
    return config


def resolve_paths(config: Config, base: Path) -> Config:
    """Make the config's relative paths relative to ``base`` (the config file's folder)."""
    if base == Path():
        return config
    digest = replace(
        config.digest,
        templates=str(base / config.digest.templates) if config.digest.templates else "",
        out=str(base / config.digest.out),
        archive=str(base / config.digest.archive),
    )
    return replace(
        config,
        content=str(base / config.content),
        out=str(base / config.out),
        cache_dir=str(base / config.cache_dir),
        digest=digest,
    )


def _build(cls: type[Any], raw: Mapping[str, Any], source: str, prefix: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if key not in known:
            raise ConfigError("unknown key", path=source, field=name)
        values[key] = _convert(hints[key], value, source, name)
    return cls(**values)


def _convert(hint: Any, value: Any, source: str, name: str) -> Any:
    origin = get_origin(hint)
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        if not isinstance(value, dict):
            raise ConfigError("expected a table", path=source, field=name)
        return _build(hint, value, source, prefix=f"{name}.")
    if origin is Mapping:
        if not isinstance(value, dict):
            raise ConfigError("expected a table", path=source, field=name)
        item_type = get_args(hint)[1]
        return {
            key: _convert(item_type, item, source, f"{name}.{key}") for key, item in value.items()
        }
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError("expected a list of strings", path=source, field=name)
        return tuple(value)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        inner = next(arg for arg in get_args(hint) if arg is not type(None))
        return _convert(inner, value, source, name)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, float) and not math.isfinite(value):
        # TOML has nan and inf; no setting means either.
        raise ConfigError(f"expected a finite number, got {value!r}", path=source, field=name)
    if type(value) is not hint:
        raise ConfigError(f"expected {_type_name(hint)}, got {value!r}", path=source, field=name)
    return value


def _type_name(hint: Any) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number"}.get(
        hint, str(hint)
    )


MAX_UNSUBSCRIBE_URL = 900
"""Longest ``digest.unsubscribe_url``: ``List-Unsubscribe: <url>`` must stay one header line."""

_UNSAFE_IN_URL = re.compile(r'[\s<>"\\]')
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


def url_problem(url: str) -> str:
    """Why ``url`` cannot be published as a link (in feeds, pages and mail), or ``""``.

    Only absolute http(s) URLs with a host: ``javascript:`` or ``data:`` would run or show
    anything in a reader's browser, and spaces, quotes or angle brackets break out of the
    attribute or header they are written into.
    """
    if not url.isprintable() or _UNSAFE_IN_URL.search(url):
        return "must not contain spaces, control characters, quotes, angle brackets or backslashes"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL with a host, like https://example.org/"
    if "@" in parts.netloc:
        # Said without the value: it would print the password.
        return (
            "must not hold a user name or password (user:password@): it would be published"
            " in every feed and page"
        )
    return ""


def envelope_part(value: str) -> str:
    """The address of a ``Name <address>`` value, or the whole value when it is not one such
    address (two addresses, or one the parser had to repair), for :func:`address_problem`."""
    # Imported here: the email package costs a feed build with nothing to do 10 ms.
    from email.utils import getaddresses

    pairs = getaddresses([value])
    return pairs[0][1] if len(pairs) == 1 and pairs[0][1] and pairs[0][1] in value else value


def address_problem(address: str) -> str:
    """Why ``address`` cannot be an SMTP envelope address (``name@example.org``), or ``""``."""
    if not address:
        return "must not be empty"
    if not address.isascii():
        return f"{address!r} is not an ASCII address (SMTPUTF8 is not supported)"
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        return f"{address!r} is not an email address like name@example.org"
    return ""


Check = Callable[[Any], str]
"""Why a setting's value cannot work, or ``""`` when it can."""


def _require(ok: Callable[[Any], bool], reason: str) -> Check:
    """A check that gives ``reason`` for the values ``ok`` refuses."""
    return lambda value: "" if ok(value) else reason


def _when_set(check: Check) -> Check:
    """``check`` for a value that is given; an empty or absent value is fine."""
    return lambda value: "" if value is None or value == "" else check(value)


def _filled(text: str) -> bool:
    return bool(text.strip())


def _no_query_or_fragment(url: str) -> str:
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        return "must not have a query or fragment: feed URLs are made by appending names"
    return ""


def _one_header_line(url: str) -> str:
    if len(url) <= MAX_UNSUBSCRIBE_URL:
        return ""
    return (
        f"is {len(url)} characters, more than {MAX_UNSUBSCRIBE_URL}: a longer List-Unsubscribe"
        " header is folded across lines, which breaks one-click unsubscribe in mail clients"
    )


def _envelope_problem(value: str) -> str:
    return address_problem(envelope_part(value))


def _time_zone_problem(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name!r}"
    return ""


def _repeated_topic(order: tuple[str, ...]) -> str:
    repeated = next((topic for index, topic in enumerate(order) if topic in order[:index]), None)
    if repeated is None:
        return ""
    return f"lists {repeated!r} more than once: name each topic once"


def _weekday_problem(day: str) -> str:
    if day.lower() in WEEKDAYS:
        return ""
    return f"must be a day of the week, monday to sunday, got {day!r}"


def integer_settings(cls: type[Any] = Config, prefix: str = "") -> Iterator[str]:
    """The key of every integer setting (``topics.*.limit`` for each topic's), from the
    types of the settings, so a new one is checked without being listed."""
    for name, hint in get_type_hints(cls).items():
        if hint is int or int in get_args(hint):
            yield f"{prefix}{name}"
        elif isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
            yield from integer_settings(hint, f"{prefix}{name}.")
        elif get_origin(hint) is Mapping:
            yield from integer_settings(get_args(hint)[1], f"{prefix}{name}.*.")


MAX_RETIRE_DAYS = 36_500
"""A hundred years: the longest a gone topic's feeds can be kept is as good as never, and a
longer span would reach before the first day the calendar has."""
_STORED_INTEGER = _when_set(
    _require(
        lambda number: -(2**63) <= number < 2**63,
        f"must be from {-(2**63)} to {2**63 - 1}: the state store keeps it as a 64-bit integer",
    )
)
_AT_LEAST_ONE = _require(lambda count: count >= 1, "must be at least 1")
_ONE_LINE = _require(
    str.isprintable, "must be one line without control characters (it goes into mail headers)"
)
_LINKS = (
    "site.url",
    "site.link",
    "digest.unsubscribe_url",
    "digest.url",
    "digest.archive_url",
    "websub.hub",
)
_MAIL_HEADERS = (
    "site.title",
    "digest.sender",
    "digest.list_address",
    "digest.list_id",
    "digest.unsubscribe_url",
    "digest.unsubscribe_mailto",
)

RULES: tuple[tuple[str, Check], ...] = (
    *((key, _STORED_INTEGER) for key in integer_settings()),
    *((key, _when_set(url_problem)) for key in _LINKS),
    ("site.url", _no_query_or_fragment),
    ("digest.unsubscribe_url", _one_header_line),
    ("site.title", _require(_filled, "must not be empty: every feed needs it")),
    ("site.description", _require(_filled, "must not be empty: every feed needs it")),
    *((key, _ONE_LINE) for key in _MAIL_HEADERS),
    ("digest.sender", _envelope_problem),
    ("digest.list_address", _envelope_problem),
    ("digest.unsubscribe_mailto", _when_set(address_problem)),
    ("selection.limit", _AT_LEAST_ONE),
    (
        "selection.max_drop",
        _require(lambda share: 0 <= share <= 1, "must be a share from 0 to 1 (0.5 = half)"),
    ),
    ("topics.*.limit", _when_set(_AT_LEAST_ONE)),
    ("selection.retire_after_days", _require(lambda days: days >= 0, "must be 0 or more")),
    (
        "selection.retire_after_days",
        _require(
            lambda days: days <= MAX_RETIRE_DAYS,
            f"must be at most {MAX_RETIRE_DAYS} (a hundred years, which is as good as never)",
        ),
    ),
    ("archive.page_size", _AT_LEAST_ONE),
    ("digest.per_topic", _AT_LEAST_ONE),
    ("digest.max_stories", _AT_LEAST_ONE),
    (
        "digest.umbrella_share",
        _require(lambda share: 0 < share <= 1, "must be more than 0 and at most 1"),
    ),
    ("digest.subject", _require(_filled, "must not be empty: every issue needs a subject")),
    (
        "digest.other_section",
        _require(_filled, "must not be empty: it is the closing section's heading"),
    ),
    (
        "digest.smtp.tls",
        _require(lambda mode: mode in TLS_MODES, f"must be one of {', '.join(TLS_MODES)}"),
    ),
    (
        "digest.smtp.port",
        _require(lambda port: 0 < port < 65536, "must be a port number, 1 to 65535"),
    ),
    (
        "digest.smtp.timeout",
        _require(lambda seconds: 0 < seconds < math.inf, "must be a number of seconds more than 0"),
    ),
    ("digest.timezone", _time_zone_problem),
    (
        "websub.timeout",
        _require(lambda seconds: 0 < seconds <= 300, "must be more than 0 and at most 300 seconds"),
    ),
    ("digest.week_starts", _weekday_problem),
    ("digest.topic_order", _repeated_topic),
    (
        "editions.*.cadence",
        _require(lambda cadence: cadence in CADENCES, f"must be one of {', '.join(CADENCES)}"),
    ),
    ("editions.*.late_days", _require(lambda days: 0 <= days <= 366, "must be 0 to 366 days")),
)
"""Every setting's own check, in the order they are tried: a key and what is wrong with its
value. ``topics.*.limit`` stands for the ``limit`` of each topic."""


def check_config(config: Config, source: str = DEFAULT_CONFIG_NAME) -> None:
    """Raise :class:`ConfigError`, naming the key, for values that cannot work together."""
    for key, check in RULES:
        for name, value in _settings(config, key):
            if problem := check(value):
                raise ConfigError(problem, path=source, field=name)


def _settings(config: Config, key: str) -> Iterator[tuple[str, Any]]:
    """The value at the dotted ``key``, or each topic's value for ``topics.*.<name>``."""
    table, star, name = key.partition(".*.")
    if not star:
        yield key, _lookup(config, key)
        return
    for topic, rule in _lookup(config, table).items():
        yield f"{table}.{topic}.{name}", _lookup(rule, name)


def _lookup(value: Any, key: str) -> Any:
    return functools.reduce(getattr, key.split("."), value)


OUTPUT_FOLDERS = ("out", "digest.out", "digest.archive")
"""The folders publisher writes into: each must be a folder of its own."""
OWN_FOLDERS = (
    "give each output (out, digest.out, digest.archive) a folder of its own,"
    " apart from content and cache_dir"
)


def check_folders(
    config: Config,
    source: str = DEFAULT_CONFIG_NAME,
    labels: Mapping[str, str] | None = None,
    taken: Mapping[str, str] | None = None,
) -> None:
    """Raise :class:`ConfigError` when an output folder is the root or home folder, or is,
    contains or lies inside another output folder, the content folder or the cache folder
    (or one of the ``taken`` folders, by name: the published folder, for a preview).

    Folders are compared by their real paths (symlinks resolved), so give the values after
    every command-line override. ``labels`` names a key the way the user gave it
    (``digest.out (--out)``).
    """
    names = labels or {}
    folders = {
        "out": config.out,
        "digest.out": config.digest.out,
        "digest.archive": config.digest.archive,
        "content": config.content,
        "cache_dir": config.cache_dir,
        **(taken or {}),
    }
    real = {key: Path(os.path.realpath(folder)) for key, folder in folders.items()}
    forbidden = {Path("/"): "the root folder"}
    with contextlib.suppress(RuntimeError, KeyError):  # no home folder to be told
        forbidden[Path(os.path.realpath(Path.home()))] = "the home folder"

    def fail(key: str, reason: str) -> None:
        raise ConfigError(reason, path=source, field=names.get(key, key))

    for key in OUTPUT_FOLDERS:
        if real[key] in forbidden:
            fail(key, f"must not be {forbidden[real[key]]} ({real[key]}): {OWN_FOLDERS}")
    for index, key in enumerate(OUTPUT_FOLDERS):
        # Each output folder against the ones before it, then against the folders it only reads.
        for other in [*OUTPUT_FOLDERS[:index], "content", "cache_dir", *(taken or {})]:
            mine, theirs = real[key], real[other]
            other_name = names.get(other, other)
            if mine == theirs:
                relation = f"is the same folder as {other_name} ({theirs})"
            elif mine.is_relative_to(theirs):
                relation = f"is inside {other_name} ({theirs})"
            elif theirs.is_relative_to(mine):
                relation = f"contains {other_name} ({theirs})"
            else:
                continue
            fail(key, f"{relation}: {OWN_FOLDERS}")
