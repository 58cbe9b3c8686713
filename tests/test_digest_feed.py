"""The newsletter as a feed: every issue written is recorded in the state store, and
``feed.xml`` (Atom) and ``feed.json`` in ``digest.out`` list them, newest first."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import lxml.html
import pytest
from click.testing import CliRunner
from lxml import etree

from publisher.cli import common, main
from publisher.digest.feed import FEED_ISSUES, feed_content, reader_style
from publisher.state import IssueRecord, open_store

ROOT = Path(__file__).resolve().parents[1]
FEED_URL = "https://news.example.org/newsletters/"
ARCHIVE_URL = "https://news.example.org/archive/"
W47_ID = "tag:news.example.org,2026-11-23:weekly-news-example-org/2026-W47"
W46_ID = "tag:news.example.org,2026-11-16:weekly-news-example-org/2026-W46"
ATOM = "{http://www.w3.org/2005/Atom}"

Validate = Callable[[Path, str | None], tuple[list[str], list[str]]]


def write_config(folder: Path, *, urls: bool = True) -> Path:
    """The repository's config, its sample content, the package's templates, output here."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('content = "content/_news"', f"content = {str(ROOT / 'content/_news')!r}")
    text = text.replace('templates = "templates/email"\n', "")
    if urls:
        text = text.replace(
            "[digest]\n", f'[digest]\nurl = "{FEED_URL}"\narchive_url = "{ARCHIVE_URL}"\n'
        )
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def digest(config: Path, week: str) -> None:
    result = CliRunner().invoke(main, ["digest", "--config", str(config), "--week", week])
    assert 0 == result.exit_code, result.stderr


def test_feed_lists_each_issue_newest_first(tmp_path: Path) -> None:
    """Two weeks written out of order: feedparser reads both, newest first, each with its
    stable id, its archive page link, its subject and the issue's HTML as content."""
    config = write_config(tmp_path)
    digest(config, "2026-W47")
    digest(config, "2026-W46")
    feed = feedparser.parse(tmp_path / "newsletters" / "feed.xml")
    expected = (
        0,
        [W47_ID, W46_ID],
        [
            f"{ARCHIVE_URL}2026-11-23-publisher-sample-news-2026-w47.html",
            f"{ARCHIVE_URL}2026-11-16-publisher-sample-news-2026-w46.html",
        ],
        [(2026, 11, 23, 8), (2026, 11, 16, 8)],
    )
    assert expected == (
        feed.bozo,
        [entry.id for entry in feed.entries],
        [entry.link for entry in feed.entries],
        [tuple(entry.published_parsed[:4]) for entry in feed.entries],
    )
    html = (tmp_path / "newsletters" / "2026-W47.html").read_text(encoding="utf-8")
    lead = lxml.html.document_fromstring(html).findtext(".//h1/a")
    first = feed.entries[0]
    assert first.title.startswith("Study: July heatwave")
    assert lead in first.content[0].value
    assert "preheader" not in first.content[0].value


def test_feed_validates(tmp_path: Path, validate: Validate) -> None:
    """The W3C validator, served at digest.url: 0 errors and 0 warnings."""
    config = write_config(tmp_path)
    digest(config, "2026-W46")
    digest(config, "2026-W47")
    errors, warnings = validate(tmp_path / "newsletters" / "feed.xml", f"{FEED_URL}feed.xml")
    assert ([], []) == (errors, warnings)


def test_feed_without_urls_still_validates(tmp_path: Path, validate: Validate) -> None:
    """With no digest.url or archive_url, the feed has no self link or entry links, and still
    has no errors (the validator only suggests a self link)."""
    config = write_config(tmp_path, urls=False)
    digest(config, "2026-W47")
    path = tmp_path / "newsletters" / "feed.xml"
    errors, _ = validate(path, None)
    feed = feedparser.parse(path)
    assert ([], [W47_ID], ["alternate"], [[]]) == (
        errors,
        [entry.id for entry in feed.entries],
        [link.rel for link in feed.feed.links],
        [entry.get("links", []) for entry in feed.entries],
    )


def test_json_feed_matches_the_atom_feed(tmp_path: Path) -> None:
    """feed.json: JSON Feed 1.1 with the same ids, links, titles and content, newest first."""
    config = write_config(tmp_path)
    digest(config, "2026-W46")
    digest(config, "2026-W47")
    atom = etree.parse(tmp_path / "newsletters" / "feed.xml").getroot()
    document = json.loads((tmp_path / "newsletters" / "feed.json").read_text(encoding="utf-8"))
    expected = (
        f"{FEED_URL}feed.json",
        [
            (
                entry.findtext(f"{ATOM}id"),
                entry.find(f"{ATOM}link").get("href"),
                entry.findtext(f"{ATOM}title"),
                entry.findtext(f"{ATOM}content"),
            )
            for entry in atom.iter(f"{ATOM}entry")
        ],
        ["2026-11-23T08:00:00Z", "2026-11-16T08:00:00Z"],
    )
    assert expected == (
        document["feed_url"],
        [(i["id"], i["url"], i["title"], i["content_html"]) for i in document["items"]],
        [item["date_published"] for item in document["items"]],
    )


def test_feed_comes_from_the_store_not_the_folder(tmp_path: Path) -> None:
    """An issue file deleted from digest.out stays in the feed: the store is the record."""
    config = write_config(tmp_path)
    digest(config, "2026-W46")
    (tmp_path / "newsletters" / "2026-W46.html").unlink()
    digest(config, "2026-W47")
    feed = feedparser.parse(tmp_path / "newsletters" / "feed.xml")
    assert [W47_ID, W46_ID] == [entry.id for entry in feed.entries]


