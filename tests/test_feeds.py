"""Feeds as real clients see them: feedparser, the W3C validator, byte-for-byte reruns."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedgen.entry
import feedgen.feed
import feedparser
import pytest
from helpers import load_folder
from lxml import etree

from publisher.build import build
from publisher.config import Config, SiteConfig, load_config
from publisher.feeds import FeedInfo
from publisher.feeds.jsonfeed import render_json_feed
from publisher.feeds.safe import EARLIEST, home_page, uri
from publisher.feeds.syndication import image_type_of, render_atom, render_rss
from publisher.jobs import run_build
from publisher.model import Article, Image, Provider
from publisher.selection import Rules, select
from publisher.text import headline, summary_of

MakeArticle = Callable[..., Article]
Validate = Callable[[Path, str | None], tuple[list[str], list[str]]]
PROJECT = Path(__file__).resolve().parents[1]
SITE_URL = "https://example.org/feeds/"
INFO = FeedInfo("Test News", "News for tests", "https://example.org/", SITE_URL, "en")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MEDIA = "{http://search.yahoo.com/mrss/}"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def selection(make_article: MakeArticle) -> list[Article]:
    """Four articles, one a duplicate, selected the way a feed selects them."""
    logo = Image("https://example.com/logo.png", 50, 50)
    articles = [
        make_article(
            title="Older & wiser",
            url="https://example.com/older?a=1&b=2",
            published_at=T0 - timedelta(days=2),
            excerpt="An excerpt with brackets & ampersands.",
            provider=Provider("Example Times", "example.com", logo),
            topics=("Space", "Science"),
            images=(Image("https://cdn.example.com/older.jpg", 800, 450),),
        ),
        make_article(title="Newest", url="https://example.com/newest", published_at=T0),
        make_article(
            title="Middle",
            url="https://example.com/middle",
            published_at=T0 - timedelta(days=1, hours=3),
        ),
        make_article(
            title="Middle (copy)",
            url="https://EXAMPLE.com/middle/?utm_source=x",
            published_at=T0 - timedelta(days=1),
            quality=55,
        ),
    ]
    return select(articles, Rules())


def summary_text(entry: feedparser.FeedParserDict) -> str:
    """The summary as a reader shows it: HTML summaries rendered down to their text."""
    summary = entry.summary
    if entry.summary_detail.type == "text/html":
        summary = html.unescape(re.sub(r"<[^>]*>", "", summary))
    return summary


def parsed_dates(entries: list[feedparser.FeedParserDict]) -> list[datetime]:
    """Each entry's published date as an aware UTC datetime."""
    return [datetime(*entry.published_parsed[:6], tzinfo=UTC) for entry in entries]


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_feedparser_round_trip(render: Callable[..., bytes], selection: list[Article]):
    """feedparser reads back the same titles, links and dates, in order, without complaint."""
    feed = feedparser.parse(render(INFO, selection))
    assert 0 == feed.bozo, feed.get("bozo_exception")
    assert ["Newest", "Middle", "Older & wiser"] == [entry.title for entry in feed.entries]
    assert [article.title for article in selection] == [entry.title for entry in feed.entries]
    assert [article.url for article in selection] == [entry.link for entry in feed.entries]
    assert [article.published_at for article in selection] == parsed_dates(feed.entries)


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_feed_metadata_round_trip(render: Callable[..., bytes], selection: list[Article]):
    """Title, language, site link, self link and updated date come through."""
    feed = feedparser.parse(render(INFO, selection)).feed
    assert "Test News" == feed.title
    assert "https://example.org/" == feed.link
    assert "en" == feed.get("language")
    self_links = [link.href for link in feed.links if link.rel == "self"]
    expected_self = INFO.rss_url if render is render_rss else INFO.atom_url
    assert [expected_self] == self_links
    assert T0 == datetime(*feed.updated_parsed[:6], tzinfo=UTC)


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_entry_details_round_trip(render: Callable[..., bytes], selection: list[Article]):
    """Excerpt as summary, provider as author, topics as categories, a stable id."""
    entry = feedparser.parse(render(INFO, selection)).entries[2]
    assert "An excerpt with brackets & ampersands." == summary_text(entry)
    assert "Example Times" == entry.author
    assert ["Space", "Science"] == [tag.term for tag in entry.tags]
    assert "https://example.com/older?a=1&b=2" == entry.id


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_lead_image_is_media_content_with_size(
    render: Callable[..., bytes], selection: list[Article]
):
    """The lead image is a media:content of the item, with its size."""
    root = etree.fromstring(render(INFO, selection))
    contents = root.findall(f".//{MEDIA}content")
    assert [("https://cdn.example.com/older.jpg", "800", "450", "image/jpeg")] == [
        (c.get("url"), c.get("width"), c.get("height"), c.get("type")) for c in contents
    ]


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_media_content_is_not_wrapped_in_a_single_group(
    render: Callable[..., bytes], selection: list[Article]
):
    """A lone media:content sits directly in its item: a group needs several children."""
    root = etree.fromstring(render(INFO, selection))
    assert [] == root.findall(f".//{MEDIA}group")


