"""Crash safety with real processes: kill -9 mid-build, bad caches, vanishing input, the lock."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import random
import re
import shutil
import signal
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
from publisher.cache import _cache_key, cache_file, read_cache, scan_folder

from publisher.content import load_articles
from publisher.errors import ArticleError
from publisher.output import LOCK_NAME, MANIFEST_NAME, TEMP_SUFFIX

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


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the build and every worker it started, then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def files_in(folder: Path) -> dict[str, bytes]:
    """The outputs under ``folder`` (manifest, lock and temporary files left out)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and path.name not in (MANIFEST_NAME, LOCK_NAME)
        and not path.name.endswith(TEMP_SUFFIX)
    }


def everything_in(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, the manifest and the lock included."""
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


def write_site(write_article: WriteArticle, count: int) -> None:
    """``count`` small good articles in ``_news``, spread over three topics."""
    topics = ("Space", "Climate", "Open Source")
    for number in range(count):
        write_article(
            f"{number:04d}.md",
            title=f"Story {number}",
            url=f"https://example.com/story-{number}",
            date=f"2024-05-{1 + number % 28:02d}T{number % 24:02d}:00:00Z",
            topics=(topics[number % 3], topics[(number + 1) % 3]),
            slug=f"story-{number}",
        )


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


@dataclass
class KillRun:
    """What an update of 3000 articles, killed again and again, left behind."""

    config: Path
    content: Path
    out: Path
    previous: dict[str, bytes]
    new: dict[str, bytes]
    cache_after_kills: Path
    outcomes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def killed_output_problems(out: Path, previous: dict[str, bytes], new: dict[str, bytes]) -> str:
    """Check what a killed build left; returns a summary, raising nothing, listing problems."""
    problems: list[str] = []
    try:
        manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
        listed: dict[str, Any] = manifest["files"]
    except (OSError, ValueError, KeyError) as error:
        return f"PROBLEM manifest unreadable: {error}"
    found = files_in(out)
    fresh = stale = 0
    for relative, data in found.items():
        if relative not in listed:
            problems.append(f"{relative}: not in the manifest, so no later run could remove it")
        if data == new.get(relative):
            fresh += data != previous.get(relative)
        elif data == previous.get(relative):
            stale += 1
        else:
            problems.append(f"{relative}: neither its previous nor its new bytes ({len(data)} B)")
        if reason := parse_error(relative, data):
            problems.append(f"{relative}: {reason}")
    for relative in sorted((set(previous) & set(new)) - set(found)):
        problems.append(f"{relative}: missing, though both builds have it")
    if manifest.get("inputs"):
        # A manifest with an input fingerprint lets the next run skip all work: it must be true.
        for relative, stamp in listed.items():
            status = (out / relative).stat()
            if [status.st_size, status.st_mtime_ns] != stamp:
                problems.append(f"{relative}: manifest claims a finished build, stamp differs")
        if found not in (previous, new):
            problems.append("manifest claims a finished build, but the files are a mix")
    if problems:
        return "PROBLEM " + "; ".join(problems)
    if found == new:
        return "new"
    if found == previous:
        return "previous"
    return f"mixed: {fresh} new, {stale} previous"


def unsound_cache_entries(cache: Path, content: Path, good: dict[str, Any]) -> list[str]:
    """Cached results whose stamp still matches the file but whose value is not the true one."""
    stamps = scan_folder(content)
    return sorted(
        name
        for name, (stamp, value) in read_cache(cache_file(cache, content)).items()
        if stamps.get(name) == stamp and good[name][1] != value
    )


def wait_for_new_inode(process: subprocess.Popen[str], path: Path, inode: int) -> bool:
    """Poll until ``path`` is replaced by another file; False when the process ends first."""
    while process.poll() is None:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_ino != inode:
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
    new = files_in(folder / "clean" / "out")
    good_cache = read_cache(cache_file(folder / "clean" / "cache", content))
    # The update must create, remove and rewrite files, or the kills prove little.
    assert any(p.startswith(f"{NEW_SLUG}/") for p in set(new) - set(previous))
    assert any(p.startswith(f"{GONE_SLUG}/") for p in set(previous) - set(new))
    common = set(previous) & set(new)
    assert len([p for p in common if previous[p] != new[p]]) >= 0.8 * len(common)

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

    run = KillRun(config, content, out, previous, new, folder / "cache-after-kills")
    rng = random.Random(20240601)
    for attempt in range(KILLS):
        restore(folder / "previous-out", out)
        restore(folder / "previous-cache", cache)
        manifest = out / MANIFEST_NAME
        manifest_inode = manifest.stat().st_ino
        process = start(config, "-q")
        if attempt % 3 == 0:
            delay = rng.uniform(0.0, duration)
            when = f"kill {attempt + 1}, {delay:.2f} s of {duration:.2f} s in"
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=delay)
        else:
            # Most kills aim at the few milliseconds of writing, which begin by replacing the
            # manifest with a widened one.
            delay = rng.uniform(0.0, 0.75 * write_seconds)
            when = f"kill {attempt + 1}, {delay * 1000:.1f} ms into writing"
            if wait_for_new_inode(process, manifest, manifest_inode):
                time.sleep(delay)
        code = process.poll()
        kill_group(process)
        outcome = killed_output_problems(out, previous, new)
        if code is not None:
            outcome = f"finished first (exit {code}), left {outcome}"
            if code != 0:
                run.problems.append(f"{when}: the build exited {code} before the kill")
        run.outcomes.append(f"{when}: {outcome}")
        if "PROBLEM" in outcome:
            run.problems.append(f"{when}: {outcome}")
        if unsound := unsound_cache_entries(cache, content, good_cache):
            run.problems.append(f"{when}: cache entries with a wrong value: {unsound[:5]}")
    shutil.copytree(cache, run.cache_after_kills)
    timing = f"update: {duration:.2f} s, of which writing {write_seconds * 1000:.0f} ms"
    print("\n".join(["", timing, *run.outcomes]))
    return run


def test_kill_9_at_any_moment_leaves_each_file_previous_or_new(kill_run: KillRun):
    """SIGKILL anywhere in an update: every feed is whole, either its old or new bytes, listed."""
    assert [] == kill_run.problems
    assert KILLS == len(kill_run.outcomes)


def test_rerun_after_kills_equals_a_clean_build(kill_run: KillRun):
    """After the kills a normal run succeeds, leaves no temp files and matches a clean build."""
    result = build(kill_run.config)
    assert 0 == result.returncode, result.stderr
    assert [] == temps_in(kill_run.out)
    assert kill_run.new == files_in(kill_run.out)
    manifest = json.loads((kill_run.out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert sorted(kill_run.new) == sorted(manifest["files"])


def test_cache_left_by_kills_gives_the_same_output_as_no_cache(kill_run: KillRun, tmp_path: Path):
    """The parse cache as the kills left it builds the same bytes as a --no-cache build."""
    shutil.copytree(kill_run.cache_after_kills, tmp_path / "cache")
    config = write_config(tmp_path, kill_run.content, out="cached")
    cached = build(config, "--json")
    assert 0 == cached.returncode, cached.stderr
    assert json.loads(cached.stdout)["cache_hits"] > 0
    uncached = build(config, "--no-cache", "--out", str(tmp_path / "uncached"))
    assert 0 == uncached.returncode, uncached.stderr
    assert files_in(tmp_path / "uncached") == files_in(tmp_path / "cached")
    assert kill_run.new == files_in(tmp_path / "cached")


# --- 2. a broken parse cache ---------------------------------------------------------------


class RunsShell:
    """Pickles as a call to os.system: what a tampered cache would try."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class RunsEval:
    """Pickles as a call to builtins.eval that writes a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


def cache_document(entries: object, key: object = None) -> bytes:
    """A cache file as ParseCache writes its base: (key, base stamp, entries)."""
    return pickle.dumps((key or _cache_key(), None, entries), protocol=5)


def break_cache(kind: str, path: Path, marker: Path, names: list[str]) -> None:
    """Spoil a good cache file the way ``kind`` says."""
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "random bytes":
        path.write_bytes(random.Random(5).randbytes(len(data)))
    elif kind == "another version":
        path.write_bytes(cache_document({}, key=("publisher", "0.0.1", 0, (3, 8))))
    elif kind == "os.system":
        entries = {name: ((1, 1), RunsShell(marker)) for name in names}
        path.write_bytes(cache_document(entries))
    elif kind == "eval":
        path.write_bytes(cache_document(RunsEval(marker)))


@pytest.mark.parametrize(
    "kind", ["truncated", "empty", "random bytes", "another version", "os.system", "eval"]
)
def test_broken_cache_is_ignored_and_never_runs_code(
    kind: str, write_article: WriteArticle, tmp_path: Path
):
    """A truncated, random, foreign or code-carrying cache: same feeds as no cache, no code run."""
    write_site(write_article, 12)
    content = tmp_path / "_news"
    an_hour_ago = time.time() - 3600
    for article in content.iterdir():  # older than the cache, or every entry counts as racy
        os.utime(article, (an_hour_ago, an_hour_ago))
    config = write_config(tmp_path, content)
    assert 0 == build(config, "--no-cache", "--out", str(tmp_path / "expected")).returncode
    assert 0 == build(config, "--out", str(tmp_path / "warm")).returncode
    path = cache_file(tmp_path / "cache", content)
    marker = tmp_path / "code-ran"
    break_cache(kind, path, marker, sorted(scan_folder(content)))
    result = build(config)
    assert (0, "") == (result.returncode, result.stderr)
    assert not marker.exists()
    assert files_in(tmp_path / "expected") == files_in(tmp_path / "out")
    again = build(config, "--json", "--out", str(tmp_path / "again"))
    assert 12 == json.loads(again.stdout)["cache_hits"]


@pytest.mark.parametrize("value", ["a string", "no stamp"])
def test_cache_with_right_key_but_foreign_entries_is_ignored(
    value: str, write_article: WriteArticle, tmp_path: Path
):
    """A cache of the right version holding values publisher never writes is ignored too."""
    write_site(write_article, 3)
    content = tmp_path / "_news"
    config = write_config(tmp_path, content)
    assert 0 == build(config, "--no-cache", "--out", str(tmp_path / "expected")).returncode
    stamps = scan_folder(content)
    if value == "a string":
        entries: dict[str, Any] = {
            name: (stamp, "not an article") for name, stamp in stamps.items()
        }
    else:
        entries = dict.fromkeys(stamps, 7)
    path = cache_file(tmp_path / "cache", content)
    path.parent.mkdir(parents=True)
    path.write_bytes(cache_document(entries))
    result = build(config)
    assert "Traceback" not in result.stderr
    assert (0, "") == (result.returncode, result.stderr)
    assert files_in(tmp_path / "expected") == files_in(tmp_path / "out")


def test_temp_file_of_a_killed_cache_write_is_cleaned(write_article: WriteArticle, tmp_path: Path):
    """An old cache temp file a killed run left goes at the next save; a fresh one, perhaps
    another site's save in progress in a shared cache folder, stays."""
    write_site(write_article, 3)
    content = tmp_path / "_news"
    config = write_config(tmp_path, content)
    assert 0 == build(config).returncode
    path = cache_file(tmp_path / "cache", content)
    leftover = path.with_name(f".{path.name}.k1ll3d{TEMP_SUFFIX}")
    leftover.write_bytes(path.read_bytes()[:100])
    an_hour_ago = time.time() - 3600
    os.utime(leftover, (an_hour_ago, an_hour_ago))
    in_progress = path.with_name(f".{path.name}.wr1t1ng{TEMP_SUFFIX}")
    in_progress.write_bytes(b"partial")
    write_article("0000.md", title="Changed", url="https://example.com/changed")
    assert 0 == build(config).returncode
    assert [in_progress.name] == temps_in(tmp_path / "cache")


# --- 3. the content folder vanishes -------------------------------------------------------


def test_content_folder_vanishing_mid_parse_raises_and_caches_nothing(
    write_article: WriteArticle, tmp_path: Path
):
    """The folder renamed away after the first progress call: ArticleError, no poisoned cache."""
    write_site(write_article, 250)
    content, moved = tmp_path / "_news", tmp_path / "moved"
    calls: list[int] = []

    def vanish(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 1:
            content.rename(moved)

    with pytest.raises(ArticleError) as raised:
        load_articles(content, cache_dir=tmp_path / "cache", workers=1, progress=vanish)
    assert f"{content}: content folder disappeared during the run" == str(raised.value)
    assert [100, 200] == calls
    assert not cache_file(tmp_path / "cache", content).exists()
    moved.rename(content)
    loaded = load_articles(content, cache_dir=tmp_path / "cache", workers=1)
    assert (250, (), 0) == (len(loaded.articles), loaded.problems, loaded.cache_hits)


def test_build_without_its_content_folder_exits_2_and_keeps_outputs(
    write_article: WriteArticle, tmp_path: Path
):
    """Content folder gone since the last build: exit 2, one line, previous outputs untouched."""
    write_site(write_article, 12)
    content = tmp_path / "_news"
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
    write_site(write_article, 3)
    content = tmp_path / "_news"
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


def test_second_build_exits_4_or_waits_while_another_holds_the_lock(
    write_article: WriteArticle, tmp_path: Path
):
    """A build paused inside its lock: --wait 0 exits 4 with one line; --wait 30 waits, succeeds."""
    if not Path("/proc/locks").is_file():
        pytest.skip("needs /proc/locks to see who holds the lock")
    write_site(write_article, 40)
    config = write_config(tmp_path, tmp_path / "_news")
    assert 0 == build(config, "--out", str(tmp_path / "expected")).returncode
    out = tmp_path / "out"
    out.mkdir()
    # The first build reads the manifest once it holds the lock; a FIFO there pauses it in
    # open() until the test writes to it: a build held mid-write, without timing luck.
    # --no-cache skips the up-to-date check, which would read the manifest before locking.
    fifo = out / MANIFEST_NAME
    os.mkfifo(fifo)
    first = start(config, "--no-cache", stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while first.pid not in lock_holders(out / LOCK_NAME):
            assert first.poll() is None, "the first build ended before taking the lock"
            assert time.monotonic() < deadline, "the first build never took the lock"
            time.sleep(0.01)

        started = time.monotonic()
        refused = build(config, "--no-cache", "--wait", "0")
        refused_seconds = time.monotonic() - started
        assert_one_line_error(refused, 4)
        assert "another publisher run holds the lock" in refused.stderr
        assert {LOCK_NAME, MANIFEST_NAME} == {p.name for p in out.iterdir()}

        waiter = subprocess.Popen(
            command(config, "--no-cache", "--wait", "30", "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Long enough for the waiter to load and render (the refused run did the same work).
        time.sleep(2 * refused_seconds + 0.5)
        assert waiter.poll() is None, "the waiting build did not wait"
        with fifo.open("wb"):
            pass  # an empty manifest: the first build goes on as if none were there
        assert 0 == first.wait(timeout=60), first.stderr.read() if first.stderr else ""
        stdout, stderr = waiter.communicate(timeout=60)
    finally:
        kill_group(first)
    assert 0 == waiter.returncode, stderr
    assert json.loads(stdout)["written"] == []
    assert files_in(tmp_path / "expected") == files_in(out)


def test_slow_build_of_older_inputs_never_overwrites_a_newer_build(
    big_corpus: Path, tmp_path: Path
):
    """A build of newer inputs started while an older one is paused waits for it, then wins."""
    content = tmp_path / "news"
    shutil.copytree(big_corpus, content)
    config = write_config(tmp_path, content)
    out, cache = tmp_path / "out", cache_file(tmp_path / "cache", content)
    slow = start(config, "-q")
    try:
        # The cache is saved once every file is parsed; selecting and rendering 3000 articles
        # follow, so a SIGSTOP now lands before the slow build locks or writes anything.
        while not cache.exists():
            assert slow.poll() is None, "the first build ended before saving its cache"
            time.sleep(0.0002)
        os.killpg(slow.pid, signal.SIGSTOP)
        if (out / MANIFEST_NAME).exists():
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
