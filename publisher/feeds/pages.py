"""The pages beside the feeds: an OPML subscription list and an HTML index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape

from publisher.feeds import ATOM, FORMATS, RSS, FeedInfo
from publisher.feeds.safe import feed_date
from publisher.model import EPOCH


@dataclass(frozen=True, slots=True)
class FeedListing:
    """One row of the index page and the OPML file."""

    info: FeedInfo
    count: int
    newest: datetime | None


def quoteattr(value: str) -> str:
    """An XML/HTML attribute value with its quotes."""
    return f'"{escape(value, quote=True)}"'


def render_opml(title: str, listings: Sequence[FeedListing]) -> bytes:
    """An OPML 2.0 subscription list of every feed, for importing into a reader."""
    newest = feed_date(
        max((listing.newest for listing in listings if listing.newest), default=EPOCH)
    )
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
        f'  <link rel="alternate" type={quoteattr(kind.media_type)}'
        f" title={quoteattr(item.info.title)} href={quoteattr(item.info.url(kind))}>"
        for item in listings
        for kind in (RSS, ATOM)
    )
    rows = "\n".join(
        "      <tr>"
        f"<td>{escape(item.info.title)}</td>"
        f"<td>{item.count}</td>"
        f"<td>{feed_date(item.newest).strftime('%Y-%m-%d') if item.newest else '-'}</td>"
        f"<td>{_format_links(item.info)}</td>"
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


def _format_links(info: FeedInfo) -> str:
    return " · ".join(f"<a href={quoteattr(info.url(kind))}>{kind.name}</a>" for kind in FORMATS)
