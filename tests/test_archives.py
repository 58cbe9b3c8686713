"""RFC 5005 archived feeds: a reader walking prev-archive collects every qualifying article once,
and archive pages stay put as articles arrive, change and leave."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from helpers import edit, load_folder
from lxml import etree

from publisher import build as build_module
from publisher.archives import split_history
from publisher.config import ArchiveConfig, Config, SelectionConfig, SiteConfig
from publisher.feeds.safe import uri
from publisher.jobs import BuildOutcome, run_build
from publisher.model import Article, Candidate
from publisher.selection import Rules, rules_for, select

WriteArticle = Callable[..., Path]
Validate = Callable[[Path, str | None], tuple[list[str], list[str]]]
SITE = "https://example.org/feeds/"
HISTORY = "{http://purl.org/syndication/history/1.0}"
PROJECT = Path(__file__).resolve().parents[1]
DAY0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# A reader that walks the archives --------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One feed document as a reader fetched it."""

    path: str
    ids: list[str]


def walk_xml(out: Path, start: str, site: str = SITE) -> list[Document]:
    """Fetch the subscription document ``start`` from the files under ``out`` (served at
    ``site``), then follow ``prev-archive`` to the end, as a reader backfilling would.

    feedparser reads every document and its links; the RFC 5005 marks and the back links are
    checked on the way, so a chain that only looks right fails here.
    """
    documents: list[Document] = []
    url: str | None = site + start
    while url is not None:
        assert url.startswith(site), url
        path = url[len(site) :]
        assert path not in [document.path for document in documents], f"{path}: a loop"
        parsed = feedparser.parse((out / path).read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        links = {link.rel: link.href for link in parsed.feed.get("links", [])}
        assert url == links["self"], path
        if not documents:
            assert ("prev-archive" not in links) == ("fh_complete" in parsed.feed), path
            assert "fh_archive" not in parsed.feed, path
        else:
            assert "fh_archive" in parsed.feed, path
            assert site + start == links["current"], path
            # Only back links: a page that named a newer one would change when it is made.
            assert "next-archive" not in links, path
        documents.append(Document(path, [entry.id for entry in parsed.entries]))
        url = links.get("prev-archive")
    return documents


def walk_json(out: Path, start: str, site: str = SITE) -> list[Document]:
    """The same walk over JSON Feed documents, following ``next_url``."""
    documents: list[Document] = []
    url: str | None = site + start
    while url is not None:
        path = url[len(site) :]
        assert path not in [document.path for document in documents], f"{path}: a loop"
        feed = json.loads((out / path).read_bytes())
        assert site + start == feed["feed_url"], path
        documents.append(Document(path, [item["id"] for item in feed["items"]]))
        url = feed.get("next_url")
    return documents


def collected(documents: list[Document]) -> list[str]:
    """Every item id the walk met, in the order met."""
    return [identifier for document in documents for identifier in document.ids]


def qualifying_ids(config: Config, articles: tuple[Article, ...], topic: str | None) -> list[str]:
    """What a feed must hold in all, from the in-memory selection without a limit."""
    rules = rules_for(topic, config.selection, config.topics)
    chosen = select(
        [article for article in articles if topic is None or topic in article.topics],
        Rules(rules.min_quality, rules.include_unrated, limit=10**9),
    )
    return sorted(uri(article.url) for article in chosen)


def assert_every_feed_walks_to_every_article(
    config: Config,
    outcome: BuildOutcome,
    articles: tuple[Article, ...],
    *,
    every_format: bool = True,
) -> int:
    """Each feed walks to its qualifying articles, each once, in RSS, Atom and JSON Feed (only
    the all-topics feed in all three without ``every_format``); returns the documents read."""
    assert outcome.plan is not None
    out = Path(config.out)
    read = 0
    for feed in outcome.plan.feeds:
        expected = qualifying_ids(config, articles, feed.topic.name if feed.topic else None)
        walks = [walk_xml(out, f"{feed.folder}rss.xml")]
        if every_format or feed.topic is None:
            walks.append(walk_xml(out, f"{feed.folder}atom.xml"))
            walks.append(walk_json(out, f"{feed.folder}feed.json"))
        for documents in walks:
            ids = collected(documents)
            assert len(set(ids)) == len(ids), f"{documents[0].path}: an article met twice"
            assert expected == sorted(ids), documents[0].path
            read += len(documents)
    return read


def corpus_site(folder: Path, tmp_path: Path, **archive: int) -> Config:
    """A site over ``folder`` with limit = 20, its output and store in ``tmp_path``."""
    return Config(
        content=str(folder),
        out=str(tmp_path / "out"),
        cache_dir=str(tmp_path / "cache"),
        site=SiteConfig(title="Corpus", url=SITE, link="https://example.org/"),
        selection=SelectionConfig(limit=20),
        archive=ArchiveConfig(**archive),
    )


@pytest.mark.parametrize("page_size", [100, 7])
@pytest.mark.parametrize("name", ["artificial-intelligence", "microsoft-power-apps"])
def test_a_reader_walking_the_archives_collects_every_article_once(
    name: str, page_size: int, corpus: Path, tmp_path: Path
):
    """Both real corpora, limit = 20: every feed in every format walks to all its articles."""
    folder = corpus / name / "_news"
    config = corpus_site(folder, tmp_path, page_size=page_size)
    outcome = run_build(config)
    articles = load_folder(folder).articles
    read = assert_every_feed_walks_to_every_article(config, outcome, articles)
    assert outcome.plan is not None
    if page_size == 7:  # archive pages were walked, not only the feeds
        assert read > 3 * len(outcome.plan.feeds)


@pytest.mark.slow
def test_a_reader_walks_fifty_thousand_articles(corpus: Path, tmp_path: Path):
    """A generated corpus of 50,000 articles (made from the real ones, so skipped without
    them), limit = 20: every feed walks to all its articles."""
    folder = tmp_path / "_news"
    subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "make_articles.py"), "50000", str(folder)],
        check=True,
        capture_output=True,
    )
    config = corpus_site(folder, tmp_path)
    outcome = run_build(config)
    articles = load_folder(folder).articles
    read = assert_every_feed_walks_to_every_article(config, outcome, articles, every_format=False)
    assert read > 500


