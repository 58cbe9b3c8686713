"""The clean, frozen records the rest of publisher works on."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ArticleType = Literal["article", "video"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NORMALISATION_RULES = 2
"""Raise when ``content.normalise`` would turn the same file into a different article: every
stored record is then parsed again."""
_HOST_SPECIALS = frozenset("@:[]\\")


@dataclass(frozen=True, slots=True)
class Image:
    """An absolute https image with its size when the source gave one."""

    url: str
    width: int | None = None
    height: int | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class Provider:
    """The publication an article comes from."""

    name: str
    domain: str = ""
    logo: Image | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic name and the unique slug its feeds live under."""

    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class Article:
    """One news article, normalised: URLs absolute, dates aware UTC, text repaired."""

    path: str
    title: str
    url: str
    published_at: datetime
    excerpt: str = ""
    type: ArticleType = "article"
    quality: int | None = None
    heat: int | None = None
    published: bool = True
    provider: Provider | None = None
    topics: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    amp_url: str | None = None

    @property
    def lead_image(self) -> Image | None:
        """The first image, the one feeds and the newsletter show."""
        return self.images[0] if self.images else None

    @property
    def is_video(self) -> bool:
        return self.type == "video"


class Candidate(NamedTuple):
    """What selection needs to know of a stored article before loading all of it. A named
    tuple: a build makes one for every story of every feed, and a tuple is made in a third of
    the time of a frozen dataclass."""

    name: str
    date_us: int
    """Publication time in microseconds since 1970 (UTC)."""
    url: str
    canonical: str
    quality: int | None
    heat: int | None
    digest: str
    """A hash of the whole stored record: equal digests, equal articles."""


@functools.lru_cache(maxsize=1 << 17)
def canonical_url(url: str) -> str:
    """The URL two copies of one story share: case, trailing slash, fragment and utm_* ignored."""
    scheme, separator, rest = url.partition("://")
    location, question, query = rest.partition("#")[0].partition("?")
    host, slash, path = location.partition("/")
    if (
        separator
        and scheme.lower() in ("http", "https")
        and not _HOST_SPECIALS & set(host)
        and "utm_" not in query.lower()
    ):
        # The common case, a plain host, without urllib's general parser.
        return (
            f"https://{host.lower()}{(slash + path).rstrip('/')}{question if query else ''}{query}"
        )
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port not in (None, 80, 443):
        host = f"{host}:{parts.port}"
    query = parts.query
    if "utm_" in query.lower():
        kept = [
            (key, value)
            for key, value in parse_qsl(query, keep_blank_values=True)
            if not key.lower().startswith("utm_")
        ]
        query = urlencode(kept)
    # http and https copies of one story are the same story.
    return urlunsplit(("https", host, parts.path.rstrip("/"), query, ""))
