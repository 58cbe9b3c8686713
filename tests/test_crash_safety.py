"""Crash safety with real processes: kill -9 mid-build, a broken store, lost input, the lock."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import kill_group, opened, spoil_store

from publisher.config import load_config
from publisher.content import parallel
from publisher.content.scan import scan_folder
from publisher.errors import ArticleError
from publisher.jobs import RACY_NS, input_fingerprint, refresh_articles, run_build
from publisher.lock import lock_path
from publisher.output import TEMP_SUFFIX
from publisher.state import (
    APPLICATION_ID,
    DB_NAME,
    RECORD_VERSION,
    SCHEMA_VERSION,
    Store,
)

WriteArticle = Callable[..., Path]

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
MAKE_ARTICLES = ROOT / "bench" / "make_articles.py"
SITE_URL = "https://example.org/feeds/"
BIG_CORPUS = 3000
"""Enough articles for a cold build of a second or two, parsed by worker processes."""
KILLS = 15
NEW_TOPIC, NEW_SLUG = "Crash Recovery", "crash-recovery"
GONE_TOPIC, GONE_SLUG = "Robotics", "robotics"
SETTLED_NS = 1_700_000_000 * 10**9
"""A fixed file time long before any test runs: such files are never racy."""


# --- helpers ------------------------------------------------------------------------------


def write_config(folder: Path, content: Path, *, out: str = "out", cache: str = "cache") -> Path:
    """A config file in ``folder`` with its own output and cache folders beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "site.toml"
    config.write_text(
        f"content = {json.dumps(str(content))}\nout = {json.dumps(out)}\n"
        f'cache_dir = {json.dumps(cache)}\n[site]\nurl = "{SITE_URL}"\n',
        encoding="utf-8",
    )
    return config


def command(config: Path, *args: str) -> list[str]:
    """``publisher build`` as a real process, with the interpreter running the tests."""
    return [sys.executable, "-m", "publisher", "build", "--config", str(config), *args]


def build(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one build to its end."""
    return subprocess.run(
        command(config, *args), capture_output=True, text=True, timeout=120, check=False
    )


def start(config: Path, *args: str, stderr: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """Start a build in its own process group, so a signal reaches its workers too."""
    return subprocess.Popen(
        command(config, *args),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


def files_in(folder: Path) -> dict[str, bytes]:
    """The outputs under ``folder`` (temporary files left out)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(TEMP_SUFFIX)
    }


def everything_in(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, temporary files included."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def temps_in(folder: Path) -> list[str]:
    """Temporary files left anywhere under ``folder``."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(f"*{TEMP_SUFFIX}"))


def parse_error(relative: str, data: bytes) -> str | None:
    """Why an output file is not a whole document of its kind, or None when it is."""
    if not data:
        return "empty"
    try:
        if relative.endswith((".xml", ".opml")):
            ElementTree.fromstring(data)
        elif relative.endswith(".json"):
            json.loads(data)
        elif relative.endswith(".html") and not data.rstrip().endswith(b"</html>"):
            return "HTML cut short"
    except (ElementTree.ParseError, ValueError) as error:
        return f"does not parse: {error}"
    return None


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> None:
    """A failure a user can act on: the exit code, one line on stderr, no traceback."""
    assert code == result.returncode, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert 1 == len(result.stderr.splitlines()), result.stderr
    assert result.stderr.startswith("publisher: error: "), result.stderr


def make_corpus(count: int, folder: Path) -> Path:
    """``count`` realistic article files made from the shared corpus by the bench generator."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    subprocess.run(
        [sys.executable, str(MAKE_ARTICLES), str(count), str(folder)], check=True, timeout=120
    )
    return folder


def write_site(write_article: WriteArticle, count: int) -> Path:
    """``count`` small good articles in ``_news``, spread over three topics, long settled."""
    topics = ("Space", "Climate", "Open Source")
    for number in range(count):
        path = write_article(
            f"{number:04d}.md",
            title=f"Story {number}",
            url=f"https://example.com/story-{number}",
            date=f"2024-05-{1 + number % 28:02d}T{number % 24:02d}:00:00Z",
            topics=(topics[number % 3], topics[(number + 1) % 3]),
            slug=f"story-{number}",
        )
        os.utime(path, ns=(SETTLED_NS, SETTLED_NS))
    return path.parent


