"""Shared fixtures: tiny inline articles, article files, the W3C validator, golden updates."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from helpers import Inbox, free_port

from publisher.model import Article

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"
TOOLS = SHARED / "tools"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite the golden files under tests/golden/ from the current output.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def make_article() -> Callable[..., Article]:
    """A factory of clean articles: only what a test cares about needs saying."""
    counter = iter(range(1, 1_000_000))

    def factory(**fields: Any) -> Article:
        number = next(counter)
        values: dict[str, Any] = {
            "path": f"_news/{number:03}.md",
            "title": f"Story {number}",
            "url": f"https://example.com/story-{number}",
            "published_at": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
            "quality": 70,
            "topics": ("Space",),
        }
        values.update(fields)
        return Article(**values)

    return factory


ARTICLE_TEMPLATE = """\
---
title: "{title}"
excerpt: "{excerpt}"
publishedDateTime: {date}
webUrl: "{url}"
type: article
quality: {quality}
heat: 12
provider:
  name: Example Times
  domain: example.com
topics:
{topics}
images:
  - url: "https://cdn.example.com/{slug}.jpg"
    width: 800
    height: 450
---
Body text is ignored.
"""


def article_text(
    *,
    title: str = "A story",
    excerpt: str = "What happened.",
    date: str = "2024-05-01T12:00:00Z",
    url: str = "https://example.com/a-story",
    quality: int = 70,
    topics: tuple[str, ...] = ("Space",),
    slug: str = "a-story",
) -> str:
    """A well-formed article file; callers replace lines to break it."""
    return ARTICLE_TEMPLATE.format(
        title=title,
        excerpt=excerpt,
        date=date,
        url=url,
        quality=quality,
        topics="\n".join(f"  - {topic}" for topic in topics),
        slug=slug,
    )


@pytest.fixture
def write_article(tmp_path: Path) -> Callable[..., Path]:
    """Write an article file (text or bytes) into ``tmp_path/_news`` and return its path."""
    folder = tmp_path / "_news"
    folder.mkdir(exist_ok=True)

    def writer(name: str, content: str | bytes | None = None, **fields: Any) -> Path:
        path = folder / name
        if content is None:
            content = article_text(**fields)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return writer


def _import_validator() -> Callable[[str, str | None], tuple[list[str], list[str]]] | None:
    if not (TOOLS / "validate_feed.py").is_file():
        return None
    # Importing the tool disables sockets for the whole process; keep that to validation only,
    # so other tests (a local SMTP server, say) still work.
    saved = {
        "create_connection": socket.create_connection,
        "getaddrinfo": socket.getaddrinfo,
        "connect": socket.socket.connect,
        "connect_ex": socket.socket.connect_ex,
    }
    sys.path.insert(0, str(TOOLS))
    try:
        import validate_feed  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(TOOLS))
        socket.create_connection = saved["create_connection"]  # type: ignore[assignment]
        socket.getaddrinfo = saved["getaddrinfo"]  # type: ignore[assignment]
        socket.socket.connect = saved["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = saved["connect_ex"]  # type: ignore[method-assign]
    return validate_feed.validate_file  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def validate() -> Iterator[Callable[[Path, str | None], tuple[list[str], list[str]]]]:
    """The offline W3C Feed Validator: ``validate(path, served_at_url) -> (errors, warnings)``."""
    validate_file = _import_validator()
    if validate_file is None:
        pytest.skip("../shared/tools/validate_feed.py is absent")

    def run(path: Path, base: str | None = None) -> tuple[list[str], list[str]]:
        with pytest.MonkeyPatch.context() as patch:
            for name in ("create_connection", "getaddrinfo"):
                patch.setattr(socket, name, _no_network)
            patch.setattr(socket.socket, "connect", _no_network)
            patch.setattr(socket.socket, "connect_ex", _no_network)
            errors, warnings = validate_file(str(path), base)
        return [" ".join(m.split()) for m in errors], [" ".join(m.split()) for m in warnings]

    yield run


def _no_network(*args: object, **kwargs: object) -> None:
    raise OSError("tests: network access disabled during feed validation")


@pytest.fixture
def corpus() -> Path:
    """The shared real corpus folder, or a skip when ../shared is absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


@pytest.fixture
def seeds() -> Path:
    """The five seed article files, or a skip when ../shared is absent."""
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is absent")
    return SEEDS


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    """An SMTP server on a free localhost port, plain, no login: (port, what it received)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()
