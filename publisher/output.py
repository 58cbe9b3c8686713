"""The only writer: atomic replace, unchanged files left alone, a manifest, a lock."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

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


@dataclass(frozen=True)
class Manifest:
    """What the last run wrote: each file with its size and mtime, and what it was made from."""

    files: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    inputs: str = ""


def write_outputs(
    out_dir: Path, outputs: Mapping[str, bytes], *, prune: bool = True, inputs: str = ""
) -> WriteReport:
    """Make ``out_dir`` hold ``outputs``: each file replaced atomically, only when its bytes change.

    Files a previous run wrote (listed in the manifest) and no longer planned are removed when
    ``prune`` is set; files publisher did not write are never touched. The manifest is widened
    before any output is written, so a run killed half-way still knows every file it may have left.
    ``inputs`` is a fingerprint of what the outputs were made from, for :func:`current_outputs`.
    """
    for relative in outputs:
        _check_relative(relative)
    make_folder(out_dir)
    previous = read_manifest(out_dir)
    planned = sorted(outputs)
    for folder in {PurePosixPath(p).parent for p in [*previous.files, *planned]}:
        remove_leftover_temps(out_dir / folder)
    if previous.inputs or not set(planned) <= set(previous.files):
        widened = {relative: None for relative in planned} | previous.files
        _write_manifest(out_dir, Manifest(widened))
    report = WriteReport()
    for relative in planned:
        target = out_dir / relative
        if _same_bytes(target, outputs[relative]):
            report.unchanged.append(relative)
        else:
            write_atomically(target, outputs[relative])
            report.written.append(relative)
    stale = sorted(set(previous.files) - set(planned)) if prune else []
    for relative in stale:
        try:
            (out_dir / relative).unlink()
            report.removed.append(relative)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise OutputError(f"cannot remove: {error.strerror or error}", path=relative) from None
        _remove_empty_parents(out_dir, out_dir / relative)
    kept = planned if prune else sorted(set(previous.files) | set(planned))
    final = Manifest({relative: _stamp(out_dir / relative) for relative in kept}, inputs)
    if final != previous:
        _write_manifest(out_dir, final)
    return report


def current_outputs(out_dir: Path, inputs: str, trust: Callable[[int], bool]) -> list[str] | None:
    """The last run's files, when it was made from exactly ``inputs`` and none changed since.

    ``trust`` is asked whether inputs can be trusted not to have changed unseen since the
    manifest was written (at the given time, in nanoseconds).
    """
    manifest = read_manifest(out_dir)
    if not inputs or manifest.inputs != inputs:
        return None
    written = _stamp(out_dir / MANIFEST_NAME)
    if written is None or not trust(written[1]):
        return None
    for relative, stamp in manifest.files.items():
        if stamp is None or _stamp(out_dir / relative) != stamp:
            return None
    return sorted(manifest.files)


def write_atomically(target: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``target``, flush it, then rename it over.

    ``durable`` also waits for the disk (fsync), so a power cut cannot leave an empty file;
    a cache, which is checked on reading, can skip that wait.
    """
    with atomic_file(target, durable=durable) as stream:
        stream.write(data)


@contextlib.contextmanager
def atomic_file(target: Path, *, durable: bool = True) -> Iterator[BinaryIO]:
    """A stream for ``target``'s new content: renamed over it when the block ends, removed if
    the block fails, so readers only ever see the old file or the whole new one."""
    make_folder(target.parent)
    try:
        handle, temp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
        )
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(target)) from None
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        temp.chmod(0o666 & ~_umask())
        temp.replace(target)
    except OSError as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(target)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def read_manifest(out_dir: Path) -> Manifest:
    """What the last run wrote; an unreadable manifest lists nothing, so nothing is removed."""
    try:
        document = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        listed = document["files"]
        inputs = document.get("inputs", "")
        if not isinstance(listed, dict) or not isinstance(inputs, str):
            return Manifest()
    except (OSError, ValueError, TypeError, KeyError):
        return Manifest()
    files: dict[str, tuple[int, int] | None] = {}
    for relative, stamp in listed.items():
        try:
            _check_relative(relative)
        except OutputError:
            continue
        valid = isinstance(stamp, list) and len(stamp) == 2 and all(type(n) is int for n in stamp)
        files[relative] = (stamp[0], stamp[1]) if valid else None
    return Manifest(files, inputs)


def _write_manifest(out_dir: Path, manifest: Manifest) -> None:
    document = {
        "generator": "publisher",
        "inputs": manifest.inputs,
        "files": {relative: manifest.files[relative] for relative in sorted(manifest.files)},
    }
    write_atomically(out_dir / MANIFEST_NAME, (json.dumps(document, indent=1) + "\n").encode())


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


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


def remove_leftover_temps(folder: Path, older_than: float = 0) -> None:
    """Temporary files a killed run left in ``folder``: only ours, known by their suffix, and
    only those older than ``older_than`` seconds when another process may be writing one."""
    cutoff = time.time() - older_than
    for leftover in folder.glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if not older_than or leftover.stat().st_mtime < cutoff:
                leftover.unlink()


@functools.cache
def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
