"""Plan every feed output in memory: ``{relative path: bytes}``, nothing written."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from publisher.config import Config
from publisher.errors import OutputClash
from publisher.feeds import FORMATS, RENDERER_VERSION, FeedInfo
from publisher.feeds.pages import (
    ITEMS_FRAGMENT,
    PAGE_FILE,
    FeedListing,
    render_feed_page,
    render_index,
    render_items,
    render_opml,
)
from publisher.feeds.safe import uri
from publisher.model import EPOCH, Article, Candidate, Topic
from publisher.selection import ArticleList, Catalogue, assign_slugs, rules_for, select_from


@dataclass(frozen=True)
class FeedPlan:
    """One feed: which topic (``None`` for all topics), where, and its items."""

    topic: Topic | None
    folder: str
    info: FeedInfo
    items: tuple[Candidate, ...]

    @property
    def render_key(self) -> str:
        """A hash of everything the feed's files are made from: equal keys, equal bytes."""
        made_of = repr((RENDERER_VERSION, self.info, [item.digest for item in self.items]))
        return hashlib.sha256(made_of.encode()).hexdigest()


@dataclass(frozen=True)
class BuildPlan:
    """Every output file of a build, with what the report needs to say about it."""

    outputs: dict[str, bytes]
    feeds: tuple[FeedPlan, ...]
    topics: tuple[Topic, ...]
    warnings: tuple[str, ...] = field(default=())
    rendered: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """Feeds rendered by this build (not reused), by :attr:`FeedPlan.render_key`."""

    @property
    def selected(self) -> int:
        """Distinct articles that appear in at least one feed."""
        return len({item.url for feed in self.feeds for item in feed.items})

    @property
    def subscriptions(self) -> dict[str, str]:
        """Each feed file a reader subscribes to, by path, with the URL its self link gives."""
        return {
            f"{feed.folder}{kind.file}": uri(feed.info.url(kind))
            for feed in self.feeds
            for kind in FORMATS
        }


@dataclass(frozen=True)
class FeedSelection:
    """Every feed to write, every topic with its slug (with a feed or not), and warnings."""

    feeds: tuple[FeedPlan, ...]
    topics: tuple[Topic, ...]
    warnings: tuple[str, ...] = ()


def plan_feeds(
    config: Config, catalogue: Catalogue, known_slugs: Mapping[str, str] | None = None
) -> FeedSelection:
    """The all-topics feed, then one feed per topic that has selected articles.

    ``known_slugs`` maps topics to the folders earlier builds gave them, so that a topic's
    feed URL never moves.
    """
    site = config.site
    base = site.base_url if site.base_url.endswith("/") else f"{site.base_url}/"
    hub = config.websub.hub
    everything = FeedInfo(site.title, site.description, site.home, base, site.language, hub)
    all_topics = select_from(catalogue, None, rules_for(None, config.selection, config.topics))
    plans = [FeedPlan(None, "", everything, tuple(all_topics))]
    # Slugs come from every topic name, selected or not, so a topic's feed URL does not move
    # when another topic with a clashing name gains or loses articles.
    topics, warnings = assign_slugs(catalogue.topic_names(), known_slugs)
    for topic in topics:
        rules = rules_for(topic.name, config.selection, config.topics)
        chosen = select_from(catalogue, topic.name, rules)
        if not chosen:
            continue
        info = FeedInfo(
            title=f"{site.title}: {topic.name}",
            description=f"{site.description}: {topic.name}",
            home=site.home,
            base_url=f"{base}{topic.slug}/",
            language=site.language,
            hub=hub,
        )
        plans.append(FeedPlan(topic, f"{topic.slug}/", info, tuple(chosen)))
    return FeedSelection(tuple(plans), tuple(topics), tuple(warnings))


def build(
    config: Config, articles: Sequence[Article], known_slugs: Mapping[str, str] | None = None
) -> BuildPlan:
    """Select and render every feed, the OPML list and the index page of ``articles``."""
    catalogue = ArticleList(articles)
    return render_feeds(config, plan_feeds(config, catalogue, known_slugs), catalogue)


FEED_FILES = tuple(kind.file for kind in FORMATS)
RENDERED_FILES = frozenset((*FEED_FILES, ITEMS_FRAGMENT))
"""What rendering one feed gives: its files and the list of stories on its page."""


def render_feed_files(info: FeedInfo, articles: Sequence[Article]) -> dict[str, bytes]:
    """Every format's file of one feed, and its page's list of stories: ``{name: bytes}``."""
    files = {kind.file: kind.render(info, articles) for kind in FORMATS}
    files[ITEMS_FRAGMENT] = render_items(articles)
    return files


def render_feeds(
    config: Config,
    selection: FeedSelection,
    catalogue: Catalogue,
    reuse: Callable[[str], dict[str, bytes]] | None = None,
) -> BuildPlan:
    """Render the selected feeds, their pages, the OPML list and the index page.

    ``reuse`` returns the files an earlier build rendered for a render key (or nothing);
    only the other feeds' articles are loaded and rendered.
    """
    plans = selection.feeds
    outputs = _Outputs()
    rendered: dict[str, dict[str, bytes]] = {}
    items: dict[str, bytes] = {}
    for plan in plans:
        feed = f"the feed of topic {plan.topic.name!r}" if plan.topic else "the all-topics feed"
        key = plan.render_key
        files = reuse(key) if reuse else {}
        if not files.keys() >= RENDERED_FILES:
            # Nothing kept, or kept by a version that rendered less: render it all again.
            files = render_feed_files(plan.info, catalogue.articles(plan.items))
            rendered[key] = files
        for name in FEED_FILES:
            outputs.add(f"{plan.folder}{name}", files[name], feed)
        items[plan.folder] = files[ITEMS_FRAGMENT]
    listings = [
        FeedListing(
            plan.info,
            len(plan.items),
            EPOCH + timedelta(microseconds=plan.items[0].date_us) if plan.items else None,
            plan.folder,
            plan.topic.name if plan.topic else "All topics",
        )
        for plan in plans
    ]
    site = config.site
    outputs.add("feeds.opml", render_opml(site.title, listings), "the OPML list")
    for plan, listing in zip(plans, listings, strict=True):
        if plan.topic and plan.folder:
            page = render_feed_page(listing, items[plan.folder], site.title)
            outputs.add(f"{plan.folder}{PAGE_FILE}", page, f"the page of topic {plan.topic.name!r}")
    index = render_index(
        site.title, site.description, site.language, listings, items[""], config.digest.url
    )
    outputs.add(PAGE_FILE, index, "the index page")
    return BuildPlan(outputs.files, plans, selection.topics, selection.warnings, rendered)


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
