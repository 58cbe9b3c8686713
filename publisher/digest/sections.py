"""The issue's sections: which topic heads a story, how many stories each holds, and in
which order they come.

Pure: a week's ranked articles and the collection's topic counts in, an :class:`Arrangement`
out, which :func:`publisher.digest.issue.plan_digest` turns into the issue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from publisher.config import Config
from publisher.model import Article
from publisher.selection import is_selectable, rules_for


@dataclass(frozen=True, slots=True)
class TopicCounts:
    """How many qualifying articles of the whole collection carry each topic, out of how many.

    A topic's count is what makes it specific (few articles) or the site's umbrella (a topic
    nearly every article carries, such as "Power Apps" on a Power Apps site).
    """

    total: int
    by_topic: Mapping[str, int]

    def umbrellas(self, share: float) -> frozenset[str]:
        """Topics carried by at least ``share`` of the qualifying articles."""
        if not self.total:
            return frozenset()
        return frozenset(
            topic for topic, count in self.by_topic.items() if count >= share * self.total
        )


def count_topics(config: Config, articles: Iterable[Article]) -> TopicCounts:
    """:class:`TopicCounts` of articles held in memory (the store counts its own)."""
    total = 0
    by_topic: dict[str, int] = {}
    for article in articles:
        if is_selectable(article, rules_for(None, config.selection, config.topics)):
            total += 1
        for topic in article.topics:
            if is_selectable(article, rules_for(topic, config.selection, config.topics)):
                by_topic[topic] = by_topic.get(topic, 0) + 1
    return TopicCounts(total, by_topic)


def counts_from_rows(
    config: Config,
    topic_rows: Iterable[tuple[str, int | None, int]],
    total_rows: Iterable[tuple[int | None, int]],
) -> TopicCounts:
    """:class:`TopicCounts` from the store's published articles grouped by quality:
    ``(topic, quality, count)`` and ``(quality, count)`` rows, each topic's rules applied."""

    def passes(quality: int | None, topic: str | None) -> bool:
        rules = rules_for(topic, config.selection, config.topics)
        return rules.include_unrated if quality is None else quality >= rules.min_quality

    by_topic: dict[str, int] = {}
    for topic, quality, count in topic_rows:
        if passes(quality, topic):
            by_topic[topic] = by_topic.get(topic, 0) + count
    total = sum(count for quality, count in total_rows if passes(quality, None))
    return TopicCounts(total, by_topic)


@dataclass(frozen=True)
class Arrangement:
    """The lead story, the section it belongs to, and the other sections in order."""

    lead: Article | None = None
    lead_section: str = ""
    sections: tuple[tuple[str, tuple[Article, ...]], ...] = ()
    left_out: int = 0
    """Qualifying stories that did not fit (``per_topic``, ``max_stories``)."""


def sections_for(
    config: Config, article: Article, counts: TopicCounts, umbrellas: frozenset[str]
) -> list[str]:
    """The sections ``article`` may be filed under, the one it belongs to first.

    Its topics in ``digest.topic_order`` come first, in that order; then its other topics,
    most specific first (fewest qualifying articles in the collection; ties keep the order the
    article lists them), leaving out the site's umbrella topics; the catch-all section last.
    """
    own = list(article.topics)
    ordered = [topic for topic in config.digest.topic_order if topic in own]
    specific = sorted(
        (topic for topic in own if topic not in umbrellas and topic not in ordered),
        key=lambda topic: (counts.by_topic.get(topic, 0), own.index(topic)),
    )
    return [*ordered, *specific, config.digest.other_section]


def arrange(config: Config, ranked: Sequence[Article], counts: TopicCounts) -> Arrangement:
    """The lead story and the sections, each article shown once.

    The lead is the best article with an image (else the best article). The others, best
    first, go under the first of :func:`sections_for` that has fewer than
    ``digest.per_topic`` stories, until the issue holds ``digest.max_stories``. Sections come
    in ``digest.topic_order``, then by number of stories, then by name; the catch-all last.
    """
    if not ranked:
        return Arrangement()
    digest_config = config.digest
    umbrellas = counts.umbrellas(digest_config.umbrella_share)
    lead = next((article for article in ranked if article.lead_image), ranked[0])
    placed: dict[str, list[Article]] = {}
    shown, left_out = 1, 0
    for article in ranked:
        if article is lead:
            continue
        if shown >= digest_config.max_stories:
            left_out += 1
            continue
        for section in sections_for(config, article, counts, umbrellas):
            stories = placed.setdefault(section, [])
            if len(stories) < digest_config.per_topic:
                stories.append(article)
                shown += 1
                break
        else:
            left_out += 1
    placed = {section: stories for section, stories in placed.items() if stories}
    other = digest_config.other_section
    configured = [topic for topic in digest_config.topic_order if topic in placed]
    by_size = sorted(
        (topic for topic in placed if topic not in configured and topic != other),
        key=lambda topic: (-len(placed[topic]), topic.casefold(), topic),
    )
    last = [other] if other in placed and other not in configured else []
    return Arrangement(
        lead=lead,
        lead_section=sections_for(config, lead, counts, umbrellas)[0],
        sections=tuple((topic, tuple(placed[topic])) for topic in configured + by_size + last),
        left_out=left_out,
    )
