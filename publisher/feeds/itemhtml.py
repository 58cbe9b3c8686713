"""Each item's content as HTML: the lead image, the excerpt, then a link to the article.

Many readers (newsboat, a good share of mobile readers) ignore Media RSS, so the picture goes
into the item's HTML too. The HTML is built only from escaped parts: text is escaped, every URL
is made a URI and must be http(s), and no markup from an article file ever passes through, so a
hostile title, excerpt or URL reaches the reader as text.
"""

from __future__ import annotations

from html import escape
from typing import NamedTuple
from urllib.parse import urlsplit

from publisher.feeds.safe import uri
from publisher.model import Article
from publisher.text import headline, summary_of

_LINKABLE = ("https://", "http://")


class ItemText(NamedTuple):
    """What every feed format says of an article: made once, written into each format."""

    title: str
    """The headline, as plain text."""
    summary: str
    """The excerpt as plain text; empty when it would only repeat the title."""
    html: str
    """The item's content as HTML (:func:`item_html`)."""


def item_text(article: Article) -> ItemText:
    """The article's headline, summary and content HTML."""
    title = headline(article.title)
    summary = summary_of(article.title, article.excerpt)
    return ItemText(title, summary, _html(article, title, summary))


def item_html(article: Article) -> str:
    """The item's HTML: ``<p><img></p>``, the excerpt, then "Read at <provider>"."""
    return item_text(article).html


def _html(article: Article, title: str, summary: str) -> str:
    parts: list[str] = []
    image = article.lead_image
    if image and (source := _link(image.url)):
        size = (
            f' width="{image.width}" height="{image.height}"'
            if image.width and image.height
            else ""
        )
        alt = image.title or title
        parts.append(f'<p><img src="{_attribute(source)}" alt="{_attribute(alt)}"{size} /></p>')
    if summary:
        parts.append(f"<p>{escape(summary, quote=False)}</p>")
    if href := _link(article.url):
        parts.append(
            f'<p><a href="{_attribute(href)}">Read at {escape(_source_name(article), quote=False)}'
            "</a></p>"
        )
    return "\n".join(parts)


def _link(url: str) -> str | None:
    """``url`` as a URI, when it is an http(s) URL: nothing else may become a link or a source."""
    link = uri(url)
    return link if link[:8].lower().startswith(_LINKABLE) else None


def _attribute(value: str) -> str:
    return escape(value, quote=True)


def _source_name(article: Article) -> str:
    """The provider's name, else the article's host name."""
    if article.provider and article.provider.name:
        return article.provider.name
    try:
        host = urlsplit(article.url).hostname or ""
    except ValueError:  # a malformed host, such as an unclosed IPv6 bracket
        host = ""
    return host.removeprefix("www.") or "the source"
