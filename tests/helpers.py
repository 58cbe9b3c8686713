"""Small helpers shared by the tests."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

from publisher.config import Config, DigestConfig, SiteConfig
from publisher.content.parallel import parse_file
from publisher.content.scan import scan_folder
from publisher.errors import Problem
from publisher.model import Article

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