@pytest.mark.parametrize(
    ("render", "tag"), [(render_rss, "category"), (render_atom, f"{ATOM}category")]
)
def test_thousands_of_topics_are_every_category(
    render: Callable[..., bytes], tag: str, make_article: MakeArticle
):
    """An article with 2,000 topics carries all of them, in order (and renders in linear time)."""
    topics = tuple(f"Topic {number}" for number in range(2000))
    root = etree.fromstring(render(INFO, [make_article(topics=topics)]))
    categories = root.findall(f".//{tag}")
    assert list(topics) == [c.text or c.get("term") for c in categories]


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_excerpt_markup_reads_back_as_its_text(render: Callable[..., bytes], make_article):
    """Real markup in an excerpt reaches a reader as its words; a bare "<angle>" stays text."""
    article = make_article(excerpt="Use <angle> brackets; <b>not bold</b>")
    entry = feedparser.parse(render(INFO, [article])).entries[0]
    assert "Use <angle> brackets; not bold" == summary_text(entry)


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_title_markup_reads_back_as_its_text(render: Callable[..., bytes], make_article):
    """A title with tags in it is shown as the words, never as tags."""
    article = make_article(title="<b>Bold</b> claim", excerpt="<p>Why it matters.</p>")
    entry = feedparser.parse(render(INFO, [article])).entries[0]
    assert ("Bold claim", "Why it matters.") == (entry.title, summary_text(entry))


def test_json_feed_text_is_plain(make_article: MakeArticle):
    """JSON Feed's title, summary and content_text carry no tags."""
    article = make_article(title="<i>Big</i> news", excerpt="<p>It <b>happened</b>.</p>")
    item = json.loads(render_json_feed(INFO, [article]))["items"][0]
    expected = ("Big news", "It happened.", "It happened.")
    assert expected == (item["title"], item["summary"], item["content_text"])


def test_excerpt_repeating_the_title_is_left_out(make_article: MakeArticle):
    """An excerpt that only repeats the title is not printed a second time in any format."""
    article = make_article(title="Announcing the editor", excerpt="Announcing the editor")
    rss = feedparser.parse(render_rss(INFO, [article])).entries[0]
    item = json.loads(render_json_feed(INFO, [article]))["items"][0]
    expected = (False, False, False, "Announcing the editor")
    assert expected == (
        "<p>Announcing the editor</p>" in rss.get("summary", ""),
        "summary" in item,
        "<p>Announcing the editor</p>" in item.get("content_html", ""),
        item["content_text"],
    )


