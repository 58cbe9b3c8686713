"""Pure renderers: selected articles → feed files, the OPML list and the index page.

Every feed format is one row of :data:`FORMATS`: the file each feed folder holds, its media type
and its renderer. RSS and Atom come from :mod:`.syndication` (the only module importing feedgen),
JSON Feed from :mod:`.jsonfeed`, each item's HTML from :mod:`.itemhtml`, the OPML list and the
index page from :mod:`.pages`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from publisher import __version__
from publisher.feeds.jsonfeed import render_json_feed
from publisher.feeds.syndication import (
    ATOM_TYPE,
    LIBRARY_VERSIONS,
    RSS_TYPE,
    render_atom,
    render_rss,
)
from publisher.model import Article


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

    def url(self, kind: Format) -> str:
        """Where this feed's file of one format is served."""
        return f"{self.base_url}{kind.file}"

    @property
    def rss_url(self) -> str:
        return self.url(RSS)

    @property
    def atom_url(self) -> str:
        return self.url(ATOM)

    @property
    def json_url(self) -> str:
        return self.url(JSON_FEED)


Renderer = Callable[[FeedInfo, Sequence[Article]], bytes]
"""Renders one feed's articles, in the given order, as one file's bytes."""


@dataclass(frozen=True, slots=True)
class Format:
    """One feed format: the file it takes in a feed's folder, its media type, its renderer."""

    name: str
    """What the index page calls it."""
    file: str
    media_type: str
    render: Renderer


RSS = Format(name="RSS", file="rss.xml", media_type=RSS_TYPE, render=render_rss)
ATOM = Format(name="Atom", file="atom.xml", media_type=ATOM_TYPE, render=render_atom)
JSON_FEED = Format(
    name="JSON", file="feed.json", media_type="application/feed+json", render=render_json_feed
)
FORMATS = (RSS, ATOM, JSON_FEED)
"""Every file of every feed, in the order they are rendered."""

RENDERER_VERSION = f"publisher {__version__}, {LIBRARY_VERSIONS}"
"""What the bytes of a feed depend on besides its articles: a cached rendering of another
version is not reused."""
