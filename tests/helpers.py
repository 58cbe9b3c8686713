"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from publisher.config import Config, DigestConfig, SiteConfig
from publisher.content.parallel import parse_file
from publisher.content.scan import scan_folder
from publisher.errors import Problem
from publisher.model import Article
from publisher.state import SCHEMA_VERSION, Store, open_store

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Folder:
    """A content folder read in memory, without the state store."""

    articles: tuple[Article, ...]
    problems: tuple[Problem, ...]

    @property
    def files(self) -> int:
        return len(self.articles) + len(self.problems)


def load_folder(folder: Path) -> Folder:
    """Every article file of ``folder`` parsed, in name order."""
    results = [parse_file(folder, name) for name in sorted(scan_folder(folder))]
    return Folder(
        tuple(result for result in results if isinstance(result, Article)),
        tuple(result for result in results if isinstance(result, Problem)),
    )


def list_config(**digest: object) -> Config:
    """A small config with every setting a mailing list must have."""
    settings = DigestConfig(
        templates=str(ROOT / "templates" / "email"),
        timezone="Europe/London",
        sender="Test News <news@test.example>",
        list_address="readers@test.example",
        unsubscribe_url="https://test.example/unsubscribe",
        unsubscribe_mailto="leave@test.example",
        postal_address="Test News, 2 Sample Road, Testville",
    )
    return Config(
        site=SiteConfig(title="Test News", url="https://test.example/feeds/"),
        digest=replace(settings, **digest),  # type: ignore[arg-type]
    )


HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # Without these Chromium keeps calling out, and this machine has no network to call.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
"""How the tests start Chromium: headless, as root, quiet on the network."""


def zero_pages_of(path: Path, data: bytes) -> bytes:
    """``data``, the store at ``path``, with every page but the schema's zeroed: opening it
    reads nothing wrong, so the damage shows only when a query reads a table or an index."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        query = "SELECT pageno FROM dbstat WHERE name != 'sqlite_schema'"
        pages = [row[0] for row in db.execute(query)]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    spoiled = bytearray(data)
    for page in pages:
        spoiled[(page - 1) * size : page * size] = bytes(size)
    return bytes(spoiled)


def spoil_store(kind: str, path: Path) -> None:
    """Make the good store file at ``path`` untrustworthy the way ``kind`` says."""
    data = path.read_bytes()
    if kind == "random bytes":
        path.write_bytes(random.Random(3).randbytes(len(data)))
    elif kind == "a text file":
        path.write_text("publisher cache, do not delete\n", encoding="utf-8")
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "pages zeroed":
        path.write_bytes(zero_pages_of(path, data))
    elif kind in ("another application's database", "a database with no application id"):
        path.unlink()
        with contextlib.closing(sqlite3.connect(path)) as other:
            if kind == "another application's database":
                other.execute("PRAGMA application_id = 1234")
            other.execute("CREATE TABLE notes (body TEXT)")
            other.execute("INSERT INTO notes VALUES ('not ours')")
            other.commit()
    elif kind == "a newer schema":
        with contextlib.closing(sqlite3.connect(path)) as newer:
            newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            newer.commit()
    else:
        raise ValueError(f"no such damage: {kind}")


@dataclass
class Inbox:
    """What a test SMTP server (aiosmtpd) received: (sender, recipients, bytes) per message.
    It may hold each reply to DATA for ``delay`` seconds."""

    delay: float = 0.0
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    data_received: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # Taken as soon as it arrives, as a real relay may queue it before answering.
        content = envelope.original_content or b""
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        self.data_received.set()
        await asyncio.sleep(self.delay)
        return "250 OK"

    def to_list(self, address: str = "readers@news.example.org") -> int:
        """How many messages went to the list ``address``."""
        return sum(address in recipients for _, recipients, _ in self.messages)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL a process started in its own session and everything it started, then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


@contextlib.contextmanager
def opened(cache: Path) -> Iterator[Store]:
    """The store in ``cache``, which must open without being set aside."""
    store, warnings = open_store(cache, wait=10)
    try:
        assert [] == warnings
        yield store
    finally:
        store.close()


def edit(path: Path, old: str, new: str) -> None:
    """Change one line of an article file, as an editor would (its mtime moves on)."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    later = time.time() + 5
    os.utime(path, (later, later))