def test_rerun_writes_the_same_feed(tmp_path: Path) -> None:
    """Rerunning a week with nothing changed leaves both feeds byte for byte."""
    config = write_config(tmp_path)
    digest(config, "2026-W47")
    before = [(tmp_path / "newsletters" / n).read_bytes() for n in ("feed.xml", "feed.json")]
    digest(config, "2026-W47")
    after = [(tmp_path / "newsletters" / n).read_bytes() for n in ("feed.xml", "feed.json")]
    assert before == after


def test_changed_issue_is_updated_and_keeps_its_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An issue rewritten with different content keeps its entry id; its updated date is when
    it changed, its published date stays the issue's."""
    moment = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    monkeypatch.setattr(common, "now", lambda zone: moment)
    config = write_config(tmp_path)
    digest(config, "2026-W47")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('title = "Publisher Sample News"', 'title = "Sample"'))
    digest(config, "2026-W47")
    entry = feedparser.parse(tmp_path / "newsletters" / "feed.xml").entries[0]
    expected = (W47_ID, (2026, 11, 23, 8, 0), (2026, 11, 25, 9, 30))
    assert expected == (
        entry.id,
        tuple(entry.published_parsed[:5]),
        tuple(entry.updated_parsed[:5]),
    )


def test_store_keeps_the_newest_issues_for_the_feed(tmp_path: Path) -> None:
    """Twelve weeks recorded: the feed's query gives the newest ten, newest first."""
    store, _ = open_store(tmp_path / "cache")
    try:
        for week in range(1, 13):
            moment = f"2026-01-{week:02}T08:00:00+00:00"
            store.keep_issue(
                "/out",
                IssueRecord(f"2026-W{week:02}", f"id{week}", "t", moment, moment, "", "", "", ""),
            )
        listed = [record.week for record in store.issues("/out", FEED_ISSUES)]
    finally:
        store.close()
    assert [f"2026-W{week:02}" for week in range(12, 2, -1)] == listed


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (
            "font-family:-apple-system, 'Segoe UI', Arial; color:#111",
            "font-family:'Segoe UI', Arial; color:#111",
        ),
        ("border-radius:4px; max-width:600px; mso-hide:all", ""),
        (
            "padding:14px 0; border-bottom:1px solid #eee",
            "padding:14px 0; border-bottom:1px solid #eee",
        ),
        ("background:url(javascript:alert(1))", ""),
    ],
)
def test_feed_content_keeps_the_styles_readers_keep(style: str, expected: str) -> None:
    """Declarations a feed reader's sanitizer would strip are left out of the feed's copy."""
    assert expected == reader_style(style)


def test_warm_rerun_renders_neither_css_nor_feeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun of an unchanged week takes the inlined HTML and both feeds from the store:
    premailer and the feed renderers are not called, and the files are the same."""
    import publisher.digest.feed
    import publisher.digest.render

    config = write_config(tmp_path)
    digest(config, "2026-W47")
    folder = tmp_path / "newsletters"
    before = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered again")

    monkeypatch.setattr(publisher.digest.render, "inline_css", refuse)
    monkeypatch.setattr(publisher.digest.feed, "issue_feeds", refuse)
    digest(config, "2026-W47")
    assert before == {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_feed_content_drops_the_preheader_and_outlook_comments() -> None:
    """The body goes into the feed without the hidden preview text or conditional comments;
    a document with nothing to parse is passed on as it is."""
    page = (
        '<html><body><div class="preheader">Also: more</div><!--[if mso]><table><![endif]-->'
        '<p style="color:#111; max-width:600px">Story</p></body></html>'
    )
    expected = ('<p style="color:#111">Story</p>\n', "")
    assert expected == (feed_content(page), feed_content(""))


def test_monday_and_wednesday_issues_of_a_week_are_two_entries(tmp_path: Path) -> None:
    """2026-W47 written with Monday weeks, then with Wednesday weeks: two issues, two entries
    with their own ids and files."""
    config = write_config(tmp_path)
    digest(config, "2026-W47")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[digest]\n", '[digest]\nweek_starts = "wednesday"\n'))
    digest(config, "2026-W47")
    feed = feedparser.parse(tmp_path / "newsletters" / "feed.xml")
    wednesday = "tag:news.example.org,2026-11-25:weekly-news-example-org/2026-W47-wed"
    assert [wednesday, W47_ID] == [entry.id for entry in feed.entries]


def test_a_wednesday_issue_recorded_under_its_plain_week_stays_one_entry(tmp_path: Path) -> None:
    """An issue of Wednesday weeks recorded by an earlier release under "2026-W47" is taken
    over by its new name: one feed entry, its id kept."""
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[digest]\n", '[digest]\nweek_starts = "wednesday"\n'))
    digest(config, "2026-W47")
    store, _ = open_store(tmp_path / ".publisher-cache")
    try:
        old_id = "tag:news.example.org,2026-11-25:weekly-news-example-org/2026-W47"
        store.connection.execute("UPDATE issues SET week = '2026-W47', entry_id = ?", (old_id,))
    finally:
        store.close()
    digest(config, "2026-W47")
    feed = feedparser.parse(tmp_path / "newsletters" / "feed.xml")
    assert [old_id] == [entry.id for entry in feed.entries]
