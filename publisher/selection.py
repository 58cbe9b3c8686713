"""Pure selection: which articles go into which feed, in which order."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from slugify import slugify

from publisher.config import SelectionConfig, TopicRule
from publisher.model import EPOCH, Article, Candidate, Topic, canonical_url

MICROSECOND = timedelta(microseconds=1)
MAX_SLUG = 80
"""The longest topic slug: a folder name must fit the file system's limit (255 bytes) and a
feed URL should stay readable. A longer slug is cut and ends in a hash of the whole."""


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


def is_selectable(article: Article, rules: Rules) -> bool:
    """Published, and rated at least ``min_quality`` (or unrated, when that is allowed)."""
    return may_select(article.published, article.quality, rules)


def may_select(published: bool, quality: int | None, rules: Rules) -> bool:
    """:func:`is_selectable` of an article known by these two fields alone (a stored row)."""
    if not published:
        return False
    if quality is None:
        return rules.include_unrated
    return quality >= rules.min_quality


def loosest_rules(selection: SelectionConfig, topics: Mapping[str, TopicRule]) -> Rules:
    """What any feed's rules could select: the lowest ``min_quality`` and the highest
    ``limit`` of the site-wide rules and every topic's."""
    every = [rules_for(topic, selection, topics) for topic in (None, *topics)]
    return Rules(
        min_quality=min(rules.min_quality for rules in every),
        include_unrated=selection.include_unrated,
        limit=max(rules.limit for rules in every),
    )


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
            base = topic_slug(name)
            slug, counter = base, 1
            while slug in taken:
                counter += 1
                slug = f"{base}-{counter}"
            if slug != base:
                first, named = _shown(taken[base]), _shown(name)
                warnings.append(
                    f"topics: {named} and {first} share the slug {base!r}; {named} uses {slug!r}"
                )
            taken[slug] = name
        topics.append(Topic(name, slug))
    return topics, warnings


def _shown(name: str) -> str:
    """A topic name quoted for a warning, a very long one cut short."""
    return repr(name if len(name) <= MAX_SLUG else name[:MAX_SLUG] + "…")


def topic_slug(name: str) -> str:
    """The slug of a topic name, at most :data:`MAX_SLUG` characters; a longer one is cut and
    ends in a hash of the whole, so long names that differ late still get different slugs."""
    slug = slugify(name) or "topic"
    if len(slug) <= MAX_SLUG:
        return slug
    digest = hashlib.sha256(slug.encode()).hexdigest()[:8]
    return f"{slug[: MAX_SLUG - 9].rstrip('-')}-{digest}"


def articles_by_topic(articles: Sequence[Article]) -> dict[str, list[Article]]:
    """Every topic name with the articles that carry it, in input order."""
    grouped: dict[str, list[Article]] = {}
    for article in articles:
        for name in article.topics:
            grouped.setdefault(name, []).append(article)
    return grouped


# Selection over a catalogue ----------------------------------------------------------------


class Catalogue(Protocol):
    """Where a build finds its articles: the state store, or a list in memory.

    Selection asks for light :class:`Candidate` rows first and loads whole articles only for
    what it publishes.
    """

    def topic_names(self) -> list[str]:
        """Every topic any article carries, selected or not."""
        ...

    def newest(
        self, topic: str | None, rules: Rules, limit: int, offset: int
    ) -> Sequence[Candidate]:
        """Published articles of ``topic`` (all, for ``None``) that pass ``rules``' quality
        rule, ordered by :func:`newest_first`, from ``offset``, at most ``limit``."""
        ...

    def copies(
        self, topic: str | None, rules: Rules, canonicals: Sequence[str]
    ) -> Sequence[Candidate]:
        """Every article as :meth:`newest` would list it whose canonical URL is given."""
        ...

    def every(self, topic: str | None, rules: Rules) -> Sequence[Candidate]:
        """Every article :meth:`newest` would list, in its order, without a limit."""
        ...

    def articles(self, items: Sequence[Candidate]) -> list[Article]:
        """The whole articles of ``items``, in their order."""
        ...


def newest_first(item: Candidate) -> tuple[int, str, str]:
    """Newest first; ties broken by URL then file, so the order never depends on file order."""
    return -item.date_us, item.url, item.name


def _preferred(item: Candidate) -> tuple[int, int, int, str]:
    """Which copy of a story a feed shows: best quality, then heat, then newest, then file."""
    quality = item.quality if item.quality is not None else -1
    return quality, item.heat if item.heat is not None else -1, item.date_us, item.name


