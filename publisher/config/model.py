"""The settings as frozen records: every key of ``config.toml`` and its default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, make_dataclass, replace
from typing import TYPE_CHECKING, Any, get_type_hints

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


PRECOMPRESS_ENCODINGS = ("gzip", "brotli")
LONGEST_MAX_AGE = 3600
"""Seconds a reader may keep a subscription document: feed readers poll, so at most an hour."""


@dataclass(frozen=True)
class OutputConfig:
    """How the output folder is served: compressed twins of each file, a ``_headers`` file."""

    precompress: tuple[str, ...] = ()
    """Encodings of the twins written beside each file (``NAME.gz``, ``NAME.br``)."""
    headers: bool = False
    """Write ``_headers`` (Netlify, Cloudflare Pages): content types and cache lifetimes."""
    max_age: int = 900
    """Seconds readers and caches may keep a subscription document or page; archive pages,
    which never change, are kept far longer."""


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
    output: OutputConfig = field(default_factory=OutputConfig)
    editions: Mapping[str, EditionConfig] = field(default_factory=dict)

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with the given top-level values replaced; ``None`` means "not given"."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(self, **given)


TLS_MODES = ("starttls", "ssl", "none")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
