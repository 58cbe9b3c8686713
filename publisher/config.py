"""``config.toml`` → a frozen :class:`Config`; every error names the key."""

from __future__ import annotations

import os
import tomllib
import types
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from publisher.errors import ConfigError

DEFAULT_CONFIG_NAME = "config.toml"


@dataclass(frozen=True)
class SiteConfig:
    """What the feeds say about themselves."""

    title: str = "News"
    description: str = "Curated news"
    url: str = "http://localhost:8000/"
    """Public URL of the output folder: every feed's ``rel="self"`` is under it."""
    link: str = ""
    """The site's home page; defaults to ``url``."""
    language: str = "en"

    @property
    def home(self) -> str:
        return self.link or self.url


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

    templates: str = "templates/email"
    out: str = "newsletters"
    archive: str = "_newsletters"
    per_topic: int = 5
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
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with the given top-level values replaced; ``None`` means "not given"."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(self, **given)


TLS_MODES = ("starttls", "ssl", "none")


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
    config = parse_config(raw, source=str(path))
    return resolve_paths(config, path.parent)


def parse_config(raw: Mapping[str, Any], source: str = DEFAULT_CONFIG_NAME) -> Config:
    """Check every key and type of a parsed TOML document and build the config."""
    config: Config = _build(Config, raw, source, prefix="")
    check_config(config, source)
    return config


def resolve_paths(config: Config, base: Path) -> Config:
    """Make the config's relative paths relative to ``base`` (the config file's folder)."""
    if base == Path():
        return config
    digest = replace(
        config.digest,
        templates=str(base / config.digest.templates),
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
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not hint:
        raise ConfigError(f"expected {_type_name(hint)}, got {value!r}", path=source, field=name)
    return value


def _type_name(hint: Any) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number"}.get(
        hint, str(hint)
    )


def check_config(config: Config, source: str = DEFAULT_CONFIG_NAME) -> None:
    """Raise :class:`ConfigError`, naming the key, for values that cannot work together."""

    def fail(key: str, reason: str) -> None:
        raise ConfigError(reason, path=source, field=key)

    site = config.site
    if not site.url.startswith(("http://", "https://")):
        fail("site.url", "must be an absolute http(s) URL")
    for key, value in (("site.title", site.title), ("site.description", site.description)):
        if not value.strip():
            fail(key, "must not be empty: every feed needs it")
    header_values = {
        "site.title": site.title,
        "digest.sender": config.digest.sender,
        "digest.list_address": config.digest.list_address,
        "digest.list_id": config.digest.list_id,
        "digest.unsubscribe_url": config.digest.unsubscribe_url,
        "digest.unsubscribe_mailto": config.digest.unsubscribe_mailto,
    }
    for key, value in header_values.items():
        if not value.isprintable():
            fail(key, "must be one line without control characters (it goes into mail headers)")
    if config.selection.limit < 1:
        fail("selection.limit", "must be at least 1")
    for topic, rule in config.topics.items():
        if rule.limit is not None and rule.limit < 1:
            fail(f"topics.{topic}.limit", "must be at least 1")
    if config.selection.retire_after_days < 0:
        fail("selection.retire_after_days", "must be 0 or more")
    if config.archive.page_size < 1:
        fail("archive.page_size", "must be at least 1")
    if config.digest.per_topic < 1:
        fail("digest.per_topic", "must be at least 1")
    smtp = config.digest.smtp
    if smtp.tls not in TLS_MODES:
        fail("digest.smtp.tls", f"must be one of {', '.join(TLS_MODES)}")
    if not 0 < smtp.port < 65536:
        fail("digest.smtp.port", "must be a port number, 1 to 65535")
    if smtp.timeout <= 0:
        fail("digest.smtp.timeout", "must be more than 0 seconds")
    try:
        zoneinfo.ZoneInfo(config.digest.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        fail("digest.timezone", f"unknown time zone {config.digest.timezone!r}")
    folders = {
        "out": config.out,
        "digest.out": config.digest.out,
        "digest.archive": config.digest.archive,
    }
    seen: dict[str, str] = {}
    for key, folder in folders.items():
        normal = os.path.normpath(folder)
        if normal in seen:
            # Each folder has its own manifest: sharing one, a build would prune the newsletters.
            fail(key, f"must not be the same folder as {seen[normal]}")
        seen[normal] = key