# Validity ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["artificial-intelligence", "microsoft-power-apps"])
def test_every_document_of_the_real_corpora_validates(
    name: str, corpus: Path, validate: Validate, tmp_path: Path
):
    """W3C validator: 0 errors in every subscription document and archive page, and no
    warning but "Archive incomplete" on each feed's oldest Atom page, which has no older page
    to link and, by design, no newer one."""
    config = corpus_site(corpus / name / "_news", tmp_path, page_size=7)
    outcome = run_build(config)
    assert outcome.plan is not None
    out = Path(config.out)
    only_pages = {
        path for feed in outcome.plan.feeds if feed.pages for path in feed.archive_paths(1)
    }
    files = sorted(path.relative_to(out).as_posix() for path in out.rglob("*.xml"))
    assert any("/archive/" in name or name.startswith("archive/") for name in files)
    for name in files:
        errors, warnings = validate(out / name, SITE + name)
        assert [] == errors, name
        expected = ["Archive incomplete"] if name in only_pages and "atom" in name else []
        assert expected == [warning.split(": ", 1)[-1] for warning in warnings], name


# Pages that stay put -------------------------------------------------------------------------


def story(write_article: WriteArticle, day: int, **fields: object) -> Path:
    """Write the article of ``day`` (days after 2024-05-01; negative for earlier ones)."""
    moment = DAY0 + timedelta(days=day)
    return write_article(
        f"story-{day}.md",
        title=f"Story of day {day}",
        date=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        url=f"https://example.com/story-{day}",
        **fields,
    )


@pytest.fixture
def small_site(tmp_path: Path) -> Config:
    """limit = 3 and pages of 2, so a handful of articles makes several pages."""
    return Config(
        content=str(tmp_path / "_news"),
        out=str(tmp_path / "out"),
        cache_dir=str(tmp_path / "cache"),
        site=SiteConfig(url=SITE),
        selection=SelectionConfig(limit=3),
        archive=ArchiveConfig(page_size=2),
    )


