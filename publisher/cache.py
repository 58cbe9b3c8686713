"""The parse cache: each file's article (or problem), reused while its size and mtime hold."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from publisher import __version__
from publisher.errors import ArticleError, OutputError
from publisher.model import Article
from publisher.output import atomic_file, make_folder, remove_leftover_temps, write_atomically

CACHE_FORMAT = 2
"""Raise when the meaning of a cached article changes: normalisation rules, model fields."""


FileStamp = tuple[int, int]
"""A file's size and mtime in nanoseconds: while both hold, its cached result is reused."""


@dataclass(frozen=True, slots=True)
class CachedProblem:
    """A problem as the cache keeps it: the path is attached again on load."""

    field: str
    message: str
    transient: bool = False
    """The file could not be read (permissions, say): try again next run, do not cache."""


def scan_folder(content_dir: Path) -> dict[str, FileStamp]:
    """The ``*.md`` files of a content folder by name, sorted, with their size and mtime.

    Names starting with ``.`` or ``#`` (editor locks, macOS resource forks) are skipped, as
    Jekyll does. A folder or dangling link named ``*.md`` is kept, so reading it reports it.
    """
    stamps: dict[str, FileStamp] = {}
    try:
        with os.scandir(content_dir) as entries:
            for entry in entries:
                name = entry.name
                if not name.endswith(".md") or name[0] in ".#":
                    continue
                try:
                    status = entry.stat(follow_symlinks=entry.is_file())
                except FileNotFoundError:
                    continue  # removed while we looked, by a git pull say
                stamps[name] = (status.st_size, status.st_mtime_ns)
    except FileNotFoundError:
        raise ArticleError("content folder not found", path=str(content_dir)) from None
    except NotADirectoryError:
        raise ArticleError("not a folder", path=str(content_dir)) from None
    except OSError as error:
        raise ArticleError(f"cannot read: {error.strerror}", path=str(content_dir)) from None
    return dict(sorted(stamps.items()))


def is_racy(stamps: Mapping[str, FileStamp], written_ns: int) -> bool:
    """Whether any file was modified too close to ``written_ns`` for its stamp to be trusted."""
    return any(mtime_ns >= written_ns - RACY_NS for _, mtime_ns in stamps.values())


