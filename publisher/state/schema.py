"""Opening the store: the schema and its migrations, and a damaged file set aside.

The schema is created and migrated here and nowhere else.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from publisher.errors import StoreError
from publisher.output import make_folder
from publisher.state.builds import BuildRecords
from publisher.state.connection import CHECKPOINT_PAGES, DamagedStore, _translated
from publisher.state.newsletter import SEND_COLUMNS, NewsletterRecords

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
    """
    CREATE TABLE sends_lost (reason TEXT NOT NULL);
    """,
    """
    ALTER TABLE sends ADD COLUMN week_starts INTEGER;
    """,
    """
    CREATE TABLE edition_issues (
        edition TEXT NOT NULL, period TEXT NOT NULL, first_day TEXT NOT NULL,
        PRIMARY KEY (edition, period)
    ) WITHOUT ROWID;
    CREATE TABLE edition_articles (
        edition TEXT NOT NULL, url TEXT NOT NULL, period TEXT NOT NULL,
        PRIMARY KEY (edition, url)
    ) WITHOUT ROWID;
    """,
    """
    ALTER TABLE issues ADD COLUMN lead TEXT NOT NULL DEFAULT '';
    ALTER TABLE issues ADD COLUMN heading TEXT NOT NULL DEFAULT '';
    """,
)
"""Migration N brings a store from ``user_version`` N to N + 1; append, never edit."""


SCHEMA_VERSION = len(MIGRATIONS)


class Store(BuildRecords, NewsletterRecords):
    """An open state store. Use :func:`open_store`; every method is one short transaction."""


def open_store(cache_dir: Path, *, wait: float = 60.0) -> tuple[Store, list[str]]:
    """The store in ``cache_dir``, created or migrated as needed, and any warnings.

    ``wait`` is how long a write may wait for another run's transaction. A damaged, foreign
    or newer file is moved aside (``*.broken``) and a new store started (see
    :func:`set_aside`): it is a cache of what the files say, plus the record of sends, which
    is carried over.
    """
    make_folder(cache_dir)
    path = cache_dir / DB_NAME
    try:
        return _open(path, wait), []
    except DamagedStore as damage:
        warning = set_aside(path, str(damage), wait=wait)
        return _open(path, wait), [warning]


def set_aside(path: Path, reason: str, *, wait: float = 60.0) -> str:
    """Move a damaged store out of the way and start a new one; the warning to show.

    The record of sends must outlive the file, or the next ``--send`` mails the list again:
    it is copied into the new store when the old file can still be read as a publisher store
    (a newer schema, or damage elsewhere); when it cannot, the new store says the record was
    lost, and a send to a list needs ``--resend`` (:class:`~publisher.state.SendsLost`).
    """
    aside = path.with_name(f"{path.name}.broken")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").replace(f"{aside}{suffix}")
    sends = read_sends(aside)
    store = _open(path, wait)
    try:
        if sends is None:
            store.carry_sends([], [f"{aside.name}: {reason}"])
        else:
            store.carry_sends(*sends)
    finally:
        store.close()
    kept = (
        "the record of newsletters sent is carried over"
        if sends is not None
        else "the record of newsletters sent could not be read, so --send to a list needs"
        " --resend once"
    )
    return (
        f"{path}: {reason}; moved to {aside.name} and started afresh"
        f" (every file is parsed again; {kept})"
    )


def read_sends(path: Path) -> tuple[list[tuple[Any, ...]], list[str]] | None:
    """The ``sends`` rows of a store set aside, and any record loss it already knew of
    (read only, the file left as it is); ``None`` when they cannot be trusted: not a
    publisher store, no such table, or the table damaged."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            return None
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema")}
        columns = {row[1] for row in db.execute("PRAGMA table_info(sends)")}
        if not set(SEND_COLUMNS[:-1]) <= columns:
            return None
        checked = [table for table in ("sends", "sends_lost") if table in tables]
        for table in checked:
            if db.execute(f"PRAGMA quick_check({table})").fetchall() != [("ok",)]:
                return None
        wanted = [name if name in columns else "NULL" for name in SEND_COLUMNS]
        rows = db.execute(f"SELECT {', '.join(wanted)} FROM sends").fetchall()
        lost = []
        if "sends_lost" in tables:
            lost = [row[0] for row in db.execute("SELECT reason FROM sends_lost")]
        return rows, lost
    except sqlite3.Error:
        return None
    finally:
        db.close()


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
    connection.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
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
