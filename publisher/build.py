"""Plan every feed output in memory: ``{relative path: bytes}``, nothing written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from publisher.config import Config
from publisher.feeds import (
    FeedInfo,
    FeedListing,
    render_atom,
    render_index,
    render_json_feed,
    render_opml,
    render_rss,
)
from publisher.model import Article, Topic
from publisher.selection import articles_by_topic, assign_slugs, rules_for, select


@dataclass(frozen=True)
class FeedPlan:
    """One feed: which topic (``None`` for all topics), where, and its articles."""

    topic: Topic | None
    folder: str
    info: FeedInfo
    articles: tuple[Article, ...]


@dataclass(frozen=True)
class BuildPlan:
    """Every output file of a build, with what the report needs to say about it."""

    outputs: dict[str, bytes]
    feeds: tuple[FeedPlan, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def selected(self) -> int:
        """Distinct articles that appear in at least one feed."""
        return len({article.url for feed in self.feeds for article in feed.articles})


def plan_feeds(config: Config, articles: Sequence[Article]) -> tuple[list[FeedPlan], list[str]]:
    """The all-topics feed, then one feed per topic that has selected articles."""
    site = config.site
    base = site.url if site.url.endswith("/") else f"{site.url}/"
    everything = FeedInfo(site.title, site.description, site.home, base, site.language)
    plans = [
        FeedPlan(
            None,
            "",
            everything,
            tuple(select(articles, rules_for(None, config.selection, config.topics))),
        )
    ]
    by_topic = articles_by_topic(articles)
    # Slugs come from every topic name, selected or not, so a topic's feed URL does not move
    # when another topic with a clashing name gains or loses articles.
    topics, warnings = assign_slugs(by_topic)
    for topic in topics:
        chosen = select(
            by_topic[topic.name], rules_for(topic.name, config.selection, config.topics)
        )
        if not chosen:
            continue
        info = FeedInfo(
            title=f"{site.title}: {topic.name}",
            description=f"{site.description}: {topic.name}",
            home=site.home,
            base_url=f"{base}{topic.slug}/",
            language=site.language,
        )
        plans.append(FeedPlan(topic, f"{topic.slug}/", info, tuple(chosen)))
    return plans, warnings


def build(config: Config, articles: Sequence[Article]) -> BuildPlan:
    """Select and render every feed, the OPML list and the index page."""
    plans, warnings = plan_feeds(config, articles)
    return render_feeds(config, plans, warnings)


FeedRenderer = Callable[[FeedInfo, tuple[Article, ...]], dict[str, bytes]]
"""Renders one feed's files, ``{file name: bytes}``."""


def render_feed_files(info: FeedInfo, articles: tuple[Article, ...]) -> dict[str, bytes]:
    """The RSS, Atom and JSON files of one feed."""
    return {
        "rss.xml": render_rss(info, articles),
        "atom.xml": render_atom(info, articles),
        "feed.json": render_json_feed(info, articles),
    }


def render_feeds(
    config: Config,
    plans: Sequence[FeedPlan],
    warnings: Sequence[str],
    render: FeedRenderer = render_feed_files,
) -> BuildPlan:
    """Render planned feeds, the OPML list and the index page into ``{path: bytes}``.

    ``render`` may be a cached :func:`render_feed_files`, which gives the same bytes.
    """
    outputs: dict[str, bytes] = {}
    for plan in plans:
        for name, data in render(plan.info, plan.articles).items():
            outputs[f"{plan.folder}{name}"] = data
    listings = [
        FeedListing(
            plan.info,
            len(plan.articles),
            plan.articles[0].published_at if plan.articles else None,
        )
        for plan in plans
    ]
    site = config.site
    outputs["feeds.opml"] = render_opml(site.title, listings)
    outputs["index.html"] = render_index(site.title, site.description, site.language, listings)
    return BuildPlan(outputs, tuple(plans), tuple(warnings))
