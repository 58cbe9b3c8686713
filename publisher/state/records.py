"""What the store keeps, as plain values: the codec of article records and the record types.

No SQLite here: a module that only reads records (the newsletter's feed) imports them from
this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Set
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from publisher import __version__
from publisher.errors import Problem
from publisher.model import (
    EPOCH,
    NORMALISATION_RULES,
    Article,
    Candidate,
    Image,
    Provider,
    canonical_url,
)


def _record_version() -> str:
    """Changes whenever a stored record could mean something else: the model's fields, the
    normalisation rules, or a new release."""
    shape = [
        (cls.__name__, [(item.name, str(item.type)) for item in fields(cls)])
        for cls in (Article, Provider, Image)
    ]
    made = (__version__, NORMALISATION_RULES, shape)
    return hashlib.sha256(repr(made).encode()).hexdigest()[:16]


RECORD_VERSION = _record_version()


@dataclass(frozen=True)
class ArchiveLayout:
    """How a build laid out one feed's archive pages."""

    source: int
    """The content folder it was laid out from."""
    seq: int
    """Where the log of article changes stood (:meth:`Store.change_seq`) before it was."""
    signature: str
    """What else it was made from (the feed's settings and the renderer)."""
    pages: tuple[tuple[str, int], ...]
    """Each page's key and how many stories it holds, page 1 first."""
    items: str
    """The subscription document's stories, as :func:`encode_candidates` gives them."""

    def current(self) -> tuple[Candidate, ...]:
        """The subscription document's stories."""
        return tuple(Candidate(*row) for row in json.loads(self.items))


def encode_candidates(items: Iterable[Candidate]) -> str:
    """Stories as JSON, for :attr:`ArchiveLayout.items`."""
    return json.dumps(
        [
            (
                item.name,
                item.date_us,
                item.url,
                item.canonical,
                item.quality,
                item.heat,
                item.digest,
            )
            for item in items
        ]
    )


@dataclass(frozen=True)
class Changes:
    """What the log says changed since some point."""

    stories: frozenset[str]
    """The canonical URLs of articles stored or forgotten."""
    topics: frozenset[str]
    """The topics those articles carried, before or after."""


OutputStamp = tuple[int, int, str]
"""A file as publisher wrote it: its size, mtime (ns) and SHA-256."""

Sightings = Mapping[str, tuple[str, bool]]
"""Topic name → (the date it was last seen, ISO; whether the content still carried it)."""


@dataclass(frozen=True)
class FolderRecord:
    """What the store knows of an output folder that says whether a build has anything to do
    (:meth:`Store.folder_record`)."""

    outputs: Mapping[str, OutputStamp | None]
    """Every file publisher wrote (or was about to write) there, as :meth:`Store.outputs`."""
    last_build: tuple[str, int] | None
    """The inputs fingerprint of the last clean build, and when it ended."""
    sightings: Sightings
    """Each topic's last sighting and whether the content still carried it."""


@dataclass(frozen=True)
class BuildRecord(FolderRecord):
    """Everything the store knows of an output folder that a build plans from, read at once
    (:meth:`Store.build_record`). What depends on the plan (archive membership, renders kept
    by key, changes since a layout) is asked for as the planner needs it."""

    topic_slugs: Mapping[str, str]
    """The folder each topic's feeds were published under, by topic name."""
    page_keys: Mapping[str, str]
    """The key of what each archive file was last written from, by path."""
    layouts: Mapping[str, ArchiveLayout]
    """How the last build laid out each archived feed, by feed folder."""
    seq: int
    """Where the log of article changes stood when the record was read."""
    last_selected: tuple[int, str] | None
    """How many articles the last build selected, and the digest of its selection settings."""


ArchiveUpdate = tuple[ArchiveLayout, Mapping[str, int], Collection[str]]
"""One archived feed's new layout, its stories that moved (to their page), those to forget."""


@dataclass(frozen=True)
class BuildUpdate:
    """Everything the store learns from a build once its files are written, recorded at once
    (:meth:`Store.record_build`)."""

    outputs: Mapping[str, OutputStamp]
    """Exactly what the folder now holds."""
    inputs: str
    """The inputs fingerprint of a clean build; empty when the next build must not be skipped."""
    written_ns: int
    selected: int
    """Distinct articles in the subscription documents."""
    rules: str
    """The digest of the selection settings they were selected by."""
    topic_slugs: Mapping[str, str]
    archives: Mapping[str, ArchiveUpdate]
    """Each archived feed's layout and membership changes, by feed folder."""
    page_keys: Mapping[str, str]
    """Every archive file with the key of what it is made from."""
    sightings: Sightings | None
    """Each topic's last sighting; ``None`` keeps those on record."""
    rendered: Mapping[str, Mapping[str, bytes]]
    """Subscription documents rendered by this build, by render key."""
    used_renders: Set[str]
    """The render keys still in use: the others are dropped."""
    pinged: Collection[str] = ()
    """Feed URLs no longer waiting for a ping to the hub."""


