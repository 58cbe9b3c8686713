"""The only keeper of memory between runs: one SQLite file in the cache folder.

It holds every article file's parse (by name, with its size and mtime, the light columns
selection queries and the full record by field name), what each output folder holds, rendered
feeds and inlined newsletters by the hash of what went in, the topic folders and when each
topic was last seen, which archive page each story sits on, and the newsletters sent. The
schema is created and migrated here and nowhere else. A file that is damaged, foreign or from a
newer version is moved aside and rebuilt with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from publisher import __version__
from publisher.errors import LockTimeout, OutputError, Problem, StoreError
from publisher.model import (
    EPOCH,
    NORMALISATION_RULES,
    Article,
    Candidate,
    Image,
    Provider,
    canonical_url,
)
from publisher.output import make_folder

DB_NAME = "publisher.sqlite3"
APPLICATION_ID = 0x7075626C
"""``PRAGMA application_id`` of a publisher store ("publ"): any other SQLite file is foreign."""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sources (id INTEGER PRIMARY KEY, folder TEXT NOT NULL UNIQUE);
    CREATE TABLE articles (
        source INTEGER NOT NULL, name TEXT NOT NULL,
        size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, read_ns INTEGER NOT NULL,
        version TEXT NOT NULL,
        problem_field TEXT, problem TEXT,
        published INTEGER, quality INTEGER, heat INTEGER, date_us INTEGER,
        url TEXT, canonical TEXT, digest TEXT, record TEXT,
        UNIQUE (source, name)
    );
    CREATE INDEX articles_newest ON articles (source, date_us DESC, url, name)
        WHERE problem IS NULL AND published = 1;
    CREATE INDEX articles_by_canonical ON articles (source, canonical) WHERE problem IS NULL;
    CREATE INDEX articles_with_problems ON articles (source, name) WHERE problem IS NOT NULL;
    CREATE INDEX articles_stamps ON articles (source, version, name, size, mtime_ns, read_ns);
    CREATE TABLE article_topics (
        source INTEGER NOT NULL, topic TEXT NOT NULL, date_us INTEGER NOT NULL,
        name TEXT NOT NULL, published INTEGER NOT NULL, quality INTEGER,
        PRIMARY KEY (source, topic, date_us, name)
    ) WITHOUT ROWID;
    CREATE INDEX article_topics_by_name ON article_topics (source, name);
    CREATE TABLE builds (
        folder TEXT PRIMARY KEY, inputs TEXT NOT NULL, written_ns INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE outputs (
        folder TEXT NOT NULL, path TEXT NOT NULL,
        size INTEGER, mtime_ns INTEGER, sha256 TEXT,
        PRIMARY KEY (folder, path)
    ) WITHOUT ROWID;
    CREATE TABLE renders (
        folder TEXT NOT NULL, key TEXT NOT NULL, file TEXT NOT NULL, data BLOB NOT NULL,
        UNIQUE (folder, key, file)
    );
    CREATE TABLE inlined (key TEXT PRIMARY KEY, html TEXT NOT NULL, used INTEGER NOT NULL);
    CREATE TABLE topics (
        folder TEXT NOT NULL, name TEXT NOT NULL, slug TEXT NOT NULL,
        PRIMARY KEY (folder, name)
    ) WITHOUT ROWID;
    CREATE TABLE sends (
        list_address TEXT NOT NULL, week TEXT NOT NULL, message_id TEXT NOT NULL,
        state TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (list_address, week)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE selections (
        folder TEXT PRIMARY KEY, selected INTEGER NOT NULL, rules TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE pings (
        folder TEXT NOT NULL, url TEXT NOT NULL,
        PRIMARY KEY (folder, url)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE issues (
        folder TEXT NOT NULL, week TEXT NOT NULL, entry_id TEXT NOT NULL, title TEXT NOT NULL,
        sent_at TEXT NOT NULL, updated TEXT NOT NULL, sha256 TEXT NOT NULL,
        archive_name TEXT NOT NULL, summary TEXT NOT NULL, content TEXT NOT NULL,
        UNIQUE (folder, week)
    );
    CREATE INDEX issues_newest ON issues (folder, sent_at DESC);
    CREATE INDEX articles_by_quality ON articles (source, published, quality)
        WHERE problem IS NULL;
    CREATE INDEX article_topics_by_quality ON article_topics (source, published, topic, quality);
    """,
    """
    CREATE TABLE compiled (key TEXT PRIMARY KEY, data BLOB NOT NULL);
    """,
    """
    CREATE TABLE archive_members (
        folder TEXT NOT NULL, feed TEXT NOT NULL, canonical TEXT NOT NULL, page INTEGER NOT NULL,
        PRIMARY KEY (folder, feed, canonical)
    ) WITHOUT ROWID;
    CREATE TABLE archive_pages (
        folder TEXT NOT NULL, path TEXT NOT NULL, key TEXT NOT NULL,
        PRIMARY KEY (folder, path)
    ) WITHOUT ROWID;
    DROP INDEX articles_newest;
    CREATE INDEX articles_candidates
        ON articles (source, date_us DESC, url, name, quality, canonical, heat, digest)
        WHERE problem IS NULL AND published = 1;
    CREATE INDEX articles_candidates_by_name
        ON articles (source, name, date_us, url, canonical, quality, heat, digest)
        WHERE problem IS NULL;
    """,
    """
    CREATE TABLE topic_sightings (
        folder TEXT NOT NULL, name TEXT NOT NULL, last_seen TEXT NOT NULL,
        present INTEGER NOT NULL,
        PRIMARY KEY (folder, name)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE article_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, source INTEGER NOT NULL, canonical TEXT NOT NULL
    );
    CREATE INDEX article_changes_by_source ON article_changes (source, seq);
    CREATE TRIGGER article_stored BEFORE INSERT ON articles BEGIN
        INSERT INTO article_changes (source, canonical)
            SELECT source, canonical FROM articles
            WHERE source = new.source AND name = new.name AND canonical IS NOT NULL;
        INSERT INTO article_changes (source, canonical)
            SELECT new.source, new.canonical WHERE new.canonical IS NOT NULL;
    END;
    CREATE TRIGGER article_forgotten AFTER DELETE ON articles
        WHEN old.canonical IS NOT NULL BEGIN
        INSERT INTO article_changes (source, canonical) VALUES (old.source, old.canonical);
    END;
    CREATE TABLE archive_layouts (
        folder TEXT NOT NULL, feed TEXT NOT NULL, source INTEGER NOT NULL,
        seq INTEGER NOT NULL, signature TEXT NOT NULL, pages TEXT NOT NULL,
        PRIMARY KEY (folder, feed)
    ) WITHOUT ROWID;
    CREATE INDEX archive_members_by_page ON archive_members (folder, feed, page);
    """,
    """
    ALTER TABLE article_changes ADD COLUMN topic TEXT;
    CREATE TRIGGER article_topic_stored AFTER INSERT ON article_topics BEGIN
        INSERT INTO article_changes (source, canonical, topic) VALUES (new.source, coalesce(
            (SELECT canonical FROM articles WHERE source = new.source AND name = new.name), ''
        ), new.topic);
    END;
    CREATE TRIGGER article_topic_forgotten BEFORE DELETE ON article_topics BEGIN
        INSERT INTO article_changes (source, canonical, topic) VALUES (old.source, coalesce(
            (SELECT canonical FROM articles WHERE source = old.source AND name = old.name), ''
        ), old.topic);
    END;
    ALTER TABLE archive_layouts ADD COLUMN items TEXT NOT NULL DEFAULT '';
    DELETE FROM archive_layouts;
    """,
)
"""Migration N brings a store from ``user_version`` N to N + 1; append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)
_ISSUE_COLUMNS = "week, entry_id, title, sent_at, updated, sha256, archive_name, summary, content"
MAX_CHANGE_LOG = 100_000
"""Changes an archive layout may fall behind by before it is dropped (its folder is then laid
out from every story), so a folder no longer built does not keep the log growing."""
INLINED_KEPT = 16
"""Inlined newsletters kept: a few weeks of reruns and previews."""


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


ArticleRow = tuple[Any, ...]
"""One ``articles`` row as :func:`article_row` makes it, topics last."""


# Records ------------------------------------------------------------------------------------


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
    record = json.dumps(_encode(parsed), ensure_ascii=False, separators=(",", ":"))
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


# The store ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendRecord:
    """A newsletter delivered to a list, or being delivered (``state`` = ``sending``)."""

    message_id: str
    state: str
    at: str


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


class DamagedStore(StoreError):
    """The store file is not a healthy publisher store; it is set aside and rebuilt."""


class Store:
    """An open state store. Use :func:`open_store`; every method is one short transaction."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self._sources: dict[str, int] = {}
        self._bulk = False

    def close(self) -> None:
        self.connection.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything in it lands together, or none of it. Inside
        :meth:`bulk_load` it is part of that one transaction."""
        if self._bulk:
            yield self.connection
            return
        with _translated(self.path):
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        with _translated(self.path):
            return self.connection.execute(sql, parameters).fetchall()

    # Articles -------------------------------------------------------------------------------

    def source(self, folder: Path) -> int:
        """The id of a content folder (by its real path), created on first use."""
        key = os.path.realpath(folder)
        if key not in self._sources:
            with self.transaction() as db:
                db.execute("INSERT OR IGNORE INTO sources (folder) VALUES (?)", (key,))
                row = db.execute("SELECT id FROM sources WHERE folder = ?", (key,)).fetchone()
            self._sources[key] = row[0]
        return self._sources[key]

    def stored_names(self, source: int) -> set[str]:
        """Every file of a content folder the store holds."""
        return set(self._joined("name", "source = ?", (source,)))

    def trusted_stamps(self, source: int, racy_ns: int) -> set[str]:
        """``stamp_key`` of every stored file whose record can be reused: made by this version,
        and read more than ``racy_ns`` after the file was last modified."""
        return set(
            self._joined(
                "name || '/' || size || '/' || mtime_ns",
                "source = ? AND version = ? AND mtime_ns < read_ns - ?",
                (source, RECORD_VERSION, racy_ns),
            )
        )

    def _joined(self, expression: str, where: str, parameters: Sequence[Any]) -> list[str]:
        # One string from SQLite, split in C: far cheaper than a Python tuple per row.
        rows = self._query(
            f"SELECT group_concat({expression}, char(0)) FROM articles WHERE {where}", parameters
        )
        return rows[0][0].split("\0") if rows[0][0] else []

    @contextlib.contextmanager
    def bulk_load(self, source: int) -> Iterator[None]:
        """Store a whole content folder's files in one transaction, the article tables'
        secondary indexes dropped first and built once at the end: sorting once costs a third
        of 50,000 B-tree inserts into each. Nor is each file logged as a change: archive
        layouts of the folder are dropped instead (they are made again from every story).
        A run killed half-way rolls back to before it."""
        with self.transaction() as db:
            dropped = db.execute(
                "SELECT type, name, sql FROM sqlite_schema WHERE type IN ('index', 'trigger')"
                " AND sql IS NOT NULL AND tbl_name IN ('articles', 'article_topics')"
            ).fetchall()
            for kind, name, _ in dropped:
                db.execute(f'DROP {kind.upper()} "{name}"')
            db.execute("DELETE FROM archive_layouts WHERE source = ?", (source,))
            self._bulk = True
            try:
                yield
            finally:
                self._bulk = False
            for _, _, sql in dropped:
                db.execute(sql)

    def put_articles(
        self, source: int, stamps: Mapping[str, tuple[int, int]], rows: Iterable[ArticleRow]
    ) -> None:
        """Store parsed files (rows from :func:`article_row`), replacing what was there."""
        articles: list[tuple[Any, ...]] = []
        topics: list[tuple[Any, ...]] = []
        names: list[tuple[int, str]] = []
        for row in rows:
            name = row[0]
            size, mtime_ns = stamps[name]
            names.append((source, name))
            articles.append((source, name, size, mtime_ns, *row[1:-1]))
            if row[4] is None:
                topics.extend((source, topic, row[8], name, row[5], row[6]) for topic in row[-1])
        with self.transaction() as db:
            if not self._bulk:  # a bulk load stores new files only, and has no index to find old
                db.executemany("DELETE FROM article_topics WHERE source = ? AND name = ?", names)
            db.executemany(
                "INSERT OR REPLACE INTO articles (source, name, size, mtime_ns, read_ns, version,"
                " problem_field, problem, published, quality, heat, date_us, url, canonical,"
                " digest, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                articles,
            )
            db.executemany(
                "INSERT OR REPLACE INTO article_topics (source, topic, date_us, name, published,"
                " quality) VALUES (?, ?, ?, ?, ?, ?)",
                topics,
            )

    def forget_articles(self, source: int, names: Iterable[str]) -> None:
        """Drop files that are gone from the content folder."""
        keys = [(source, name) for name in names]
        with self.transaction() as db:
            db.executemany("DELETE FROM articles WHERE source = ? AND name = ?", keys)
            db.executemany("DELETE FROM article_topics WHERE source = ? AND name = ?", keys)

    def problems(self, source: int) -> list[tuple[str, str, str, bool]]:
        """Every bad file: (name, field, message, whether it may pass by itself)."""
        return self._query(
            "SELECT name, problem_field, problem, read_ns < 0 FROM articles"
            " WHERE source = ? AND problem IS NOT NULL ORDER BY name",
            (source,),
        )

    def count(self, source: int, names: Sequence[str] | None = None) -> int:
        """How many files of a content folder the store holds (of ``names``, when given)."""
        if names is None:
            rows = self._query("SELECT count(*) FROM articles WHERE source = ?", (source,))
            return int(rows[0][0])
        total = 0
        for start in range(0, len(names), 500):
            chunk = list(names[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            rows = self._query(
                f"SELECT count(*) FROM articles WHERE source = ? AND name IN ({marks})",
                [source, *chunk],
            )
            total += int(rows[0][0])
        return total

    def topic_names(self, source: int) -> list[str]:
        """Every topic any good article of the folder carries, published or not."""
        rows = self._query("SELECT DISTINCT topic FROM article_topics WHERE source = ?", (source,))
        return [row[0] for row in rows]

    def newest(
        self,
        source: int,
        topic: str | None,
        min_quality: int,
        include_unrated: bool,
        limit: int,
        offset: int = 0,
    ) -> list[Candidate]:
        """Published articles that pass the quality rule, newest first (ties: URL, name)."""
        quality = "(a.quality >= ? OR (a.quality IS NULL AND ?))"
        columns = "a.name, a.date_us, a.url, a.canonical, a.quality, a.heat, a.digest"
        if topic is None:
            sql = (
                f"SELECT {columns} FROM articles a WHERE a.source = ? AND a.problem IS NULL"
                f" AND a.published = 1 AND {quality}"
                " ORDER BY a.date_us DESC, a.url, a.name LIMIT ? OFFSET ?"
            )
            parameters: tuple[Any, ...] = (source, min_quality, include_unrated, limit, offset)
        else:
            sql = (
                f"SELECT {columns} FROM article_topics t JOIN articles a"
                " ON a.source = t.source AND a.name = t.name"
                " WHERE t.source = ? AND t.topic = ? AND t.published = 1"
                " AND (t.quality >= ? OR (t.quality IS NULL AND ?))"
                " ORDER BY t.date_us DESC, a.url, a.name LIMIT ? OFFSET ?"
            )
            parameters = (source, topic, min_quality, include_unrated, limit, offset)
        return [Candidate(*row) for row in self._query(sql, parameters)]

    def every_candidate(
        self, source: int, topic: str | None, min_quality: int, include_unrated: bool
    ) -> list[Candidate]:
        """Every published article that passes the quality rule, ordered as :meth:`newest`.

        Archives need a feed's every story on each build, so this reads only the two covering
        indexes (``articles_candidates`` and, for a topic, ``articles_candidates_by_name``),
        never the table with its records.
        """
        columns = "a.name, a.date_us, a.url, a.canonical, a.quality, a.heat, a.digest"
        if topic is None:
            sql = (
                f"SELECT {columns} FROM articles a WHERE a.source = ? AND a.problem IS NULL"
                " AND a.published = 1 AND (a.quality >= ? OR (a.quality IS NULL AND ?))"
                " ORDER BY a.date_us DESC, a.url, a.name"
            )
            parameters: tuple[Any, ...] = (source, min_quality, include_unrated)
        else:
            # CROSS JOIN keeps the topic's rows as the outer loop; left to itself the planner
            # looks each one up through the table's unique index, reading every record's page.
            sql = (
                f"SELECT {columns} FROM article_topics t CROSS JOIN articles a"
                " INDEXED BY articles_candidates_by_name"
                " ON a.source = t.source AND a.name = t.name"
                " WHERE t.source = ? AND t.topic = ? AND t.published = 1 AND a.problem IS NULL"
                " AND (t.quality >= ? OR (t.quality IS NULL AND ?))"
                " ORDER BY t.date_us DESC, a.url, a.name"
            )
            parameters = (source, topic, min_quality, include_unrated)
        return [Candidate(*row) for row in self._query(sql, parameters)]

    def copies(
        self,
        source: int,
        topic: str | None,
        min_quality: int,
        include_unrated: bool,
        canonicals: Sequence[str],
    ) -> list[Candidate]:
        """Every published, qualifying copy of the given stories (by canonical URL)."""
        found: list[Candidate] = []
        topic_filter = (
            " AND EXISTS (SELECT 1 FROM article_topics t WHERE t.source = a.source"
            " AND t.name = a.name AND t.topic = ?)"
            if topic is not None
            else ""
        )
        for start in range(0, len(canonicals), 500):
            chunk = list(canonicals[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            sql = (
                "SELECT a.name, a.date_us, a.url, a.canonical, a.quality, a.heat, a.digest"
                # Named: left to itself the planner may walk every published row by quality.
                " FROM articles a INDEXED BY articles_by_canonical"
                " WHERE a.source = ? AND a.problem IS NULL AND a.published = 1"
                f" AND a.canonical IN ({marks})"
                " AND (a.quality >= ? OR (a.quality IS NULL AND ?))" + topic_filter
            )
            parameters = [source, *chunk, min_quality, include_unrated]
            if topic is not None:
                parameters.append(topic)
            found.extend(Candidate(*row) for row in self._query(sql, parameters))
        return found

    def published_between(self, source: int, start_us: int, end_us: int) -> list[tuple[str, str]]:
        """(name, record) of every published article dated in ``[start_us, end_us)``."""
        return self._query(
            "SELECT name, record FROM articles WHERE source = ? AND problem IS NULL"
            " AND published = 1 AND date_us >= ? AND date_us < ? ORDER BY date_us DESC, url, name",
            (source, start_us, end_us),
        )

    def topic_quality_counts(
        self, source: int
    ) -> tuple[list[tuple[str, int | None, int]], list[tuple[int | None, int]]]:
        """Published articles counted by topic and quality, ``(topic, quality, count)``, and
        by quality alone, ``(quality, count)``: what the newsletter needs to know how specific
        each topic is, without loading a single record."""
        by_topic = self._query(
            "SELECT topic, quality, count(*) FROM article_topics"
            " WHERE source = ? AND published = 1 GROUP BY topic, quality",
            (source,),
        )
        overall = self._query(
            "SELECT quality, count(*) FROM articles WHERE source = ? AND problem IS NULL"
            " AND published = 1 GROUP BY quality",
            (source,),
        )
        return [tuple(row) for row in by_topic], [tuple(row) for row in overall]

    def records(self, source: int, names: Sequence[str]) -> dict[str, str]:
        """The stored records of the named articles."""
        found: dict[str, str] = {}
        for start in range(0, len(names), 500):
            chunk = list(names[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            rows = self._query(
                f"SELECT name, record FROM articles WHERE source = ? AND name IN ({marks})"
                " AND problem IS NULL",
                [source, *chunk],
            )
            found.update(rows)
        return found

    # Builds and outputs ---------------------------------------------------------------------

    def last_build(self, folder: str) -> tuple[str, int] | None:
        """The inputs fingerprint of the last clean build into ``folder``, and when it ended."""
        rows = self._query("SELECT inputs, written_ns FROM builds WHERE folder = ?", (folder,))
        return (rows[0][0], rows[0][1]) if rows else None

    def outputs(self, folder: str) -> dict[str, tuple[int, int, str] | None]:
        """Every file publisher wrote (or was about to write) into ``folder``: its size,
        mtime and SHA-256 when written, ``None`` when claimed by a run that did not finish."""
        rows = self._query(
            "SELECT path, size, mtime_ns, sha256 FROM outputs WHERE folder = ?", (folder,)
        )
        return {
            path: (size, mtime, sha) if sha is not None else None for path, size, mtime, sha in rows
        }

    def claim_outputs(self, folder: str, paths: Iterable[str]) -> None:
        """Record paths about to be written, before writing: a run killed half-way still
        knows every file it may have left, and forgets the clean build it replaces."""
        with self.transaction() as db:
            db.execute("DELETE FROM builds WHERE folder = ?", (folder,))
            db.executemany(
                "INSERT OR IGNORE INTO outputs (folder, path) VALUES (?, ?)",
                [(folder, path) for path in paths],
            )

    def finish_outputs(
        self,
        folder: str,
        records: Mapping[str, tuple[int, int, str]],
        inputs: str,
        written_ns: int,
    ) -> None:
        """Record exactly what ``folder`` now holds, and the fingerprint of a clean build."""
        with self.transaction() as db:
            db.execute("DELETE FROM outputs WHERE folder = ?", (folder,))
            db.executemany(
                "INSERT INTO outputs (folder, path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?, ?)",
                [(folder, path, *record) for path, record in records.items()],
            )
            db.execute("DELETE FROM builds WHERE folder = ?", (folder,))
            if inputs:
                db.execute(
                    "INSERT INTO builds (folder, inputs, written_ns) VALUES (?, ?, ?)",
                    (folder, inputs, written_ns),
                )

    def last_selected(self, folder: str) -> tuple[int, str] | None:
        """How many distinct articles the last build into ``folder`` selected, and the digest
        of the selection settings it used."""
        rows = self._query("SELECT selected, rules FROM selections WHERE folder = ?", (folder,))
        return (rows[0][0], rows[0][1]) if rows else None

    def set_selected(self, folder: str, selected: int, rules: str) -> None:
        """Remember what a build into ``folder`` selected, for the next one to compare."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO selections (folder, selected, rules) VALUES (?, ?, ?)",
                (folder, selected, rules),
            )

    # Rendered files -------------------------------------------------------------------------

    def rendered(self, folder: str, key: str) -> dict[str, bytes]:
        """Files rendered earlier for ``folder`` from inputs hashing to ``key``."""
        rows = self._query(
            "SELECT file, data FROM renders WHERE folder = ? AND key = ?", (folder, key)
        )
        return {file: bytes(data) for file, data in rows}

    def keep_rendered(
        self, folder: str, new: Mapping[str, Mapping[str, bytes]], used: set[str]
    ) -> None:
        """Store new renderings and drop those no longer ``used`` by ``folder``."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO renders (folder, key, file, data) VALUES (?, ?, ?, ?)",
                [
                    (folder, key, file, data)
                    for key, files in new.items()
                    for file, data in files.items()
                ],
            )
            stored = {
                row[0]
                for row in db.execute(
                    "SELECT DISTINCT key FROM renders WHERE folder = ?", (folder,)
                )
            }
            db.executemany(
                "DELETE FROM renders WHERE folder = ? AND key = ?",
                [(folder, key) for key in stored - used],
            )

    def inlined(self, key: str) -> str | None:
        rows = self._query("SELECT html FROM inlined WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def keep_inlined(self, key: str, html: str) -> None:
        """Store an inlined newsletter; only the newest few are kept."""
        with self.transaction() as db:
            used = db.execute("SELECT coalesce(max(used), 0) + 1 FROM inlined").fetchone()[0]
            db.execute("INSERT OR REPLACE INTO inlined VALUES (?, ?, ?)", (key, html, used))
            db.execute("DELETE FROM inlined WHERE used <= ?", (used - INLINED_KEPT,))

    def compiled(self, key: str) -> bytes | None:
        """A compiled newsletter template, by Jinja's key for it."""
        rows = self._query("SELECT data FROM compiled WHERE key = ?", (key,))
        return bytes(rows[0][0]) if rows else None

    def keep_compiled(self, key: str, data: bytes) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO compiled VALUES (?, ?)", (key, data))

    # Topics ---------------------------------------------------------------------------------

    def topic_slugs(self, folder: str) -> dict[str, str]:
        """The folder each topic's feeds were published under, by topic name."""
        return dict(self._query("SELECT name, slug FROM topics WHERE folder = ?", (folder,)))

    def set_topic_slugs(self, folder: str, slugs: Mapping[str, str]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM topics WHERE folder = ?", (folder,))
            db.executemany(
                "INSERT INTO topics (folder, name, slug) VALUES (?, ?, ?)",
                [(folder, name, slug) for name, slug in slugs.items()],
            )

    # Issues ---------------------------------------------------------------------------------

    def issue(self, folder: str, week: str) -> IssueRecord | None:
        """The issue of ``week`` written to ``folder``, if one was."""
        rows = self._query(
            f"SELECT {_ISSUE_COLUMNS} FROM issues WHERE folder = ? AND week = ?", (folder, week)
        )
        return IssueRecord(*rows[0]) if rows else None

    def keep_issue(self, folder: str, record: IssueRecord) -> None:
        """Record an issue written to ``folder``, replacing an earlier one of its week."""
        with self.transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO issues (folder, {_ISSUE_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (folder, *(getattr(record, item.name) for item in fields(IssueRecord))),
            )

    def issues(self, folder: str, limit: int) -> list[IssueRecord]:
        """The newest ``limit`` issues written to ``folder``, newest first."""
        rows = self._query(
            f"SELECT {_ISSUE_COLUMNS} FROM issues WHERE folder = ?"
            " ORDER BY sent_at DESC, week DESC LIMIT ?",
            (folder, limit),
        )
        return [IssueRecord(*row) for row in rows]

    # Archive pages and topic sightings ------------------------------------------------------

    def change_seq(self) -> int:
        """Where the log of article changes stands: every stored or forgotten article adds to it."""
        rows = self._query("SELECT seq FROM sqlite_sequence WHERE name = 'article_changes'")
        return int(rows[0][0]) if rows else 0

    def changes_since(self, source: int, seq: int, most: int) -> Changes | None:
        """The stories (canonical URLs) and topics of the folder's articles stored or
        forgotten after ``seq``, or ``None`` when there are more than ``most``. The log keeps
        every change an archive layout on record may need (see :meth:`record_archives`)."""
        rows = self._query(
            "SELECT DISTINCT canonical, topic FROM article_changes WHERE source = ? AND seq > ?"
            " LIMIT ?",
            (source, seq, most + 1),
        )
        if len(rows) > most:
            return None
        stories = frozenset(canonical for canonical, _ in rows if canonical)
        return Changes(stories, frozenset(topic for _, topic in rows if topic is not None))

    def archive_layouts(self, folder: str) -> dict[str, ArchiveLayout]:
        """How the last build laid out each archived feed of the folder, by feed folder."""
        rows = self._query(
            "SELECT feed, source, seq, signature, pages, items FROM archive_layouts"
            " WHERE folder = ?",
            (folder,),
        )
        return {
            feed: ArchiveLayout(source, seq, signature, tuple(map(tuple, json.loads(pages))), items)
            for feed, source, seq, signature, pages, items in rows
        }

    def feed_members(self, folder: str, feed: str) -> dict[str, int]:
        """Which page each story (by canonical URL) of one feed sits on, 0 for the
        subscription document."""
        rows = self._query(
            "SELECT canonical, page FROM archive_members WHERE folder = ? AND feed = ?",
            (folder, feed),
        )
        return dict(rows)

    def pages_of(self, folder: str, feed: str, canonicals: Sequence[str]) -> dict[str, int]:
        """The remembered page of each given story of one feed that has one."""
        found: dict[str, int] = {}
        for start in range(0, len(canonicals), 500):
            chunk = list(canonicals[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            found.update(
                self._query(
                    "SELECT canonical, page FROM archive_members WHERE folder = ? AND feed = ?"
                    f" AND canonical IN ({marks})",
                    [folder, feed, *chunk],
                )
            )
        return found

    def page_members(self, folder: str, feed: str, page: int) -> list[str]:
        """The stories holding a place on one page of a feed (0: its subscription document)."""
        rows = self._query(
            "SELECT canonical FROM archive_members WHERE folder = ? AND feed = ? AND page = ?",
            (folder, feed, page),
        )
        return [row[0] for row in rows]

    def member_counts(self, folder: str, feed: str) -> dict[int, int]:
        """How many stories hold a place on each archive page of a feed."""
        rows = self._query(
            "SELECT page, count(*) FROM archive_members WHERE folder = ? AND feed = ? AND page > 0"
            " GROUP BY page",
            (folder, feed),
        )
        return dict(rows)

    def page_keys(self, folder: str) -> dict[str, str]:
        """The key of what each archive file was last written from, by path."""
        return dict(self._query("SELECT path, key FROM archive_pages WHERE folder = ?", (folder,)))

    def record_archives(
        self,
        folder: str,
        layouts: Mapping[str, tuple[ArchiveLayout, Mapping[str, int], Collection[str]]],
        recorded: Mapping[str, ArchiveLayout],
        old_keys: Mapping[str, str],
        new_keys: Mapping[str, str],
    ) -> None:
        """Record a build's archives at once: each archived feed's layout with the stories that
        moved (to their page) and those to forget; every archive file's key in place of
        ``old_keys``. Feeds not given lose what was remembered of them; a layout whose pages
        and items are as ``recorded`` (:meth:`archive_layouts` before the build) only moves on
        to its new ``seq``. The log of changes is cut back to what the oldest layout still
        needs."""
        gone_keys = [(folder, path) for path in old_keys.keys() - new_keys.keys()]
        changed_keys = [
            (folder, path, key) for path, key in new_keys.items() if old_keys.get(path) != key
        ]
        with self.transaction() as db:
            kept = list(layouts)
            marks = ", ".join("?" * len(kept))
            for table in ("archive_members", "archive_layouts"):
                db.execute(
                    f"DELETE FROM {table} WHERE folder = ? AND feed NOT IN ({marks})",
                    [folder, *kept],
                )
            for feed, (layout, placed, gone) in layouts.items():
                db.executemany(
                    "DELETE FROM archive_members WHERE folder = ? AND feed = ? AND canonical = ?",
                    [(folder, feed, canonical) for canonical in gone],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO archive_members (folder, feed, canonical, page)"
                    " VALUES (?, ?, ?, ?)",
                    [(folder, feed, canonical, page) for canonical, page in placed.items()],
                )
                if feed in recorded and replace(recorded[feed], seq=layout.seq) == layout:
                    db.execute(
                        "UPDATE archive_layouts SET seq = ? WHERE folder = ? AND feed = ?",
                        (layout.seq, folder, feed),
                    )
                    continue
                db.execute(
                    "INSERT OR REPLACE INTO archive_layouts"
                    " (folder, feed, source, seq, signature, pages, items)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        folder,
                        feed,
                        layout.source,
                        layout.seq,
                        layout.signature,
                        json.dumps(layout.pages),
                        layout.items,
                    ),
                )
            db.executemany("DELETE FROM archive_pages WHERE folder = ? AND path = ?", gone_keys)
            db.executemany(
                "INSERT OR REPLACE INTO archive_pages (folder, path, key) VALUES (?, ?, ?)",
                changed_keys,
            )
            # Layouts far behind (of a folder no longer built) stop holding the log back.
            newest = self.change_seq()
            db.execute("DELETE FROM archive_layouts WHERE seq < ?", (newest - MAX_CHANGE_LOG,))
            db.execute(
                "DELETE FROM article_changes WHERE seq <= coalesce("
                " (SELECT min(seq) FROM archive_layouts WHERE source = article_changes.source),"
                " ?)",
                (newest,),
            )

    def topic_sightings(self, folder: str) -> dict[str, tuple[str, bool]]:
        """Each topic's last sighting (an ISO date) and whether the content still carries it."""
        rows = self._query(
            "SELECT name, last_seen, present FROM topic_sightings WHERE folder = ?", (folder,)
        )
        return {name: (last_seen, bool(present)) for name, last_seen, present in rows}

    def set_topic_sightings(self, folder: str, sightings: Mapping[str, tuple[str, bool]]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM topic_sightings WHERE folder = ?", (folder,))
            db.executemany(
                "INSERT INTO topic_sightings (folder, name, last_seen, present)"
                " VALUES (?, ?, ?, ?)",
                [(folder, name, seen, int(present)) for name, (seen, present) in sightings.items()],
            )

    def retirement_due(self, folder: str, seen_before: str) -> bool:
        """Whether a topic gone from the content was last seen before ``seen_before``."""
        rows = self._query(
            "SELECT 1 FROM topic_sightings WHERE folder = ? AND present = 0 AND last_seen < ?"
            " LIMIT 1",
            (folder, seen_before),
        )
        return bool(rows)

    # Sends ----------------------------------------------------------------------------------

    def send_record(self, list_address: str, week: str) -> SendRecord | None:
        rows = self._query(
            "SELECT message_id, state, at FROM sends WHERE list_address = ? AND week = ?",
            (list_address, week),
        )
        return SendRecord(*rows[0]) if rows else None

    def claim_send(
        self, list_address: str, week: str, message_id: str, at: str, *, resend: bool = False
    ) -> SendRecord | None:
        """Record a send to the list as ``sending``, in one step with the check of an earlier
        one: the earlier record when there is one (and ``resend`` is not set), else ``None``
        and the week is claimed. A run that dies mid-send leaves it ``sending``."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT message_id, state, at FROM sends WHERE list_address = ? AND week = ?",
                (list_address, week),
            ).fetchone()
            if row is not None and not resend:
                return SendRecord(*row)
            db.execute(
                "INSERT OR REPLACE INTO sends VALUES (?, ?, ?, 'sending', ?)",
                (list_address, week, message_id, at),
            )
        return None

    def mark_sent(self, list_address: str, week: str) -> None:
        """The server accepted the message claimed by :meth:`claim_send`."""
        with self.transaction() as db:
            db.execute(
                "UPDATE sends SET state = 'sent' WHERE list_address = ? AND week = ?",
                (list_address, week),
            )

    def forget_send(self, list_address: str, week: str) -> None:
        """A send that certainly failed: the next run may try again."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM sends WHERE list_address = ? AND week = ?", (list_address, week)
            )

    # WebSub pings -----------------------------------------------------------------------------

    def pending_pings(self, folder: str) -> list[str]:
        """Feed URLs of ``folder`` whose change the hub has not yet been told of."""
        rows = self._query("SELECT url FROM pings WHERE folder = ? ORDER BY url", (folder,))
        return [row[0] for row in rows]

    def queue_pings(self, folder: str, urls: Iterable[str]) -> set[str]:
        """Record that the hub must be told these feeds changed; the ones not already waiting."""
        with self.transaction() as db:
            waiting = {
                row[0] for row in db.execute("SELECT url FROM pings WHERE folder = ?", (folder,))
            }
            new = set(urls) - waiting
            db.executemany(
                "INSERT INTO pings (folder, url) VALUES (?, ?)", [(folder, url) for url in new]
            )
        return new

    def forget_pings(self, folder: str, urls: Iterable[str]) -> None:
        """The hub was told (or need not be) of these feeds."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM pings WHERE folder = ? AND url = ?", [(folder, url) for url in urls]
            )

    def forget_folder(self, folder: str) -> None:
        """Forget everything about an output folder that is gone for good (a preview's)."""
        with self.transaction() as db:
            for table in ("outputs", "builds", "renders", "topics", "pings"):
                db.execute(f"DELETE FROM {table} WHERE folder = ?", (folder,))


# Opening ------------------------------------------------------------------------------------


def open_store(cache_dir: Path, *, wait: float = 60.0) -> tuple[Store, list[str]]:
    """The store in ``cache_dir``, created or migrated as needed, and any warnings.

    ``wait`` is how long a write may wait for another run's transaction. A damaged, foreign
    or newer file is moved aside (``*.broken``) and a new store started: it is a cache of what
    the files say, plus the record of sends, which is then lost (said in the warning).
    """
    make_folder(cache_dir)
    path = cache_dir / DB_NAME
    try:
        return _open(path, wait), []
    except DamagedStore as damage:
        warning = set_aside(path, str(damage))
        return _open(path, wait), [warning]


def set_aside(path: Path, reason: str) -> str:
    """Move a damaged store out of the way; the warning to show."""
    aside = path.with_name(f"{path.name}.broken")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").replace(f"{aside}{suffix}")
    return (
        f"{path}: {reason}; moved to {aside.name} and started afresh"
        " (every file is parsed again; the record of newsletters sent is in the old file)"
    )


def _open(path: Path, wait: float) -> Store:
    try:
        connection = sqlite3.connect(path, timeout=wait, isolation_level=None)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open: {error}", path=str(path)) from None
    try:
        with _translated(path):
            _prepare(connection)
    except BaseException:
        connection.close()
        raise
    return Store(connection, path)


def _prepare(connection: sqlite3.Connection) -> None:
    application_id, version = (
        connection.execute("PRAGMA application_id").fetchone()[0],
        connection.execute("PRAGMA user_version").fetchone()[0],
    )
    fresh = version == 0 and application_id == 0
    if fresh and connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]:
        raise DamagedStore("not a publisher store")
    if not fresh and application_id != APPLICATION_ID:
        raise DamagedStore("not a publisher store")
    if version > SCHEMA_VERSION:
        raise DamagedStore(f"made by a newer publisher (schema {version})")
    connection.execute("PRAGMA journal_mode = WAL")
    # WAL with NORMAL: a power cut may lose the last transaction, never corrupt the file.
    connection.execute("PRAGMA synchronous = NORMAL")
    # Checkpoint every 40 MB, not every 4: a cold build of 50,000 articles checkpoints a
    # handful of times instead of dozens (a fifth of its store time).
    connection.execute("PRAGMA wal_autocheckpoint = 10000")
    if version < SCHEMA_VERSION:
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = connection.execute("PRAGMA user_version").fetchone()[0]
            for step in MIGRATIONS[current:]:
                for statement in _statements(step):
                    connection.execute(statement)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of ``script``, one at a time (a trigger's body holds several)."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                yield statement
            statement = ""


@contextlib.contextmanager
def _translated(path: Path) -> Iterator[None]:
    """sqlite3's errors as publisher's: busy is :class:`LockTimeout`, a full or read-only disk
    :class:`OutputError`, anything else :class:`DamagedStore`."""
    try:
        yield
    except sqlite3.OperationalError as error:
        message = str(error)
        if "locked" in message or "busy" in message:
            raise LockTimeout(
                "another publisher run is writing the state store", path=str(path)
            ) from None
        if "disk I/O" in message or "readonly" in message or "unable to open" in message:
            raise OutputError(f"cannot write the state store: {message}", path=str(path)) from None
        if "full" in message:
            raise OutputError(f"cannot write the state store: {message}", path=str(path)) from None
        raise DamagedStore(message) from None
    except sqlite3.DatabaseError as error:
        raise DamagedStore(str(error)) from None
