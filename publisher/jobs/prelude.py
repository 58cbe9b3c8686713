"""What every job shares: the state store opened for it (and opened afresh when found
damaged), the content folder brought up to date in it, and the store read as a catalogue."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from publisher import __version__
from publisher.config import DEFAULT_SITE_URL, Config
from publisher.content.scan import refused_files, scan_folder
from publisher.errors import ArticleError, Problem
from publisher.model import EPOCH, Article, Candidate
from publisher.output import FileStamp
from publisher.state import (
    DB_NAME,
    RECORD_VERSION,
    ArticleRow,
    DamagedStore,
    Store,
    article_row,
    decode_article,
    open_store,
    set_aside,
    stamp_key,
)

if TYPE_CHECKING:
    from publisher.content.parallel import Progress
    from publisher.selection import Rules

T = TypeVar("T")

BULK_LOAD_MIN = 2000
"""A content folder new to the store with at least this many files is stored in one bulk
load (measured: three times quicker at 10,000 files; below a few thousand it makes no
difference)."""


class ColdLoad(Protocol):
    """Told what a bulk load (a content folder new to the store) stores, as it goes, and when
    every file is parsed: before the store builds its indexes."""

    def stored(self, rows: Sequence[ArticleRow]) -> None: ...

    def parsed(self) -> None: ...


RACY_NS = 2_000_000_000
"""A file modified this close to when it was read may have changed unseen since (git's
racy-clean rule): it is read again."""


@dataclass
class Timings:
    """Seconds spent in each stage, for ``--json``."""

    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage; one entered twice counts both times."""
        start = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - start
            self.stages[name] = round(self.stages.get(name, 0.0) + spent, 4)


@dataclass(frozen=True)
class LoadReport:
    """What bringing the store up to date with a content folder found."""

    files: int
    parsed: int
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...] = ()
    """What was left out of good articles (topics beyond the limit)."""

    @property
    def cache_hits(self) -> int:
        return self.files - self.parsed


def site_url_warning(config: Config) -> list[str]:
    """The warning for a build whose self links would point at the local default."""
    if config.site.url:
        return []
    return [
        f"site.url is not set, so feeds call themselves {DEFAULT_SITE_URL}; set site.url in"
        " config.toml (or --site-url) to the public URL of the output folder"
    ]


# The store, opened for one job --------------------------------------------------------------


@contextmanager
def _store_for(config: Config, wait: float, warnings: list[str]) -> Iterator[Store]:
    store, opened = open_store(Path(config.cache_dir), wait=wait)
    warnings.extend(opened)
    try:
        yield store
    finally:
        store.close()


def with_store(config: Config, wait: float, job: Callable[[Store, list[str]], T]) -> T:
    """Run ``job(store, warnings)``; a store found damaged on the way is set aside and the job
    run once more on a new one (outputs are only ever replaced whole, so that is safe)."""
    warnings: list[str] = []
    try:
        with _store_for(config, wait, warnings) as store:
            return job(store, warnings)
    except DamagedStore as damage:
        warnings.append(set_aside(Path(config.cache_dir) / DB_NAME, str(damage)))
        with _store_for(config, wait, warnings) as store:
            return job(store, warnings)


# Articles -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Content:
    """A content folder brought up to date in the store."""

    loaded: LoadReport
    catalogue: StoredArticles


def load_content(
    store: Store,
    content_dir: Path,
    *,
    empty: str = "no article files (*.md)",
    up_to_date: Callable[[Mapping[str, FileStamp], list[str]], T | None] | None = None,
    timings: Timings | None = None,
    reparse: bool = False,
    progress: Progress | None = None,
    cold: ColdLoad | None = None,
) -> Content | T:
    """Scan ``content_dir`` and bring the store's articles up to date with it (see
    :func:`refresh_articles`), timed as the ``scan`` and ``load`` stages of ``timings``.

    A folder without article files is refused, ``empty`` saying so: likely a checkout or sync
    caught half-way, and publishing it would empty every feed. ``up_to_date`` is asked after
    the scan, with every file's stamp and :func:`stamp_keys`, whether the job has anything to
    do: what it returns, unless ``None``, is returned at once, no article read.
    """
    timings = Timings() if timings is None else timings
    with timings.stage("scan"):
        stamps = scan_folder(content_dir)
        if not stamps:
            raise ArticleError(empty, path=str(content_dir))
        keys = stamp_keys(stamps)
        if up_to_date is not None and (done := up_to_date(stamps, keys)) is not None:
            return done
    with timings.stage("load"):
        loaded = refresh_articles(
            store, content_dir, stamps, keys=keys, reparse=reparse, progress=progress, cold=cold
        )
    return Content(loaded, StoredArticles(store, store.source(content_dir), content_dir))


