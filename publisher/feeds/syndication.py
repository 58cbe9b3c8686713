"""RSS 2.0 and Atom 1.0 through feedgen: the only module that imports it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

import feedgen.version
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

# isort: split
# After lxml.etree: feedgen's extension modules use it without importing it.
from feedgen.ext.dc import DcEntryExtension, DcExtension
from feedgen.ext.media import MediaEntryExtension, MediaExtension
from feedgen.util import xml_elem

from publisher import __version__
from publisher.feeds.itemhtml import ItemText, item_text
from publisher.feeds.safe import feed_date, home_page, uri
from publisher.model import EPOCH, Article

if TYPE_CHECKING:
    # Only for annotations: the package imports this module to build its format table.
    from publisher.feeds import Entry, FeedInfo, History

LIBRARY_VERSIONS = f"feedgen {feedgen.version.version_str}, lxml " + ".".join(
    map(str, etree.LXML_VERSION)
)
"""The libraries whose versions the bytes of a feed depend on."""
RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
"""RFC 5005's namespace: ``fh:complete`` and ``fh:archive``."""
ATOM_NS = "http://www.w3.org/2005/Atom"


IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".svg": "image/svg+xml",
}
"""A fixed table, not the host's mime.types: the same feed bytes on every machine."""


def image_type_of(url: str) -> str | None:
    """The media type an image URL's extension says, if it says one."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    extension = path[path.rfind(".") :].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return IMAGE_TYPES.get(extension)


def last_updated(articles: Sequence[Article]) -> datetime:
    """The feed's own date: its newest item's, never the clock, so reruns are identical."""
    return feed_date(max((article.published_at for article in articles), default=EPOCH))


RSS_END = b"  </channel>\n</rss>\n"
"""How an RSS document ends: its items go right before."""
ATOM_END = b"</feed>\n"
"""How an Atom document ends: its entries go right before."""
_ITEM_END = b"    </item>\n"
_ENTRY_END = b"  </entry>\n"


def render_rss(
    info: FeedInfo, articles: Sequence[Article], history: History | None = None
) -> bytes:
    """An RSS 2.0 document of ``articles`` in the given order, placed in its feed's history."""
    rss, _ = feed_entries(articles)
    return rss_document(info, rss, last_updated(articles), history)


def render_atom(
    info: FeedInfo, articles: Sequence[Article], history: History | None = None
) -> bytes:
    """An Atom 1.0 document of ``articles`` in the given order, placed in its feed's history."""
    _, atom = feed_entries(articles)
    return atom_document(info, atom, last_updated(articles), history)


def rss_document(
    info: FeedInfo, items: Sequence[bytes], updated: datetime, history: History | None = None
) -> bytes:
    """An RSS 2.0 document dated ``updated`` holding ``items`` (from :func:`feed_entries`).

    feedgen writes the channel; each item was written by feedgen once, in a document of the
    same shape, and is placed here as those bytes: an article carried by many feeds and pages
    is made into an item once per build, not once per document.
    """
    feed = _feed_generator(info, updated, RSS_TYPE, history, info.rss_url)
    head: bytes = feed.rss_str(pretty=True)
    return _spliced(head, RSS_END, items)


def atom_document(
    info: FeedInfo, entries: Sequence[bytes], updated: datetime, history: History | None = None
) -> bytes:
    """An Atom 1.0 document dated ``updated`` holding ``entries`` (from :func:`feed_entries`)."""
    feed = _feed_generator(info, updated, ATOM_TYPE, history, info.atom_url)
    head: bytes = feed.atom_str(pretty=True)
    return _spliced(head, ATOM_END, entries)


def feed_entries(
    articles: Sequence[Article], texts: Sequence[ItemText] | None = None
) -> tuple[list[bytes], list[bytes]]:
    """Each article's RSS ``<item>`` and Atom ``<entry>`` exactly as feedgen writes them inside
    a document: one feedgen entry per article gives both. ``texts`` are the articles'
    :func:`~publisher.feeds.itemhtml.item_text`, when made already."""
    feed = _with_extensions(FeedGenerator())
    # The head's own fields are placeholders: only the entries are taken from the documents.
    feed.id("urn:publisher:items")
    feed.title("items")
    feed.description("items")
    feed.link(href="urn:publisher:items", rel="alternate")
    feed.updated(EPOCH)
    for article, text in zip(articles, texts or map(item_text, articles), strict=True):
        _add_entry(feed, article, text)
    count = len(articles)
    rss = _split(feed.rss_str(pretty=True), b"    <item>", _ITEM_END, count)
    atom = _split(feed.atom_str(pretty=True), b"  <entry>", _ENTRY_END, count)
    return rss, atom


