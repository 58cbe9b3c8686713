"""What each output folder holds: its files and builds, rendered caches, topic folders and
sightings, and the WebSub pings still to send."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from publisher.state.connection import Connection

INLINED_KEPT = 16
"""Inlined newsletters kept: a few weeks of reruns and previews."""


class OutputRecords(Connection):
    """Output folders: what was written, rendered and seen there."""

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
        """Forget everything about an output folder that is gone for good (a preview's):
        every table that keeps something per output folder, its archives included."""
        with self.transaction() as db:
            for table in FOLDER_TABLES:
                db.execute(f"DELETE FROM {table} WHERE folder = ?", (folder,))


FOLDER_TABLES = (
    "outputs",
    "builds",
    "renders",
    "topics",
    "topic_sightings",
    "pings",
    "selections",
    "archive_members",
    "archive_pages",
    "archive_layouts",
)
"""The tables keeping something per output folder (``issues`` keeps the newsletter's)."""