def snapshot(config: Config) -> dict[str, tuple[bytes, int]]:
    """Every archive file's bytes and mtime."""
    out = Path(config.out)
    return {
        path.relative_to(out).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(out.rglob("archive/*"))
    }


def titles_by_page(config: Config, folder: str = "") -> dict[str, list[str]]:
    """The titles on each RSS archive page of a feed, and in its subscription document."""
    out = Path(config.out)
    pages = {}
    for document in walk_xml(out, f"{folder}rss.xml"):
        parsed = feedparser.parse((out / document.path).read_bytes())
        pages[document.path] = [entry.title for entry in parsed.entries]
    return pages


def days(*numbers: int) -> list[str]:
    return [f"Story of day {number}" for number in numbers]


def test_first_build_pages_the_older_articles_oldest_first(
    small_site: Config, write_article: WriteArticle
):
    """Nine articles: the newest three in the subscription document, then pages of two."""
    for day in range(1, 10):
        story(write_article, day)
    run_build(small_site)
    assert {
        "rss.xml": days(9, 8, 7),
        "archive/3.xml": days(6, 5),
        "archive/2.xml": days(4, 3),
        "archive/1.xml": days(2, 1),
    } == titles_by_page(small_site)


def test_new_articles_never_change_an_archive_page(small_site: Config, write_article: WriteArticle):
    """New articles enter at the new end: no archive page, once written, changes or is
    written again; a new page is made whole when enough stories wait for it."""
    for day in range(1, 10):
        story(write_article, day)
    run_build(small_site)
    before = snapshot(small_site)
    story(write_article, 10)
    first = run_build(small_site)
    story(write_article, 11)
    second = run_build(small_site)
    after = snapshot(small_site)
    assert {
        "rss.xml": days(11, 10, 9),
        "archive/4.xml": days(8, 7),
        "archive/3.xml": days(6, 5),
        "archive/2.xml": days(4, 3),
        "archive/1.xml": days(2, 1),
    } == titles_by_page(small_site)
    pages = [path for path in before if "archive/" in path]
    assert 18 == len(pages)  # pages 1 to 3 of two feeds, three formats each
    assert [before[path] for path in pages] == [after[path] for path in pages]
    assert [] == [path for path in first.report.written if "archive/" in path]
    assert [] == [path for path in second.report.written if path in pages]


def test_a_back_dated_article_waits_for_a_new_page_not_page_1(
    small_site: Config, write_article: WriteArticle
):
    """An article dated before every other waits in the subscription document, then goes to
    the next new page: page 1 and every page written keep their bytes."""
    for day in range(1, 9):
        story(write_article, day)
    run_build(small_site)
    assert days(8, 7, 6, 5) == titles_by_page(small_site)["rss.xml"]
    before = snapshot(small_site)
    story(write_article, -30)
    run_build(small_site)
    after = snapshot(small_site)
    assert {
        "rss.xml": days(8, 7, 6),
        "archive/3.xml": days(5, -30),
        "archive/2.xml": days(4, 3),
        "archive/1.xml": days(2, 1),
    } == titles_by_page(small_site)
    pages = [path for path in before if "archive/" in path]
    assert [before[path] for path in pages] == [after[path] for path in pages]


@pytest.fixture
def rendered_pages(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int | None]]:
    """Every document the build renders, as (feed folder, page or None), in order."""
    calls: list[tuple[str, int | None]] = []
    original = build_module.render_feed_files

    def spy(info, articles, *, page=None, pages=None):  # type: ignore[no-untyped-def]
        calls.append((info.base_url[len(SITE) :], page))
        return original(info, articles, page=page, pages=pages)

    monkeypatch.setattr(build_module, "render_feed_files", spy)
    return calls


