"""The one SQLite connection every table group shares: its transactions and queries, and
sqlite3's errors as publisher's."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from publisher.errors import LockTimeout, OutputError, StoreError


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

    def close(self) -> None:
        self.connection.close()

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