def integrity(store: Store) -> str:
    """SQLite's own verdict on every page and index of the store."""
    rows = store.connection.execute("PRAGMA integrity_check").fetchall()
    return "; ".join(row[0] for row in rows)


@pytest.fixture(scope="session")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3000 generated articles; tests copy them before changing anything."""
    return make_corpus(BIG_CORPUS, tmp_path_factory.mktemp("corpus") / "news")


# --- 1. kill -9 at random moments -----------------------------------------------------------


def change_inputs(content: Path, rng: random.Random) -> None:
    """Touch a fifth of the articles so most feeds change; add one topic and drop another."""
    names = sorted(path.name for path in content.glob("*.md"))
    for number, name in enumerate(sorted(rng.sample(names, len(names) // 5))):
        path = content / name
        text = path.read_bytes().decode("utf-8")
        when = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=number)
        text = re.sub(
            r"^publishedDateTime: .*?(\r?)$",
            lambda m, when=when: f"publishedDateTime: {when:%Y-%m-%dT%H:%M:%SZ}{m[1]}",
            text,
            count=1,
            flags=re.MULTILINE,
        )
        text = re.sub(r"^quality: .*?(\r?)$", r"quality: 90\1", text, count=1, flags=re.MULTILINE)
        text = re.sub(r"^published: false(\r?)$", r"published: true\1", text, flags=re.MULTILINE)
        if number % 3 == 0:
            text = re.sub(
                r"^topics:(\r?)\n", rf"topics:\1\n  - {NEW_TOPIC}\1\n", text, flags=re.MULTILINE
            )
        path.write_bytes(text.encode("utf-8"))
    for path in sorted(content.glob("*.md")):
        text = path.read_bytes().decode("utf-8")
        kept = re.sub(rf"^  - {GONE_TOPIC}\r?\n", "", text, flags=re.MULTILINE)
        if kept != text:
            path.write_bytes(kept.encode("utf-8"))


def restore(snapshot: Path, target: Path) -> None:
    """Put a folder back as it was, file times included."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(snapshot, target)


ARTICLE_COLUMNS = (
    "version, problem_field, problem, published, quality, heat, date_us, url, canonical,"
    " digest, record"
)


