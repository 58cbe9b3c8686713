"""The page of each feed and the index page: valid HTML, escaped text, links a reader can use,
and a layout that fits a phone in a real browser (headless Chromium)."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from xml.etree.ElementTree import Element

import feedparser
import html5lib
import pytest
from helpers import HEADLESS, load_folder
from test_feeds import hostile_articles

from publisher.build import BuildPlan, build, plan_feeds, render_feeds
from publisher.config import Config, DigestConfig, SiteConfig, load_config
from publisher.feeds.pages import ITEMS_FRAGMENT, shorten
from publisher.model import Article, Candidate, Image, Provider
from publisher.selection import ArticleList
from publisher.text import headline

MakeArticle = Callable[..., Article]
HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "build"
SITE = "https://fixture.example.org/feeds/"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


@pytest.fixture(scope="module")
def fixture_config() -> Config:
    """The fixture site's settings."""
    return load_config(FIXTURE / "config.toml")


@pytest.fixture(scope="module")
def plan(fixture_config: Config) -> BuildPlan:
    """The fixture site's build, in memory."""
    return build(fixture_config, load_folder(Path(fixture_config.content)).articles)


def parse_strict(data: bytes) -> Element:
    """The page as html5lib reads it in strict mode: any parse error fails the test."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    document: Element = parser.parse(data)
    return document


def pages(plan: BuildPlan) -> dict[str, bytes]:
    """Every HTML page of a build."""
    return {name: data for name, data in plan.outputs.items() if name.endswith(".html")}


def alternates(document: Element) -> list[tuple[str | None, str | None]]:
    """The (type, href) of every autodiscovery link, in order."""
    return [
        (link.get("type"), link.get("href"))
        for link in document.iter("link")
        if link.get("rel") == "alternate"
    ]


def text_of(element: Element) -> str:
    return "".join(element.itertext())


def items_of(document: Element) -> list[dict[str, Any]]:
    """What each listed story shows: title, link, meta line, image attributes, excerpt."""
    found = []
    for item in document.iter("li"):
        if item.get("class") != "item":
            continue
        link = item.find("h3/a")
        assert link is not None
        image = item.find("img")
        excerpt = item.find("p[@class='excerpt']")
        meta = item.find("p[@class='meta']")
        assert meta is not None
        found.append(
            {
                "title": text_of(link),
                "href": link.get("href"),
                "meta": text_of(meta),
                "image": None if image is None else dict(image.attrib),
                "excerpt": None if excerpt is None else text_of(excerpt),
            }
        )
    return found


def test_every_page_is_valid_html(plan: BuildPlan):
    """The index page and every topic page parse in html5lib's strict mode."""
    assert {
        "index.html",
        "c/index.html",
        "c-2/index.html",
        "earth-observation/index.html",
        "kunstliche-intelligenz/index.html",
        "robotics/index.html",
        "space/index.html",
    } == set(pages(plan))
    for data in pages(plan).values():
        parse_strict(data)


def test_topic_page_lists_its_stories(plan: BuildPlan):
    """The Space page shows each story: linked title, source, date, sized image, excerpt."""
    document = parse_strict(plan.outputs["space/index.html"])
    expected = [
        {
            "title": "Weather satellite launched <on schedule> & healthy",
            "href": "https://moon.example.com/satellite",
            "meta": "Moon Daily · 2024-03-05",
            "image": None,
            "excerpt": "Ground stations confirmed signal acquisition. Emoji for luck: 🚀",
        },
        {
            "title": "Lunar lander touches down near the south pole",
            "href": "https://moon.example.com/2024/03/01/lander?ref=rss&utm_source=feed",
            "meta": "Moon Daily · 2024-03-01",
            "image": {
                "src": "https://moon.example.com/images/lander.jpg",
                "alt": "Lunar lander touches down near the south pole",
                "width": "1200",
                "height": "675",
                "loading": "lazy",
                "decoding": "async",
            },
            "excerpt": "The robotic lander settled on a slope & kept talking to Earth.",
        },
    ]
    assert expected == items_of(document)


def test_topic_page_title_and_description(plan: BuildPlan):
    """A topic page is titled and described like its feed."""
    document = parse_strict(plan.outputs["space/index.html"])
    description = next(
        meta.get("content") for meta in document.iter("meta") if meta.get("name") == "description"
    )
    heading = document.find(".//h1")
    assert heading is not None
    expected = (
        "Fixture News: Space",
        "Fixture News: Space",
        "Invented stories for publisher's tests: Space",
    )
    assert expected == (text_of(heading), document.findtext("head/title"), description)


def test_topic_page_offers_its_three_formats(plan: BuildPlan):
    """Autodiscovery and subscribe links for RSS, Atom and JSON Feed; the RSS address to copy;
    and what a feed is."""
    document = parse_strict(plan.outputs["space/index.html"])
    feeds = [
        ("application/rss+xml", f"{SITE}space/rss.xml"),
        ("application/atom+xml", f"{SITE}space/atom.xml"),
        ("application/feed+json", f"{SITE}space/feed.json"),
    ]
    section = next(s for s in document.iter("section") if s.get("class") == "subscribe")
    subscribe = [(a.get("type"), a.get("href")) for a in section.iter("a") if a.get("type")]
    copyable = [text_of(code) for code in section.iter("code")]
    about = [a.get("href") for a in section.iter("a") if not a.get("type")]
    assert (feeds, feeds, [f"{SITE}space/rss.xml"], ["https://aboutfeeds.com/"]) == (
        alternates(document),
        subscribe,
        copyable,
        about,
    )


def test_index_lists_every_feed_and_links_its_page(plan: BuildPlan):
    """Each row: the feed (linked to its page), item count, newest date and three formats;
    every page link leads to a page of the build."""
    document = parse_strict(plan.outputs["index.html"])
    table = document.find(".//table/tbody")
    assert table is not None
    rows = [[text_of(cell) for cell in row] for row in table]
    assert [
        ["All topics", "4", "2024-03-05", "RSS · Atom · JSON"],
        ["C#", "1", "2024-03-02", "RSS · Atom · JSON"],
        ["C++", "1", "2024-03-02", "RSS · Atom · JSON"],
        ["Earth Observation", "1", "2024-03-05", "RSS · Atom · JSON"],
        ["Künstliche Intelligenz", "1", "2024-03-03", "RSS · Atom · JSON"],
        ["Robotics", "1", "2024-03-03", "RSS · Atom · JSON"],
        ["Space", "2", "2024-03-05", "RSS · Atom · JSON"],
    ] == rows
    page_links = [row[0].find("a") for row in table]
    targets = [urljoin(SITE, link.get("href", "")) for link in page_links if link is not None]
    expected = [f"{SITE}{folder}/" for folder in ("c", "c-2", "earth-observation")] + [
        f"{SITE}{folder}/" for folder in ("kunstliche-intelligenz", "robotics", "space")
    ]
    assert expected == targets
    assert all(f"{target[len(SITE) :]}index.html" in plan.outputs for target in targets)


def test_topic_page_links_back_to_the_index(plan: BuildPlan):
    """A topic page's way back leads to the index page."""
    document = parse_strict(plan.outputs["robotics/index.html"])
    crumbs = next(p for p in document.iter("p") if p.get("class") == "crumbs")
    link = crumbs.find("a")
    assert link is not None
    assert SITE == urljoin(f"{SITE}robotics/", link.get("href", ""))


def test_index_shows_the_all_topics_stories(plan: BuildPlan):
    """The index page is the all-topics feed's page: its stories, newest first (the three of
    limit = 3, and one waiting for a full archive page)."""
    document = parse_strict(plan.outputs["index.html"])
    assert [
        "Weather satellite launched <on schedule> & healthy",
        "Chatbot benchmark shows mixed results",
        "Roboter lernt Wäsche falten – video",  # noqa: RUF001
        "Compiler release adds C++26 modules",
    ] == [item["title"] for item in items_of(document)]
    assert [
        "Moon Daily · 2024-03-05",
        "2024-03-03",
        "KI Magazin · 2024-03-03 · Video",
        "Code Weekly · 2024-03-02",
    ] == [item["meta"] for item in items_of(document)]


def test_newsletter_feed_is_linked_when_digest_url_is_set(fixture_config: Config):
    """With digest.url the index page links the newsletter's feeds, with autodiscovery for
    its Atom feed; without it, the newsletter is not mentioned."""
    articles = load_folder(Path(fixture_config.content)).articles
    without = replace(fixture_config, digest=DigestConfig())
    linked = parse_strict(build(fixture_config, articles).outputs["index.html"])
    unlinked = parse_strict(build(without, articles).outputs["index.html"])
    feed = "https://fixture.example.org/newsletters/feed.xml"
    section = next(s for s in linked.iter("section") if s.get("aria-labelledby") == "newsletter")
    assert (
        ("application/atom+xml", feed),
        [feed, "https://fixture.example.org/newsletters/feed.json"],
    ) == (alternates(linked)[-1], [a.get("href") for a in section.iter("a")])
    assert [] == [s for s in unlinked.iter("section") if s.get("aria-labelledby") == "newsletter"]
    assert feed not in {href for _, href in alternates(unlinked)}