def retirement_due(sightings: Sightings, seen_before: str) -> bool:
    """Whether a topic gone from the content was last seen before ``seen_before`` (an ISO
    date): a build would retire its feed."""
    return any(not present and seen < seen_before for seen, present in sightings.values())


ArticleRow = tuple[Any, ...]
"""One ``articles`` row as :func:`article_row` makes it, topics last."""


def stamp_key(name: str, size: int, mtime_ns: int) -> str:
    """A file's name and stamp as one string, as :meth:`Store.trusted_stamps` gives them."""
    # "/" cannot be part of a file name, and NUL (which separates keys) cannot either.
    return f"{name}/{size}/{mtime_ns}"


def article_row(name: str, parsed: Article | Problem, read_ns: int) -> ArticleRow:
    """What the store keeps of one file; runs in the parsing worker processes.

    The size and mtime are those of the file when it was read, filled in from the scan by
    :meth:`Store.put_articles`.
    """
    if isinstance(parsed, Problem):
        # A file that could not be read is tried again next run: it never matches a stamp.
        read = -1 if parsed.transient else read_ns
        return (name, read, RECORD_VERSION, parsed.field, parsed.message) + (None,) * 8 + ((),)
    record = _RECORD_ENCODER.encode(_encode(parsed))
    return (
        name,
        read_ns,
        RECORD_VERSION,
        None,
        None,
        int(parsed.published),
        parsed.quality,
        parsed.heat,
        _microseconds(parsed),
        parsed.url,
        canonical_url(parsed.url),
        hashlib.sha256(record.encode()).hexdigest()[:24],
        record,
        parsed.topics,
    )


_RECORD_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""One encoder for every record: ``json.dumps`` with options makes a new one each call."""


def _microseconds(article: Article) -> int:
    return (article.published_at - EPOCH) // timedelta(microseconds=1)


def _encode(article: Article) -> dict[str, Any]:
    provider = article.provider
    return {
        "title": article.title,
        "url": article.url,
        "date_us": _microseconds(article),
        "excerpt": article.excerpt,
        "type": article.type,
        "quality": article.quality,
        "heat": article.heat,
        "published": article.published,
        "provider": None
        if provider is None
        else {
            "name": provider.name,
            "domain": provider.domain,
            "logo": _encode_image(provider.logo) if provider.logo else None,
        },
        "topics": list(article.topics),
        "images": [_encode_image(image) for image in article.images],
        "amp_url": article.amp_url,
    }


def _encode_image(image: Image) -> dict[str, Any]:
    return {"url": image.url, "width": image.width, "height": image.height, "title": image.title}


def decode_article(record: str, path: str) -> Article:
    """A stored record → the article it was made from, at ``path``."""
    data = json.loads(record)
    provider = data["provider"]
    return Article(
        path=path,
        title=data["title"],
        url=data["url"],
        published_at=EPOCH + timedelta(microseconds=data["date_us"]),
        excerpt=data["excerpt"],
        type=data["type"],
        quality=data["quality"],
        heat=data["heat"],
        published=data["published"],
        provider=None
        if provider is None
        else Provider(
            provider["name"],
            provider["domain"],
            _decode_image(provider["logo"]) if provider["logo"] else None,
        ),
        topics=tuple(data["topics"]),
        images=tuple(_decode_image(image) for image in data["images"]),
        amp_url=data["amp_url"],
    )


def _decode_image(data: dict[str, Any]) -> Image:
    return Image(data["url"], data["width"], data["height"], data["title"])


@dataclass(frozen=True, slots=True)
class SendRecord:
    """A newsletter delivered to a list, or being delivered (``state`` = ``sending``)."""

    message_id: str
    state: str
    at: str
    week_starts: int | None = None
    """The weekday (ISO, 1 for Monday) the issue's week started on; ``None`` when it was
    recorded before sends kept it."""


@dataclass(frozen=True, slots=True)
class IssueRecord:
    """A newsletter issue written to a ``digest.out`` folder: what its feed entry needs.

    ``sent_at`` and ``updated`` are ISO 8601 in UTC (so they sort as text); ``updated`` moves
    only when the issue's HTML (``sha256``) changes after it was first written.
    """

    week: str
    entry_id: str
    """The feed entry's id, fixed when the week is first written."""
    title: str
    sent_at: str
    updated: str
    sha256: str
    archive_name: str
    summary: str
    content: str
    lead: str = ""
    """The lead story's headline (empty for issues recorded before it was kept)."""
    heading: str = ""
    """What the issue covers, as its masthead says (``The week of 16-22 November 2026``)."""