def test_generator_names_no_invented_url():
    """The generator is this project, with no URI: the project has no public home to name."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    generator = etree.fromstring(render_atom(INFO, [])).find(f"{ATOM}generator")
    assert ("publisher", None, None) == (generator.text, generator.get("uri"), project.get("urls"))


def test_json_feed_shape(selection: list[Article]):
    """JSON Feed 1.1: version, feed_url, items in order with Z dates and the lead image."""
    document = json.loads(render_json_feed(INFO, selection))
    assert "https://jsonfeed.org/version/1.1" == document["version"]
    assert "https://example.org/feeds/feed.json" == document["feed_url"]
    assert [a.url for a in selection] == [item["url"] for item in document["items"]]
    assert [a.url for a in selection] == [item["id"] for item in document["items"]]
    older = document["items"][2]
    assert "2024-04-29T12:00:00Z" == older["date_published"]
    assert "https://cdn.example.com/older.jpg" == older["image"]
    assert [{"name": "Example Times", "url": "https://example.com/"}] == older["authors"]
    assert ["Space", "Science"] == older["tags"]


def test_json_feed_keeps_unicode_readable(make_article: MakeArticle):
    """Non-ASCII text is written as UTF-8, not \\u escapes."""
    data = render_json_feed(INFO, [make_article(title="Café 🚀")])
    assert "Café 🚀".encode() in data


def test_empty_feed_is_valid_and_dated_by_epoch():
    """A feed with no items still parses, dated 1970 rather than today."""
    feed = feedparser.parse(render_rss(INFO, []))
    assert (0, []) == (feed.bozo, feed.entries)
    assert 1970 == feed.feed.updated_parsed.tm_year


# --- determinism -------------------------------------------------------------------------


@pytest.fixture
def frozen_far_future(monkeypatch: pytest.MonkeyPatch) -> None:
    """feedgen's own clock reads 2099, so any date leaking from it shows up."""

    class AcceptsRealDatetimes(type):
        def __instancecheck__(cls, instance: object) -> bool:
            return isinstance(instance, datetime)

    class FarFuture(datetime, metaclass=AcceptsRealDatetimes):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def]
            return datetime(2099, 1, 1, tzinfo=tz or UTC)

    monkeypatch.setattr(feedgen.feed, "datetime", FarFuture)
    monkeypatch.setattr(feedgen.entry, "datetime", FarFuture)


@pytest.fixture
def other_timezone() -> Iterator[None]:
    """Run in a far-off local time zone, then restore the original."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


def sample_config() -> Config:
    """The project's sample config, with its paths."""
    return load_config(PROJECT / "config.toml")


def test_rerun_is_byte_identical():
    """Two builds of the same input give the same bytes for every file."""
    config = sample_config()
    articles = load_folder(Path(config.content)).articles
    assert build(config, articles).outputs == build(config, articles).outputs


def test_output_ignores_clock_and_time_zone(request: pytest.FixtureRequest):
    """A build under another clock and TZ gives the same bytes."""
    config = sample_config()
    articles = load_folder(Path(config.content)).articles
    before = build(config, articles).outputs
    request.getfixturevalue("frozen_far_future")
    request.getfixturevalue("other_timezone")
    after = build(config, articles).outputs
    assert sorted(before) == sorted(after)
    for name in before:
        assert before[name] == after[name], name
    assert not any(b"2099" in data for data in after.values())


def test_empty_feed_ignores_the_clock(frozen_far_future: None):
    """Even with no items the feed date is not the clock's."""
    assert b"2099" not in render_rss(INFO, []) + render_atom(INFO, [])


