"""The only writer: atomic replace, unchanged files left alone, a manifest, a lock."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from filelock import FileLock, Timeout

from publisher.errors import LockTimeout, OutputError

MANIFEST_NAME = ".publisher-manifest.json"
LOCK_NAME = ".publisher.lock"
TEMP_SUFFIX = ".publisher-tmp"


@dataclass
class WriteReport:
    """Relative paths written, left unchanged and removed by one write."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@contextlib.contextmanager
def locked(out_dir: Path, wait: float) -> Iterator[None]:
    """Hold the output folder's lock; after ``wait`` seconds raise :class:`LockTimeout`."""
    make_folder(out_dir)
    lock = FileLock(str(out_dir / LOCK_NAME), timeout=wait)
    try:
        lock.acquire()
    except Timeout:
        raise LockTimeout(
            f"another publisher run holds the lock (waited {wait:g} s)", path=str(out_dir)
        ) from None
    except OSError as error:
        raise OutputError(f"cannot lock: {error.strerror or error}", path=str(out_dir)) from None
    try:
        yield
    finally:
        lock.release()


def make_folder(folder: Path) -> None:
    """Create ``folder`` and its parents, or raise a one-line :class:`OutputError`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(
            f"cannot create folder: {error.strerror or error}", path=str(folder)
        ) from None


def write_outputs(
    out_dir: Path, outputs: Mapping[str, bytes], *, prune: bool = True
) -> WriteReport:
    """Make ``out_dir`` hold ``outputs``: each file replaced atomically, only when its bytes change.

    Files a previous run wrote (listed in the manifest) and no longer planned are removed when
    ``prune`` is set; files publisher did not write are never touched. The manifest is widened
    before any output is written, so a run killed half-way still knows every file it may have left.
    """
    for relative in outputs:
        _check_relative(relative)
    make_folder(out_dir)
    previous = read_manifest(out_dir)
    planned = sorted(outputs)
    _remove_leftover_temps(out_dir, {PurePosixPath(p).parent for p in [*previous, *planned]})
    if not set(planned) <= set(previous):
        _write_manifest(out_dir, sorted(set(previous) | set(planned)))
    report = WriteReport()
    for relative in planned:
        target = out_dir / relative
        if _same_bytes(target, outputs[relative]):
            report.unchanged.append(relative)
        else:
            write_atomically(target, outputs[relative])
            report.written.append(relative)
    stale = sorted(set(previous) - set(planned)) if prune else []
    for relative in stale:
        with contextlib.suppress(FileNotFoundError):
            (out_dir / relative).unlink()
            report.removed.append(relative)
        _remove_empty_parents(out_dir, out_dir / relative)
    kept = planned if prune else sorted(set(previous) | set(planned))
    if kept != previous:
        _write_manifest(out_dir, kept)
    return report


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, flush it, then rename it over."""
    make_folder(target.parent)
    try:
        handle, temp_path = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
        )
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(target)) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        temp = Path(temp_path)
        temp.chmod(0o666 & ~_umask())
        temp.replace(target)
    except OSError as error:
        with contextlib.suppress(OSError):
            Path(temp_path).unlink()
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(target)) from None


def read_manifest(out_dir: Path) -> list[str]:
    """The files a previous run wrote; an unreadable manifest lists none, so nothing is removed."""
    try:
        listed = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = listed.get("files") if isinstance(listed, dict) else None
    if not isinstance(files, list):
        return []
    safe: list[str] = []
    for item in files:
        if isinstance(item, str):
            with contextlib.suppress(OutputError):
                _check_relative(item)
                safe.append(item)
    return sorted(set(safe))


def _write_manifest(out_dir: Path, files: list[str]) -> None:
    document = {"generator": "publisher", "files": files}
    write_atomically(out_dir / MANIFEST_NAME, (json.dumps(document, indent=2) + "\n").encode())


def _check_relative(relative: str) -> None:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise OutputError("refusing to write outside the output folder", path=relative)


def _same_bytes(target: Path, data: bytes) -> bool:
    try:
        if target.stat().st_size != len(data):
            return False
        return target.read_bytes() == data
    except OSError:
        return False


def _remove_empty_parents(out_dir: Path, path: Path) -> None:
    folder = path.parent
    while folder != out_dir and out_dir in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _remove_leftover_temps(out_dir: Path, folders: set[PurePosixPath]) -> None:
    """Temporary files a killed run left behind; only ours, by their suffix."""
    for folder in folders:
        for leftover in (out_dir / folder).glob(f".*{TEMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                leftover.unlink()


@functools.cache
def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
