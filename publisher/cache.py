"""The parse cache: each file's article (or problem), reused while its size and mtime hold."""

from __future__ import annotations

import hashlib
import io
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher import __version__
from publisher.errors import OutputError
from publisher.output import make_folder, write_atomically

CACHE_FORMAT = 1
"""Raise when the meaning of a cached article changes: normalisation rules, model fields."""


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What must be equal for a file's cached result to be reused."""

    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class CachedProblem:
    """A problem as the cache keeps it: the path is attached again on load."""

    field: str
    message: str


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
    ("publisher.cache", "FileStamp"),
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
        write_atomically(path, pickle.dumps((_cache_key(), entries), protocol=5))
    except OutputError as error:
        return f"parse cache not saved: {error}"
    return None