def test_settled_rerun_never_imports_feedgen(write_article: Callable[..., Path], tmp_path: Path):
    """A rerun with nothing to do stops before the renderers: feedgen is not even imported."""
    write_article("2024-05-01-a-story.md")
    an_hour_ago = time.time() - 3600
    for path in (tmp_path / "_news").iterdir():  # older than the outputs, or it counts as racy
        os.utime(path, (an_hour_ago, an_hour_ago))
    config = tmp_path / "site.toml"
    config.write_text('content = "_news"\nout = "out"\ncache_dir = "cache"\n', encoding="utf-8")
    assert not run_build(load_config(config)).up_to_date
    rerun = (
        "import sys\n"
        "from pathlib import Path\n"
        "from publisher.config import load_config\n"
        "from publisher.jobs import run_build\n"
        f"outcome = run_build(load_config(Path({str(config)!r})))\n"
        "print(outcome.up_to_date, 'feedgen' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", rerun], capture_output=True, text=True, timeout=60, check=False
    )
    assert ("True False\n", "") == (completed.stdout, completed.stderr)


# --- the W3C validator -------------------------------------------------------------------

POSITION = re.compile(r"^line \d+, column \d+: ")
OCCURRENCES = re.compile(r" \(\d+ occurrences\)$")


def validate_build(
    validate: Validate, config: Config, articles: list[Article] | tuple[Article, ...], out: Path
) -> dict[str, tuple[list[str], list[str]]]:
    """Write a build to ``out`` and validate every RSS/Atom file as served under site.url."""
    plan = build(config, articles)
    results = {}
    for name, data in sorted(plan.outputs.items()):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if name.endswith(".xml"):
            results[name] = validate(path, config.site.url + name)
    return results


def errors_of(results: dict[str, tuple[list[str], list[str]]]) -> dict[str, list[str]]:
    """Files with errors, and their errors."""
    return {name: errors for name, (errors, _) in results.items() if errors}


def warning_texts(results: dict[str, tuple[list[str], list[str]]]) -> set[str]:
    """Every distinct warning message, without its position and count."""
    return {
        OCCURRENCES.sub("", POSITION.sub("", warning))
        for _, warnings in results.values()
        for warning in warnings
    }


def corpus_config(url: str) -> Config:
    """Defaults, served from ``url``."""
    return Config(site=SiteConfig(title="Corpus", url=url, link="https://example.org/"))


def test_sample_site_validates(validate: Validate, tmp_path: Path):
    """The sample site's feeds: 0 errors, 0 warnings."""
    config = sample_config()
    results = validate_build(validate, config, load_folder(Path(config.content)).articles, tmp_path)
    assert {} == errors_of(results)
    assert set() == warning_texts(results)


@pytest.mark.parametrize("name", ["artificial-intelligence", "microsoft-power-apps"])
def test_real_corpus_validates(name: str, corpus: Path, validate: Validate, tmp_path: Path):
    """Both real corpora: 0 errors in every document, 0 warnings in every subscription document
    (archive pages' warnings: tests/test_archives.py)."""
    config = corpus_config(f"https://example.org/{name}/")
    articles = load_folder(corpus / name / "_news").articles
    results = validate_build(validate, config, articles, tmp_path)
    assert len(results) >= 16
    assert {} == errors_of(results)
    subscriptions = {path: result for path, result in results.items() if "archive/" not in path}
    assert set() == warning_texts(subscriptions)


def test_self_link_mismatch_is_what_the_validator_warns(validate: Validate, tmp_path: Path):
    """Served from another URL, the validator notices the self link: it does check it."""
    path = tmp_path / "rss.xml"
    path.write_bytes(render_rss(INFO, []))
    _, warnings = validate(path, "https://elsewhere.example/rss.xml")
    assert any("Self reference doesn't match document location" in w for w in warnings), warnings


HOSTILE = [
    (
        "script",
        "<script>alert(1)</script> & friends",
        'Watch <b>bold</b> & <script>x()</script> "q"',
    ),
    ("controls", "Bell\x07 and\x1b escape\x0c", "Tab\there and a NUL\x00"),
    ("emoji", "Rocket 🚀 launch 🎉", "Emoji 😀 excerpt"),
    ("rtl", "مرحبا بالعالم", "שלום עולם"),
    ("long", "A very long excerpt", "Lorem ipsum dolor sit amet " * 400),
    ("entities", "AT&amp;T &lt;3 &#038; more", "5 &lt; 6 and x &gt; y"),
]

