"""The newsletter: issues written to a ``digest.out`` folder and sends to a list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

from publisher.errors import StoreError
from publisher.state.connection import Connection
from publisher.state.records import IssueRecord, SendRecord

_ISSUE_COLUMNS = (
    "week, entry_id, title, sent_at, updated, sha256, archive_name, summary, content, lead, heading"
)
SEND_COLUMNS = ("list_address", "week", "message_id", "state", "at", "week_starts")
"""The columns of ``sends`` carried over from a store set aside (the last may be missing)."""
_SEND_RECORD = "message_id, state, at, week_starts"


class SendsLost(StoreError):
    """The record of sends went with a store set aside and could not be read back: whether a
    week was sent to the list is unknown, so only ``--resend`` sends it."""


class NewsletterRecords(Connection):
    """Issues and sends."""

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
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

    def send_record(self, list_address: str, week: str) -> SendRecord | None:
        rows = self._query(
            f"SELECT {_SEND_RECORD} FROM sends WHERE list_address = ? AND week = ?",
            (list_address, week),
        )
        return SendRecord(*rows[0]) if rows else None

    def claim_send(
        self,
        list_address: str,
        week: str,
        message_id: str,
        at: str,
        *,
        resend: bool = False,
        starts: int = 1,
        label: str = "",
    ) -> SendRecord | None:
        """Record a send to the list as ``sending``, in one step with the check of an earlier
        one: the earlier record when there is one (and ``resend`` is not set), else ``None``
        and the week is claimed. A run that dies mid-send leaves it ``sending``.

        ``week`` names the issue, ``starts`` is the weekday its week starts on. An issue whose
        week does not start on Monday also finds a send of its plain ``label`` recorded before
        sends kept the day (``week_starts`` unknown): it may have been this issue."""
        with self.transaction() as db:
            row = db.execute(
                f"SELECT {_SEND_RECORD} FROM sends WHERE list_address = ? AND week = ?",
                (list_address, week),
            ).fetchone()
            if row is None and label and label != week:
                row = db.execute(
                    f"SELECT {_SEND_RECORD} FROM sends WHERE list_address = ? AND week = ?"
                    " AND week_starts IS NULL",
                    (list_address, label),
                ).fetchone()
            if row is not None and not resend:
                return SendRecord(*row)
            lost = db.execute("SELECT reason FROM sends_lost LIMIT 1").fetchone()
            if lost is not None and not resend:
                raise SendsLost(
                    f"cannot tell whether {week} was sent to {list_address}: the record of"
                    f" newsletters sent was lost ({lost[0]}); check the list, then --resend"
                    " to send it",
                    path=str(self.path),
                )
            db.execute(
                "INSERT OR REPLACE INTO sends (list_address, week, message_id, state, at,"
                " week_starts) VALUES (?, ?, ?, 'sending', ?, ?)",
                (list_address, week, message_id, at, starts),
            )
        return None

    def mark_sent(self, list_address: str, week: str) -> None:
        """The server accepted the message claimed by :meth:`claim_send`. A record lost
        before is settled by it: the send was ``--resend``, so someone checked the list."""
        with self.transaction() as db:
            db.execute(
                "UPDATE sends SET state = 'sent' WHERE list_address = ? AND week = ?",
                (list_address, week),
            )
            db.execute("DELETE FROM sends_lost")

    def forget_issue(self, folder: str, week: str) -> None:
        """Forget the issue of ``week`` written to ``folder`` (recorded under another name)."""
        with self.transaction() as db:
            db.execute("DELETE FROM issues WHERE folder = ? AND week = ?", (folder, week))

    def forget_send(self, list_address: str, week: str) -> None:
        """A send that certainly failed: the next run may try again."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM sends WHERE list_address = ? AND week = ?", (list_address, week)
            )

    def carry_sends(self, rows: Iterable[Sequence[Any]], lost: Iterable[str]) -> None:
        """Take over the sends of a store set aside (:data:`SEND_COLUMNS`), and record that
        the record was ``lost`` (why) when it could not be read."""
        with self.transaction() as db:
            db.executemany(
                f"INSERT OR IGNORE INTO sends ({', '.join(SEND_COLUMNS)})"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany("INSERT INTO sends_lost (reason) VALUES (?)", ((r,) for r in lost))

    def sends_lost(self) -> list[str]:
        """Why the record of sends is incomplete, if it is (see :class:`SendsLost`)."""
        return [row[0] for row in self._query("SELECT reason FROM sends_lost")]

    def edition_sends(self, edition: str) -> tuple[str | None, dict[str, str], set[str]]:
        """What the list of ``edition`` was sent: the first day of its first issue, the
        period each article sent was held by (by URL), and the periods sent."""
        periods = self._query(
            "SELECT period, first_day FROM edition_issues WHERE edition = ?", (edition,)
        )
        held = self._query("SELECT url, period FROM edition_articles WHERE edition = ?", (edition,))
        first = min((row[1] for row in periods), default=None)
        return first, {url: period for url, period in held}, {row[0] for row in periods}

    def keep_edition_issue(
        self, edition: str, period: str, first_day: str, urls: Iterable[str]
    ) -> None:
        """Record the articles an issue of ``edition`` sent to its list held."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO edition_issues (edition, period, first_day)"
                " VALUES (?, ?, ?)",
                (edition, period, first_day),
            )
            db.executemany(
                "INSERT OR IGNORE INTO edition_articles (edition, url, period) VALUES (?, ?, ?)",
                ((edition, url, period) for url in urls),
            )

    def forget_edition_issue(self, edition: str, period: str) -> None:
        """A send that certainly failed: its articles were not sent."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM edition_issues WHERE edition = ? AND period = ?", (edition, period)
            )
            db.execute(
                "DELETE FROM edition_articles WHERE edition = ? AND period = ?", (edition, period)
            )
