"""The newsletter: issues written to a ``digest.out`` folder and sends to a list."""

from __future__ import annotations

from dataclasses import fields

from publisher.state.connection import Connection
from publisher.state.records import IssueRecord, SendRecord

_ISSUE_COLUMNS = "week, entry_id, title, sent_at, updated, sha256, archive_name, summary, content"


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
