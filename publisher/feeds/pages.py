"""The pages beside the feeds: an HTML page per feed, the index page and the OPML list.

Pages are plain HTML with one small inline stylesheet and no JavaScript. Each shows its feed's
newest stories and how to subscribe, and carries autodiscovery links, so a browser or a feed
reader given the page's address finds the feeds. A feed's list of stories is rendered with its
feed files, from the same articles, and cached with them (:data:`ITEMS_FRAGMENT`); the page
around it is put together at every build from what the plan already knows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape

from publisher.feeds import ATOM, FORMATS, FeedInfo, Format
from publisher.feeds.safe import feed_date, uri
from publisher.model import EPOCH, Article
from publisher.text import headline, summary_of

ITEMS_FRAGMENT = "items.fragment.html"
"""The name a feed's rendered list of stories takes among its rendered files: cached with the
feed, never published as a file of its own."""
PAGE_FILE = "index.html"
ABOUT_FEEDS = "https://aboutfeeds.com/"
EXCERPT_CHARS = 280
"""An excerpt longer than this is cut at a word: a page lists stories, it does not reprint them."""
NEWSLETTER_FORMATS = (("Atom", "feed.xml", ATOM.media_type), ("JSON Feed", "feed.json", None))
"""The newsletter's own feeds, in ``digest.url``."""

_NOT_IN_HTML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")
"""Characters HTML does not allow in text; articles are cleaned on the way in, this is a
second line of defence for pages built from anything else."""


@dataclass(frozen=True, slots=True)
class FeedListing:
    """One feed as the pages and the OPML file show it."""

    info: FeedInfo
    count: int
    newest: datetime | None
    folder: str = ""
    """The feed's folder relative to the output folder: ``""`` or ``"<slug>/"``."""
    name: str = ""
    """What the index page's list of feeds calls it (the topic's name); else its title."""


def quoteattr(value: str) -> str:
    """An XML/HTML attribute value with its quotes."""
    return f'"{escape(_NOT_IN_HTML.sub("", value), quote=True)}"'


def text(value: str) -> str:
    """``value`` escaped for HTML or XML text."""
    return escape(_NOT_IN_HTML.sub("", value), quote=False)


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
        f"    <title>{text(title)}</title>\n"
        f"    <dateModified>{format_datetime(newest, usegmt=True)}</dateModified>\n"
        "  </head>\n"
        "  <body>\n"
        f"{outlines}\n"
        "  </body>\n"
        "</opml>\n"
    )
    return document.encode("utf-8")


# A feed's stories ---------------------------------------------------------------------------


def render_items(articles: Sequence[Article]) -> bytes:
    """The list of a feed's stories, newest first, as an HTML fragment for its page."""
    if not articles:
        return b'    <p class="empty">No stories yet: subscribe, and new ones will reach you.</p>\n'
    items = "".join(_item(article) for article in articles)
    return f'    <ol class="items">\n{items}    </ol>\n'.encode()


def _item(article: Article) -> str:
    url = quoteattr(uri(article.url))
    published = feed_date(article.published_at)
    stamp = published.isoformat().replace("+00:00", "Z")
    meta = [f'<time datetime="{stamp}">{published:%Y-%m-%d}</time>']
    if article.provider:
        meta.insert(0, f'<span class="source">{text(article.provider.name)}</span>')
    if article.is_video:
        meta.append('<span class="badge">Video</span>')
    # The feeds' rule for markup in titles and excerpts: read as the words a reader sees.
    title = headline(article.title)
    summary = summary_of(article.title, article.excerpt)
    lines = ['      <li class="item">\n']
    if image := article.lead_image:
        size = f' width="{image.width}" height="{image.height}"'
        size = size if image.width and image.height else ""
        # The image's own title says what it shows; else the headline, as in the newsletter.
        alt = headline(image.title) if image.title else title
        lines.append(
            f"        <img src={quoteattr(uri(image.url))} alt={quoteattr(alt)}{size}"
            ' loading="lazy" decoding="async">\n'
        )
    lines.append(f"        <h3><a href={url}>{text(title)}</a></h3>\n")
    lines.append(f'        <p class="meta">{" · ".join(meta)}</p>\n')
    if summary:
        lines.append(f'        <p class="excerpt">{text(shorten(summary))}</p>\n')
    lines.append("      </li>\n")
    return "".join(lines)


def shorten(value: str, limit: int = EXCERPT_CHARS) -> str:
    """``value`` cut at the last word that fits in ``limit`` characters, with an ellipsis."""
    value = " ".join(value.split())
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:–—-") + "…"  # noqa: RUF001 (dashes that would dangle)


