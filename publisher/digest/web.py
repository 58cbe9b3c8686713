"""The newsletter's issues on the web: ``index.html`` (every issue, newest first) and
``latest.html`` (a pointer to the newest) in each edition's ``digest.out``.

Made from the store's records of the issues written to the folder, as the issues feeds are
(:mod:`publisher.digest.feed`), so the pages never depend on which files lie in the folder.
Pure: records in, bytes out; :mod:`publisher.jobs` reads the store and writes the files.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import quote
from zoneinfo import ZoneInfo

from publisher.config import Config
from publisher.state.records import IssueRecord

INDEX_FILE = "index.html"
LATEST_FILE = "latest.html"
INDEX_ISSUES = 1000
"""Issues listed on ``index.html``: about twenty years of weekly issues, and a bound on the
page's size for a daily edition (about 300 bytes an issue)."""
_STYLE = """
body { margin: 0 auto; max-width: 40rem; padding: 1rem; font: 1rem/1.5 system-ui, sans-serif;
  color: #1a1a1a; background: #fff; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 1rem; }
ol { list-style: none; margin: 0; padding: 0; }
li { border-top: 1px solid #ddd; padding: 0.75rem 0; }
a { color: #0b57d0; overflow-wrap: anywhere; }
time, .covers { display: block; color: #555; font-size: 0.875rem; }
"""


def issue_pages(config: Config, records: list[IssueRecord]) -> dict[str, bytes]:
    """``index.html`` and ``latest.html`` of the recorded issues (newest first); nothing
    when there are none."""
    if not records:
        return {}
    return {INDEX_FILE: render_index(config, records), LATEST_FILE: render_latest(records[0])}


def render_index(config: Config, records: list[IssueRecord]) -> bytes:
    """The list of issues, in the order given: each one's date, what it covers, its lead
    headline (its subject, for issues recorded before the lead was kept) and a link."""
    title = f"{config.site.title}: newsletter issues"
    zone = ZoneInfo(config.digest.timezone)
    items = "".join(_item(record, zone) for record in records)
    feed = '<p><a href="feed.xml">Subscribe to the issues (Atom feed)</a></p>\n'
    body = f"<h1>{escape(title)}</h1>\n<ol>\n{items}</ol>\n{feed}"
    return _page(config, title, body).encode("utf-8")


def render_latest(record: IssueRecord) -> bytes:
    """A page that sends the reader on to the newest issue, with a plain link for browsers
    (and readers) that do not follow a refresh."""
    target = escape(issue_file(record))
    head = f'<meta http-equiv="refresh" content="0; url={target}">\n'
    headline = escape(record.lead or record.title)
    body = f'<p>The latest issue: <a href="{target}">{headline}</a></p>\n'
    page = _document("The latest issue", head, body)
    return page.encode("utf-8")


def issue_file(record: IssueRecord) -> str:
    """The issue's HTML file beside the pages, as a relative URL."""
    return quote(f"{record.week}.html")


def _item(record: IssueRecord, zone: ZoneInfo) -> str:
    # Recorded in UTC; the issue's date is the day it goes out where the edition lives.
    day = datetime.fromisoformat(record.sent_at).astimezone(zone).date()
    headline = escape(record.lead or record.title)
    covers = f'<span class="covers">{escape(record.heading)}</span>' if record.heading else ""
    return (
        f'<li><time datetime="{day.isoformat()}">{day.day} {day:%B %Y}</time>'
        f'{covers}<a href="{escape(issue_file(record))}">{headline}</a></li>\n'
    )


def _page(config: Config, title: str, body: str) -> str:
    head = f"<style>{_STYLE}</style>\n"
    language = config.site.language or "en"
    return _document(title, head, body, language)


def _document(title: str, head: str, body: str, language: str = "en") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )
