"""Pure selection: which articles go into which feed, in which order."""

from __future__ import annotations

import functools
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from slugify import slugify

from publisher.config import SelectionConfig, TopicRule
from publisher.model import EPOCH, Article, Topic

_HOST_SPECIALS = frozenset("@:[]\\")
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Rules:
    """The selection rules for one feed."""

    min_quality: int = 50
    include_unrated: bool = False
    limit: int = 50


def rules_for(
    topic: str | None, selection: SelectionConfig, topics: Mapping[str, TopicRule]
) -> Rules:
    """The site-wide rules, with a topic's overrides applied when it has any."""
    override = topics.get(topic, TopicRule()) if topic else TopicRule()
    return Rules(
        min_quality=selection.min_quality if override.min_quality is None else override.min_quality,
        include_unrated=selection.include_unrated,
        limit=selection.limit if override.limit is None else override.limit,
    )


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


def is_selectable(article: Article, rules: Rules) -> bool:
    """Published, and rated at least ``min_quality`` (or unrated, when that is allowed)."""
    if not article.published:
        return False
    if article.quality is None:
        return rules.include_unrated
    return article.quality >= rules.min_quality


def _age(article: Article) -> int:
    """Microseconds before the epoch: exact, unlike a float timestamp; smaller is newer."""
    return (EPOCH - article.published_at) // MICROSECOND


def _newest_first(article: Article) -> tuple[int, str, str]:
    """Newest first; ties broken by URL then path, so the order never depends on file order."""
    return _age(article), article.url, article.path


def _merit(article: Article) -> tuple[int, int, int]:
    """Higher quality, then more heat, then newer sorts first; unrated counts below 0."""
    return (
        -(article.quality if article.quality is not None else -1),
        -(article.heat if article.heat is not None else -1),
        _age(article),
    )


def best_first(article: Article) -> tuple[int, int, int, str]:
    """The one ranking of stories: quality, then heat, then newest; the URL breaks ties."""
    return (*_merit(article), article.url)


def _better_copy(article: Article, kept: Article) -> bool:
    """Whether ``article`` beats ``kept``, a copy of the same story, as :func:`best_first` ranks.

    Copies share a canonical URL but may spell it differently (http, a trailing slash), so the
    URL does not decide between them; the later path does, whatever the file order.
    """
    return (_merit(article), kept.path) < (_merit(kept), article.path)


def deduplicate(articles: Iterable[Article]) -> list[Article]:
    """One article per canonical URL: the best copy (quality, heat, newest, then path)."""
    best: dict[str, Article] = {}
    for article in articles:
        key = canonical_url(article.url)
        kept = best.get(key)
        if kept is None or _better_copy(article, kept):
            best[key] = article
    return list(best.values())


def select(articles: Iterable[Article], rules: Rules) -> list[Article]:
    """The feed's articles: selectable, deduplicated, newest first, at most ``limit``."""
    chosen = deduplicate(article for article in articles if is_selectable(article, rules))
    return heapq.nsmallest(rules.limit, chosen, key=_newest_first)


def assign_slugs(
    names: Iterable[str], known: Mapping[str, str] | None = None
) -> tuple[list[Topic], list[str]]:
    """Topics sorted by name, each with a unique, stable slug, and a warning per new clash.

    ``known`` is the name → slug map of earlier builds: those topics keep their slugs, so a
    feed URL never moves. New names that slugify alike ("C++" and "C") keep the plain slug for
    the first name in sorted order and get ``-2``, ``-3``… after it.
    """
    ordered = sorted(set(names), key=lambda name: (name.casefold(), name))
    taken: dict[str, str] = {}
    for name in ordered:
        slug = (known or {}).get(name)
        if slug and slug not in taken:
            taken[slug] = name
    given = {name: slug for slug, name in taken.items()}
    topics: list[Topic] = []
    warnings: list[str] = []
    for name in ordered:
        slug = given.get(name)
        if slug is None:
            base = slugify(name) or "topic"
            slug, counter = base, 1
            while slug in taken:
                counter += 1
                slug = f"{base}-{counter}"
            if slug != base:
                warnings.append(
                    f"topics: {name!r} and {taken[base]!r} share the slug {base!r};"
                    f" {name!r} uses {slug!r}"
                )
            taken[slug] = name
        topics.append(Topic(name, slug))
    return topics, warnings


def articles_by_topic(articles: Sequence[Article]) -> dict[str, list[Article]]:
    """Every topic name with the articles that carry it, in input order."""
    grouped: dict[str, list[Article]] = {}
    for article in articles:
        for name in article.topics:
            grouped.setdefault(name, []).append(article)
    return grouped