def test_an_edited_archived_article_rewrites_only_its_pages(
    small_site: Config, write_article: WriteArticle, rendered_pages: list[tuple[str, int | None]]
):
    """Editing a story on page 2 renders and writes page 2 of each of its feeds, nothing else."""
    paths = {day: story(write_article, day) for day in range(1, 10)}
    run_build(small_site)
    before = snapshot(small_site)
    rendered_pages.clear()
    edit(paths[3], "What happened.", "What happened, corrected.")
    outcome = run_build(small_site)
    assert [("", 2), ("space/", 2)] == rendered_pages
    expected = sorted(
        f"{folder}archive/2.{suffix}"
        for folder in ("", "space/")
        for suffix in ("atom.xml", "json", "xml")
    )
    assert expected == sorted(outcome.report.written)
    after = snapshot(small_site)
    assert expected == [path for path in before if before[path] != after[path]]


def test_an_unpublished_article_leaves_its_page_and_comes_back_to_it(
    small_site: Config, write_article: WriteArticle
):
    """Unpublished, a story leaves its page (the page does not refill); republished, it returns
    to the same page, whose bytes are as before."""
    paths = {day: story(write_article, day) for day in range(1, 10)}
    run_build(small_site)
    before = snapshot(small_site)
    edit(paths[3], "type: article", "type: article\npublished: false")
    story(write_article, 10)
    run_build(small_site)
    assert {
        "rss.xml": days(10, 9, 8, 7),
        "archive/3.xml": days(6, 5),
        "archive/2.xml": days(4),
        "archive/1.xml": days(2, 1),
    } == titles_by_page(small_site)
    edit(paths[3], "published: false", "published: true")
    run_build(small_site)
    assert days(4, 3) == titles_by_page(small_site)["archive/2.xml"]
    assert before["archive/2.xml"][0] == snapshot(small_site)["archive/2.xml"][0]


def test_a_story_back_in_the_subscription_document_leaves_its_page(
    small_site: Config, write_article: WriteArticle
):
    """When a newer story is unpublished, the subscription document takes the newest archived
    story back from its page; every article is still met exactly once."""
    paths = {day: story(write_article, day) for day in range(1, 10)}
    run_build(small_site)
    edit(paths[8], "type: article", "type: article\npublished: false")
    run_build(small_site)
    pages = titles_by_page(small_site)
    assert days(9, 7, 6) == pages["rss.xml"]
    assert days(5) == pages["archive/3.xml"]
    met = [title for titles in pages.values() for title in titles]
    assert sorted(days(1, 2, 3, 4, 5, 6, 7, 9)) == sorted(met)


def test_rebuilding_without_the_cache_keeps_every_page(
    small_site: Config, write_article: WriteArticle
):
    """--no-cache renders everything again, but page membership is state, not cache: every
    archive file comes out byte for byte the same."""
    for day in range(1, 9):
        story(write_article, day)
    run_build(small_site)
    story(write_article, -30)  # on the newest page, out of date order
    run_build(small_site)
    before = snapshot(small_site)
    outcome = run_build(small_site, use_cache=False)
    assert [] == [path for path in outcome.report.written if "archive/" in path]
    assert {path: data for path, (data, _) in before.items()} == {
        path: data for path, (data, _) in snapshot(small_site).items()
    }


def test_a_damaged_archive_file_is_written_again(small_site: Config, write_article: WriteArticle):
    """An archive page edited or deleted on disk is rendered again, not trusted."""
    for day in range(1, 9):
        story(write_article, day)
    run_build(small_site)
    out = Path(small_site.out)
    original = (out / "archive" / "1.xml").read_bytes()
    (out / "archive" / "1.xml").write_bytes(b"<rss/>")
    (out / "space" / "archive" / "2.json").unlink()
    outcome = run_build(small_site)
    assert ["archive/1.xml", "space/archive/2.json"] == outcome.report.written
    assert original == (out / "archive" / "1.xml").read_bytes()


