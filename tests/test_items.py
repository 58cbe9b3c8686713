"""Each story becomes a feed item once per build, and is placed as those bytes in every document
that carries it: tried on the real Power Apps corpus, archives on, small pages."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest
from conftest import CORPUS
from helpers import load_folder

from publisher import build as build_module
from publisher.build import BuildPlan, ItemCache, plan_feeds, render_feeds
from publisher.config import ArchiveConfig, Config, SiteConfig
from publisher.feeds import FORMATS, FeedInfo, Item, history_of, make_items
from publisher.feeds.jsonfeed import render_json_feed
from publisher.feeds.syndication import render_atom, render_rss
from publisher.model import Article, Candidate
from publisher.selection import ArticleList, rules_for

SITE = "https://items.example.org/feeds/"
RENDERERS = {"RSS": render_rss, "Atom": render_atom, "JSON": render_json_feed}


@pytest.fixture(scope="module")
def power_apps() -> tuple[Config, ArticleList]:
    """The real Power Apps articles, with archive pages of 9 stories."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    corpus = CORPUS
    config = Config(site=SiteConfig(url=SITE), archive=ArchiveConfig(enabled=True, page_size=9))
    config = replace(config, selection=replace(config.selection, limit=10))
    return config, ArticleList(load_folder(corpus / "microsoft-power-apps" / "_news").articles)


def counting_maker(catalogue: ArticleList, made: list[str]):  # type: ignore[no-untyped-def]
    """Makes items as a build does, noting every story it is asked to make."""

    def start(stories: Sequence[Candidate]) -> Callable[[], list[Item]]:
        made.extend(story.name for story in stories)
        items = make_items(catalogue.articles(stories))
        return lambda: items

    return start


def rendered(config: Config, catalogue: ArticleList, made: list[str]) -> BuildPlan:
    selection = plan_feeds(config, catalogue)
    return render_feeds(config, selection, catalogue, make_items_of=counting_maker(catalogue, made))


def test_each_story_is_made_into_items_once(power_apps: tuple[Config, ArticleList]):
    """Stories carried by several feeds and pages are made into items once, all of them."""
    config, catalogue = power_apps
    made: list[str] = []
    plan = rendered(config, catalogue, made)
    dict(plan.outputs)  # every archive page rendered, as the write does
    carried = {
        story.name
        for feed in plan.feeds
        for document in (feed.items, *feed.pages)
        for story in document or ()
    }
    documents = sum(1 + len(feed.pages) for feed in plan.feeds)
    assert (sorted(carried), True) == (sorted(made), len(carried) < documents * 9)
    assert len(made) < sum(len(feed.items) for feed in plan.feeds) + sum(
        len(page or ()) for feed in plan.feeds for page in feed.pages
    )


def test_placed_items_read_as_a_document_rendered_on_its_own(
    power_apps: tuple[Config, ArticleList],
):
    """Every page of every feed is byte for byte what feedgen writes for that page alone."""
    config, catalogue = power_apps
    plan = rendered(config, catalogue, [])
    checked = 0
    for feed in plan.feeds:
        for number, stories in enumerate(feed.pages, start=1):
            articles: list[Article] = catalogue.articles(stories or ())
            for kind in FORMATS:
                history = history_of(feed.info, kind, number, len(feed.pages))
                alone = RENDERERS[kind.name](feed.info, articles, history)
                assert alone == plan.outputs[f"{feed.folder}{kind.archive_file(number)}"]
                checked += 1
    assert checked > 50


def test_items_are_let_go_once_their_documents_are_written(
    power_apps: tuple[Config, ArticleList], monkeypatch: pytest.MonkeyPatch
):
    """Written in the build's order, with batches of 30, the items held never reach the
    archive's stories, and none are held once every page is written."""
    config, catalogue = power_apps
    caches: list[ItemCache] = []

    class Watched(ItemCache):
        def __init__(self, make, batch=30):  # type: ignore[no-untyped-def]
            super().__init__(make, batch)
            caches.append(self)

    monkeypatch.setattr(build_module, "ItemCache", Watched)
    plan = rendered(config, catalogue, [])
    held = []
    for path in plan.outputs.writing_order():
        plan.outputs[path]
        held.append(len(caches[0]))
    stories = {story.name for feed in plan.feeds for page in feed.pages for story in page or ()}
    assert (0, True) == (held[-1], max(held) < len(stories))


def test_a_json_feed_is_what_json_dumps_writes(power_apps: tuple[Config, ArticleList]):
    """Items written piecewise make the document json.dumps(indent=2) writes of the same data,
    for every real article and for awkward text (quotes, controls, line separators, emoji)."""
    config, catalogue = power_apps
    articles = catalogue.articles(catalogue.every(None, rules_for(None, config.selection, {})))
    odd = replace(
        articles[0],
        title='A "quoted" \\ title\u2028with a line separator 🚀',
        excerpt="Tab\there, bell\x07, </script> and é",
    )
    articles.append(odd)
    info = FeedInfo("Items", "Every item", "https://items.example.org/", SITE)
    document = render_json_feed(info, articles)
    expected = json.dumps(json.loads(document), ensure_ascii=False, indent=2) + "\n"
    assert (expected, len(articles)) == (document.decode(), len(json.loads(document)["items"]))


def test_items_are_what_feedgens_own_extensions_write(
    power_apps: tuple[Config, ArticleList], monkeypatch: pytest.MonkeyPatch
):
    """Media RSS and Dublin Core registered by class, Dublin Core's entry part writing only
    dc:creator: every item of the real corpus is byte for byte what feedgen's load_extension
    gives."""
    from feedgen.feed import FeedGenerator

    from publisher.feeds import syndication

    _, catalogue = power_apps
    articles = catalogue.articles(catalogue.every(None, rules_for(None, Config().selection, {})))
    ours = syndication.feed_entries(articles)

    def feedgens_own(feed: FeedGenerator) -> FeedGenerator:
        feed.load_extension("media")
        feed.load_extension("dc")
        return feed

    monkeypatch.setattr(syndication, "_with_extensions", feedgens_own)
    theirs = syndication.feed_entries(articles)
    creators = sum(item.count(b"<dc:creator>") for rss_or_atom in ours for item in rss_or_atom)
    with_provider = sum(1 for article in articles if article.provider)
    assert (len(articles), 2 * with_provider) == (len(ours[0]), creators)
    assert with_provider
    assert theirs == ours
