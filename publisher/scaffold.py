"""A new site's starting files: a commented config with every key, and example articles."""

from __future__ import annotations

import os
from pathlib import Path

from publisher.errors import OutputError

EXAMPLE_WEEK = "2026-W10"
"""The ISO week the example articles fall in: ``publisher digest --week 2026-W10``."""

CONFIG = """\
# publisher configuration: every key, with its default unless said otherwise.
# Relative paths are relative to this file. Delete any key to take its default.

content = "content/_news"       # folder of article files (*.md, YAML front matter)
out = "feeds"                   # where feeds and their pages are written
cache_dir = ".publisher-cache"  # the state store and locks; keep it between runs

[site]
title = "My News"                      # every feed's title (required)
description = "News worth reading"     # every feed's description (required)
url = "https://example.org/feeds/"     # public URL of `out`: self links; set it before publishing
link = ""                              # the site's home page; empty: `url`
language = "en"

[selection]
min_quality = 50         # articles rated below this are left out
include_unrated = false  # keep articles with no quality at all
limit = 50               # items per feed
max_drop = 0.5           # largest share of last build's articles a build may lose without --force
retire_after_days = 30   # a topic no article carries keeps its (empty) feeds this long

# Per-topic overrides of min_quality and limit, one table per topic name:
[topics."Example Topic"]
min_quality = 40
limit = 20

[archive]
enabled = true   # RFC 5005 archive pages: every qualifying article stays reachable
page_size = 100  # items per archive page

[digest]
templates = ""                  # folder of edited templates; empty: the package's own
out = "newsletters"             # the issue files (HTML, text, .eml)
archive = "_newsletters"        # Jekyll archive pages of the issues
per_topic = 8                   # stories per section
topic_order = []                # sections in this order first, then by size
timezone = "UTC"                # the zone the week is counted in
week_starts = "monday"
max_stories = 20                # stories in a whole issue, the lead included
other_section = "More news"     # the closing section's heading
umbrella_share = 0.8            # a topic this common is the site's umbrella, not a section
subject = "{{ site }}: {{ lead }}{% if more %} and {{ more }} more{% endif %}"
utm = true                      # tag article links with utm_source / utm_medium
utm_source = "newsletter"
sender = "My News <news@example.org>"
list_address = "readers@example.org"
list_id = ""                    # List-Id header; empty: none
unsubscribe_url = "https://example.org/unsubscribe"  # one-click unsubscribe link: yours
unsubscribe_mailto = ""         # an unsubscribe address; one of the two is required
postal_address = "My News, 1 Example Street, Springfield"  # yours, shown in every issue
url = ""                        # public URL of `digest.out`, for the issues' feeds
archive_url = ""                # URL prefix of the archive pages

[digest.smtp]
host = "localhost"
port = 587
tls = "starttls"                          # starttls, ssl or none
user = ""                                 # empty: no login
password_env = "PUBLISHER_SMTP_PASSWORD"  # the environment variable holding the password
timeout = 30.0

# More newsletters from the same articles: each [editions.NAME] takes any [digest] key as an
# override, writes into newsletters/NAME/ and sends every article once, late arrivals included.
[editions.daily]
cadence = "daily"   # daily, weekly or monthly
topics = []         # only articles carrying one of these topics; empty: all
late_days = 7       # an article dated up to this many days before the issue still goes out once
list_address = ""   # its own list; publisher digest --edition daily --send

[websub]
hub = ""       # a WebSub hub told of each changed feed after a build; empty: none
timeout = 5.0  # seconds all pings of one build may take, whatever the hub does

[output]
precompress = []  # twins beside each file for servers to send as they are: "gzip", "brotli"
headers = false   # write _headers (Netlify, Cloudflare Pages): content types, cache lifetimes
max_age = 900     # seconds readers may keep a feed or page (at most 3600); archive pages: a week
"""

_ARTICLE = """\
---
title: "{title}"
excerpt: "{excerpt}"
publishedDateTime: {date}
webUrl: "https://news.example.org/{slug}"
type: article
quality: {quality}
published: true
provider:
  name: Example News
  domain: news.example.org
topics:
{topics}
---
"""

_EXAMPLES = (
    (
        "2026-03-02",
        "community-garden-opens",
        "A community garden opens on a former car park",
        "Neighbours planted the first beds on Saturday; plots are free to anyone nearby.",
        "09:30",
        72,
        ("Example Topic", "Local"),
    ),
    (
        "2026-03-03",
        "library-extends-hours",
        "The town library stays open until nine on weekdays",
        "Longer opening hours start next month after a year-long trial.",
        "14:00",
        65,
        ("Local",),
    ),
    (
        "2026-03-05",
        "river-cleanup-results",
        "Volunteers pull two tonnes of litter from the river",
        "The spring clean-up found fewer plastic bottles than last year's.",
        "11:15",
        80,
        ("Example Topic",),
    ),
)


def starter_files() -> dict[str, str]:
    """The files of a new site by relative path: the config and a few example articles."""
    files = {"config.toml": CONFIG}
    for day, slug, title, excerpt, time, quality, topics in _EXAMPLES:
        files[f"content/_news/{day}-{slug}.md"] = _ARTICLE.format(
            title=title,
            excerpt=excerpt,
            date=f"{day}T{time}:00Z",
            slug=slug,
            quality=quality,
            topics="\n".join(f"  - {topic}" for topic in topics),
        )
    return files


def write_starter(folder: Path) -> tuple[list[str], list[str]]:
    """Write the starter files into ``folder``, never over a file that exists: the paths
    written, and the paths left as they were."""
    made, left = [], []
    for name, text in starter_files().items():
        path = folder / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            left.append(name)
            continue
        except OSError as error:
            reason = os.strerror(error.errno or 0)
            raise OutputError(f"cannot write: {reason}", path=str(path)) from None
        made.append(name)
    return made, left