def input_fingerprint(settings: object, content_dir: Path, stamps: Mapping[str, FileStamp]) -> str:
    """A digest of what a build is made from: the tool, the settings, every file's stamp.

    ``settings`` must have a stable ``repr`` (a frozen config does).
    """
    digest = hashlib.sha256(repr((_cache_key(), settings, str(content_dir))).encode())
    for name, (size, mtime_ns) in stamps.items():
        digest.update(f"{name}\0{size}\0{mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_file(cache_dir: Path, folder: Path, kind: str = "articles") -> Path:
    """One cache file per folder (content or output), so several sites can share a cache."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"{kind}-{digest}.pickle"


def _cache_key() -> tuple[object, ...]:
    return ("publisher", __version__, CACHE_FORMAT, sys.version_info[:2])


_ALLOWED_CLASSES = {
    ("publisher.model", "Article"),
    ("publisher.model", "Image"),
    ("publisher.model", "Provider"),
    ("publisher.cache", "CachedProblem"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
}


class _CacheUnpickler(pickle.Unpickler):
    """Builds only the cache's own classes: a tampered cache cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_CLASSES:
            raise pickle.UnpicklingError(f"unexpected {module}.{name} in cache")
        return super().find_class(module, name)


Entries = dict[str, tuple[FileStamp, Any]]
"""File name → (its stamp, an :class:`Article`, or a :class:`CachedProblem`)."""

RACY_NS = 2_000_000_000
"""A file modified this close to when a cache was written may have changed unseen since."""

DELTA_SHARE = 0.1
"""A delta may hold up to this share of the entries before the whole cache is rewritten."""


class ParseCache:
    """The cached entries of one content folder: a base file plus a small delta of changes.

    Rewriting tens of thousands of entries because one file changed would cost more than the
    change; changes go to a delta file until it outgrows :data:`DELTA_SHARE` of the base.
    A missing, corrupt or foreign file (another version, another base) reads as empty.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.delta_path = path.with_suffix(".delta.pickle")
        self.base, base_stamp = _read_entries(path, expected_base=None)
        self.delta: Entries = {}
        delta_stamp = None
        if self.base:
            self.delta, delta_stamp = _read_entries(self.delta_path, expected_base=base_stamp)
        self.base_stamp = base_stamp
        # A file changed again within the same timestamp tick as the parse has an equal stamp
        # but other content: an entry whose file is not clearly older than its cache file misses.
        self.base_racy_after = base_stamp[1] - RACY_NS if base_stamp else 0
        self.delta_racy_after = delta_stamp[1] - RACY_NS if delta_stamp else 0

    def get(self, name: str, stamp: FileStamp) -> Any:
        """The cached article or problem of a file, when its stamp still matches."""
        if name in self.delta:
            entry, racy_after = self.delta[name], self.delta_racy_after
        elif name in self.base:
            entry, racy_after = self.base[name], self.base_racy_after
        else:
            return None
        if entry[0] != stamp or stamp[1] >= racy_after:
            return None
        return entry[1] if type(entry[1]) in (Article, CachedProblem) else None

    def entries(self) -> Entries:
        return self.base | self.delta

    def save(self, entries: Entries) -> str | None:
        """Store ``entries`` (the whole folder); a failure is a warning, not an error."""
        changed = {
            name: entry
            for name, entry in entries.items()
            if name not in self.base or self.base[name][0] != entry[0]
        }
        removed = len(self.base.keys() - entries.keys())
        try:
            self._prepare_folder()
            if self.base and len(changed) + removed <= DELTA_SHARE * len(entries):
                if changed != self.delta:
                    with atomic_file(self.delta_path, durable=False) as stream:
                        _write_records(stream, self.base_stamp, changed)
            else:
                with atomic_file(self.path, durable=False) as stream:
                    _write_records(stream, None, entries)
                with contextlib.suppress(FileNotFoundError):
                    self.delta_path.unlink()
        except (OutputError, OSError) as error:
            return f"parse cache not saved: {error}"
        return None

    def _prepare_folder(self) -> None:
        make_folder(self.path.parent)
        # Another site's run may be saving into a shared cache folder right now: old temps only.
        remove_leftover_temps(self.path.parent, older_than=60)

    @contextlib.contextmanager
    def new_base(self) -> Iterator[ChunkSpool]:
        """A new base file written while the files are parsed: each chunk a worker process
        sends back goes to disk as it arrives, instead of staying in memory for :meth:`save`.
        The file replaces the old base when the block ends, with :meth:`ChunkSpool.finish`."""
        self._prepare_folder()
        with atomic_file(self.path, durable=False) as stream:
            spool = ChunkSpool(stream)
            yield spool
            if not spool.finished:
                raise OutputError("parse cache not finished", path=str(self.path))
        with contextlib.suppress(FileNotFoundError):
            self.delta_path.unlink()


class ChunkSpool:
    """A base cache file being written: a header, chunks, then the index of stamps."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.covered: set[str] = set()
        self.finished = False
        pickle.dump((_cache_key(), None), stream, protocol=5)

    def add(self, names: Sequence[str], blob: bytes) -> None:
        """One chunk, as a worker pickled it: the list of results for ``names``."""
        pickle.dump(("chunk", tuple(names), blob), self.stream, protocol=5)
        self.covered.update(names)

    def finish(self, entries: Entries) -> None:
        """Add the entries no chunk held, and the stamps of every entry."""
        rest = {name: entry for name, entry in entries.items() if name not in self.covered}
        _write_chunk_and_index(self.stream, rest, entries)
        self.finished = True


def read_cache(path: Path) -> Entries:
    """Every entry the cache at ``path`` holds, base and delta together."""
    return ParseCache(path).entries()


def _write_records(stream: BinaryIO, base: FileStamp | None, entries: Entries) -> None:
    pickle.dump((_cache_key(), base), stream, protocol=5)
    _write_chunk_and_index(stream, entries, entries)


def _write_chunk_and_index(stream: BinaryIO, chunk: Entries, indexed: Entries) -> None:
    blob = pickle.dumps([entry[1] for entry in chunk.values()], protocol=5)
    pickle.dump(("chunk", tuple(chunk), blob), stream, protocol=5)
    pickle.dump(("index", {name: entry[0] for name, entry in indexed.items()}), stream, protocol=5)


def _read_entries(path: Path, expected_base: FileStamp | None) -> tuple[Entries, FileStamp | None]:
    """A cache file's entries: header, chunks, then the index; anything else reads as empty."""
    try:
        with path.open("rb") as stream:
            status = os.fstat(stream.fileno())
            # One unpickler per record: each record was pickled on its own, memo and all.
            if _CacheUnpickler(stream).load() != (_cache_key(), expected_base):
                return {}, None
            results: dict[str, Any] = {}
            while (record := _CacheUnpickler(stream).load())[0] == "chunk":
                _, names, blob = record
                found = _CacheUnpickler(io.BytesIO(blob)).load()
                results.update(zip(names, found, strict=True))
            _, stamps = record
            # Only what save() writes: anything else is a damaged cache's, and ignored.
            entries: Entries = {
                name: (stamp, results[name])
                for name, stamp in stamps.items()
                if type(stamp) is tuple and name in results
            }
    except Exception:
        return {}, None
    return entries, (status.st_size, status.st_mtime_ns)


def _load(path: Path) -> Any:
    """What :func:`_store` stored at ``path``; ``None`` when the file is missing, damaged, or
    from another version."""
    try:
        with path.open("rb") as stream:
            key, value = _CacheUnpickler(stream).load()
    except Exception:
        return None
    return value if key == _cache_key() else None


def _store(path: Path, value: object) -> None:
    # A cache is checked when read, so it need not wait for the disk.
    write_atomically(path, pickle.dumps((_cache_key(), value), protocol=5), durable=False)


class InlineCache:
    """Inlined newsletter HTML by the hash of what went in: rerunning an issue skips premailer.

    Inlining is a pure function of the rendered HTML, the template name and the library
    versions, so a stored result is exactly what inlining again would give.
    """

    KEEP = 16

    def __init__(self, cache_dir: Path, inline: Callable[[str, str], str]) -> None:
        self.cache_dir = cache_dir
        self.inline = inline

    def __call__(self, html: str, source: str) -> str:
        key = hashlib.sha256(repr((_cache_key(), _premailer_version(), source, html)).encode())
        path = self.cache_dir / f"inlined-{key.hexdigest()[:32]}.html"
        with contextlib.suppress(OSError):
            stored = path.read_bytes()
            checksum, _, body = stored.partition(b"\n")
            # Written without fsync: after a crash the file may be cut short; check it.
            if checksum == hashlib.sha256(body).hexdigest().encode():
                return body.decode("utf-8")
        inlined = self.inline(html, source)
        with contextlib.suppress(OutputError, OSError):
            make_folder(self.cache_dir)
            body = inlined.encode("utf-8")
            checksum = hashlib.sha256(body).hexdigest().encode()
            write_atomically(path, checksum + b"\n" + body, durable=False)
            kept = sorted(self.cache_dir.glob("inlined-*.html"), key=lambda p: p.stat().st_mtime)
            for old in kept[: -self.KEEP]:
                old.unlink()
        return inlined


def _premailer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("premailer") + "/" + version("cssutils")
    except PackageNotFoundError:
        return ""


class RenderCache:
    """Rendered feed files by the hash of what they are made from: unchanged feeds are not
    rendered again. Keeps only what the last build used."""

    def __init__(self, path: Path, version: str, render: Callable[[Any, Any], dict[str, bytes]]):
        self.path = path
        self.version = version
        self.render = render
        self.used: dict[str, dict[str, bytes]] = {}
        loaded = _load(path)
        self.stored: dict[str, Any] = loaded if isinstance(loaded, dict) else {}

    def __call__(self, info: Any, articles: Any) -> dict[str, bytes]:
        # A frozen dataclass's repr shows every field: equal reprs, equal inputs.
        digest = hashlib.sha256(repr((self.version, info, articles)).encode()).hexdigest()
        files = self.stored.get(digest)
        if not isinstance(files, dict):
            files = self.render(info, articles)
        self.used[digest] = files
        return files

    def save(self) -> str | None:
        """Store what this build rendered; a failure is a warning, not an error."""
        if self.used.keys() == self.stored.keys():
            return None
        try:
            make_folder(self.path.parent)
            _store(self.path, self.used)
        except (OutputError, OSError) as error:
            return f"render cache not saved: {error}"
        return None
