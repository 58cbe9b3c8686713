"""Pure renderers: selected articles → feed files, the OPML list and the index page.

Every feed format is one row of :data:`FORMATS`: the file each feed folder holds, the name of its
archive pages, its media type and its renderer. RSS and Atom come from :mod:`.syndication` (the
only module importing feedgen), JSON Feed from :mod:`.jsonfeed`, each item's HTML from
:mod:`.itemhtml`, the OPML list and the index page from :mod:`.pages`.

A feed is one subscription document per format and, behind it, numbered archive pages (RFC 5005
archived feeds): :class:`History` says where one document sits among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from publisher import __version__
from publisher.feeds.itemhtml import item_text
from publisher.feeds.jsonfeed import json_document, json_items
from publisher.feeds.safe import feed_date
from publisher.feeds.syndication import (
    ATOM_TYPE,
    LIBRARY_VERSIONS,
    RSS_TYPE,
    atom_document,
    feed_entries,
    rss_document,
)
from publisher.model import EPOCH, Article


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What one feed says about itself, and where its files are served from."""

    title: str
    description: str
    home: str
    """The web page the feed belongs to."""
    base_url: str
    """The URL of the folder that holds this feed's files, ending in '/'."""
    language: str = "en"
    hub: str = ""
    """The WebSub hub readers may subscribe at for pushed updates; empty for none."""

    def url(self, kind: Format) -> str:
        """Where this feed's file of one format is served."""
        return f"{self.base_url}{kind.file}"

    def archive_url(self, kind: Format, page: int) -> str:
        """Where archive page ``page`` (1 is the oldest) of one format is served."""
        return f"{self.base_url}{kind.archive_file(page)}"

    @property
    def rss_url(self) -> str:
        return self.url(RSS)

    @property
    def atom_url(self) -> str:
        return self.url(ATOM)

    @property
    def json_url(self) -> str:
        return self.url(JSON_FEED)


@dataclass(frozen=True, slots=True)
class History:
    """Where one document sits in its feed's history (RFC 5005), as its links say it.

    Without a history a document is a plain feed: no archive links, no ``fh:`` marks.
    """

    self_url: str
    """The document's own URL."""
    complete: bool = False
    """A subscription document holding every qualifying item: ``fh:complete``."""
    archive: bool = False
    """An archive page: ``fh:archive``."""
    current: str | None = None
    """The subscription document, from an archive page."""
    prev_archive: str | None = None
    """The next older archive page. (No ``next-archive``: RFC 5005 makes it optional, and a
    page that linked the next newer one would change when that page is made.)"""


@dataclass(frozen=True, slots=True)
class Item:
    """One article as each format writes it into a document: made once per build, and placed
    as these bytes into every document (feed or archive page) that carries the article."""

    published: datetime
    """The item's date as the feeds give it: a document is dated by its newest item."""
    rss: bytes
    atom: bytes
    json: bytes

    def __reduce__(self) -> tuple[type[Item], tuple[datetime, bytes, bytes, bytes]]:
        # Sent back from the worker processes by the thousand: pickled as its four values,
        # which unpickle several times faster than a dataclass's state.
        return (Item, (self.published, self.rss, self.atom, self.json))


def make_items(articles: Sequence[Article]) -> list[Item]:
    """Each article's :class:`Item`, in order."""
    texts = [item_text(article) for article in articles]
    rss, atom = feed_entries(articles, texts)
    json = json_items(articles, texts)
    return [
        Item(feed_date(article.published_at), rss_item, atom_entry, json_item)
        for article, rss_item, atom_entry, json_item in zip(articles, rss, atom, json, strict=True)
    ]


def newest(items: Sequence[Item]) -> datetime:
    """A document's own date: its newest item's, never the clock, so reruns are identical."""
    return max((item.published for item in items), default=feed_date(EPOCH))


class Assembler(Protocol):
    """Places made :class:`Item` s, in the given order, into one feed document's bytes."""

    def __call__(
        self, info: FeedInfo, items: Sequence[Item], history: History | None = None, /
    ) -> bytes: ...


def _rss(info: FeedInfo, items: Sequence[Item], history: History | None = None) -> bytes:
    return rss_document(info, [item.rss for item in items], newest(items), history)


def _atom(info: FeedInfo, items: Sequence[Item], history: History | None = None) -> bytes:
    return atom_document(info, [item.atom for item in items], newest(items), history)


def _json(info: FeedInfo, items: Sequence[Item], history: History | None = None) -> bytes:
    return json_document(info, [item.json for item in items], history)


@dataclass(frozen=True, slots=True)
class Format:
    """One feed format: the file it takes in a feed's folder, the name of its archive pages, its
    media type, and how it places made items into a document."""

    name: str
    """What the index page calls it."""
    file: str
    media_type: str
    assemble: Assembler
    archive_pattern: str = "archive/{page}.xml"
    """The path of an archive page in the feed's folder; ``{page}`` is its number."""

    def archive_file(self, page: int) -> str:
        """The path of archive page ``page`` in a feed's folder."""
        return self.archive_pattern.format(page=page)


RSS = Format(
    name="RSS",
    file="rss.xml",
    media_type=RSS_TYPE,
    assemble=_rss,
    archive_pattern="archive/{page}.xml",
)
ATOM = Format(
    name="Atom",
    file="atom.xml",
    media_type=ATOM_TYPE,
    assemble=_atom,
    archive_pattern="archive/{page}.atom.xml",
)
JSON_FEED = Format(
    name="JSON",
    file="feed.json",
    media_type="application/feed+json",
    assemble=_json,
    archive_pattern="archive/{page}.json",
)
FORMATS = (RSS, ATOM, JSON_FEED)
"""Every file of every feed, in the order they are rendered."""


def history_of(info: FeedInfo, kind: Format, page: int | None, pages: int) -> History:
    """The links of one document of a feed with ``pages`` archive pages: its subscription
    document (``page`` is ``None``) or archive page ``page``, numbered from 1, the oldest."""
    if page is None:
        newest = info.archive_url(kind, pages) if pages else None
        return History(info.url(kind), complete=not pages, prev_archive=newest)
    return History(
        info.archive_url(kind, page),
        archive=True,
        current=info.url(kind),
        prev_archive=info.archive_url(kind, page - 1) if page > 1 else None,
    )


RENDERER_VERSION = f"publisher {__version__}, {LIBRARY_VERSIONS}"
"""What the bytes of a feed depend on besides its articles: a cached rendering of another
version is not reused."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a feed that is not a list of articles: the newsletter's issues."""

    id: str
    """A URI that stays the entry's for good."""
    title: str
    content_html: str
    published: datetime
    updated: datetime
    link: str = ""
    summary: str = ""