# What the validator says about hostile text today. Plain text that looks like markup is
# legal but ambiguous in RSS <description>/<title>, which readers treat as HTML.
KNOWN_HOSTILE_WARNINGS = {
    "Invalid HTML",
    'Encode "&" and "<" in plain text using hexadecimal character references.',
    "title should not contain HTML",
    "description should not contain script tag",
    "title should not contain HTML unless declared in the type attribute",
    "summary should not contain HTML unless declared in the type attribute",
}


def hostile_articles(make_article: MakeArticle) -> list[Article]:
    """Hostile titles and excerpts, passed through the same cleaning as article files."""
    from publisher.content.normalise import clean_text

    return [
        make_article(
            title=clean_text(title),
            excerpt=clean_text(excerpt),
            url=f"https://example.com/{slug}?a=1&b=2",
            published_at=T0 - timedelta(hours=index),
            provider=Provider("Hostile <Times> & Co", "example.com"),
            topics=("Sécurité & <Vie privée>", "AI"),
            images=(Image(f"https://cdn.example.com/{slug}.png?x=1&y=2", 10, 10),),
        )
        for index, (slug, title, excerpt) in enumerate(HOSTILE)
    ]


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_hostile_text_round_trips(render: Callable[..., bytes], make_article: MakeArticle):
    """Markup-like, control, emoji and RTL text come back as the same plain text."""
    articles = hostile_articles(make_article)
    feed = feedparser.parse(render(INFO, articles))
    assert 0 == feed.bozo, feed.get("bozo_exception")
    assert [a.url for a in articles] == [entry.link for entry in feed.entries]
    assert "Rocket 🚀 launch 🎉" == feed.entries[2].title
    assert "Bell and escape" == feed.entries[1].title


def test_hostile_input_has_no_validator_errors(
    validate: Validate, make_article: MakeArticle, tmp_path: Path
):
    """Hostile titles and excerpts: 0 errors."""
    results = validate_build(
        validate, corpus_config(SITE_URL), hostile_articles(make_article), tmp_path
    )
    assert {} == errors_of(results)


def test_hostile_input_warnings_are_the_known_ones(
    validate: Validate, make_article: MakeArticle, tmp_path: Path
):
    """The validator's warnings on hostile text are only ones the README explains."""
    results = validate_build(
        validate, corpus_config(SITE_URL), hostile_articles(make_article), tmp_path
    )
    assert warning_texts(results) <= KNOWN_HOSTILE_WARNINGS


def ancient_articles() -> list[Article]:
    """Articles dated in the years 1000 and 1, made directly: the loader would refuse them."""
    return [
        Article(
            path=f"_news/year-{year}.md",
            title=f"Dated {year}",
            url=f"https://example.com/year-{year}",
            published_at=datetime(year, 1, 1, tzinfo=UTC),
            excerpt="What happened.",
            quality=70,
        )
        for year in (1000, 1)
    ]


def test_dates_before_1900_are_written_as_1900():
    """RSS needs four-digit years from 1900: earlier dates come out as 1900-01-01 everywhere."""
    articles = ancient_articles()
    rss = etree.fromstring(render_rss(INFO, articles))
    pub_dates = [element.text for element in rss.iter("pubDate")]
    assert ["Mon, 01 Jan 1900 00:00:00 +0000"] * 2 == pub_dates
    assert [EARLIEST] * 2 == [parsedate_to_datetime(text) for text in pub_dates]
    atom = feedparser.parse(render_atom(INFO, articles))
    assert [EARLIEST] * 2 == parsed_dates(atom.entries)
    items = json.loads(render_json_feed(INFO, articles))["items"]
    assert ["1900-01-01T00:00:00Z"] * 2 == [item["date_published"] for item in items]


