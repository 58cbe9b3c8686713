"""Archive pages: each feed's layout, the page each story sits on, and each page's key."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from publisher.state.articles import ArticleQueries
from publisher.state.records import ArchiveLayout

MAX_CHANGE_LOG = 100_000
"""Changes an archive layout may fall behind by before it is dropped (its folder is then laid
out from every story), so a folder no longer built does not keep the log growing."""


class ArchiveRecords(ArticleQueries):
    """Archived feeds; their layouts follow the log of article changes."""

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