# Hostile text ----------------------------------------------------------------------------------


@pytest.fixture
def hostile_plan(make_article: MakeArticle) -> BuildPlan:
    """A build of the hostile articles of test_feeds, under a hostile site title."""
    config = Config(
        site=SiteConfig(
            title='Site <script>alert("t")</script> & co',
            description="</style><script>x()</script>",
            url="https://example.org/feeds/",
        )
    )
    return build(config, hostile_articles(make_article))


def test_hostile_pages_are_valid_html(hostile_plan: BuildPlan):
    """Markup-like, control, emoji and right-to-left text: every page still parses strictly."""
    for data in pages(hostile_plan).values():
        parse_strict(data)


def test_hostile_text_reads_back_as_the_same_text(
    hostile_plan: BuildPlan, make_article: MakeArticle
):
    """Each title on the page is the article's headline, as the feeds give it, and each
    source its own text, shown as text."""
    articles = hostile_articles(make_article)
    for name in ("index.html", "ai/index.html"):
        items = items_of(parse_strict(hostile_plan.outputs[name]))
        assert [headline(article.title) for article in articles] == [
            item["title"] for item in items
        ]
        assert [article.url for article in articles] == [item["href"] for item in items]
        assert all(item["meta"].startswith("Hostile <Times> & Co · ") for item in items)
    document = parse_strict(hostile_plan.outputs["index.html"])
    assert 'Site <script>alert("t")</script> & co' == document.findtext("head/title")


def test_pages_show_titles_and_excerpts_as_the_feeds_do(make_article: MakeArticle):
    """A title "Hello <b>World</b>" reads "Hello World" on the topic page, as in rss.xml, and
    an excerpt with a script reads as the feeds' summary: its words, no script text."""
    article = make_article(
        title="Hello <b>World</b>",
        excerpt="<p>Bold <em>plans</em></p><script>alert(1)</script>",
        images=(Image("https://cdn.example.com/a.jpg", 10, 10),),
    )
    outputs = build(Config(), [article]).outputs
    item = items_of(parse_strict(outputs["space/index.html"]))[0]
    feed = feedparser.parse(outputs["space/rss.xml"]).entries[0]
    expected = ("Hello World", "Bold plans", "Hello World")
    assert expected == (item["title"], item["excerpt"], item["image"]["alt"])
    assert (feed.title, feed.summary) == (item["title"], item["excerpt"])


def test_no_page_runs_javascript(hostile_plan: BuildPlan, plan: BuildPlan):
    """No script element, no event handler attribute, no javascript: link on any page."""
    found = []
    for name, data in [*pages(plan).items(), *pages(hostile_plan).items()]:
        for element in parse_strict(data).iter():
            if element.tag == "script":
                found.append((name, "script"))
            for attribute, value in element.attrib.items():
                if attribute.startswith("on") or value.strip().lower().startswith("javascript:"):
                    found.append((name, attribute))
    assert [] == found


def test_long_excerpt_is_cut_at_a_word():
    """A page lists stories: a long excerpt ends at a whole word with an ellipsis."""
    words = "Lorem ipsum dolor sit amet "
    assert words * 10 + "Lorem…" == shorten(words * 40)
    assert "Short and sweet." == shorten("Short  and\nsweet.")


def test_image_without_a_size_has_no_size_attributes(make_article: MakeArticle):
    """An image whose size is unknown is shown without invented width and height."""
    article = make_article(images=(Image("https://cdn.example.com/a.jpg"),))
    document = parse_strict(build(Config(), [article]).outputs["space/index.html"])
    image = items_of(document)[0]["image"]
    assert {"src", "alt", "loading", "decoding"} == set(image)


def test_page_of_a_feed_with_no_stories_says_so():
    """A site with no articles still gets a valid index page that says there is nothing yet."""
    document = parse_strict(build(Config(), []).outputs["index.html"])
    assert [] == items_of(document)
    assert any(p.get("class") == "empty" for p in document.iter("p"))


# The render cache ------------------------------------------------------------------------------


class CountingArticles(ArticleList):
    """An in-memory catalogue that counts the articles it is asked to load."""

    def __init__(self, articles: Sequence[Article]) -> None:
        super().__init__(articles)
        self.loaded = 0

    def articles(self, items: Sequence[Candidate]) -> list[Article]:
        self.loaded += len(items)
        return super().articles(items)


def test_pages_of_cached_feeds_load_no_article(fixture_config: Config):
    """With every feed's rendering kept from an earlier build, the pages are built again
    without loading a single article, and come out the same."""
    catalogue = CountingArticles(load_folder(Path(fixture_config.content)).articles)
    selection = plan_feeds(fixture_config, catalogue)
    first = render_feeds(fixture_config, selection, catalogue)
    loaded_first = catalogue.loaded
    again = render_feeds(fixture_config, selection, catalogue, first.rendered.__getitem__)
    assert (True, 0, first.outputs) == (
        loaded_first > 0,
        catalogue.loaded - loaded_first,
        again.outputs,
    )


def test_feeds_cached_without_their_story_list_are_rendered_again(fixture_config: Config):
    """A render cache from a version without pages lacks the list of stories: the feed is
    rendered again rather than published without its page."""
    catalogue = ArticleList(load_folder(Path(fixture_config.content)).articles)
    selection = plan_feeds(fixture_config, catalogue)
    first = render_feeds(fixture_config, selection, catalogue)

    def old_cache(key: str) -> dict[str, bytes]:
        return {name: data for name, data in first.rendered[key].items() if name != ITEMS_FRAGMENT}

    again = render_feeds(fixture_config, selection, catalogue, old_cache)
    assert (first.outputs, set(first.rendered)) == (again.outputs, set(again.rendered))


# A real browser --------------------------------------------------------------------------------

MEASURE = """
<script>
window.addEventListener("load", () => {
  const wide = [...document.querySelectorAll("body *")].filter((el) => {
    if (el.closest(".table")) return false;  // the feed table scrolls inside its own box
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.left < 0 || r.right > window.innerWidth);
  }).map((el) => el.tagName + "." + el.className);
  parent.document.title = JSON.stringify({scrollWidth: document.documentElement.scrollWidth,
    viewport: window.innerWidth, wide: wide});
});
</script>
"""


def measure(page: bytes, width: int, scratch: Path) -> dict[str, Any]:
    """Show ``page`` in a ``width`` px frame in headless Chromium; return its layout figures.

    The page itself has no script: the test adds one to a copy, inside a same-origin frame
    (a headless window is never narrower than 500 px). Image hosts resolve nowhere.
    """
    assert CHROMIUM is not None
    document = page.decode("utf-8").replace("</body>", MEASURE + "</body>")
    frame = scratch / f"frame-{width}.html"
    frame.write_text(
        "<!DOCTYPE html><html><head><title>not measured</title></head>"
        f'<body style="margin:0"><iframe style="border:0;width:{width}px;height:4000px" '
        f'srcdoc="{html.escape(document, quote=True)}"></iframe></body></html>',
        encoding="utf-8",
    )
    command = [
        CHROMIUM,
        *HEADLESS,
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={scratch / 'profile'}",
        "--window-size=800,4000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        frame.as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    figures: dict[str, Any] = json.loads(html.unescape(title))
    return figures


@needs_chromium
@pytest.mark.parametrize("name", ["index.html", "ai/index.html"])
def test_hostile_pages_fit_a_phone(name: str, hostile_plan: BuildPlan, tmp_path: Path):
    """At 375 px, hostile titles (a 10,000-character excerpt, emoji, right-to-left text) leave
    nothing wider than the screen."""
    figures = measure(hostile_plan.outputs[name], 375, tmp_path)
    assert (375, 375, []) == (figures["viewport"], figures["scrollWidth"], figures["wide"])


@needs_chromium
def test_real_corpus_index_fits_a_phone(corpus: Path, tmp_path: Path):
    """At 375 px, the real corpus's index page (long titles and topic names, real image sizes)
    leaves nothing wider than the screen."""
    config = Config(site=SiteConfig(title="Corpus", url="https://example.org/ai/"))
    articles = load_folder(corpus / "artificial-intelligence" / "_news").articles
    figures = measure(build(config, articles).outputs["index.html"], 375, tmp_path)
    assert (375, 375, []) == (figures["viewport"], figures["scrollWidth"], figures["wide"])


def test_provider_and_video_mark(make_article: MakeArticle):
    """A video is marked as one, after its source and date."""
    video = make_article(type="video", provider=Provider("Tube & Co"))
    document = parse_strict(build(Config(), [video]).outputs["space/index.html"])
    assert ["Tube & Co · 2024-05-01 · Video"] == [item["meta"] for item in items_of(document)]
