"""The newsletter's issues as feeds: ``feed.xml`` (Atom) and ``feed.json`` in ``digest.out``.

Every issue written is recorded in the state store (:class:`~publisher.state.records.IssueRecord`);
the feeds are made from those records, newest first, so they never depend on which files
happen to lie in the folder. Pure: the store is read and written by :mod:`publisher.jobs`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.utils import parseaddr
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from slugify import slugify

from publisher import __version__
from publisher.config import Config
from publisher.digest.issue import folder_url, issue_page_url
from publisher.state.records import IssueRecord

if TYPE_CHECKING:
    from publisher.digest.issue import Digest
    from publisher.digest.render import RenderedDigest

ATOM_FILE = "feed.xml"
JSON_FILE = "feed.json"
FEED_ISSUES = 10
"""Issues in the feeds: a quarter of a year of weekly issues, at about 30 KB each."""
_TAG_AUTHORITY = re.compile(r"[a-z0-9.-]+")
_READER_PROPERTIES = """
    background background-color border border-bottom border-bottom-color border-bottom-style
    border-bottom-width border-collapse border-color border-left border-left-color
    border-left-style border-left-width border-right border-right-color border-right-style
    border-right-width border-spacing border-style border-top border-top-color
    border-top-style border-top-width border-width clear color direction display float font
    font-family font-size font-style font-variant font-weight height letter-spacing
    line-height margin margin-bottom margin-left margin-right margin-top overflow padding
    padding-bottom padding-left padding-right padding-top text-align text-decoration
    text-indent vertical-align white-space width
"""
READER_CSS = frozenset(_READER_PROPERTIES.split())
"""The CSS properties feed readers' HTML sanitizers keep (feedparser's list, which the W3C
validator checks against); other declarations would be stripped by the reader anyway."""
_READER_VALUE = re.compile(r"""(?:[:,#%.\sa-zA-Z0-9!]|\w-\w|'[\s\w]+'|"[\s\w]+")*""")


def issue_record(
    rendered: RenderedDigest, earlier: IssueRecord | None, now: datetime | None
) -> IssueRecord:
    """What the store keeps of a written issue for its feed entry.

    The entry keeps the id it was first given; its ``updated`` date is the issue's own date
    until its HTML changes, then when it changed (``now``), never before the issue's date.
    """
    digest = rendered.digest
    sent_at = _utc(digest.sent_at)
    sha256 = hashlib.sha256(rendered.html.encode("utf-8")).hexdigest()
    unchanged = earlier is not None and earlier.sha256 == sha256 and earlier.sent_at == sent_at
    if earlier is not None and unchanged:
        updated = earlier.updated
    elif earlier is not None and now is not None:
        updated = max(sent_at, _utc(now))
    else:
        updated = sent_at
    return IssueRecord(
        week=digest.week.key,
        entry_id=earlier.entry_id if earlier else entry_id(digest),
        title=digest.subject,
        sent_at=sent_at,
        updated=updated,
        sha256=sha256,
        archive_name=rendered.archive_name,
        summary=digest.preheader,
        # A rerun of an unchanged issue need not parse its HTML again.
        content=earlier.content
        if earlier is not None and unchanged
        else feed_content(rendered.html),
        lead=digest.lead.title if digest.lead else "",
        heading=digest.heading,
    )


def entry_id(digest: Digest) -> str:
    """``tag:news.example.org,2026-11-23:weekly-news-example-org/2026-W47``: a tag URI
    (RFC 4151) from the sender's domain, the issue's date, the list and the week."""
    domain = parseaddr(digest.sender)[1].rpartition("@")[2].lower()
    if not _TAG_AUTHORITY.fullmatch(domain):
        import idna

        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            domain = "invalid"
    list_slug = slugify(digest.list_id) or "newsletter"
    return f"tag:{domain},{digest.issue_date.isoformat()}:{list_slug}/{digest.week.key}"


def feed_content(html: str) -> str:
    """The issue's body as a feed carries it: the inlined HTML without the hidden preheader
    (readers that drop styles would show it) or Outlook's conditional comments."""
    import lxml.html
    from lxml import etree

    try:
        body = lxml.html.document_fromstring(html).body
    except etree.ParserError:  # nothing a parser can read: the feed shows it as it is
        return html
    for hidden in body.xpath(".//*[contains(concat(' ', @class, ' '), ' preheader ')]"):
        hidden.drop_tree()
    for comment in body.xpath(".//comment()"):
        comment.drop_tree()
    for styled in body.xpath(".//*[@style]"):
        if style := reader_style(styled.get("style")):
            styled.set("style", style)
        else:
            del styled.attrib["style"]
    inner = (body.text or "") + "".join(
        lxml.html.tostring(child, encoding="unicode") for child in body
    )
    return inner.strip() + "\n"


def reader_style(style: str) -> str:
    """``style`` with only the declarations feed readers keep: known properties, plain
    values; font families that start with a dash (``-apple-system``) are left out."""
    kept = []
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        name, value = name.strip().lower(), value.strip()
        if not colon or name not in READER_CSS:
            continue
        if name == "font-family":
            families = (family.strip() for family in value.split(","))
            value = ", ".join(family for family in families if not family.startswith("-"))
        if value and _READER_VALUE.fullmatch(value):
            kept.append(f"{name}:{value}")
    return "; ".join(kept)


def feeds_key(config: Config, records: list[IssueRecord]) -> str:
    """A hash of everything :func:`issue_feeds` makes its bytes from: equal keys, equal
    feeds, so a rerun that changed nothing need not render them (nor import feedgen)."""
    try:
        libraries = version("feedgen"), version("lxml")
    except PackageNotFoundError:
        libraries = ("", "")
    made_of = (__version__, libraries, config.site, config.digest.url, config.digest.archive_url)
    return hashlib.sha256(repr((made_of, records)).encode()).hexdigest()


def issue_feeds(config: Config, records: list[IssueRecord]) -> dict[str, bytes]:
    """``feed.xml`` and ``feed.json`` of the recorded issues, in the order given."""
    from publisher.feeds import Entry, FeedInfo
    from publisher.feeds.jsonfeed import render_json_entries
    from publisher.feeds.syndication import render_atom_entries

    site = config.site
    base = folder_url(config.digest.url)
    info = FeedInfo(
        title=f"{site.title}: newsletter",
        description=site.description,
        home=site.home,
        base_url=base or site.home,
        language=site.language,
    )
    entries = [
        Entry(
            id=record.entry_id,
            title=record.title,
            content_html=record.content,
            published=datetime.fromisoformat(record.sent_at),
            updated=datetime.fromisoformat(record.updated),
            link=issue_page_url(config, record.archive_name, record.week),
            summary=record.summary,
        )
        for record in records
    ]
    return {
        ATOM_FILE: render_atom_entries(info, entries, f"{base}{ATOM_FILE}" if base else ""),
        JSON_FILE: render_json_entries(info, entries, f"{base}{JSON_FILE}" if base else ""),
    }


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
