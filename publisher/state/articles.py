"""The article tables: each file's parse, the light columns selection queries, and the log of
what changed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from publisher.model import Candidate
from publisher.state import records as codec
from publisher.state.connection import Connection
from publisher.state.records import ArticleRow, Changes


class ArticleQueries(Connection):
    """Content folders and their articles."""

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
        # The codec's own version, read through its module: a stand-in release changes both.
        return set(
            self._joined(
                "name || '/' || size || '/' || mtime_ns",
                "source = ? AND version = ? AND mtime_ns < read_ns - ?",
                (source, codec.RECORD_VERSION, racy_ns),
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
        A run killed half-way rolls back to before it. The load is copied from the log into
        the store file while the job goes on (at its commit, it took a third of the index
        build's time again)."""
        with self.checkpointed_later(), self.transaction() as db:
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