def best_copies(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per story (canonical URL): its preferred copy."""
    best: dict[str, Candidate] = {}
    for item in candidates:
        kept = best.get(item.canonical)
        if kept is None or _preferred(item) > _preferred(kept):
            best[item.canonical] = item
    return list(best.values())


def select_from(catalogue: Catalogue, topic: str | None, rules: Rules) -> list[Candidate]:
    """The feed's items: as :func:`select` gives them, reading only the newest candidates.

    A window of the newest candidates is read, every copy of the stories in it looked up, and
    the best copy of each kept. Stories whose kept copy sorts before the window's last row
    are certain to come before any story outside it; when fewer than ``limit`` are certain,
    the window doubles.
    """
    window = rules.limit + max(10, rules.limit // 4)
    fetched: list[Candidate] = []
    while True:
        batch = catalogue.newest(topic, rules, window - len(fetched), len(fetched))
        fetched.extend(batch)
        canonicals = list(dict.fromkeys(item.canonical for item in fetched))
        stories = sorted(best_copies(catalogue.copies(topic, rules, canonicals)), key=newest_first)
        if len(fetched) < window:  # every candidate has been seen
            return stories[: rules.limit]
        boundary = newest_first(fetched[-1])
        certain = [item for item in stories if newest_first(item) < boundary]
        if len(certain) >= rules.limit:
            return certain[: rules.limit]
        window *= 2


def select_every(catalogue: Catalogue, topic: str | None, rules: Rules) -> list[Candidate]:
    """Every story the feed may carry: as :func:`select_from` gives them, without the limit."""
    candidates = catalogue.every(topic, rules)
    best = best_copies(candidates)
    if len(best) == len(candidates):  # one copy of each story: already in order
        return list(candidates)
    return sorted(best, key=newest_first)


# Topics that leave --------------------------------------------------------------------------

Sightings = Mapping[str, tuple[str, bool]]
"""Topic name → (the date it was last seen, ISO; whether the content still carries it)."""


@dataclass(frozen=True)
class TopicSightings:
    """Which topics' feeds stay, which retire, and what to remember of each topic."""

    sightings: dict[str, tuple[str, bool]]
    kept: frozenset[str]
    """Topics whose published feeds stay, empty if need be."""
    retired: frozenset[str]
    """Topics gone from the content for longer than allowed: their feeds go."""


def sight_topics(
    before: Sightings,
    present: Iterable[str],
    published: Iterable[str],
    today: date | None,
    retire_after_days: int,
) -> TopicSightings:
    """Update when each topic was last seen, and retire published feeds whose topic no article
    has carried for more than ``retire_after_days`` days.

    A topic that is still in the content keeps its feed however few of its articles qualify,
    so a subscribed feed never disappears because its last article was unpublished. A topic's
    absence counts from the first build that finds it gone: the content may have changed at any
    time since the build before, so an earlier date could retire a feed too soon. Without
    ``today`` nothing is updated and nothing retires.
    """
    here, feeds = set(present), set(published)
    if today is None:
        return TopicSightings(dict(before), frozenset(feeds), frozenset())
    stamp = today.isoformat()
    sightings = dict.fromkeys(here, (stamp, True))
    retired: set[str] = set()
    for name in sorted(feeds - here):
        seen, was_present = before.get(name, (stamp, True))
        if was_present:
            seen = stamp
        if (today - _as_date(seen, today)).days > retire_after_days:
            retired.add(name)
        else:
            sightings[name] = (seen, False)
    return TopicSightings(sightings, frozenset(feeds - retired), frozenset(retired))


def _as_date(text: str, default: date) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:  # not a date: count the absence from now, never retire early
        return default


class ArticleList:
    """A :class:`Catalogue` of articles held in memory."""

    def __init__(self, articles: Iterable[Article]) -> None:
        self.by_name = {article.path: article for article in articles}
        self.items = {
            article.path: Candidate(
                name=article.path,
                date_us=(article.published_at - EPOCH) // MICROSECOND,
                url=article.url,
                canonical=canonical_url(article.url),
                quality=article.quality,
                heat=article.heat,
                digest=hashlib.sha256(repr(article).encode()).hexdigest()[:24],
            )
            for article in self.by_name.values()
        }

    def topic_names(self) -> list[str]:
        return list(dict.fromkeys(name for a in self.by_name.values() for name in a.topics))

    def _matching(self, topic: str | None, rules: Rules) -> list[Candidate]:
        return [
            self.items[path]
            for path, article in self.by_name.items()
            if (topic is None or topic in article.topics) and is_selectable(article, rules)
        ]

    def newest(self, topic: str | None, rules: Rules, limit: int, offset: int) -> list[Candidate]:
        return sorted(self._matching(topic, rules), key=newest_first)[offset : offset + limit]

    def copies(self, topic: str | None, rules: Rules, canonicals: Sequence[str]) -> list[Candidate]:
        wanted = set(canonicals)
        return [item for item in self._matching(topic, rules) if item.canonical in wanted]

    def every(self, topic: str | None, rules: Rules) -> list[Candidate]:
        return sorted(self._matching(topic, rules), key=newest_first)

    def articles(self, items: Sequence[Candidate]) -> list[Article]:
        return [self.by_name[item.name] for item in items]