# Pages --------------------------------------------------------------------------------------


def render_feed_page(listing: FeedListing, items: bytes, site_title: str, site_home: str) -> bytes:
    """A topic feed's page, ``<slug>/index.html``: its stories and how to subscribe."""
    info = listing.info
    up = "../" * listing.folder.count("/")
    body = (
        "  <header>\n"
        f'    <p class="crumbs"><a href="{up or "./"}">{text(site_title)}</a></p>\n'
        f"    <h1>{text(info.title)}</h1>\n"
        f"    <p>{text(info.description)}</p>\n"
        "  </header>\n"
        "  <main>\n"
        f"{_subscribe(info)}"
        '  <section aria-labelledby="latest">\n'
        '    <h2 id="latest">Latest stories</h2>\n'
        f"{items.decode('utf-8')}"
        "  </section>\n"
        "  </main>\n"
        "  <footer>\n"
        f'    <p><a href="{up or "./"}">Every feed of {text(site_title)}</a>'
        f" · <a href={quoteattr(uri(site_home))}>The site</a></p>\n"
        "  </footer>\n"
    )
    return _document(info.language, info.title, info.description, _discovery([listing]), body)


def render_index(
    title: str,
    description: str,
    language: str,
    listings: Sequence[FeedListing],
    items: bytes = b"",
    newsletter_url: str = "",
) -> bytes:
    """The index page: the all-topics feed (``listings[0]``) and its stories, every feed with
    its item count, newest date and formats, and the newsletter's feed when its URL is known."""
    everything = listings[0].info if listings else None
    newsletter = _newsletter(title, newsletter_url)
    body = (
        "  <header>\n"
        f"    <h1>{text(title)}</h1>\n"
        f"    <p>{text(description)}</p>\n"
        "  </header>\n"
        "  <main>\n"
        f"{_subscribe(everything) if everything else ''}"
        '  <section aria-labelledby="feeds">\n'
        '    <h2 id="feeds">Every feed</h2>\n'
        '    <div class="table">\n'
        "    <table>\n"
        "      <thead>\n"
        "        <tr><th>Feed</th><th>Items</th><th>Newest</th><th>Formats</th></tr>\n"
        "      </thead>\n"
        "      <tbody>\n"
        f"{''.join(_listing_row(listing) for listing in listings)}"
        "      </tbody>\n"
        "    </table>\n"
        "    </div>\n"
        '    <p>Subscribe to every feed at once: import <a href="feeds.opml">feeds.opml</a>'
        " into your reader.</p>\n"
        "  </section>\n"
        f"{newsletter[1]}"
        '  <section aria-labelledby="latest">\n'
        '    <h2 id="latest">Latest stories</h2>\n'
        f"{items.decode('utf-8')}"
        "  </section>\n"
        "  </main>\n"
    )
    discovery = _discovery(listings) + newsletter[0]
    return _document(language, title, description, discovery, body)


def _listing_row(listing: FeedListing) -> str:
    info = listing.info
    newest = feed_date(listing.newest).strftime("%Y-%m-%d") if listing.newest else "-"
    name = text(listing.name or info.title)
    # The all-topics feed's page is the index page itself.
    page = f"<a href={quoteattr(listing.folder)}>{name}</a>" if listing.folder else name
    return (
        "        <tr>"
        f"<td>{page}</td>"
        f"<td>{listing.count}</td>"
        f"<td>{newest}</td>"
        f"<td>{_format_links(info, short=True)}</td>"
        "</tr>\n"
    )


def _format_links(info: FeedInfo, *, short: bool = False) -> str:
    return " · ".join(
        f"<a href={quoteattr(uri(info.url(kind)))} type={quoteattr(kind.media_type)}>"
        f"{kind.name if short else _format_name(kind)}</a>"
        for kind in FORMATS
    )


def _format_name(kind: Format) -> str:
    return "JSON Feed" if kind.name == "JSON" else kind.name


def _subscribe(info: FeedInfo) -> str:
    """How to follow one feed: its address to copy, its formats, and what a feed is."""
    return (
        '  <section class="subscribe" aria-labelledby="subscribe">\n'
        '    <h2 id="subscribe">Subscribe</h2>\n'
        "    <p>Paste this address into your feed reader:</p>\n"
        f'    <p><code class="feed-url">{text(uri(info.rss_url))}</code></p>\n'
        f"    <p>Or pick a format: {_format_links(info)}</p>\n"
        '    <p class="about">New to feeds? A feed reader brings you new stories as they are'
        " published: no account, no algorithm, no inbox."
        f' <a href="{ABOUT_FEEDS}">What is a feed?</a></p>\n'
        "  </section>\n"
    )