def test_ancient_dates_have_no_validator_errors(validate: Validate, tmp_path: Path):
    """Years 1000 and 1: 0 errors; warnings only that 1900 is implausible, and twice the same."""
    results = validate_build(validate, corpus_config(SITE_URL), ancient_articles(), tmp_path)
    assert {} == errors_of(results)
    assert {
        "Implausible date",
        "Two entries with the same value for atom:updated",
    } == warning_texts(results)


ODD_URLS = [
    (
        'https://example.org/a"><script>alert(1)</script>',
        "https://example.org/a%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
    ),
    ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
    ("https://faß.de/x?q=ü#teil", "https://xn--fa-hia.de/x?q=%C3%BC#teil"),
    ("https://example.org/a b|c^{d}`e\\f", "https://example.org/a%20b%7Cc%5E%7Bd%7D%60e%5Cf"),
    ("https://example.org/100%/p[1]#a#b", "https://example.org/100%25/p%5B1%5D#a%23b"),
    ("https://😀.example/", "https://%f0%9f%98%80.example/"),
    ("https://exa<mple.com/", "https://exa%3cmple.com/"),
]


@pytest.mark.parametrize(("url", "expected"), ODD_URLS)
def test_odd_urls_become_uris(url: str, expected: str):
    """Characters a URI may not hold are percent-encoded, IDN hosts IDNA 2008-encoded."""
    assert expected == uri(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/older?a=1&b=2",
        "https://example.com/caf%C3%A9/~user/(1)!;a=b,c*'$+@x:y#top",
        "http://user:pass@example.com:8080/p?q",
        "https://[2001:db8::1]:8443/",
        "https://xn--bcher-kva.example/",
    ],
)
def test_urls_that_are_uris_stay_byte_identical(url: str):
    """A URL that already is a URI is written exactly as it came."""
    assert url == uri(url)


def odd_url_articles(make_article: MakeArticle) -> list[Article]:
    """One article per odd URL, each with an image at that URL too."""
    return [
        make_article(
            url=url,
            excerpt="What happened.",
            published_at=T0 - timedelta(hours=index),
            images=(Image(f"{url.split('#')[0]}.png", 10, 10),),
        )
        for index, (url, _) in enumerate(ODD_URLS)
    ]


def test_odd_urls_have_no_validator_errors(
    validate: Validate, make_article: MakeArticle, tmp_path: Path
):
    """Injection-like and internationalised article and image URLs: 0 errors, 0 warnings."""
    results = validate_build(
        validate, corpus_config(SITE_URL), odd_url_articles(make_article), tmp_path
    )
    assert {} == errors_of(results)
    assert set() == warning_texts(results)


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_odd_urls_are_written_as_uris(render: Callable[..., bytes], make_article: MakeArticle):
    """Links, ids and media URLs of RSS and Atom carry the encoded URI."""
    feed = feedparser.parse(render(INFO, odd_url_articles(make_article)))
    expected = [encoded for _, encoded in ODD_URLS]
    assert expected == [entry.link for entry in feed.entries]
    assert expected == [entry.id for entry in feed.entries]
    assert [f"{url.split('#')[0]}.png" for url in expected] == [
        entry.media_content[0]["url"] for entry in feed.entries
    ]


def test_json_feed_writes_odd_urls_as_uris(make_article: MakeArticle):
    """JSON Feed ids, URLs and images carry the encoded URI too."""
    items = json.loads(render_json_feed(INFO, odd_url_articles(make_article)))["items"]
    expected = [encoded for _, encoded in ODD_URLS]
    assert expected == [item["url"] for item in items] == [item["id"] for item in items]
    assert [f"{url.split('#')[0]}.png" for url in expected] == [item["image"] for item in items]


ODD_DOMAINS = ["example .com", "exa<mple>.com", "localhost", "example.com/a", "-bad-.com", "a..b"]


