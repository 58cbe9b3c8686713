"""Pure renderers: selected articles → RSS 2.0, Atom 1.0, JSON Feed 1.1, OPML and an index page.

This is the only module that imports feedgen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape

import feedgen.version
from feedgen.feed import FeedGenerator
from lxml import etree

from publisher import __version__
from publisher.model import EPOCH, Article

GENERATOR_URI = "https://pypi.org/project/publisher/"
RENDERER_VERSION = (
    f"publisher {__version__}, feedgen {feedgen.version.version_str}, lxml "
    + ".".join(map(str, etree.LXML_VERSION))
)
"""What the bytes of a feed depend on besides its articles: a cached rendering of another
version is not reused."""
RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"


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

    @property
    def rss_url(self) -> str:
        return f"{self.base_url}rss.xml"

    @property
    def atom_url(self) -> str:
        return f"{self.base_url}atom.xml"

    @property
    def json_url(self) -> str:
        return f"{self.base_url}feed.json"


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


def quoteattr(value: str) -> str:
    """An XML/HTML attribute value with its quotes."""
    return f'"{escape(value, quote=True)}"'


def last_updated(articles: Sequence[Article]) -> datetime:
    """The feed's own date: its newest item's, never the clock, so reruns are identical."""
    return max((article.published_at for article in articles), default=EPOCH)


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
    feed.id(info.atom_url)
    feed.title(info.title)
    feed.description(info.description)
    feed.subtitle(info.description)
    feed.language(info.language)
    feed.author({"name": info.title, "uri": info.home})
    feed.generator("publisher", __version__, GENERATOR_URI)
    feed.updated(last_updated(articles))
    # feedgen's RSS <link> is the last link() call: self links first, the site last.
    feed.link(href=self_url, rel="self", type=self_type)
    feed.link(href=info.home, rel="alternate", type="text/html")
    for article in articles:
        _add_entry(feed, article, rss=self_type == RSS_TYPE)
    return feed


def _add_entry(feed: FeedGenerator, article: Article, *, rss: bool) -> None:
    entry = feed.add_entry(order="append")
    entry.id(article.url)
    entry.guid(article.url, permalink=True)
    entry.title(article.title)
    entry.link(href=article.url, rel="alternate", type="text/html")
    if article.excerpt and rss:
        # RSS descriptions are HTML: plain text must be escaped once more to read as text.
        entry.description(escape(article.excerpt, quote=False))
    elif article.excerpt:
        entry.summary(article.excerpt, type="text")
    entry.published(article.published_at)
    entry.updated(article.published_at)
    if article.provider:
        author = {"name": article.provider.name}
        if article.provider.domain:
            author["uri"] = f"https://{article.provider.domain}/"
        entry.author(author)
        entry.dc.dc_creator(article.provider.name)
    for topic in article.topics:
        entry.category(term=topic, label=topic)
    if image := article.lead_image:
        media = {"url": image.url, "medium": "image"}
        if image_type := image_type_of(image.url):
            media["type"] = image_type
        if image.width and image.height:
            media["width"], media["height"] = str(image.width), str(image.height)
        # group=None: feedgen would wrap it in a one-child media:group, which validators reject.
        entry.media.content(media, group=None)


def render_json_feed(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    """A JSON Feed 1.1 document of ``articles`` in the given order."""
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title,
        "home_page_url": info.home,
        "feed_url": info.json_url,
        "description": info.description,
        "language": info.language,
        "items": [_json_item(article) for article in articles],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _json_item(article: Article) -> dict[str, object]:
    item: dict[str, object] = {
        "id": article.url,
        "url": article.url,
        "title": article.title,
        "content_text": article.excerpt or article.title,
        "date_published": article.published_at.isoformat().replace("+00:00", "Z"),
    }
    if article.excerpt:
        item["summary"] = article.excerpt
    if article.lead_image:
        item["image"] = article.lead_image.url
    if article.provider:
        author: dict[str, str] = {"name": article.provider.name}
        if article.provider.domain:
            author["url"] = f"https://{article.provider.domain}/"
        item["authors"] = [author]
    if article.topics:
        item["tags"] = list(article.topics)
    return item


@dataclass(frozen=True, slots=True)
class FeedListing:
    """One row of the index page and the OPML file."""

    info: FeedInfo
    count: int
    newest: datetime | None


def render_opml(title: str, listings: Sequence[FeedListing]) -> bytes:
    """An OPML 2.0 subscription list of every feed, for importing into a reader."""
    newest = max((listing.newest for listing in listings if listing.newest), default=EPOCH)
    outlines = "\n".join(
        f'    <outline type="rss" text={quoteattr(listing.info.title)}'
        f" title={quoteattr(listing.info.title)} xmlUrl={quoteattr(listing.info.rss_url)}"
        f" htmlUrl={quoteattr(listing.info.home)}/>"
        for listing in listings
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<opml version="2.0">\n'
        "  <head>\n"
        f"    <title>{escape(title)}</title>\n"
        f"    <dateModified>{format_datetime(newest, usegmt=True)}</dateModified>\n"
        "  </head>\n"
        "  <body>\n"
        f"{outlines}\n"
        "  </body>\n"
        "</opml>\n"
    )
    return document.encode("utf-8")


def render_index(
    title: str, description: str, language: str, listings: Sequence[FeedListing]
) -> bytes:
    """A small HTML page listing every feed, with autodiscovery links for browsers and readers."""
    discovery = "\n".join(
        f'  <link rel="alternate" type="application/rss+xml" title={quoteattr(item.info.title)}'
        f" href={quoteattr(item.info.rss_url)}>\n"
        f'  <link rel="alternate" type="application/atom+xml" title={quoteattr(item.info.title)}'
        f" href={quoteattr(item.info.atom_url)}>"
        for item in listings
    )
    rows = "\n".join(
        "      <tr>"
        f"<td>{escape(item.info.title)}</td>"
        f"<td>{item.count}</td>"
        f"<td>{item.newest.strftime('%Y-%m-%d') if item.newest else '-'}</td>"
        f"<td><a href={quoteattr(item.info.rss_url)}>RSS</a>"
        f" · <a href={quoteattr(item.info.atom_url)}>Atom</a>"
        f" · <a href={quoteattr(item.info.json_url)}>JSON</a></td>"
        "</tr>"
        for item in listings
    )
    page = f"""<!DOCTYPE html>
<html lang={quoteattr(language)}>
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)}</title>
{discovery}
  <style>
    body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto;
            padding: 0 1rem; color: #1f2328; }}
    table {{ border-collapse: collapse; width: 100%; }}
    th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #d0d7de; }}
    td:nth-child(2) {{ text-align: right; }}
  </style>
</head>
<body>
  <h1>{escape(title)}</h1>
  <p>{escape(description)}</p>
  <p>Subscribe to every feed at once with <a href="feeds.opml">feeds.opml</a>.</p>
  <table>
    <thead>
      <tr><th>Feed</th><th>Items</th><th>Newest</th><th>Formats</th></tr>
    </thead>
    <tbody>
{rows}
    </tbody>
  </table>
</body>
</html>
"""
    return page.encode("utf-8")
