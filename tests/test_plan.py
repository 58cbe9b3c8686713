"""Planning without a store or a disk: the archives' history is anything that answers the
``Histories`` questions, here a previous plan held in memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import feedparser

from publisher.archives import CURRENT_PAGE, archive_paths
from publisher.build import BuildPlan, FeedSelection, plan_feeds, render_feeds
from publisher.config import ArchiveConfig, Config, SelectionConfig, SiteConfig
from publisher.model import Article, Candidate
from publisher.selection import ArticleList

MakeArticle = Callable[..., Article]
DAY0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CONFIG = Config(
    site=SiteConfig(url="https://example.org/feeds/"),
    selection=SelectionConfig(limit=3),
    archive=ArchiveConfig(page_size=2),
)
"""limit = 3 and pages of 2, so a handful of articles makes several pages."""


@dataclass(frozen=True)
class RememberedFeed:
    """One feed's history as a previous plan left it (an ``ArchiveHistory``)."""

    pages: Mapping[str, int]
    """Each story's page, 0 for the subscription document."""
    sizes: tuple[int, ...]
    keys: tuple[str, ...]
    changed: frozenset[str]
    stale: frozenset[int] = frozenset()
    unchanged: tuple[Candidate, ...] | None = None

    def pages_of(self, canonicals: Sequence[str]) -> dict[str, int]:
        return {story: self.pages[story] for story in canonicals if story in self.pages}

    def current(self) -> list[str]:
        return self.members(CURRENT_PAGE)

    def member_counts(self) -> dict[int, int]:
        return dict(Counter(page for page in self.pages.values() if page != CURRENT_PAGE))

    def members(self, page: int) -> list[str]:
        return [story for story, at in self.pages.items() if at == page]


class RememberedFeeds:
    """``Histories`` in memory: the layout of each feed of a previous plan, carried forward
    when laid out by the same signature, and the stories changed since."""

    def __init__(self, previous: FeedSelection, changed: frozenset[str]) -> None:
        self.previous, self.changed = previous, changed
        self.feeds = {feed.folder: feed for feed in previous.feeds}

    def members(self, folder: str) -> dict[str, int]:
        split = self.previous.splits.get(folder)
        return dict(split.placed) if split else {}

    def history(self, folder: str, topic: str | None, signature: str) -> RememberedFeed | None:
        if self.previous.signatures.get(folder) != signature:
            return None
        split, feed = self.previous.splits[folder], self.feeds[folder]
        keys = tuple(feed.page_key(page) for page in range(1, len(split.pages) + 1))
        return RememberedFeed(self.members(folder), split.sizes, keys, self.changed)


def day(make_article: MakeArticle, number: int, **fields: object) -> Article:
    """The article of day ``number``, in topic Space."""
    return make_article(
        path=f"_news/story-{number}.md",
        title=f"Story of day {number}",
        url=f"https://example.com/story-{number}",
        published_at=DAY0 + timedelta(days=number),
        **fields,
    )


def titles(catalogue: ArticleList, stories: Sequence[Candidate] | None) -> list[str] | None:
    """The titles of ``stories``; ``None`` for a page left as it was."""
    return None if stories is None else [a.title for a in catalogue.articles(stories)]


def rss_titles(plan: BuildPlan, path: str) -> list[str]:
    """The titles in one RSS document of the plan, as a reader sees them."""
    return [entry.title for entry in feedparser.parse(plan.outputs[path]).entries]


def test_a_plan_carries_the_previous_layout_forward_without_a_store(make_article: MakeArticle):
    """Nine stories laid out, then one new and one on page 2 retitled: the subscription
    documents take the new one, page 2 alone is made again, pages 1 and 3 are kept."""
    stories = [day(make_article, number) for number in range(1, 10)]
    previous = plan_feeds(CONFIG, ArticleList(stories))
    retitled = replace(stories[2], title="Story of day 3, retitled")
    now = ArticleList([*stories[:2], retitled, *stories[3:], day(make_article, 10)])
    changed = frozenset({"https://example.com/story-3", "https://example.com/story-10"})
    histories = RememberedFeeds(previous, changed)

    selection = plan_feeds(CONFIG, now, {"Space": "space"}, histories=histories)
    # The files on disk are as the previous plan made them.
    written = {feed.page_key(page) for feed in previous.feeds for page in range(1, 4)}
    plan = render_feeds(CONFIG, selection, now, unchanged=lambda paths, key: key in written)

    newest = ["Story of day 10", "Story of day 9", "Story of day 8", "Story of day 7"]
    page_2 = ["Story of day 4", "Story of day 3, retitled"]
    assert [
        ("", newest, [None, page_2, None]),
        ("space/", newest, [None, page_2, None]),
    ] == [
        (feed.folder, titles(now, feed.items), [titles(now, page) for page in feed.pages])
        for feed in selection.feeds
    ]
    kept = [
        path for folder in ("", "space/") for page in (1, 3) for path in archive_paths(folder, page)
    ]
    assert (newest, page_2, sorted(kept)) == (
        rss_titles(plan, "rss.xml"),
        rss_titles(plan, "space/archive/2.xml"),
        sorted(plan.kept),
    )
