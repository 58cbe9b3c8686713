"""JSON Feed 1.1, written as a plain dict: feedgen has no JSON Feed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from publisher.feeds.itemhtml import item_html
from publisher.feeds.safe import feed_date, home_page, uri
from publisher.model import Article

if TYPE_CHECKING:
    # Only for annotations: the package imports this module to build its format table.
    from publisher.feeds import FeedInfo, History


def render_json_feed(
    info: FeedInfo, articles: Sequence[Article], history: History | None = None
) -> bytes:
    """A JSON Feed 1.1 document of ``articles`` in the given order.

    JSON Feed pages with ``next_url``: from the subscription document to the newest archive
    page, and from each page to the next older one. ``feed_url`` is the subscription
    document's on every page: it identifies the feed.
    """
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title,
        "home_page_url": uri(info.home),
        "feed_url": uri(info.json_url),
        "description": info.description,
        "language": info.language,
    }
    if history and history.prev_archive:
        document["next_url"] = uri(history.prev_archive)
    document["items"] = [_json_item(article) for article in articles]
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _json_item(article: Article) -> dict[str, object]:
    url = uri(article.url)
    item: dict[str, object] = {"id": url, "url": url, "title": article.title}
    if html := item_html(article):
        item["content_html"] = html
    item["content_text"] = article.excerpt or article.title
    item["date_published"] = feed_date(article.published_at).isoformat().replace("+00:00", "Z")
    if article.excerpt:
        item["summary"] = article.excerpt
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
