"""Plan every feed output in memory: ``{relative path: bytes}``, nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from slugify import slugify

from publisher.config import Config
from publisher.errors import OutputClash
from publisher.feeds import FORMATS, FeedInfo
from publisher.feeds.pages import FeedListing, render_index, render_opml
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


@dataclass(frozen=True)
class FeedSelection:
    """Every feed to write, every topic with its slug (with a feed or not), and warnings."""

    feeds: tuple[FeedPlan, ...]
    topics: tuple[Topic, ...]
    warnings: tuple[str, ...] = ()


def plan_feeds(
    config: Config, articles: Sequence[Article], known_slugs: Mapping[str, str] | None = None
) -> FeedSelection:
    """The all-topics feed, then one feed per topic that has selected articles.

    ``known_slugs`` is the topic map of the last build (:func:`read_topic_map`), so that
    topics keep their folders.
    """
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
    topics, warnings = assign_slugs(by_topic, known_slugs)
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
    return FeedSelection(tuple(plans), tuple(topics), tuple(warnings))


def build(
    config: Config, articles: Sequence[Article], known_slugs: Mapping[str, str] | None = None
) -> BuildPlan:
    """Select and render every feed, the OPML list, the index page and the topic map."""
    return render_feeds(config, plan_feeds(config, articles, known_slugs))


TOPIC_MAP = "topics.json"
"""Every topic's name and folder, published beside the feeds and read back by the next build."""


def render_topic_map(topics: Sequence[Topic]) -> bytes:
    """The topic map: ``{"topics": [{"name": …, "slug": …}, …]}``, sorted by name."""
    entries = [{"name": topic.name, "slug": topic.slug} for topic in topics]
    return (json.dumps({"topics": entries}, ensure_ascii=False, indent=2) + "\n").encode()


def read_topic_map(data: bytes) -> dict[str, str]:
    """The name → slug map a previous build published; anything unreadable counts as empty."""
    try:
        entries = json.loads(data)["topics"]
        return {
            entry["name"]: entry["slug"]
            for entry in entries
            if isinstance(entry["name"], str) and _is_slug(entry["slug"])
        }
    except (ValueError, TypeError, KeyError):
        return {}


def _is_slug(value: object) -> bool:
    return isinstance(value, str) and bool(value) and value == slugify(value)


FeedRenderer = Callable[[FeedInfo, tuple[Article, ...]], dict[str, bytes]]
"""Renders one feed's files, ``{file name: bytes}``."""


def render_feed_files(info: FeedInfo, articles: tuple[Article, ...]) -> dict[str, bytes]:
    """Every format's file of one feed: ``{file name: bytes}``."""
    return {kind.file: kind.render(info, articles) for kind in FORMATS}


def render_feeds(
    config: Config, selection: FeedSelection, render: FeedRenderer = render_feed_files
) -> BuildPlan:
    """Render the selected feeds, the OPML list, the index page and the topic map.

    ``render`` may be a cached :func:`render_feed_files`, which gives the same bytes.
    """
    plans = selection.feeds
    outputs = _Outputs()
    outputs.add(TOPIC_MAP, render_topic_map(selection.topics), "the topic map")
    for plan in plans:
        feed = f"the feed of topic {plan.topic.name!r}" if plan.topic else "the all-topics feed"
        for name, data in render(plan.info, plan.articles).items():
            outputs.add(f"{plan.folder}{name}", data, feed)
    listings = [
        FeedListing(
            plan.info,
            len(plan.articles),
            plan.articles[0].published_at if plan.articles else None,
        )
        for plan in plans
    ]
    site = config.site
    outputs.add("feeds.opml", render_opml(site.title, listings), "the OPML list")
    index = render_index(site.title, site.description, site.language, listings)
    outputs.add("index.html", index, "the index page")
    return BuildPlan(outputs.files, plans, selection.warnings)


class _Outputs:
    """Output files as they are planned, each path claimed once."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.claimants: dict[str, str] = {}

    def add(self, path: str, data: bytes, claimant: str) -> None:
        """Plan ``data`` at ``path``; raise :class:`OutputClash` if it is already taken."""
        if path in self.claimants:
            raise OutputClash(path, self.claimants[path], claimant)
        self.claimants[path] = claimant
        self.files[path] = data