def stored_articles(store: Store, content: Path) -> dict[str, tuple[Any, ...]]:
    """Every stored file of ``content``: (size, mtime, read time), then what it says."""
    rows = store.connection.execute(
        f"SELECT name, size, mtime_ns, read_ns, {ARTICLE_COLUMNS},"
        " (SELECT group_concat(topic, '|') FROM (SELECT topic FROM article_topics t"
        "  WHERE t.source = a.source AND t.name = a.name ORDER BY topic))"
        " FROM articles a WHERE source = ?",
        (store.source(content),),
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def unsound_records(store: Store, content: Path, good: dict[str, tuple[Any, ...]]) -> list[str]:
    """Stored files the next run would trust (same stamp, this version, not racy) whose
    record is not what a clean parse stores."""
    stamps = scan_folder(content)
    return sorted(
        name
        for name, (size, mtime_ns, read_ns, version, *said) in stored_articles(
            store, content
        ).items()
        if stamps.get(name) == (size, mtime_ns)
        and version == RECORD_VERSION
        and mtime_ns < read_ns - RACY_NS
        and tuple(said) != good[name][4:]
    )


@dataclass
class KillRun:
    """What an update of 3000 articles, killed again and again, left behind."""

    config: Path
    content: Path
    out: Path
    previous: dict[str, bytes]
    new: dict[str, bytes]
    """What the update writes when nothing stops it."""
    fresh: dict[str, bytes]
    """What a build of the same content writes into an empty folder with an empty store."""
    cache_after_kills: Path
    outcomes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


Listed = dict[str, tuple[int, int, str] | None]
"""The store's record of the files a build wrote, by relative path (see ``Store.outputs``)."""


def killed_output_problems(
    out: Path, cache: Path, inputs: str, previous: dict[str, bytes], new: dict[str, bytes]
) -> str:
    """Check what a killed build of ``inputs`` (their fingerprint) left; returns a summary,
    raising nothing, listing problems."""
    folder = os.path.realpath(out)
    try:
        with opened(cache) as store:
            verdict = integrity(store)
            listed = store.outputs(folder)
            last = store.last_build(folder)
    except (AssertionError, OSError, sqlite3.Error, ValueError) as error:
        return f"PROBLEM the store does not open cleanly: {error}"
    found = files_in(out)
    problems = [] if verdict == "ok" else [f"integrity_check: {verdict}"]
    problems += file_problems(found, listed, previous, new)
    if last is not None and last[0] == inputs:
        # A finished build of these very inputs lets the next run skip all work: it must be true.
        problems += finished_build_problems(out, listed, found, new)
    if problems:
        return "PROBLEM " + "; ".join(problems)
    return files_left(found, previous, new)


def file_problems(
    found: dict[str, bytes],
    listed: Listed,
    previous: dict[str, bytes],
    new: dict[str, bytes],
) -> list[str]:
    """Files off the record, with bytes of neither build, or broken; files both builds have
    that are missing."""
    problems: list[str] = []
    for relative, data in found.items():
        if relative not in listed:
            problems.append(f"{relative}: not on record, so no later run could remove it")
        if data not in (new.get(relative), previous.get(relative)):
            problems.append(f"{relative}: neither its previous nor its new bytes ({len(data)} B)")
        if reason := parse_error(relative, data):
            problems.append(f"{relative}: {reason}")
    for relative in sorted((set(previous) & set(new)) - set(found)):
        problems.append(f"{relative}: missing, though both builds have it")
    return problems


def finished_build_problems(
    out: Path, listed: Listed, found: dict[str, bytes], new: dict[str, bytes]
) -> list[str]:
    """Where the record of a finished build is not true of the files."""
    problems: list[str] = []
    for relative, stamp in listed.items():
        status = (out / relative).stat()
        if stamp is None or (status.st_size, status.st_mtime_ns) != stamp[:2]:
            problems.append(f"{relative}: the record claims a finished build, stamp differs")
    if found != new:
        problems.append("the record claims a finished build, but the files are a mix")
    return problems


def files_left(found: dict[str, bytes], previous: dict[str, bytes], new: dict[str, bytes]) -> str:
    """``new``, ``previous``, or how many files of each a mix holds."""
    if found == new:
        return "new"
    if found == previous:
        return "previous"
    fresh = stale = 0
    for name, data in found.items():
        if data == new.get(name):
            fresh += data != previous.get(name)
        elif data == previous.get(name):
            stale += 1
    return f"mixed: {fresh} new, {stale} previous"


def inodes(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` by relative path, with its inode."""
    found: dict[str, int] = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                found[f"{parent}/{name}"] = Path(parent, name).stat().st_ino
    return found


def wait_for_writing(process: subprocess.Popen[str], out: Path, before: dict[str, int]) -> bool:
    """Poll until a file under ``out`` is created or replaced; False when the process ends."""
    while process.poll() is None:
        if inodes(out) != before:
            return True
        time.sleep(0.0002)
    return False


@pytest.fixture(scope="module")
def kill_run(big_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> KillRun:
    """Build 3000 articles, change a fifth, then SIGKILL the update at seeded random moments."""
    folder = tmp_path_factory.mktemp("kill")
    content = folder / "news"
    shutil.copytree(big_corpus, content)
    config = write_config(folder, content)
    out, cache = folder / "out", folder / "cache"
    first = build(config)
    assert 0 == first.returncode, first.stderr
    previous = files_in(out)
    shutil.copytree(out, folder / "previous-out")
    shutil.copytree(cache, folder / "previous-cache")

    change_inputs(content, random.Random(11))
    clean_config = write_config(folder / "clean", content)
    clean = build(clean_config)
    assert 0 == clean.returncode, clean.stderr
    fresh = files_in(folder / "clean" / "out")
    with opened(folder / "clean" / "cache") as store:
        good = stored_articles(store, content)

    # How long the update takes from this very state, and how long its writing stage lasts
    # (the shorter of two runs: one slow fsync should not aim every kill past the end).
    durations, writes = [], []
    for _ in range(2):
        restore(folder / "previous-out", out)
        restore(folder / "previous-cache", cache)
        started = time.monotonic()
        measured = build(config, "--json")
        durations.append(time.monotonic() - started)
        assert 0 == measured.returncode, measured.stderr
        writes.append(json.loads(measured.stdout)["timings"]["write"])
    duration, write_seconds = max(durations), min(writes)
    # What the update writes. Not what the clean build wrote: archive pages keep the stories
    # the previous build put on them, so the pages depend on what was published before.
    new = files_in(out)
    # The update must create and rewrite files, or the kills prove little. (The gone topic's
    # feed stays, emptied, until it has been gone retire_after_days.)
    assert any(p.startswith(f"{NEW_SLUG}/") for p in set(new) - set(previous))
    assert previous[f"{GONE_SLUG}/rss.xml"] != new[f"{GONE_SLUG}/rss.xml"]
    common = set(previous) & set(new)
    assert len([p for p in common if previous[p] != new[p]]) >= 0.8 * len(common)
    # The check of a finished build's record below must recognise one when it sees it.
    inputs = input_fingerprint(load_config(config), scan_folder(content))
    with opened(cache) as store:
        last = store.last_build(os.path.realpath(out))
    assert (inputs, True) == (last[0] if last else None, last is not None)

    run = KillRun(config, content, out, previous, new, fresh, folder / "cache-after-kills")
    rng = random.Random(20240601)
    for attempt in range(KILLS):
        restore(folder / "previous-out", out)
        restore(folder / "previous-cache", cache)
        before = inodes(out)
        process = start(config, "-q")
        if attempt % 3 == 0:
            delay = rng.uniform(0.0, duration)
            when = f"kill {attempt + 1}, {delay:.2f} s of {duration:.2f} s in"
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=delay)
        else:
            # Most kills aim at the few milliseconds of writing, which begin when the first
            # temporary file appears beside a feed.
            delay = rng.uniform(0.0, 0.75 * write_seconds)
            when = f"kill {attempt + 1}, {delay * 1000:.1f} ms into writing"
            if wait_for_writing(process, out, before):
                time.sleep(delay)
        code = process.poll()
        kill_group(process)
        if attempt == KILLS - 1:
            shutil.copytree(cache, run.cache_after_kills)
        outcome = killed_output_problems(out, cache, inputs, previous, new)
        if code is not None:
            outcome = f"finished first (exit {code}), left {outcome}"
            if code != 0:
                run.problems.append(f"{when}: the build exited {code} before the kill")
        run.outcomes.append(f"{when}: {outcome}")
        if "PROBLEM" in outcome:
            run.problems.append(f"{when}: {outcome}")
            continue
        with opened(cache) as store:
            if unsound := unsound_records(store, content, good):
                run.problems.append(f"{when}: stored records with a wrong value: {unsound[:5]}")
    timing = f"update: {duration:.2f} s, of which writing {write_seconds * 1000:.0f} ms"
    print("\n".join(["", timing, *run.outcomes]))
    return run


@pytest.mark.slow
def test_kill_9_at_any_moment_leaves_each_file_previous_or_new(kill_run: KillRun):
    """SIGKILL anywhere in an update: every feed is whole, its old or new bytes, on record."""
    assert [] == kill_run.problems
    assert KILLS == len(kill_run.outcomes)


@pytest.mark.slow
def test_store_left_by_kills_opens_and_passes_integrity_check(kill_run: KillRun, tmp_path: Path):
    """The store as the last kill left it opens without being set aside; SQLite finds it whole."""
    shutil.copytree(kill_run.cache_after_kills, tmp_path / "cache")
    with opened(tmp_path / "cache") as store:
        application_id = store.connection.execute("PRAGMA application_id").fetchone()[0]
        user_version = store.connection.execute("PRAGMA user_version").fetchone()[0]
        assert ("ok", APPLICATION_ID, SCHEMA_VERSION) == (
            integrity(store),
            application_id,
            user_version,
        )
    assert not (tmp_path / "cache" / f"{DB_NAME}.broken").exists()


@pytest.mark.slow
def test_rerun_after_kills_equals_a_clean_build(kill_run: KillRun):
    """After the kills a normal run succeeds, leaves no temp files and matches a clean build."""
    result = build(kill_run.config)
    assert (0, "") == (result.returncode, result.stderr)
    assert [] == temps_in(kill_run.out)
    assert kill_run.new == everything_in(kill_run.out)
    with opened(kill_run.config.parent / "cache") as store:
        listed = store.outputs(os.path.realpath(kill_run.out))
    assert sorted(kill_run.new) == sorted(listed)
    assert [] == [path for path, stamp in listed.items() if stamp is None]


@pytest.mark.slow
def test_store_left_by_kills_gives_the_same_output_as_no_cache(kill_run: KillRun, tmp_path: Path):
    """The store as the kills left it builds, into an empty folder, the same bytes as a
    --no-cache build, and as a clean build."""
    shutil.copytree(kill_run.cache_after_kills, tmp_path / "cache")
    config = write_config(tmp_path, kill_run.content, out="cached")
    cached = build(config, "--json")
    assert 0 == cached.returncode, cached.stderr
    assert json.loads(cached.stdout)["cache_hits"] > 0
    uncached = build(config, "--no-cache", "--out", str(tmp_path / "uncached"))
    assert 0 == uncached.returncode, uncached.stderr
    assert files_in(tmp_path / "uncached") == files_in(tmp_path / "cached")
    assert kill_run.fresh == files_in(tmp_path / "cached")


class Killed(BaseException):
    """Stands for SIGKILL inside the process: nothing after it runs."""


def test_files_of_a_run_killed_before_its_record_are_pruned_later(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A run that dies after writing but before recording what it wrote: its files were
    claimed first, so the next run removes those no longer planned."""
    content = write_site(write_article, 6)
    config = load_config(write_config(tmp_path, content))
    run_build(config, wait=5)
    expected = everything_in(tmp_path / "out")
    original = (content / "0000.md").read_bytes()
    write_article("0000.md", title="Story 0", url="https://example.com/story-0", topics=("Mars",))

    def die(*args: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(Store, "finish_outputs", die)
        with pytest.raises(Killed):
            run_build(config, wait=5)
    assert (tmp_path / "out" / "mars" / "rss.xml").is_file()
    with opened(tmp_path / "cache") as store:
        claimed = store.outputs(os.path.realpath(tmp_path / "out"))
    assert {"mars/atom.xml", "mars/feed.json", "mars/rss.xml"} <= set(claimed)
    (content / "0000.md").write_bytes(original)
    os.utime(content / "0000.md", ns=(SETTLED_NS, SETTLED_NS))
    outcome = run_build(config, wait=5)
    assert {"mars/atom.xml", "mars/feed.json", "mars/rss.xml"} <= set(outcome.report.removed)
    assert expected == everything_in(tmp_path / "out")


# --- 2. a broken state store ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        "truncated",
        "pages zeroed",  # seen only when a query meets them: the job runs again on a new store
        "random bytes",
        "another application's database",
        "a newer schema",
    ],
)
def test_broken_store_is_set_aside_with_a_warning_and_rebuilt(
    kind: str, write_article: WriteArticle, tmp_path: Path
):
    """A damaged, foreign or newer store: exit 0, one warning naming the file, the same feeds
    as --no-cache, the bad file kept as publisher.sqlite3.broken, a healthy store in its place."""
    content = write_site(write_article, 12)
    config = write_config(tmp_path, content)
    assert 0 == build(config, "--no-cache", "--out", str(tmp_path / "expected")).returncode
    assert 0 == build(config, "--out", str(tmp_path / "warm")).returncode
    path = tmp_path / "cache" / DB_NAME
    spoil_store(kind, path)
    bad = path.read_bytes()
    result = build(config)
    assert 0 == result.returncode, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert 1 == len(lines), result.stderr
    assert lines[0].startswith(f"warning: {path}: "), result.stderr
    assert f"moved to {DB_NAME}.broken" in lines[0]
    assert files_in(tmp_path / "expected") == files_in(tmp_path / "out")
    assert bad == path.with_name(f"{DB_NAME}.broken").read_bytes()
    with opened(tmp_path / "cache") as store:
        assert "ok" == integrity(store)
    again = json.loads(build(config, "--json", "--out", str(tmp_path / "again")).stdout)
    assert (12, []) == (again["cache_hits"], again["warnings"])


def test_empty_store_file_is_started_in_place(write_article: WriteArticle, tmp_path: Path):
    """A zero-byte store is what a run killed while creating it leaves (SQLite reads it as an
    empty database): the build starts it afresh where it is, with nothing to set aside."""
    content = write_site(write_article, 12)
    config = write_config(tmp_path, content)
    assert 0 == build(config, "--no-cache", "--out", str(tmp_path / "expected")).returncode
    path = tmp_path / "cache" / DB_NAME
    path.write_bytes(b"")
    result = build(config)
    assert (0, "") == (result.returncode, result.stderr)
    assert files_in(tmp_path / "expected") == files_in(tmp_path / "out")
    assert not path.with_name(f"{DB_NAME}.broken").exists()
    with opened(tmp_path / "cache") as store:
        assert "ok" == integrity(store)


# --- 3. the content folder vanishes -------------------------------------------------------


def test_content_folder_vanishing_mid_parse_raises_and_trusts_nothing_it_missed(
    write_article: WriteArticle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The folder renamed away after the first batch: ArticleError; the files it could not
    read are read again once the folder is back, and none is reported bad."""
    content, moved = write_site(write_article, 1100), tmp_path / "moved"
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)  # batches in a known order
    calls: list[int] = []

    def vanish(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 1:
            content.rename(moved)

    with opened(tmp_path / "cache") as store, pytest.raises(ArticleError) as raised:
        refresh_articles(store, content, scan_folder(content), progress=vanish)
    assert f"{content}: content folder disappeared during the run" == str(raised.value)
    assert [500, 1000, 1100] == calls
    moved.rename(content)
    with opened(tmp_path / "cache") as store:
        loaded = refresh_articles(store, content, scan_folder(content))
    assert (1100, 600, ()) == (loaded.files, loaded.parsed, loaded.problems)


def test_build_without_its_content_folder_exits_2_and_keeps_outputs(
    write_article: WriteArticle, tmp_path: Path
):
    """Content folder gone since the last build: exit 2, one line, previous outputs untouched."""
    content = write_site(write_article, 12)
    config = write_config(tmp_path, content)
    assert 0 == build(config).returncode
    before = everything_in(tmp_path / "out")
    content.rename(tmp_path / "elsewhere")
    result = build(config)
    assert_one_line_error(result, 2)
    assert str(content) in result.stderr
    assert before == everything_in(tmp_path / "out")


# --- 4. an article path that cannot be read ------------------------------------------------


@pytest.mark.parametrize("kind", ["folder bad.md", "dangling symlink gone.md"])
def test_unreadable_article_path_is_reported_and_skipped(
    kind: str, write_article: WriteArticle, tmp_path: Path
):
    """A *.md that cannot be read: the run goes on, one stderr line names it; --strict exits 1."""
    content = write_site(write_article, 3)
    if kind.startswith("folder"):
        bad = content / "bad.md"
        bad.mkdir()
    else:
        bad = content / "gone.md"
        bad.symlink_to(content / "nowhere.md")
    config = write_config(tmp_path, content)
    result = build(config)
    assert 0 == result.returncode, result.stderr
    assert "Traceback" not in result.stderr
    assert [str(bad)] == [line.split(": ")[0] for line in result.stderr.splitlines()]
    assert (tmp_path / "out" / "rss.xml").is_file()
    strict = build(config, "--strict", "--out", str(tmp_path / "strict"))
    assert 1 == strict.returncode
    assert str(bad) in strict.stderr


# --- 5. the output path --------------------------------------------------------------------


def test_output_path_that_is_a_file_exits_3(write_article: WriteArticle, tmp_path: Path):
    """--out naming an existing regular file: exit 3, one line, the file left as it was."""
    write_site(write_article, 3)
    blocker = tmp_path / "feeds"
    blocker.write_bytes(b"not a folder\n")
    config = write_config(tmp_path, tmp_path / "_news", out="feeds")
    result = build(config)
    assert_one_line_error(result, 3)
    assert str(blocker) in result.stderr
    assert b"not a folder\n" == blocker.read_bytes()


def test_missing_output_folder_and_parents_are_created(write_article: WriteArticle, tmp_path: Path):
    """An output folder whose parents do not exist yet is made, parents and all."""
    write_site(write_article, 3)
    config = write_config(tmp_path, tmp_path / "_news", out="deep/er/feeds")
    result = build(config)
    assert 0 == result.returncode, result.stderr
    outputs = files_in(tmp_path / "deep" / "er" / "feeds")
    assert {"rss.xml", "atom.xml", "feed.json", "space/rss.xml"} <= set(outputs)
    assert {} == {p: e for p, data in outputs.items() if (e := parse_error(p, data))}


# --- 6. two builds at once -----------------------------------------------------------------


def lock_holders(lock: Path) -> set[int]:
    """Pids holding a lock on ``lock``, from /proc/locks."""
    if not lock.exists():
        return set()
    inode = f":{lock.stat().st_ino} "
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if inode in f"{line} " and "->" not in fields[1]:
            holders.add(int(fields[4]))
    return holders


def wait_for_lock(process: subprocess.Popen[str], lock: Path) -> None:
    """Poll /proc/locks until ``process`` holds ``lock``."""
    deadline = time.monotonic() + 60
    while process.pid not in lock_holders(lock):
        assert process.poll() is None, "the build ended before taking the lock"
        assert time.monotonic() < deadline, "the build never took the lock"
        time.sleep(0.001)


@pytest.mark.slow
def test_second_build_exits_4_or_waits_while_another_holds_the_lock(
    write_article: WriteArticle, tmp_path: Path
):
    """A build paused inside its lock: --wait 0 exits 4 with one line; --wait 30 waits, succeeds."""
    if not Path("/proc/locks").is_file():
        pytest.skip("needs /proc/locks to see who holds the lock")
    write_site(write_article, 40)
    config = write_config(tmp_path, tmp_path / "_news")
    assert 0 == build(config, "--out", str(tmp_path / "expected")).returncode
    out, cache = tmp_path / "out", tmp_path / "cache"
    # The test holds the store's write lock: the first build takes its job lock, then waits
    # at its first write to the store, paused inside the job lock without timing luck.
    holder = sqlite3.connect(cache / DB_NAME, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    first = start(config, "--no-cache", stderr=subprocess.PIPE)
    try:
        wait_for_lock(first, lock_path(cache, out))
        started = time.monotonic()
        refused = build(config, "--no-cache", "--wait", "0")
        refused_seconds = time.monotonic() - started
        assert_one_line_error(refused, 4)
        assert "another publisher run holds the lock" in refused.stderr
        assert not out.exists() or [] == list(out.iterdir())

        waiter = subprocess.Popen(
            command(config, "--no-cache", "--wait", "30", "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2 * refused_seconds + 0.5)
        assert waiter.poll() is None, "the waiting build did not wait"
        assert first.poll() is None, "the first build did not wait for the store"
        holder.execute("ROLLBACK")
        assert 0 == first.wait(timeout=60), first.stderr.read() if first.stderr else ""
        stdout, stderr = waiter.communicate(timeout=60)
    finally:
        holder.close()
        kill_group(first)
    assert 0 == waiter.returncode, stderr
    assert [] == json.loads(stdout)["written"]
    assert files_in(tmp_path / "expected") == everything_in(out)


@pytest.mark.slow
def test_slow_build_of_older_inputs_never_overwrites_a_newer_build(
    big_corpus: Path, tmp_path: Path
):
    """A build of newer inputs started while an older one is paused waits for it, then wins."""
    if not Path("/proc/locks").is_file():
        pytest.skip("needs /proc/locks to see who holds the lock")
    content = tmp_path / "news"
    shutil.copytree(big_corpus, content)
    config = write_config(tmp_path, content)
    out = tmp_path / "out"
    slow = start(config, "-q")
    try:
        # A cold build of 3000 articles parses for a second or more once it holds its lock:
        # a SIGSTOP soon after lands before it writes anything.
        wait_for_lock(slow, lock_path(tmp_path / "cache", out))
        time.sleep(0.2)
        os.killpg(slow.pid, signal.SIGSTOP)
        if out.exists():
            pytest.skip("the first build began writing before it could be paused")
        newest = next(
            path
            for path in sorted(content.glob("*.md"))
            if re.search(r"^quality: ", path.read_text(encoding="utf-8"), flags=re.M)
        )
        text = newest.read_bytes().decode("utf-8")
        for pattern, line in [
            ("title", '"Breaking: fresh story"'),
            ("publishedDateTime", "2026-01-01T00:00:00Z"),
            ("quality", "99"),
            ("published", "true"),
        ]:
            text = re.sub(
                rf"^{pattern}: .*?(\r?)$", rf"{pattern}: {line}\1", text, count=1, flags=re.M
            )
        newest.write_bytes(text.encode("utf-8"))
        fast = start(config, "-q", "--wait", "60", stderr=subprocess.PIPE)
        time.sleep(1.0)
        assert fast.poll() is None, "the newer build did not wait for the older one"
        os.killpg(slow.pid, signal.SIGCONT)
        assert 0 == slow.wait(timeout=60)
        assert 0 == fast.wait(timeout=60), fast.stderr.read() if fast.stderr else ""
    finally:
        kill_group(slow)
    assert b"Breaking: fresh story" in files_in(out)["rss.xml"]