def _split(document: bytes, start: bytes, end: bytes, count: int) -> list[bytes]:
    """The ``count`` entries of a pretty-printed document, each from its ``start`` line to its
    ``end`` line. Text inside an entry is escaped, so neither line occurs inside one; the
    count is checked all the same."""
    if not count:
        return []
    first = document.index(start)
    last = document.rindex(end) + len(end)
    entries = [part + end for part in document[first:last].split(end)[:-1]]
    if len(entries) != count or not all(entry.startswith(start) for entry in entries):
        raise ValueError(f"expected {count} entries, found {len(entries)}")
    return entries


def _spliced(head: bytes, end: bytes, entries: Sequence[bytes]) -> bytes:
    """``head``, a document without entries, with ``entries`` placed before its ``end``."""
    if not head.endswith(end):
        raise ValueError("a feed document ends unexpectedly")
    return b"".join((head[: -len(end)], *entries, end))


class _HistoryExtension(BaseExtension):  # type: ignore[misc]
    """RFC 5005's marks and links in a feed's head: ``fh:complete`` or ``fh:archive``, and the
    ``current``, ``prev-archive`` and ``next-archive`` links (as ``atom:link`` in RSS, as its
    Appendix B says), placed before the first item: metadata after entries is misplaced."""

    history: History | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS}

    def extend_rss(self, root: etree._Element) -> etree._Element:
        self._extend(root.find("channel"), "item", f"{{{ATOM_NS}}}link")
        return root

    def extend_atom(self, root: etree._Element) -> etree._Element:
        # feedgen writes Atom's namespace as a plain xmlns attribute: its tags have none.
        self._extend(root, "entry", "link")
        return root

    def _extend(self, head: etree._Element, item_tag: str, link_tag: str) -> None:
        history = self.history
        assert history is not None
        marks = (("complete", history.complete), ("archive", history.archive))
        tags: list[tuple[str, dict[str, str]]] = [
            (f"{{{HISTORY_NS}}}{name}", {}) for name, on in marks if on
        ]
        for rel, href in (
            ("current", history.current),
            ("prev-archive", history.prev_archive),
        ):
            if href:
                tags.append((link_tag, {"href": uri(href), "rel": rel}))
        first_item = head.find(item_tag)
        position = head.index(first_item) if first_item is not None else len(head)
        for offset, (tag, attributes) in enumerate(tags):
            # Made inside the document, so they take its prefixes rather than "ns0".
            element = etree.SubElement(head, tag, attributes)
            head.insert(position + offset, element)


DC_NS = "http://purl.org/dc/elements/1.1/"


class _DublinCoreEntry(DcEntryExtension):  # type: ignore[misc]
    """feedgen's Dublin Core entry extension for the one element items carry, ``dc:creator``,
    written as feedgen writes it: feedgen's own looks up all fifteen elements by name for each
    item in each format, a tenth of the time of making an item."""

    def _extend_xml(self, xml_element: etree._Element) -> None:
        for creator in self._dcelem_creator or []:
            xml_elem(f"{{{DC_NS}}}creator", xml_element).text = creator


def _with_extensions(feed: FeedGenerator) -> FeedGenerator:
    """``feed`` with Media RSS and Dublin Core, as ``load_extension("media")`` and ``("dc")``
    would give them (Dublin Core's entry part as :class:`_DublinCoreEntry`). Registered by
    class: ``load_extension`` first tries to import a module ``feedgen.ext.media_entry``, which
    does not exist, and a failed import searches every folder of ``sys.path`` again each time
    (a tenth of a millisecond, for every document)."""
    feed.register_extension("media", MediaExtension, MediaEntryExtension)
    feed.register_extension("dc", DcExtension, _DublinCoreEntry)
    return feed


