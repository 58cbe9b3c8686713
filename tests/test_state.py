"""The state store: records that never come back shifted, a store rebuilt when it cannot be
trusted, the racy-clean rule, and a newsletter sent to the list at most once."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import Inbox, kill_group, load_folder, opened, spoil_store

from publisher.cli import main
from publisher.config import load_config
from publisher.content import parallel
from publisher.content.scan import scan_folder
from publisher.errors import OutputError
from publisher.jobs import ShrinkRefusal, prelude, refresh_articles, run_build
from publisher.model import Article, Image, Provider
from publisher.state import (
    APPLICATION_ID,
    DB_NAME,
    MIGRATIONS,
    RECORD_VERSION,
    SCHEMA_VERSION,
    ArchiveLayout,
    DamagedStore,
    SendsLost,
    Store,
    article_row,
    decode_article,
    open_store,
    records,
    schema,
)
from publisher.state import connection as connection_module
from publisher.state.connection import CHECKPOINT_PAGES

WriteArticle = Callable[..., Path]

ROOT = Path(__file__).resolve().parents[1]
WEEK = "2026-W47"
LIST = "readers@news.example.org"
SETTLED_NS = 1_700_000_000 * 10**9
"""A fixed file time long before any test runs: such files are never racy."""
READ_NS = 1_800_000_000 * 10**9
"""A fixed reading time for the racy-clean tests, which replace the parser's clock."""


# --- helpers ----------------------------------------------------------------------------------


def write_articles(write_article: WriteArticle, count: int) -> Path:
    """``count`` good articles in ``_news``, long settled; returns the folder."""
    for number in range(count):
        path = write_article(
            f"{number:04d}.md",
            title=f"Story {number}",
            url=f"https://example.com/story-{number}",
            date=f"2024-05-{1 + number % 28:02d}T{number % 24:02d}:00:00Z",
            topics=(("Space", "Climate", "Open Source")[number % 3],),
            slug=f"story-{number}",
        )
        os.utime(path, ns=(SETTLED_NS, SETTLED_NS))
    return path.parent


def write_site_config(folder: Path) -> Path:
    """A config reading ``folder/_news``, writing ``folder/out``, storing in ``folder/cache``."""
    path = folder / "site.toml"
    path.write_text(
        'content = "_news"\nout = "out"\ncache_dir = "cache"\n'
        '[site]\nurl = "https://example.org/feeds/"\n',
        encoding="utf-8",
    )
    return path


def pragma(store: Store, name: str) -> Any:
    return store.connection.execute(f"PRAGMA {name}").fetchone()[0]


def stored(store: Store, folder: Path) -> list[Article]:
    """Every good article the store holds for ``folder``, decoded, in name order."""
    names = sorted(scan_folder(folder))
    records = store.records(store.source(folder), names)
    return [decode_article(records[name], str(folder / name)) for name in names if name in records]


def record_of(article: Article) -> str:
    """The record the store keeps of ``article``, as a parsing worker makes it."""
    row = article_row("story.md", article, READ_NS)
    record: str = row[-2]  # the record, then the topics, end every row
    return record


@pytest.fixture
def read_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the parser's clock, which stamps when each file was read."""

    def set_clock(read_ns: int) -> None:
        monkeypatch.setattr(parallel, "time", SimpleNamespace(time_ns=lambda: read_ns))

    return set_clock


# --- records by field name --------------------------------------------------------------------


RICH = Article(
    path="_news/rich.md",
    title='Caf\u00e9 launch \u2014 \U0001f680 "quoted" & <b>bold</b>',
    url="https://example.com/rich?a=1&b=2",
    published_at=datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC),
    excerpt="Line one\nline two, \u00fcmlaut",
    type="video",
    quality=None,
    heat=None,
    published=False,
    provider=Provider(
        "Example Times", "example.com", Image("https://cdn.example.com/logo.png", 120, 40, "Logo")
    ),
    topics=("Space", "Open Source"),
    images=(
        Image("https://cdn.example.com/a.jpg", 800, 450, "First"),
        Image("https://cdn.example.com/b.jpg"),
    ),
    amp_url="https://example.com/amp/rich",
)


