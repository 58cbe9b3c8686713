# RUF001: the fixture titles use real typography (an en dash) on purpose.
# ruff: noqa: RUF001
"""The build plan: which files, which feeds, and a golden output tree of a small site."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
from helpers import load_folder

from publisher.build import BuildPlan, build, plan_feeds, render_feeds
from publisher.config import ArchiveConfig, Config, SiteConfig, TopicRule, load_config
from publisher.errors import OutputClash, PublisherError
from publisher.jobs import run_build
from publisher.model import Article
from publisher.selection import ArticleList

MakeArticle = Callable[..., Article]
HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "build"
GOLDEN = HERE / "golden" / "build"
SITE = "https://fixture.example.org/feeds/"


@pytest.fixture(scope="module")
def plan() -> BuildPlan:
    """The fixture site's build, in memory."""
    config = load_config(FIXTURE / "config.toml")
    return build(config, load_folder(Path(config.content)).articles)


@pytest.fixture(scope="module")
def titles() -> dict[str, str]:
    """The fixture site's article titles by file."""
    config = load_config(FIXTURE / "config.toml")
    return {article.path: article.title for article in load_folder(Path(config.content)).articles}


def feed_titles(plan: BuildPlan, folder: str, titles: dict[str, str]) -> list[str]:
    """Titles of one planned feed, in order."""
    feed = next(feed for feed in plan.feeds if feed.folder == folder)
    return [titles[item.name] for item in feed.items]


def test_golden_output_tree(plan: BuildPlan, update_golden: bool):
    """Every output file of the fixture site matches tests/golden/build byte for byte."""
    if update_golden:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in plan.outputs.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
    golden = {
        path.relative_to(GOLDEN).as_posix(): path.read_bytes()
        for path in sorted(GOLDEN.rglob("*"))
        if path.is_file()
    }
    assert sorted(golden) == sorted(plan.outputs), "run pytest --update-golden and review the diff"
    for name, data in plan.outputs.items():
        assert golden[name] == data, f"{name} differs; run pytest --update-golden and review"


def test_planned_files(plan: BuildPlan):
    """All-topics feeds and their one full archive page, three files and a page per selected
    topic, the OPML list and the index page."""
    topics = ["c", "c-2", "earth-observation", "kunstliche-intelligenz", "robotics", "space"]
    files = ("rss.xml", "atom.xml", "feed.json", "index.html")
    expected = {"rss.xml", "atom.xml", "feed.json", "feeds.opml", "index.html"} | {
        f"{slug}/{name}" for slug in topics for name in files
    }
    archive = {f"archive/1.{kind}" for kind in ("xml", "atom.xml", "json")}
    assert expected | archive == set(plan.outputs)


def test_all_topics_feed_applies_limit_and_order(plan: BuildPlan, titles: dict[str, str]):
    """limit = 3 (and one story waiting for a full archive page), newest first; drafts, low
    quality and unrated left out."""
    assert [
        "Weather satellite launched <on schedule> & healthy",
        "Chatbot benchmark shows mixed results",
        "Roboter lernt Wäsche falten – video",
        "Compiler release adds C++26 modules",
    ] == feed_titles(plan, "", titles)


def test_duplicate_copy_collapses_to_the_better_one(plan: BuildPlan, titles: dict[str, str]):
    """The syndicated copy of the lander story loses to the original."""
    assert [
        "Weather satellite launched <on schedule> & healthy",
        "Lunar lander touches down near the south pole",
    ] == feed_titles(plan, "space/", titles)


def test_topic_override_raises_the_bar(plan: BuildPlan, titles: dict[str, str]):
    """Künstliche Intelligenz needs quality 80: the 70 chatbot story is left out there only."""
    expected = ["Roboter lernt Wäsche falten – video"]
    assert expected == feed_titles(plan, "kunstliche-intelligenz/", titles)
    assert "Chatbot benchmark shows mixed results" in feed_titles(plan, "", titles)


def test_slug_clash_warns(plan: BuildPlan, titles: dict[str, str]):
    """C# and C++ get c and c-2, with one warning."""
    assert ["Runtime update for C# brings faster startup"] == feed_titles(plan, "c/", titles)
    assert ["Compiler release adds C++26 modules"] == feed_titles(plan, "c-2/", titles)
    assert ("topics: 'C++' and 'C#' share the slug 'c'; 'C++' uses 'c-2'",) == plan.warnings


def test_selected_counts_distinct_articles(plan: BuildPlan):
    """selected counts each article once, however many feeds carry it."""
    assert 6 == plan.selected


def test_every_feed_links_to_itself_under_site_url(plan: BuildPlan):
    """Each RSS and Atom feed's self link is its own URL under site.url."""
    for name, data in plan.outputs.items():
        if name.endswith(".xml"):
            feed = feedparser.parse(data).feed
            assert [SITE + name] == [link.href for link in feed.links if link.rel == "self"], name


def test_json_feed_url_is_its_own(plan: BuildPlan):
    """Each JSON feed names its own URL."""
    import json

    for name, data in plan.outputs.items():
        if name.endswith("feed.json"):
            assert SITE + name == json.loads(data)["feed_url"]