def _feed_generator(
    info: FeedInfo,
    updated: datetime,
    self_type: str,
    history: History | None,
    subscription_url: str,
) -> FeedGenerator:
    self_url = history.self_url if history else subscription_url
    feed = _with_extensions(FeedGenerator())
    if history:
        feed.register_extension("fh", _HistoryExtension)
        feed.fh.history = history
    feed.id(uri(info.atom_url))
    feed.title(info.title)
    feed.description(info.description)
    feed.subtitle(info.description)
    feed.language(info.language)
    feed.author({"name": info.title, "uri": uri(info.home)})
    # No uri: the project has no public home to name, and an invented one misleads readers.
    feed.generator("publisher", __version__)
    feed.updated(updated)
    # feedgen's RSS <link> is the last link() call: self links first, the site last.
    feed.link(href=uri(self_url), rel="self", type=self_type)
    if info.hub:
        feed.link(href=uri(info.hub), rel="hub")
        # feedgen writes only the self link into RSS: the hub link is added by an extension.
        feed.register_extension("websub", _hub_link_for(uri(info.hub)), atom=False, rss=True)
    feed.link(href=uri(info.home), rel="alternate", type="text/html")
    return feed


def _hub_link_for(hub: str) -> type[BaseExtension]:
    """A feedgen extension writing ``<atom:link rel="hub">`` right after the RSS self link."""

    class HubLink(BaseExtension):  # type: ignore[misc]
        def extend_rss(self, rss: etree._Element) -> etree._Element:
            channel = rss.find("channel")
            link = etree.Element(f"{{{ATOM_NS}}}link", href=hub, rel="hub")
            self_link = channel.find(f"{{{ATOM_NS}}}link[@rel='self']")
            if self_link is not None:
                self_link.addnext(link)
            else:
                channel.append(link)
            return rss

    return HubLink


def _add_entry(feed: FeedGenerator, article: Article, text: ItemText) -> None:
    entry = feed.add_entry(order="append")
    url = uri(article.url)
    entry.id(url)
    entry.guid(url, permalink=True)
    entry.title(text.title)
    entry.link(href=url, rel="alternate", type="text/html")
    if text.summary:
        # RSS descriptions are HTML: plain text must be escaped once more to read as text.
        # (feedgen also takes it as Atom content, until content() replaces it just below:
        # an article with a summary always has content HTML.)
        entry.description(escape(text.summary, quote=False))
        entry.summary(text.summary, type="text")
    # The picture and the excerpt as HTML too (content:encoded in RSS), for readers that
    # ignore Media RSS.
    if text.html:
        entry.content(text.html, type="html")
    published = feed_date(article.published_at)
    entry.published(published)
    entry.updated(published)
    if article.provider:
        author = {"name": article.provider.name}
        if home := home_page(article.provider.domain):
            author["uri"] = home
        entry.author(author)
        entry.dc.dc_creator(article.provider.name)
    if article.topics:
        # One call: each category() call rebuilds the whole list, quadratic in the topics.
        entry.category([{"term": topic, "label": topic} for topic in article.topics])
    if image := article.lead_image:
        media = {"url": uri(image.url), "medium": "image"}
        if image_type := image_type_of(image.url):
            media["type"] = image_type
        if image.width and image.height:
            media["width"], media["height"] = str(image.width), str(image.height)
        # group=None: feedgen would wrap it in a one-child media:group, which validators reject.
        entry.media.content(media, group=None)


def render_atom_entries(info: FeedInfo, entries: Sequence[Entry], self_url: str = "") -> bytes:
    """An Atom 1.0 document of ``entries`` in the given order, each with HTML content.

    Its id is ``self_url`` when the feed's address is known, else the site's home page; the
    feed's date is its newest entry's.
    """
    feed = FeedGenerator()
    feed.id(uri(self_url or info.home))
    feed.title(info.title)
    feed.subtitle(info.description)
    feed.language(info.language)
    feed.author({"name": info.title, "uri": uri(info.home)})
    # No uri: the project has no public home to name, and an invented one misleads readers.
    feed.generator("publisher", __version__)
    feed.updated(feed_date(max((entry.updated for entry in entries), default=EPOCH)))
    if self_url:
        feed.link(href=uri(self_url), rel="self", type=ATOM_TYPE)
    feed.link(href=uri(info.home), rel="alternate", type="text/html")
    for entry in entries:
        item = feed.add_entry(order="append")
        item.id(entry.id)
        item.title(entry.title)
        if entry.link:
            item.link(href=uri(entry.link), rel="alternate", type="text/html")
        item.content(entry.content_html, type="html")
        if entry.summary:
            item.summary(entry.summary, type="text")
        item.published(feed_date(entry.published))
        item.updated(feed_date(entry.updated))
    atom: bytes = feed.atom_str(pretty=True)
    return atom