@pytest.mark.parametrize("domain", ODD_DOMAINS)
def test_odd_provider_domain_has_no_home_page(domain: str):
    """Only a host name with a dot in it makes an author URI."""
    assert None is home_page(domain)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("example.com", "https://example.com/"),
        ("news.bbc.co.uk", "https://news.bbc.co.uk/"),
        ("bücher.example", "https://xn--bcher-kva.example/"),
    ],
)
def test_provider_home_page(domain: str, expected: str):
    """A host name, internationalised or not, gives its https home page."""
    assert expected == home_page(domain)


def odd_domain_articles(make_article: MakeArticle) -> list[Article]:
    """One article per odd provider domain."""
    return [
        make_article(
            excerpt="What happened.",
            published_at=T0 - timedelta(hours=index),
            provider=Provider(f"Provider {index}", domain),
        )
        for index, domain in enumerate(ODD_DOMAINS)
    ]


def test_odd_provider_domain_keeps_the_author_name_only(make_article: MakeArticle):
    """The author keeps its name in every format; the URI is left out, not made up."""
    articles = odd_domain_articles(make_article)
    names = [f"Provider {index}" for index in range(len(ODD_DOMAINS))]
    for render in (render_rss, render_atom):
        entries = feedparser.parse(render(INFO, articles)).entries
        assert names == [entry.author for entry in entries]
        assert not any("href" in entry.author_detail for entry in entries)
    items = json.loads(render_json_feed(INFO, articles))["items"]
    assert [[{"name": name}] for name in names] == [item["authors"] for item in items]


def test_odd_provider_domains_have_no_validator_errors(
    validate: Validate, make_article: MakeArticle, tmp_path: Path
):
    """Odd provider domains: 0 errors, 0 warnings."""
    results = validate_build(
        validate, corpus_config(SITE_URL), odd_domain_articles(make_article), tmp_path
    )
    assert {} == errors_of(results)
    assert set() == warning_texts(results)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://cdn.example.com/a/b.JPG?w=600", "image/jpeg"),
        ("https://cdn.example.com/a/b.webp#top", "image/webp"),
        ("https://cdn.example.com/a.b/picture", None),
        ("https://cdn.example.com/image?id=3.png", None),
    ],
)
def test_image_type_comes_from_a_fixed_table(url: str, expected: str | None):
    """The media type depends on the URL alone, never on the host's mime.types."""
    assert expected == image_type_of(url)


# --- item content as HTML ----------------------------------------------------------------

CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
SAFE_TAGS = {"p", "img", "a"}
SAFE_ATTRIBUTES = {"src", "alt", "width", "height", "href"}


def item_contents(articles: list[Article]) -> dict[str, list[str]]:
    """Each format's item HTML, as written: RSS content:encoded (the description, for an article
    without excerpt: there is nothing else to describe it), Atom content, JSON content_html."""
    rss = etree.fromstring(render_rss(INFO, articles))
    atom = etree.fromstring(render_atom(INFO, articles))
    items = json.loads(render_json_feed(INFO, articles))["items"]
    assert all(content.get("type") == "html" for content in atom.iter(f"{ATOM}content"))
    return {
        "rss": [
            item.findtext(CONTENT) or item.findtext("description") or ""
            for item in rss.iter("item")
        ],
        "atom": [entry.findtext(f"{ATOM}content") or "" for entry in atom.iter(f"{ATOM}entry")],
        "json": [item.get("content_html", "") for item in items],
    }


def html_parts(markup: str) -> list[tuple[str, dict[str, str], str]]:
    """Every element an HTML5 parser (html5lib, as browsers parse) finds: tag, attributes, text."""
    import html5lib

    fragment = html5lib.parseFragment(markup, namespaceHTMLElements=False)
    return [
        (element.tag, dict(element.attrib), "".join(element.itertext()))
        for element in fragment.iter()
        if isinstance(element.tag, str) and element is not fragment
    ]