@pytest.mark.parametrize(
    "article",
    [
        RICH,
        Article("_news/bare.md", "Bare", "https://e.com/bare", datetime(2024, 1, 1, tzinfo=UTC)),
        Article(
            "_news/zeros.md",
            "Zeros before 1970",
            "https://e.com/zeros",
            datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=UTC),
            quality=0,
            heat=0,
            provider=Provider("No Logo"),
            images=(Image("https://cdn.example.com/z.jpg", None, 300),),
        ),
    ],
    ids=["rich", "bare", "zeros"],
)
def test_record_round_trips_every_field(article: Article):
    """decode_article(article_row(...)) gives back exactly the article that was stored."""
    assert article == decode_article(record_of(article), article.path)


@dataclass(frozen=True, slots=True)
class ImageWithAlt:
    """The model's Image, as a release that adds a field would have it."""

    url: str
    width: int | None = None
    height: int | None = None
    title: str = ""
    alt: str = ""


@dataclass(frozen=True, slots=True)
class ProviderRenamed:
    """The model's Provider, as a release that renames a field would have it."""

    name: str
    site: str = ""
    logo: Image | None = None


def test_record_version_follows_the_model_fields(monkeypatch: pytest.MonkeyPatch):
    """Adding or renaming a field of the model gives another record version."""
    assert RECORD_VERSION == records._record_version()
    with monkeypatch.context() as patch:
        patch.setattr(records, "Image", ImageWithAlt)
        added = records._record_version()
    with monkeypatch.context() as patch:
        patch.setattr(records, "Provider", ProviderRenamed)
        renamed = records._record_version()
    assert 3 == len({RECORD_VERSION, added, renamed})


def test_record_of_another_version_is_parsed_again_never_decoded(
    write_article: WriteArticle, tmp_path: Path
):
    """Records written by another version, their values shifted between fields, are never
    decoded: every file is parsed again, and the store then holds what the files say."""
    folder = write_articles(write_article, 6)
    with opened(tmp_path / "cache") as store:
        assert 6 == refresh_articles(store, folder, scan_folder(folder)).parsed
        store.connection.execute(
            "UPDATE articles SET version = 'another release', record = json_set(record,"
            " '$.title', json_extract(record, '$.excerpt'),"
            " '$.excerpt', json_extract(record, '$.title'))"
        )
        reloaded = refresh_articles(store, folder, scan_folder(folder))
        assert (6, 0) == (reloaded.parsed, reloaded.cache_hits)
        assert list(load_folder(folder).articles) == stored(store, folder)
        assert 6 == refresh_articles(store, folder, scan_folder(folder)).cache_hits