def test_a_feed_that_fits_is_complete_and_has_no_archive(
    small_site: Config, write_article: WriteArticle
):
    """Three articles, limit 3: fh:complete, no prev-archive, no next_url, no archive files;
    a fourth waits in the subscription document; a fifth fills a page, which goes when they
    go."""
    for day in range(1, 4):
        story(write_article, day)
    run_build(small_site)
    out = Path(small_site.out)
    for name in ("rss.xml", "atom.xml"):
        root = etree.fromstring((out / name).read_bytes())
        assert 1 == len(root.findall(f".//{HISTORY}complete")), name
    assert "next_url" not in json.loads((out / "feed.json").read_bytes())
    assert [] == list(out.rglob("archive"))
    fourth = story(write_article, 4)
    run_build(small_site)
    assert ["rss.xml"] == list(titles_by_page(small_site))
    fifth = story(write_article, 5)
    run_build(small_site)
    assert ["rss.xml", "archive/1.xml"] == list(titles_by_page(small_site))
    fourth.unlink()
    fifth.unlink()
    outcome = run_build(small_site)
    assert [] == list(out.rglob("archive"))
    assert "archive/1.xml" in outcome.report.removed


def test_archives_can_be_turned_off(small_site: Config, write_article: WriteArticle):
    """[archive] enabled = false: the feeds as they were before archives, the pages removed."""
    for day in range(1, 9):
        story(write_article, day)
    run_build(small_site)
    outcome = run_build(replace(small_site, archive=ArchiveConfig(enabled=False)))
    out = Path(small_site.out)
    assert [] == list(out.rglob("archive"))
    assert 12 == len([path for path in outcome.report.removed if "archive/" in path])
    for name in ("rss.xml", "atom.xml", "space/rss.xml"):
        data = (out / name).read_bytes()
        assert b"syndication/history" not in data, name
        assert b"prev-archive" not in data, name
    assert "next_url" not in json.loads((out / "feed.json").read_bytes())


# Page membership, the pure rule ----------------------------------------------------------


def candidates(*ages: int) -> list[Candidate]:
    """Stories by age in days, given newest first."""
    return [
        Candidate(
            f"{age}.md", -age, f"https://e.com/{age}", f"https://e.com/{age}", 70, 1, str(age)
        )
        for age in ages
    ]


def page_names(pages: tuple[tuple[Candidate, ...] | None, ...]) -> list[list[str]]:
    return [[item.name for item in page or ()] for page in pages]


def test_split_fills_pages_oldest_first():
    """From nothing: full pages of the oldest stories, page 1 the oldest; the few left over
    wait in the subscription document until they fill a page."""
    split = split_history(candidates(1, 2, 3, 4, 5, 6), limit=2, page_size=3, members={})
    assert ["1.md", "2.md", "3.md"] == [item.name for item in split.current]
    assert [["4.md", "5.md", "6.md"]] == page_names(split.pages)
    expected = {"https://e.com/6": 1, "https://e.com/5": 1, "https://e.com/4": 1}
    expected |= {"https://e.com/1": 0, "https://e.com/2": 0, "https://e.com/3": 0}
    assert (expected, frozenset()) == (split.placed, split.gone)


def test_split_keeps_pages_and_remembers_stories_that_left():
    """A remembered story stays on its page; one gone keeps its place, so the page does not
    refill; newcomers, whatever their date, wait in the subscription document until there are
    enough of them for a new full page."""
    members = {"https://e.com/6": 1, "https://e.com/5": 1, "https://e.com/4": 1}
    members |= {"https://e.com/3": 2}
    split = split_history(candidates(0, 1, 2, 3, 4, 6, 9), limit=2, page_size=3, members=members)
    assert ["0.md", "1.md", "2.md", "9.md"] == [item.name for item in split.current]
    assert [["4.md", "6.md"], ["3.md"]] == page_names(split.pages)
    in_document = {f"https://e.com/{age}": 0 for age in (0, 1, 2, 9)}
    assert (in_document, frozenset()) == (split.placed, split.gone)
    members |= in_document
    more = split_history(
        candidates(0, 1, 2, 3, 4, 6, 7, 8, 9), limit=2, page_size=3, members=members
    )
    assert [["4.md", "6.md"], ["3.md"], ["7.md", "8.md", "9.md"]] == page_names(more.pages)


def test_split_forgets_everything_once_every_story_fits():
    """No archive, nothing remembered: a later archive starts again from page 1."""
    split = split_history(candidates(1, 2), limit=2, page_size=3, members={"https://e.com/7": 4})
    assert ((), {}, {"https://e.com/7"}) == (split.pages, split.placed, split.gone)
