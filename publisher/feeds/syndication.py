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

from publisher import __version__
from publisher.feeds.safe import feed_date, home_page, uri
from publisher.model import EPOCH, Article
from publisher.text import headline, summary_of

if TYPE_CHECKING:
    # Only for annotations: the package imports this module to build its format table.
    from publisher.feeds import Entry, FeedInfo

GENERATOR_URI = "https://github.com/news-publisher/publisher"
"""The project's home page, as in pyproject.toml: "publisher" on PyPI is another project."""
LIBRARY_VERSIONS = f"feedgen {feedgen.version.version_str}, lxml " + ".".join(
    map(str, etree.LXML_VERSION)
)
"""The libraries whose versions the bytes of a feed depend on."""
RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
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


def render_rss(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    """An RSS 2.0 document of ``articles`` in the given order."""
    feed = _feed_generator(info, articles, info.rss_url, RSS_TYPE)
    rss: bytes = feed.rss_str(pretty=True)
    return rss


def render_atom(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    """An Atom 1.0 document of ``articles`` in the given order."""
    feed = _feed_generator(info, articles, info.atom_url, ATOM_TYPE)
    atom: bytes = feed.atom_str(pretty=True)
    return atom


def _feed_generator(
    info: FeedInfo, articles: Sequence[Article], self_url: str, self_type: str
) -> FeedGenerator:
    feed = FeedGenerator()
    feed.load_extension("media")
    feed.load_extension("dc")
    feed.id(uri(info.atom_url))
    feed.title(info.title)
    feed.description(info.description)
    feed.subtitle(info.description)
    feed.language(info.language)
    feed.author({"name": info.title, "uri": uri(info.home)})
    feed.generator("publisher", __version__, GENERATOR_URI)
    feed.updated(last_updated(articles))
    # feedgen's RSS <link> is the last link() call: self links first, the site last.
    feed.link(href=uri(self_url), rel="self", type=self_type)
    if info.hub:
        feed.link(href=uri(info.hub), rel="hub")
        # feedgen writes only the self link into RSS: the hub link is added by an extension.
        feed.register_extension("websub", _hub_link_for(uri(info.hub)), atom=False, rss=True)
    feed.link(href=uri(info.home), rel="alternate", type="text/html")
    for article in articles:
        _add_entry(feed, article, rss=self_type == RSS_TYPE)
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


def _add_entry(feed: FeedGenerator, article: Article, *, rss: bool) -> None:
    entry = feed.add_entry(order="append")
    url = uri(article.url)
    entry.id(url)
    entry.guid(url, permalink=True)
    entry.title(headline(article.title))
    entry.link(href=url, rel="alternate", type="text/html")
    summary = summary_of(article.title, article.excerpt)
    if summary and rss:
        # RSS descriptions are HTML: plain text must be escaped once more to read as text.
        entry.description(escape(summary, quote=False))
    elif summary:
        entry.summary(summary, type="text")
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
    feed.generator("publisher", __version__, GENERATOR_URI)
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