def test_new_record_version_parses_every_file_once(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A release with another record version reads every file again, once, then trusts it."""
    folder = write_articles(write_article, 6)
    with opened(tmp_path / "cache") as store:
        refresh_articles(store, folder, scan_folder(folder))
    monkeypatch.setattr(records, "RECORD_VERSION", "next release")
    with opened(tmp_path / "cache") as store:
        first = refresh_articles(store, folder, scan_folder(folder))
        second = refresh_articles(store, folder, scan_folder(folder))
        assert ((6, 0), (0, 6)) == (
            (first.parsed, first.cache_hits),
            (second.parsed, second.cache_hits),
        )
        assert list(load_folder(folder).articles) == stored(store, folder)


def test_number_too_big_for_the_store_never_stops_a_build(
    write_article: WriteArticle, tmp_path: Path
):
    """A file whose quality does not fit in 64 bits costs at most that file, like any bad
    value: the build of the other files goes on."""
    write_articles(write_article, 2)
    write_article("huge.md", url="https://e.com/huge", quality=2**63)
    result = CliRunner().invoke(main, ["build", "--config", str(write_site_config(tmp_path))])
    assert (0, True) == (result.exit_code, (tmp_path / "out" / "rss.xml").is_file())


# --- a store that cannot be trusted is set aside ----------------------------------------------


def make_store(cache: Path, folder: Path, *, send: bool = True) -> bytes:
    """A healthy store holding ``folder``'s articles and (unless not ``send``) one send; its
    bytes."""
    with opened(cache) as store:
        refresh_articles(store, folder, scan_folder(folder))
        if send:
            store.claim_send(LIST, WEEK, "<id@test>", "2026-11-30T09:00:00+00:00")
            store.mark_sent(LIST, WEEK)
    return (cache / DB_NAME).read_bytes()


@pytest.mark.parametrize(
    "kind",
    [
        "random bytes",
        "a text file",
        "truncated",
        "another application's database",
        "a database with no application id",
        "a newer schema",
    ],
)
def test_untrustworthy_store_is_set_aside_and_started_afresh(
    kind: str, write_article: WriteArticle, tmp_path: Path
):
    """open_store moves a damaged, foreign or newer file to *.broken, as it was, says so in
    one warning naming it, and opens a new healthy store without articles; the record of
    sends is carried over when the old file reads as a publisher store, else marked lost."""
    folder = write_articles(write_article, 3)
    cache = tmp_path / "cache"
    make_store(cache, folder)
    path = cache / DB_NAME
    spoil_store(kind, path)
    bad = path.read_bytes()
    store, warnings = open_store(cache, wait=10)
    try:
        assert 1 == len(warnings)
        assert warnings[0].startswith(f"{path}: ")
        assert f"moved to {DB_NAME}.broken" in warnings[0]
        assert bad == (cache / f"{DB_NAME}.broken").read_bytes()
        healthy = (APPLICATION_ID, SCHEMA_VERSION, "ok")
        assert healthy == (
            pragma(store, "application_id"),
            pragma(store, "user_version"),
            pragma(store, "integrity_check"),
        )
        readable = kind == "a newer schema"
        expected = (readable, not readable)
        assert expected == (store.send_record(LIST, WEEK) is not None, bool(store.sends_lost()))
        kept = "is carried over" if readable else "could not be read"
        assert f"the record of newsletters sent {kept}" in warnings[0]
        assert 3 == refresh_articles(store, folder, scan_folder(folder)).parsed
    finally:
        store.close()


def test_a_lost_record_of_sends_refuses_until_a_resend(write_article: WriteArticle, tmp_path: Path):
    """With the record of sends lost, claiming any week raises SendsLost naming --resend; a
    resend is claimed, and once marked sent the store trusts its record again."""
    folder = write_articles(write_article, 1)
    make_store(tmp_path / "cache", folder)
    spoil_store("random bytes", tmp_path / "cache" / DB_NAME)
    store, _ = open_store(tmp_path / "cache", wait=10)
    try:
        with pytest.raises(SendsLost, match="--resend"):
            store.claim_send(LIST, "2026-W48", "<id@test>", "")
        assert store.claim_send(LIST, WEEK, "<id@test>", "", resend=True) is None
        store.mark_sent(LIST, WEEK)
        assert ([], None) == (
            store.sends_lost(),
            store.claim_send(LIST, "2026-W48", "<id@test>", ""),
        )
    finally:
        store.close()


def test_a_send_from_before_week_starts_were_kept_counts_for_any_day(
    write_article: WriteArticle, tmp_path: Path
):
    """A send recorded without the day its week starts on (before the column) is found by a
    Wednesday issue of its label; a Monday send recorded with its day is not."""
    folder = write_articles(write_article, 1)
    make_store(tmp_path / "cache", folder, send=False)
    with opened(tmp_path / "cache") as store:
        store.connection.execute(
            "INSERT INTO sends VALUES (?, '2026-W40', '<old@test>', 'sent', '', NULL)", (LIST,)
        )
        store.claim_send(LIST, "2026-W41", "<new@test>", "")
        store.mark_sent(LIST, "2026-W41")
        old = store.claim_send(LIST, "2026-W40-wed", "<w@test>", "", starts=3, label="2026-W40")
        new = store.claim_send(LIST, "2026-W41-wed", "<w@test>", "", starts=3, label="2026-W41")
        recorded = store.send_record(LIST, "2026-W41-wed")
    assert (None, True, True) == (new, old is not None, recorded is not None)
    assert old is not None and recorded is not None
    expected = ("<old@test>", None, "sending", 3)
    assert expected == (old.message_id, old.week_starts, recorded.state, recorded.week_starts)


def test_damage_seen_only_on_use_is_a_damaged_store_error(
    write_article: WriteArticle, tmp_path: Path
):
    """Pages zeroed past the header pass the checks made on opening (which read no table);
    the first query that meets them raises DamagedStore, which a job answers by setting
    the file aside and running once more."""
    folder = write_articles(write_article, 3)
    make_store(tmp_path / "cache", folder)
    spoil_store("pages zeroed", tmp_path / "cache" / DB_NAME)
    with opened(tmp_path / "cache") as store, pytest.raises(DamagedStore):
        refresh_articles(store, folder, scan_folder(folder))


def test_older_store_is_migrated_in_place_keeping_its_records(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A release that appends a migration upgrades the store where it is: records and sends
    stay, nothing is set aside, no warning."""
    folder = write_articles(write_article, 3)
    make_store(tmp_path / "cache", folder)
    monkeypatch.setattr(schema, "MIGRATIONS", (*MIGRATIONS, "CREATE TABLE extra (x INTEGER);"))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with opened(tmp_path / "cache") as store:
        tables = {row[0] for row in store.connection.execute("SELECT name FROM sqlite_schema")}
        assert (SCHEMA_VERSION + 1, True) == (pragma(store, "user_version"), "extra" in tables)
        assert "sent" == getattr(store.send_record(LIST, WEEK), "state", None)
        assert 3 == refresh_articles(store, folder, scan_folder(folder)).cache_hits
    assert not (tmp_path / "cache" / f"{DB_NAME}.broken").exists()


# --- records across runs, and the racy-clean rule ---------------------------------------------


def test_records_and_sends_survive_reopening(write_article: WriteArticle, tmp_path: Path):
    """What one run stores, the next run finds: no file parsed again, the send on record."""
    folder = write_articles(write_article, 5)
    make_store(tmp_path / "cache", folder)
    with opened(tmp_path / "cache") as store:
        loaded = refresh_articles(store, folder, scan_folder(folder))
        assert (5, 0) == (loaded.cache_hits, loaded.parsed)
        assert list(load_folder(folder).articles) == stored(store, folder)
        assert "<id@test>" == getattr(store.send_record(LIST, WEEK), "message_id", None)


def test_file_modified_within_2_s_of_its_reading_is_read_again(
    write_article: WriteArticle, tmp_path: Path, read_at: Callable[[int], None]
):
    """Racy-clean: a file changed less than 2 s before it was read is read again next run
    (once); one changed longer before is trusted."""
    racy = write_article("racy.md", title="Racy", url="https://e.com/racy")
    settled = write_article("settled.md", title="Settled", url="https://e.com/settled")
    os.utime(racy, ns=(READ_NS - 1_500_000_000, READ_NS - 1_500_000_000))
    os.utime(settled, ns=(READ_NS - 2_500_000_000, READ_NS - 2_500_000_000))
    folder = racy.parent
    parsed = []
    with opened(tmp_path / "cache") as store:
        for reading in (READ_NS, READ_NS + 10_000_000_000, READ_NS + 20_000_000_000):
            read_at(reading)
            parsed.append(refresh_articles(store, folder, scan_folder(folder)).parsed)
    assert [2, 1, 0] == parsed


def test_change_in_the_same_tick_as_the_reading_is_seen(
    write_article: WriteArticle, tmp_path: Path, read_at: Callable[[int], None]
):
    """A file rewritten right after it was read, same size and same mtime, so its stamp does
    not change: the next run still reads the new text, because the stamp was racy."""
    path = write_article("story.md", title="Version A", url="https://e.com/story")
    stamp = READ_NS - 500_000_000
    os.utime(path, ns=(stamp, stamp))
    read_at(READ_NS)
    with opened(tmp_path / "cache") as store:
        refresh_articles(store, path.parent, scan_folder(path.parent))
        write_article("story.md", title="Version B", url="https://e.com/story")
        os.utime(path, ns=(stamp, stamp))
        read_at(READ_NS + 10_000_000_000)
        refresh_articles(store, path.parent, scan_folder(path.parent))
        assert ["Version B"] == [article.title for article in stored(store, path.parent)]


# --- worker processes -------------------------------------------------------------------------


def test_cold_build_in_worker_processes_stores_every_file(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A cold build parsing in worker processes stores every file as one process would parse
    it; the next build parses nothing."""
    folder = write_articles(write_article, 450)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    config = load_config(write_site_config(tmp_path))
    progress: list[int] = []
    cold = run_build(config, wait=5, progress=lambda done, total: progress.append(done))
    assert [100, 200, 300, 400, 450] == progress  # batches of 100: the parallel path
    assert cold.loaded is not None
    assert (450, 450, ()) == (cold.loaded.files, cold.loaded.parsed, cold.loaded.problems)
    with opened(tmp_path / "cache") as store:
        assert list(load_folder(folder).articles) == stored(store, folder)
    (tmp_path / "out" / "rss.xml").unlink()  # so the next build cannot skip loading
    warm = run_build(config, wait=5)
    assert warm.loaded is not None
    assert (450, 0) == (warm.loaded.cache_hits, warm.loaded.parsed)


# --- sending: a test SMTP server --------------------------------------------------------------


def write_digest_config(folder: Path, port: int) -> Path:
    """The repository's config, writing into ``folder``, sending to localhost:``port``."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('content = "content/_news"', f"content = {str(ROOT / 'content/_news')!r}")
    text = text.replace(
        'templates = "templates/email"', f"templates = {str(ROOT / 'templates/email')!r}"
    )
    text = text.split("[digest.smtp]")[0] + (
        f'[digest.smtp]\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\nuser = ""\n'
        'password_env = "TEST_PUBLISHER_SMTP_PASSWORD"\ntimeout = 5\n'
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_digest(config: Path, *args: str) -> subprocess.Popen[str]:
    """``publisher digest`` as a real process in its own process group."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "publisher",
            "digest",
            "--week",
            WEEK,
            "--config",
            str(config),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def digest(config: Path, *args: str) -> tuple[int, str, str]:
    """``publisher digest`` in this process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(main, ["digest", "--week", WEEK, "--config", str(config), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def send_state(folder: Path) -> str | None:
    """The list's send record for the week, as the digest job left it."""
    with opened(folder / ".publisher-cache") as store:
        record = store.send_record(LIST, WEEK)
    return record.state if record else None


# --- two sends at once ------------------------------------------------------------------------


@pytest.mark.slow
def test_two_concurrent_sends_mail_the_list_once(tmp_path: Path, smtp_server: tuple[int, Inbox]):
    """Two `digest --send` processes started together: one sends, the other waits for the
    lock, finds the week sent and says so; the list receives one message."""
    port, inbox = smtp_server
    inbox.delay = 0.5  # the second run arrives while the first is mid-send
    config = write_digest_config(tmp_path, port)
    runs = [start_digest(config, "--send") for _ in range(2)]
    results = [(*run.communicate(timeout=120), run.returncode) for run in runs]
    assert [0, 0] == [code for _, _, code in results], results
    assert 1 == inbox.to_list()
    already = [out for out, _, _ in results if "already sent to the list; not sent again" in out]
    assert 1 == len(already), results
    assert "sent" == send_state(tmp_path)


# --- kill -9 while sending --------------------------------------------------------------------

DIGEST_KILLS = 8


@pytest.mark.slow
def test_kill_9_while_sending_never_mails_the_list_twice(
    tmp_path: Path, smtp_server: tuple[int, Inbox]
):
    """SIGKILL of `digest --send` anywhere, then a rerun: the list gets the week at most once.

    The send is recorded as ``sending`` before the SMTP transaction and ``sent`` after it. A
    run killed between the two leaves ``sending``: the rerun cannot know whether the server
    took the message, so it does not send (it says "possibly sent"); only --resend sends
    then. So a kill may cost the week's message (at most once), never double it.
    """
    port, inbox = smtp_server
    inbox.delay = 0.3  # a window between the message's arrival and the server's answer
    config = write_digest_config(tmp_path, port)
    assert 0 == digest(config)[0]  # warm: articles parsed, CSS inlined
    cache = tmp_path / ".publisher-cache"
    snapshot = tmp_path / "warm-cache"
    shutil.copytree(cache, snapshot)
    started = time.monotonic()
    timed = start_digest(config, "--send")
    timed.communicate(timeout=60)
    duration = time.monotonic() - started
    assert 0 == timed.returncode

    rng = random.Random(47)
    outcomes: list[str] = []
    problems: list[str] = []
    for attempt in range(DIGEST_KILLS):
        shutil.rmtree(cache)
        shutil.copytree(snapshot, cache)
        before = inbox.to_list()
        inbox.data_received.clear()
        process = start_digest(config, "--send")
        if attempt % 2:
            delay = rng.uniform(0.0, 0.8 * inbox.delay)
            when = f"kill {attempt + 1}, {delay * 1000:.0f} ms after the message arrived"
            if inbox.data_received.wait(timeout=30):
                time.sleep(delay)
        else:
            delay = rng.uniform(0.0, duration)
            when = f"kill {attempt + 1}, {delay:.2f} s of {duration:.2f} s in"
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=delay)
        kill_group(process)
        left = send_state(tmp_path)
        if attempt % 2 and left != "sending":
            problems.append(f"{when}: killed mid-transaction, yet the record says {left}")
        code, out, err = digest(config, "--send")
        received = inbox.to_list() - before
        after = send_state(tmp_path)
        outcomes.append(f"{when}: left {left}, list received {received}, record {after}")
        if code != 0 or received > 1 or after is None:
            problems.append(f"{outcomes[-1]}; rerun exit {code}: {err.strip()}")
        if after == "sending" and "possibly sent to the list" not in out:
            problems.append(f"{outcomes[-1]}; the rerun did not say the week may be sent")
        if received == 0 and after != "sending":
            problems.append(f"{outcomes[-1]}; nothing received, yet nothing blocks a resend")
    print("\n".join(["", f"send: {duration:.2f} s", *outcomes]))
    assert [] == problems


@pytest.mark.slow
def test_send_killed_mid_transaction_blocks_reruns_until_resend(
    tmp_path: Path, smtp_server: tuple[int, Inbox]
):
    """Killed after the server took the message, before its answer: the rerun does not send
    (possibly sent), --resend does, and records the week sent."""
    port, inbox = smtp_server
    inbox.delay = 2.0
    config = write_digest_config(tmp_path, port)
    process = start_digest(config, "--send")
    try:
        assert inbox.data_received.wait(timeout=60)
    finally:
        kill_group(process)
    code, out, _ = digest(config, "--send")
    assert (0, 1, "sending") == (code, inbox.to_list(), send_state(tmp_path))
    assert "possibly sent to the list; not sent again" in out
    inbox.delay = 0.0
    assert 0 == digest(config, "--send", "--resend")[0]
    assert (2, "sent") == (inbox.to_list(), send_state(tmp_path))


# --- a server that fails after taking the message ---------------------------------------------


class RawSmtpServer:
    """A minimal SMTP server on a raw socket, with chosen answers to DATA and QUIT."""

    def __init__(
        self, data_reply: bytes | None = b"250 queued", quit_reply: bytes | None = None
    ) -> None:
        self.data_reply = data_reply
        """``None``: take the message, then drop the connection instead of answering."""
        self.quit_reply = quit_reply
        """``None``: drop the connection instead of answering QUIT."""
        self.messages: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawSmtpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.listener.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection, connection.makefile("rb") as lines:
                connection.settimeout(10)
                self._converse(connection, lines)

    def _converse(self, connection: socket.socket, lines: Any) -> None:
        def say(reply: bytes) -> None:
            connection.sendall(reply + b"\r\n")

        say(b"220 raw.test ESMTP")
        for line in lines:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                say(b"250 raw.test")
            elif verb == b"DATA":
                say(b"354 end with <CRLF>.<CRLF>")
                body = b""
                for data in lines:
                    if data == b".\r\n":
                        break
                    body += data
                self.messages.append(body)
                if self.data_reply is None:
                    return
                say(self.data_reply)
            elif verb == b"QUIT":
                if self.quit_reply is not None:
                    say(self.quit_reply)
                return
            else:
                say(b"250 OK")


@pytest.mark.parametrize("quit_reply", [b"421 closing", None], ids=["421", "dropped"])
def test_failure_after_the_message_was_taken_counts_as_sent(
    quit_reply: bytes | None, tmp_path: Path
):
    """250 to DATA, then 421 or a dropped connection at QUIT: sent (exit 0), recorded as
    sent, and a rerun does not send again."""
    with RawSmtpServer(quit_reply=quit_reply) as server:
        config = write_digest_config(tmp_path, server.port)
        code, out, err = digest(config, "--send")
        assert (0, "", 1, "sent") == (code, err, len(server.messages), send_state(tmp_path))
        assert out.rstrip().endswith(f"; sent to {LIST}")
        code, out, _ = digest(config, "--send")
        assert (0, 1) == (code, len(server.messages))
        assert "already sent to the list; not sent again" in out


def test_refused_message_is_not_recorded_so_the_next_run_sends(tmp_path: Path):
    """554 to DATA: exit 6 and no record of the week; a later run sends it."""
    with RawSmtpServer(data_reply=b"554 rejected") as server:
        config = write_digest_config(tmp_path, server.port)
        code, _, err = digest(config, "--send")
        assert (6, None) == (code, send_state(tmp_path))
        assert "554 rejected" in err
        server.data_reply = b"250 queued"
        assert (0, "sent") == (digest(config, "--send")[0], send_state(tmp_path))
        assert 2 == len(server.messages)


def test_connection_lost_before_the_answer_to_data_blocks_a_second_send(tmp_path: Path):
    """The server takes the message, then the line drops before its answer: the message may
    be on its way, so like a kill mid-send this must not let a rerun mail the list again."""
    with RawSmtpServer(data_reply=None) as server:
        config = write_digest_config(tmp_path, server.port)
        digest(config, "--send")
        digest(config, "--send")
        assert (1, "sending") == (len(server.messages), send_state(tmp_path))


# --- a send that cannot be recorded -----------------------------------------------------------


def test_send_that_cannot_be_recorded_is_not_made(
    tmp_path: Path, smtp_server: tuple[int, Inbox], monkeypatch: pytest.MonkeyPatch
):
    """The store refuses the record of the send: exit 3, one line, the server receives
    nothing; once the store works again the week is sent."""
    port, inbox = smtp_server
    config = write_digest_config(tmp_path, port)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OutputError("cannot write the state store: disk full", path="publisher.sqlite3")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "claim_send", refuse)
        code, _, err = digest(config, "--send")
    assert (3, 1, []) == (code, len(err.splitlines()), inbox.messages)
    assert err.startswith("publisher: error: publisher.sqlite3: cannot write the state store")
    assert (0, 1) == (digest(config, "--send")[0], inbox.to_list())


def test_send_whose_sent_record_fails_is_not_repeated(
    tmp_path: Path, smtp_server: tuple[int, Inbox], monkeypatch: pytest.MonkeyPatch
):
    """The message goes out but the store refuses to mark it sent: exit 3; the record stays
    "sending", so a rerun does not mail the list again."""
    port, inbox = smtp_server
    config = write_digest_config(tmp_path, port)

    def refuse_sent(*args: object) -> None:
        raise OutputError("cannot write the state store: disk full", path="publisher.sqlite3")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "mark_sent", refuse_sent)
        code, _, _ = digest(config, "--send")
    assert (3, 1, "sending") == (code, inbox.to_list(), send_state(tmp_path))
    code, out, _ = digest(config, "--send")
    assert (0, 1) == (code, inbox.to_list())
    assert "possibly sent to the list; not sent again" in out


def test_store_from_before_the_selection_count_is_migrated_and_then_guards(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A store made before the `selections` table gains it in place, keeping its records; the
    build that migrates records the count, and the next build that would empty the feeds is
    refused."""
    folder = write_articles(write_article, 3)
    config = load_config(write_site_config(tmp_path))
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", MIGRATIONS[:1])
        patch.setattr(schema, "SCHEMA_VERSION", 1)
        make_store(tmp_path / "cache", folder, send=False)
    outcome = run_build(config, wait=5)
    assert outcome.loaded is not None and outcome.plan is not None
    assert (3, 3) == (outcome.loaded.cache_hits, outcome.plan.selected)
    with opened(tmp_path / "cache") as store:
        assert SCHEMA_VERSION == pragma(store, "user_version")
    for path in folder.iterdir():
        path.write_bytes(b"")
    with pytest.raises(ShrinkRefusal) as refused:
        run_build(config, wait=5)
    assert str(refused.value).startswith(
        f"{tmp_path / 'out'}: 0 article(s) selected against 3 at the last build, 100% fewer"
    )


def index_names(store: Store) -> list[str]:
    """The store's indexes and triggers, by name."""
    rows = store.connection.execute(
        "SELECT name FROM sqlite_schema WHERE type IN ('index', 'trigger')"
    )
    return sorted(name for (name,) in rows)


def test_a_bulk_load_stores_the_same_and_keeps_every_index(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A folder new to the store is loaded in bulk (indexes and triggers dropped and made
    again): the same records, the same indexes and triggers, and a rerun finds every file
    stored."""
    folder = write_articles(write_article, 6)
    with opened(tmp_path / "plain") as store:
        refresh_articles(store, folder, scan_folder(folder))
        expected = (stored(store, folder), index_names(store))
    monkeypatch.setattr(prelude, "BULK_LOAD_MIN", 1)
    with opened(tmp_path / "bulk") as store:
        refresh_articles(store, folder, scan_folder(folder))
        assert expected == (stored(store, folder), index_names(store))
        assert 6 == refresh_articles(store, folder, scan_folder(folder)).cache_hits


def test_a_bulk_load_drops_the_folders_archive_layouts(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Files loaded in bulk are not logged as changes, so no layout of that folder may be
    carried forward past it; other folders' layouts stay."""
    folder = write_articles(write_article, 6)
    monkeypatch.setattr(prelude, "BULK_LOAD_MIN", 1)
    with opened(tmp_path / "cache") as store:
        source, other = store.source(folder), store.source(tmp_path / "elsewhere")
        layouts = {
            feed: (ArchiveLayout(owner, 0, "signature", (("key", 2),), "[]"), {}, ())
            for feed, owner in (("", source), ("ai/", other))
        }
        store.record_archives("out", layouts, {}, {}, {})
        refresh_articles(store, folder, scan_folder(folder))
        assert ["ai/"] == list(store.archive_layouts("out"))
        changes = store.changes_since(source, 0, 100)
        assert changes is not None
        assert (frozenset(), frozenset()) == (changes.stories, changes.topics)


def test_a_bulk_load_that_fails_leaves_the_store_as_it_was(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A bulk load stopped half-way (here by a failing write) rolls back whole: no article
    stored, every index still there, and the next run loads the folder."""
    folder = write_articles(write_article, 6)
    monkeypatch.setattr(prelude, "BULK_LOAD_MIN", 1)
    with opened(tmp_path / "cache") as store:
        indexes = index_names(store)
        real = Store.put_articles

        def fails(*args: object, **kwargs: object) -> None:
            raise OutputError("cannot write the state store: disk full", path="x")

        monkeypatch.setattr(Store, "put_articles", fails)
        with pytest.raises(OutputError):
            refresh_articles(store, folder, scan_folder(folder))
        assert (0, indexes) == (store.count(store.source(folder)), index_names(store))
        monkeypatch.setattr(Store, "put_articles", real)
        assert 6 == refresh_articles(store, folder, scan_folder(folder)).parsed


def test_a_bulk_load_is_checkpointed_after_its_commit_on_a_thread_of_its_own(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The commit of a bulk load leaves its log for a thread to copy into the store file:
    that thread sees the load committed, the connection checkpoints as usual again after it,
    and once the thread is done the whole log is in the store file."""
    folder = write_articles(write_article, 6)
    monkeypatch.setattr(prelude, "BULK_LOAD_MIN", 1)
    seen: list[tuple[str, int]] = []
    real = connection_module._checkpoint

    def checkpoint(path: Path) -> None:
        with contextlib.closing(sqlite3.connect(path)) as other:
            seen.append(
                (
                    threading.current_thread().name,
                    other.execute("SELECT count(*) FROM articles").fetchone()[0],
                )
            )
        real(path)

    monkeypatch.setattr(connection_module, "_checkpoint", checkpoint)
    with opened(tmp_path / "cache") as store:
        refresh_articles(store, folder, scan_folder(folder))
        store.finish_checkpoint()
        assert [("publisher-checkpoint", 6)] == seen
        autocheckpoint = store.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        pages, page_size = (
            store.connection.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_count", "page_size")
        )
        # The store file holds every page: the log was copied into it.
        assert (CHECKPOINT_PAGES, pages * page_size) == (autocheckpoint, store.path.stat().st_size)
