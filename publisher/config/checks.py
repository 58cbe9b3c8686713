"""Every check of every setting, as a table of rules: one line naming the key and what is wrong."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import os
import re
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from publisher.config.model import (
    CADENCES,
    DEFAULT_CONFIG_NAME,
    LONGEST_MAX_AGE,
    PRECOMPRESS_ENCODINGS,
    TLS_MODES,
    WEEKDAYS,
    Config,
)
from publisher.errors import ConfigError

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
    if _ADDRESS.fullmatch(value):
        return value  # a bare address is its own envelope part, as the parser agrees
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


def _precompress_problem(encodings: tuple[str, ...]) -> str:
    for encoding in encodings:
        if encoding not in PRECOMPRESS_ENCODINGS:
            return f"unknown encoding {encoding!r}: use {' or '.join(PRECOMPRESS_ENCODINGS)}"
    if "brotli" in encodings and importlib.util.find_spec("brotli") is None:
        return "brotli needs the brotli package: pip install 'news-publisher[brotli]'"
    return ""


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
    ("output.precompress", _precompress_problem),
    (
        "output.max_age",
        _require(
            lambda seconds: 1 <= seconds <= LONGEST_MAX_AGE,
            f"must be 1 to {LONGEST_MAX_AGE} seconds: feed readers poll, so at most an hour",
        ),
    ),
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
