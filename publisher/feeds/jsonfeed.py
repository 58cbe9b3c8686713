"""JSON Feed 1.1, written as a plain dict: feedgen has no JSON Feed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring as _string
from typing import TYPE_CHECKING

from publisher.feeds.itemhtml import ItemText, item_text
from publisher.feeds.safe import feed_date, home_page, uri
from publisher.model import Article

if TYPE_CHECKING:
    # Only for annotations: the package imports this module to build its format table.
    from publisher.feeds import Entry, FeedInfo, History


def render_json_feed(
    info: FeedInfo, articles: Sequence[Article], history: History | None = None
) -> bytes:
    """A JSON Feed 1.1 document of ``articles`` in the given order."""
    return json_document(info, json_items(articles), history)


def json_document(info: FeedInfo, items: Sequence[bytes], history: History | None = None) -> bytes:
    """A JSON Feed 1.1 document holding ``items`` (from :func:`json_items`).

    JSON Feed pages with ``next_url``: from the subscription document to the newest archive
    page, and from each page to the next older one. ``feed_url`` is the subscription
    document's on every page: it identifies the feed.
    """
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title,
        "home_page_url": uri(info.home),
        "feed_url": uri(info.json_url),
        **({"hubs": [{"type": "WebSub", "url": uri(info.hub)}]} if info.hub else {}),
        "description": info.description,
        "language": info.language,
    }
    if history and history.prev_archive:
        document["next_url"] = uri(history.prev_archive)
    document["items"] = []
    head = json.dumps(document, ensure_ascii=False, indent=2)
    if not items:
        return (head + "\n").encode("utf-8")
    # The items are the last member, each already written as json.dumps writes it there.
    start = head.removesuffix("[]\n}").encode("utf-8")
    return b"".join((start, b"[\n", b",\n".join(items), b"\n  ]\n}\n"))


def json_items(articles: Sequence[Article], texts: Sequence[ItemText] | None = None) -> list[bytes]:
    """Each article's item as ``json.dumps(..., indent=2)`` writes it inside a document's
    ``items``, in UTF-8: a newline in JSON text is always structure (strings escape theirs), so
    the item's own lines are indented by its depth. ``texts`` are the articles'
    :func:`~publisher.feeds.itemhtml.item_text`, when made already."""
    return [
        ("    " + _indented(_json_item(article, text), "    ")).encode("utf-8")
        for article, text in zip(articles, texts or map(item_text, articles), strict=True)
    ]


def _indented(value: object, indent: str) -> str:
    """``value`` exactly as ``json.dumps(..., ensure_ascii=False, indent=2)`` writes it at
    ``indent``, in a fraction of the time: that encoder is pure Python, this one writes the
    strings, which are most of an item, with json's own C function."""
    if isinstance(value, str):
        return _string(value)
    inner = f"{indent}  "
    if isinstance(value, dict) and value:
        members = (
            f"{inner}{_string(key)}: {_indented(item, inner)}" for key, item in value.items()
        )
        return "{\n" + ",\n".join(members) + f"\n{indent}}}"
    if isinstance(value, list) and value:
        return (
            "[\n"
            + ",\n".join(f"{inner}{_indented(item, inner)}" for item in value)
            + f"\n{indent}]"
        )
    return json.dumps(value)


def _json_item(article: Article, text: ItemText) -> dict[str, object]:
    url = uri(article.url)
    title, summary, html = text
    item: dict[str, object] = {"id": url, "url": url, "title": title}
    if html:
        item["content_html"] = html
    item["content_text"] = summary or title
    item["date_published"] = feed_date(article.published_at).isoformat().replace("+00:00", "Z")
    if summary:
        item["summary"] = summary
    if article.lead_image:
        item["image"] = uri(article.lead_image.url)
    if article.provider:
        author: dict[str, str] = {"name": article.provider.name}
        if home := home_page(article.provider.domain):
            author["url"] = home
        item["authors"] = [author]
    if article.topics:
        item["tags"] = list(article.topics)
    return item


def render_json_entries(info: FeedInfo, entries: Sequence[Entry], self_url: str = "") -> bytes:
    """A JSON Feed 1.1 document of ``entries`` in the given order, each with HTML content."""
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title,
        "home_page_url": uri(info.home),
    }
    if self_url:
        document["feed_url"] = uri(self_url)
    document |= {
        "description": info.description,
        "language": info.language,
        "items": [_json_entry(entry) for entry in entries],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _json_entry(entry: Entry) -> dict[str, object]:
    item: dict[str, object] = {"id": entry.id}
    if entry.link:
        item["url"] = uri(entry.link)
    item |= {
        "title": entry.title,
        "content_html": entry.content_html,
        "date_published": _json_date(entry.published),
        "date_modified": _json_date(entry.updated),
    }
    if entry.summary:
        item["summary"] = entry.summary
    return item


def _json_date(moment: datetime) -> str:
    return feed_date(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")
