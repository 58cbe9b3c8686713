"""The issues on the web: index.html and latest.html beside each edition's issues, and
serve's /newsletter/ showing the latest issue with articles."""

from __future__ import annotations

import re
import shutil
import threading
import urllib.error
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

import html5lib
import pytest
from click.testing import CliRunner
from helpers import Inbox

from publisher.cli import common, main
from publisher.config import load_config
from publisher.serve import Preview, listen

CORPUS = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "microsoft-power-apps" / "_news"
)
CONFIG = """
content = "news"
cache_dir = "cache"
[site]
title = "Power Apps <News>"
url = "https://news.example.org/feeds/"
[selection]
include_unrated = true
min_quality = 0
[digest]
out = "newsletters"
timezone = "UTC"
sender = "Power Apps News <news@example.org>"
list_address = "weekly@example.org"
unsubscribe_url = "https://news.example.org/unsubscribe"
postal_address = "1 Example Street"
[digest.smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
timeout = 5
[editions.daily]
cadence = "daily"
list_address = "daily@example.org"
"""


@pytest.fixture
def site(tmp_path: Path, smtp_server: tuple[int, Inbox], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the Power Apps corpus and a config with a daily edition."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus/microsoft-power-apps/_news is absent")
    shutil.copytree(CORPUS, tmp_path / "news")
    (tmp_path / "config.toml").write_text(CONFIG.format(port=smtp_server[0]), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(common, "now", lambda zone: datetime(2020, 12, 1, 9, tzinfo=UTC))
    return tmp_path


def send(*args: str) -> int:
    result = CliRunner().invoke(main, ["digest", "--config", "config.toml", "--send", *args])
    return result.exit_code


def strict_parse(page: bytes) -> None:
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)


def test_index_and_latest_after_sends(site: Path) -> None:
    """After two sends of the daily edition its folder holds a valid index, newest first,
    and a latest.html that points at the newest issue."""
    assert (0, 0) == (
        send("--edition", "daily", "--day", "2020-11-16"),
        send("--edition", "daily", "--day", "2020-11-17"),
    )
    folder = site / "newsletters" / "daily"
    index = (folder / "index.html").read_bytes()
    strict_parse(index)
    links = re.findall(rb'<li><time datetime="([-0-9]+)">.*?href="([^"]+)"', index)
    assert [(b"2020-11-18", b"2020-11-17.html"), (b"2020-11-17", b"2020-11-16.html")] == links
    latest = (folder / "latest.html").read_bytes()
    strict_parse(latest)
    assert b'content="0; url=2020-11-17.html"' in latest
    assert b"<script" not in index + latest
    assert b"Power Apps &lt;News&gt;" in index
    assert b'name="viewport"' in index


def test_default_edition_pages_after_a_send(site: Path) -> None:
    """The default edition writes its pages into digest.out itself."""
    assert 0 == send("--week", "2020-W47")
    folder = site / "newsletters"
    assert (True, True) == ((folder / "index.html").is_file(), (folder / "latest.html").is_file())
    assert b'href="2020-W47.html"' in (folder / "index.html").read_bytes()


def test_serve_shows_the_latest_issue_long_after_the_corpus(site: Path) -> None:
    """Years after the corpus's last article, /newsletter/ and /newsletter/daily/ answer 200
    with the last issue that had articles; an unknown edition is a 404."""
    config = load_config(site / "config.toml")
    preview = Preview(
        lambda: config,
        site / "scratch",
        config_file=None,
        today=lambda zone: date(2031, 6, 1),
        say=print,
        warn=print,
    )
    server = listen("127.0.0.1", 0, preview)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answers = [_get(f"{preview.url}{path}") for path in ("newsletter/", "newsletter/daily/")]
        missing = _get(f"{preview.url}newsletter/nightly/")
    finally:
        server.shutdown()
        server.server_close()
    assert [200, 200] == [status for status, _ in answers]
    assert all("rendered now, not sent" in page for _, page in answers)
    assert 404 == missing[0]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")