def refresh_articles(
    store: Store,
    content_dir: Path,
    stamps: Mapping[str, FileStamp],
    *,
    keys: Sequence[str] | None = None,
    reparse: bool = False,
    progress: Progress | None = None,
    cold: ColdLoad | None = None,
) -> LoadReport:
    """Bring the store up to date with ``content_dir``: parse new and changed files (all of
    them with ``reparse``), forget removed ones; report every bad file. ``keys`` are the
    files' :func:`stamp_keys`, when the caller has them already; ``cold`` is told of a bulk
    load's rows."""
    source = store.source(content_dir)
    trusted = set() if reparse else store.trusted_stamps(source, RACY_NS)
    keys = stamp_keys(stamps) if keys is None else keys
    todo = [name for name, key in zip(stamps, keys, strict=True) if key not in trusted]
    stored_todo = store.count(source, todo) if len(todo) < 1000 else len(todo) + 1
    if store.count(source) != len(stamps) - len(todo) + stored_todo:
        # Some stored file is neither trusted nor to be parsed again: look for files now gone.
        gone = store.stored_names(source) - stamps.keys()
        if gone:
            store.forget_articles(source, sorted(gone))
    warnings: list[Problem] = []
    if todo:
        # Imported here: a run with nothing to parse never needs the parser.
        from publisher.content.parallel import parse_files

        bulk = len(todo) >= BULK_LOAD_MIN and store.count(source) == 0

        def keep(rows: list[Any]) -> None:
            store.put_articles(source, stamps, rows)
            if cold and bulk:
                cold.stored(rows)

        with store.bulk_load(source) if bulk else nullcontext():
            parse_files(
                content_dir, todo, article_row, keep, progress=progress, warn=warnings.extend
            )
            if cold and bulk:
                cold.parsed()
    if not content_dir.is_dir():
        raise ArticleError("content folder disappeared during the run", path=str(content_dir))
    folder = f"{content_dir}{os.sep}"
    refused = refused_files(stamps)
    problems = refused + tuple(
        Problem(folder + name, field_name, message, bool(transient))
        for name, field_name, message, transient in store.problems(source)
        if name in stamps
    )
    return LoadReport(len(stamps) + len(refused), len(todo), problems, tuple(warnings))


@dataclass(frozen=True)
class StoredArticles:
    """The :class:`~publisher.selection.Catalogue` of one content folder in the store."""

    store: Store
    source: int
    content_dir: Path

    def topic_names(self) -> list[str]:
        return self.store.topic_names(self.source)

    def newest(self, topic: str | None, rules: Rules, limit: int, offset: int) -> list[Candidate]:
        return self.store.newest(
            self.source, topic, rules.min_quality, rules.include_unrated, limit, offset
        )

    def copies(self, topic: str | None, rules: Rules, canonicals: Sequence[str]) -> list[Candidate]:
        return self.store.copies(
            self.source, topic, rules.min_quality, rules.include_unrated, canonicals
        )

    def every(self, topic: str | None, rules: Rules) -> list[Candidate]:
        return self.store.every_candidate(
            self.source, topic, rules.min_quality, rules.include_unrated
        )

    def articles(self, items: Sequence[Candidate]) -> list[Article]:
        return [decode_article(record, path) for path, record in self.records(items)]

    def records(self, items: Sequence[Candidate]) -> list[tuple[str, str]]:
        """Each story's file path and stored record, in order, for decoding elsewhere."""
        records = self.store.records(self.source, [item.name for item in items])
        folder = f"{self.content_dir}{os.sep}"
        return [(folder + item.name, records[item.name]) for item in items]

    def published_between(self, start: datetime, end: datetime) -> list[Article]:
        """Every published article dated in ``[start, end)``."""
        rows = self.store.published_between(self.source, _microseconds(start), _microseconds(end))
        folder = f"{self.content_dir}{os.sep}"
        return [decode_article(record, folder + name) for name, record in rows]


def _microseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def input_fingerprint(
    config: Config, stamps: Mapping[str, FileStamp], keys: Sequence[str] | None = None
) -> str:
    """A digest of what a build is made from: the tool, the settings, every file's stamp.

    Files are taken in the scan's order: a folder whose order changed without its files
    changing costs one full check, never a missed change.
    """
    digest = hashlib.sha256(repr((__version__, RECORD_VERSION, config)).encode())
    listing = "\n".join(stamp_keys(stamps) if keys is None else keys)
    digest.update(listing.encode("utf-8", "surrogateescape"))
    for problem in refused_files(stamps):
        digest.update(f"\n{problem}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def stamp_keys(stamps: Mapping[str, FileStamp]) -> list[str]:
    """Every file's :func:`~publisher.state.stamp_key`, in the scan's order."""
    return [stamp_key(name, size, mtime) for name, (size, mtime) in stamps.items()]
