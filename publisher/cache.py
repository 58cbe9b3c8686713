"""The parse cache: each file's article (or problem), reused while its size and mtime hold."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher import __version__
from publisher.errors import ArticleError, OutputError
from publisher.output import make_folder, write_atomically

CACHE_FORMAT = 1
"""Raise when the meaning of a cached article changes: normalisation rules, model fields."""


FileStamp = tuple[int, int]
"""A file's size and mtime in nanoseconds: while both hold, its cached result is reused."""


@dataclass(frozen=True, slots=True)
class CachedProblem:
    """A problem as the cache keeps it: the path is attached again on load."""

    field: str
    message: str


def scan_folder(content_dir: Path) -> dict[str, FileStamp]:
    """The ``*.md`` files of a content folder by name, sorted, with their size and mtime."""
    try:
        with os.scandir(content_dir) as entries:
            stamps = {
                entry.name: (stat.st_size, stat.st_mtime_ns)
                for entry in entries
                if entry.name.endswith(".md") and entry.is_file()
                for stat in (entry.stat(),)
            }
    except FileNotFoundError:
        raise ArticleError("content folder not found", path=str(content_dir)) from None
    except NotADirectoryError:
        raise ArticleError("not a folder", path=str(content_dir)) from None
    except OSError as error:
        raise ArticleError(f"cannot read: {error.strerror}", path=str(content_dir)) from None
    return dict(sorted(stamps.items()))


def input_fingerprint(settings: object, content_dir: Path, stamps: Mapping[str, FileStamp]) -> str:
    """A digest of what a build is made from: the tool, the settings, every file's stamp.

    ``settings`` must have a stable ``repr`` (a frozen config does).
    """
    digest = hashlib.sha256(repr((_cache_key(), settings, str(content_dir))).encode())
    for name, (size, mtime_ns) in stamps.items():
        digest.update(f"{name}\0{size}\0{mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_file(cache_dir: Path, content_dir: Path) -> Path:
    """One cache file per content folder, so several sites can share a cache folder."""
    digest = hashlib.sha256(str(content_dir.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"articles-{digest}.pickle"


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
"""File name → (its stamp, an :class:`Article` without its path, or a :class:`CachedProblem`)."""


def read_cache(path: Path) -> Entries:
    """The cached entries, or none when the file is missing, corrupt or from another version."""
    try:
        data = path.read_bytes()
        key, entries = _CacheUnpickler(io.BytesIO(data)).load()
    except Exception:
        return {}
    if key != _cache_key() or not isinstance(entries, dict):
        return {}
    return entries


def write_cache(path: Path, entries: Entries) -> str | None:
    """Store the entries atomically; a cache that cannot be written is a warning, not a failure."""
    try:
        make_folder(path.parent)
        write_atomically(path, pickle.dumps((_cache_key(), entries), protocol=5), durable=False)
    except OutputError as error:
        return f"parse cache not saved: {error}"
    return None