def test_opml_lists_every_feed(plan: BuildPlan):
    """feeds.opml has one outline per feed, pointing at its RSS file."""
    root = ElementTree.fromstring(plan.outputs["feeds.opml"])
    urls = [outline.get("xmlUrl") for outline in root.iter("outline")]
    expected = sorted(SITE + name for name in plan.outputs if name.endswith("rss.xml"))
    assert expected == sorted(urls)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alternates: list[tuple[str | None, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("rel") == "alternate":
            self.alternates.append((values.get("type"), values.get("href")))


MEDIA_TYPES = {
    "rss.xml": "application/rss+xml",
    "atom.xml": "application/atom+xml",
    "feed.json": "application/feed+json",
}


def test_index_has_autodiscovery_for_every_feed(plan: BuildPlan):
    """index.html carries an RSS, an Atom and a JSON Feed autodiscovery link per feed, and the
    newsletter's feed (archive pages are reached from the feeds, not listed)."""
    parser = _Links()
    parser.feed(plan.outputs["index.html"].decode("utf-8"))
    expected = sorted(
        (MEDIA_TYPES[name.rsplit("/", 1)[-1]], SITE + name)
        for name in plan.outputs
        if name.endswith((".xml", ".json")) and "archive/" not in name
    )
    expected.append(("application/atom+xml", "https://fixture.example.org/newsletters/feed.xml"))
    assert sorted(expected) == sorted(parser.alternates)


def test_topic_without_selected_articles_gets_no_feed(make_article: MakeArticle):
    """A topic whose articles are all filtered out has no folder."""
    articles = [
        make_article(topics=("Space",)),
        make_article(topics=("Gossip",), quality=10),
    ]
    outputs = build(Config(), articles).outputs
    assert not any(name.startswith("gossip/") for name in outputs)
    assert "space/rss.xml" in outputs


def test_site_url_without_trailing_slash(make_article: MakeArticle):
    """site.url without a trailing slash still gives correct self links."""
    config = Config(site=SiteConfig(url="https://example.org/feeds"))
    outputs = build(config, [make_article()]).outputs
    feed = feedparser.parse(outputs["space/atom.xml"]).feed
    assert ["https://example.org/feeds/space/atom.xml"] == [
        link.href for link in feed.links if link.rel == "self"
    ]


def test_per_topic_limit(make_article: MakeArticle):
    """A topic's limit caps its own feed only."""
    articles = [make_article(url=f"https://e.com/{i}") for i in range(5)]
    config = Config(topics={"Space": TopicRule(limit=2)}, archive=ArchiveConfig(enabled=False))
    plan = build(config, articles)
    assert (5, 2) == tuple(len(feed.items) for feed in plan.feeds)


def test_build_with_no_articles(make_article: MakeArticle):
    """No articles: the all-topics feeds, OPML and index are still written."""
    assert {"rss.xml", "atom.xml", "feed.json", "feeds.opml", "index.html"} == set(
        build(Config(), []).outputs
    )


def test_slug_does_not_depend_on_other_topics_selection(make_article: MakeArticle):
    """A topic's feed URL does not move because another topic's article was filtered out."""
    cpp = make_article(url="https://e.com/cpp", topics=("C++",))
    weak_cs = make_article(url="https://e.com/cs", topics=("C#",), quality=10)
    strong_cs = make_article(url="https://e.com/cs", topics=("C#",), quality=90)
    before = {feed.topic.name: feed.folder for feed in build(Config(), [cpp, weak_cs]).feeds[1:]}
    after = {feed.topic.name: feed.folder for feed in build(Config(), [cpp, strong_cs]).feeds[1:]}
    assert after["C++"] == before["C++"]


def test_known_topics_keep_their_folders(make_article):
    """Slugs from an earlier build are kept: a new clashing name never takes them."""
    articles = [make_article(topics=("C++",))]
    first = build(Config(), articles)
    known = {topic.name: topic.slug for topic in first.topics}
    assert {"C++": "c"} == known
    later = build(Config(), [*articles, make_article(topics=("C",))], known)
    assert {"C++": "c", "C": "c-2"} == {topic.name: topic.slug for topic in later.topics}
    assert "c/rss.xml" in later.outputs
    assert b"C++" in later.outputs["c/rss.xml"]


def test_an_output_folder_of_publisher_0_1_is_taken_over(tmp_path: Path):
    """0.1's manifest, lock and topic map leave the folder; its stale feeds are removed and its
    topic folders kept."""
    out = tmp_path / "out"
    (out / "gone").mkdir(parents=True)
    (out / "gone" / "rss.xml").write_text("<rss/>")
    (out / "CNAME").write_text("news.example.org")
    manifest = {"generator": "publisher", "inputs": "", "files": {"gone/rss.xml": None}}
    (out / ".publisher-manifest.json").write_text(json.dumps(manifest))
    (out / ".publisher.lock").write_text("")
    topics = {"topics": [{"name": "Space", "slug": "space-news"}]}
    (out / "topics.json").write_text(json.dumps(topics))
    config = replace(
        load_config(FIXTURE / "config.toml"), out=str(out), cache_dir=str(tmp_path / "cache")
    )
    run_build(config)
    left = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())
    assert "CNAME" in left
    assert [] == [name for name in left if name.startswith((".publisher", "topics", "gone/"))]
    assert "space-news/rss.xml" in left


def test_two_outputs_on_one_path_are_refused(make_article: MakeArticle):
    """A topic whose folder were the root would overwrite the all-topics feed: refused."""
    config = Config()
    catalogue = ArticleList([make_article(topics=("Space",))])
    selection = plan_feeds(config, catalogue)
    everything, space = selection.feeds
    as_if_slug_were_empty = replace(space, folder="")
    with pytest.raises(OutputClash) as caught:
        render_feeds(
            config, replace(selection, feeds=(everything, as_if_slug_were_empty)), catalogue
        )
    assert isinstance(caught.value, PublisherError)
    assert "rss.xml: claimed by both the all-topics feed and the feed of topic 'Space'" == str(
        caught.value
    )