def test_item_html_is_image_then_excerpt_then_source(selection: list[Article]):
    """The picture first, then the excerpt, then "Read at <provider>", in every format."""
    expected = [
        ("p", {}, ""),
        (
            "img",
            {
                "src": "https://cdn.example.com/older.jpg",
                "alt": "Older & wiser",
                "width": "800",
                "height": "450",
            },
            "",
        ),
        ("p", {}, "An excerpt with brackets & ampersands."),
        ("p", {}, "Read at Example Times"),
        ("a", {"href": "https://example.com/older?a=1&b=2"}, "Read at Example Times"),
    ]
    for name, contents in item_contents(selection).items():
        assert expected == html_parts(contents[2]), name


def test_item_html_without_image_excerpt_or_provider_names_the_host(make_article: MakeArticle):
    """An article with nothing but a title and a URL links to it by its host name."""
    article = make_article(url="https://www.example.com/bare", excerpt="", images=())
    for name, contents in item_contents([article]).items():
        assert [
            ("p", {}, "Read at example.com"),
            ("a", {"href": "https://www.example.com/bare"}, "Read at example.com"),
        ] == html_parts(contents[0]), name


def test_reader_sees_the_picture_in_the_item_html(selection: list[Article]):
    """feedparser, as a reader, finds the image in the content of RSS and Atom."""
    for render in (render_rss, render_atom):
        entry = feedparser.parse(render(INFO, selection)).entries[2]
        assert 'src="https://cdn.example.com/older.jpg"' in entry.content[0].value


def hostile_html_articles(make_article: MakeArticle) -> list[Article]:
    """Hostile text, and URLs that would break out of an attribute or run script."""
    return [
        *hostile_articles(make_article),
        make_article(
            title='"><script>alert(1)</script>',
            excerpt="<img src=x onerror=alert(1)>",
            url='https://example.com/a" onmouseover="alert(1)',
            provider=Provider("<b>Evil</b> & Co", "example.com"),
            images=(Image('https://cdn.example.com/i.png" onerror="alert(1)', 10, 10, "<i>"),),
        ),
        make_article(
            title="Script URLs",
            excerpt="javascript links",
            url="javascript:alert(1)",
            images=(Image("javascript:alert(2)", 10, 10),),
        ),
        make_article(
            title="Data URLs",
            excerpt="",
            url="data:text/html,<script>alert(1)</script>",
            images=(Image("data:image/svg+xml,<svg onload=alert(1)>", 10, 10),),
        ),
    ]


def test_hostile_articles_give_only_safe_item_html(make_article: MakeArticle):
    """However hostile the file, the item HTML holds only p, img and a, with http(s) links, and
    every piece of the article's text reads back as text."""
    articles = hostile_html_articles(make_article)
    for name, contents in item_contents(articles).items():
        for article, markup in zip(articles, contents, strict=True):
            parts = html_parts(markup)
            assert {tag for tag, _, _ in parts} <= SAFE_TAGS, (name, markup)
            for _, attributes, _ in parts:
                assert set(attributes) <= SAFE_ATTRIBUTES, (name, markup)
                for key in ("href", "src"):
                    if key in attributes:
                        assert attributes[key].startswith(("https://", "http://")), markup
                        assert not set(attributes[key]) & set("\"'<> "), markup
            texts = [text for tag, _, text in parts if tag == "p" and text]
            if summary := summary_of(article.title, article.excerpt):
                assert summary in texts, (name, markup)
            images = [attributes for tag, attributes, _ in parts if tag == "img"]
            alts = ("<i>", headline(article.title))
            assert all(image["alt"] in alts for image in images), markup


def test_script_and_data_urls_never_become_links(make_article: MakeArticle):
    """javascript: and data: URLs give neither a link nor an image, only the text."""
    for article in hostile_html_articles(make_article)[-2:]:
        for name, contents in item_contents([article]).items():
            tags = [tag for tag, _, _ in html_parts(contents[0])]
            assert "a" not in tags and "img" not in tags, (name, contents[0])
