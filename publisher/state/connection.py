"""The one SQLite connection every table group shares: its transactions and queries, and
sqlite3's errors as publisher's."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from publisher.errors import LockTimeout, OutputError, StoreError

CHECKPOINT_PAGES = 10_000
"""Pages of log after which a commit copies it into the store file: every 40 MB, not every 4,
so a cold build of 50,000 articles checkpoints a handful of times instead of dozens (a fifth of
its store time)."""


class DamagedStore(StoreError):
    """The store file is not a healthy publisher store; it is set aside and rebuilt."""


class Connection:
    """The open connection of a :class:`~publisher.state.Store`, which adds the queries of
    each table group to it."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self._sources: dict[str, int] = {}
        self._bulk = False
        self._combined = False
        self._checkpoint: threading.Thread | None = None

    def close(self) -> None:
        self.finish_checkpoint()
        self.connection.close()

    def finish_checkpoint(self) -> None:
        """Wait for the checkpoint :meth:`checkpointed_later` started, if any: before this
        process forks workers, so no thread of the store's is running then."""
        if self._checkpoint is not None:
            self._checkpoint.join()
            self._checkpoint = None

    @contextlib.contextmanager
    def checkpointed_later(self) -> Iterator[None]:
        """Writes whose log is copied into the store file (a checkpoint) on a thread of its
        own once they are committed, while the job goes on: the commit of a bulk load would
        otherwise copy it all first. A checkpoint cut short is harmless: the log stays the
        store's until one completes, and the next one takes it up."""
        self.connection.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            yield
        finally:
            # Never in the way of what went wrong: a store that cannot take this cannot take more.
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
        self.finish_checkpoint()
        self._checkpoint = threading.Thread(
            target=_checkpoint, args=(self.path,), name="publisher-checkpoint"
        )
        self._checkpoint.start()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything in it lands together, or none of it. Inside
        :meth:`bulk_load` or :meth:`combined` it is part of that one transaction."""
        if self._bulk or self._combined:
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

    @contextlib.contextmanager
    def combined(self) -> Iterator[None]:
        """One write transaction for several writes that are each a transaction alone: they
        land together, or none of them does."""
        with self.transaction():
            self._combined = True
            try:
                yield
            finally:
                self._combined = False

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: every query in it sees the store as it stood at the first,
        whatever another connection commits meanwhile."""
        with _translated(self.path):
            self.connection.execute("BEGIN")
            try:
                yield
            except BaseException:
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        with _translated(self.path):
            return self.connection.execute(sql, parameters).fetchall()


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


def _checkpoint(path: Path) -> None:
    # A connection of its own: the job's goes on reading and writing meanwhile.
    with contextlib.suppress(sqlite3.Error):
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()