def _newsletter(site_title: str, url: str) -> tuple[str, str]:
    """The newsletter's autodiscovery links and its section of the index page, when its
    public URL is known."""
    if not url:
        return "", ""
    folder = url if url.endswith("/") else f"{url}/"
    name = f"{site_title}: weekly newsletter"
    discovery = "".join(
        f'  <link rel="alternate" type={quoteattr(media_type)} title={quoteattr(name)}'
        f" href={quoteattr(uri(folder + file))}>\n"
        for _, file, media_type in NEWSLETTER_FORMATS
        if media_type
    )
    links = " · ".join(
        f"<a href={quoteattr(uri(folder + file))}>{label}</a>"
        for label, file, _ in NEWSLETTER_FORMATS
    )
    section = (
        '  <section aria-labelledby="newsletter">\n'
        '    <h2 id="newsletter">Weekly newsletter</h2>\n'
        "    <p>The week's best stories in one email. Every issue is also in a feed:"
        f" {links}.</p>\n"
        "  </section>\n"
    )
    return discovery, section


def _discovery(listings: Sequence[FeedListing]) -> str:
    """Autodiscovery links: every format of every listed feed, the first feed first (readers
    that take one link take the first)."""
    return "".join(
        f'  <link rel="alternate" type={quoteattr(kind.media_type)}'
        f" title={quoteattr(f'{listing.info.title} ({_format_name(kind)})')}"
        f" href={quoteattr(uri(listing.info.url(kind)))}>\n"
        for listing in listings
        for kind in FORMATS
    )


STYLE = """\
    :root { color-scheme: light dark; --ink: #1f2328; --muted: #59636e; --line: #d0d7de;
            --paper: #ffffff; --panel: #f6f8fa; --link: #0550ae; }
    @media (prefers-color-scheme: dark) {
      :root { --ink: #e6edf3; --muted: #9198a1; --line: #3d444d; --paper: #0d1117;
              --panel: #151b23; --link: #4493f8; }
    }
    * { box-sizing: border-box; }
    body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
           color: var(--ink); background: var(--paper); max-width: 48rem; margin: 0 auto;
           padding: 1rem; overflow-wrap: break-word; }
    a { color: var(--link); }
    h1 { font-size: 1.75rem; line-height: 1.2; margin: .5rem 0; }
    h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; }
    h3 { font-size: 1.05rem; margin: 0 0 .25rem; }
    .crumbs, .meta, footer, .about { color: var(--muted); font-size: .9rem; }
    .subscribe { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
                 padding: 0 1rem; }
    .subscribe h2 { margin-top: 1rem; }
    .feed-url { display: block; padding: .5rem; background: var(--paper);
                border: 1px solid var(--line); border-radius: 4px; font-size: .9rem;
                overflow-wrap: anywhere; -webkit-user-select: all; user-select: all; }
    .items { list-style: none; padding: 0; margin: 0; }
    .item { padding: 1rem 0; border-bottom: 1px solid var(--line); display: flow-root; }
    .item img { float: right; width: 7rem; height: auto; margin: .25rem 0 .5rem 1rem;
                border-radius: 4px; background: var(--panel); }
    .item img:not([width]) { aspect-ratio: 4 / 3; object-fit: cover; }
    .excerpt { margin: .25rem 0 0; }
    .badge { border: 1px solid var(--line); border-radius: 3px; padding: 0 .3rem; }
    .table { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line);
             vertical-align: top; }
    td:nth-child(2) { text-align: right; }
    td:nth-child(3), td:nth-child(4) { white-space: nowrap; }
    @media (max-width: 30rem) {
      .item img { width: 5.5rem; }
      th, td { padding: .4rem .25rem; }
      td:nth-child(4) { white-space: normal; }
    }
"""


def _document(language: str, title: str, description: str, head: str, body: str) -> bytes:
    page = (
        "<!DOCTYPE html>\n"
        f"<html lang={quoteattr(language)}>\n"
        "<head>\n"
        '  <meta charset="utf-8">\n'
        '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"  <title>{text(title)}</title>\n"
        f'  <meta name="description" content={quoteattr(description)}>\n'
        f"{head}"
        f"  <style>\n{STYLE}  </style>\n"
        "</head>\n"
        "<body>\n"
        f"{body}"
        "</body>\n"
        "</html>\n"
    )
    return page.encode("utf-8")
