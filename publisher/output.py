"""The only writer of published files: atomic replace, unchanged files left alone, and only
what publisher wrote ever removed."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gzip
import hashlib
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

from publisher.errors import OutputError

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")

TEMP_SUFFIX = ".publisher-tmp"

OutputStamp = tuple[int, int, str]
"""What publisher wrote at a path: the file's size, mtime (ns) and the SHA-256 of its bytes."""
FileStamp = tuple[int, int]
"""A file's size and mtime (ns): while both hold, what was read from it (an article parsed,
a file publisher wrote) still holds."""


@dataclass
class WriteReport:
    """Relative paths written, left unchanged and removed by one write, and what each path
    now holds."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    holds: dict[str, OutputStamp] = field(default_factory=dict)


class ForeignFiles(OutputError):
    """Planned files would replace files publisher did not write, or be written through a
    link (or a file) where one of its folders goes: nothing is written."""

    def __init__(self, out_dir: Path, paths: list[str]) -> None:
        first = str(out_dir / paths[0])
        if len(paths) == 1:
            where, them, it = first, "it", "it is"
        else:
            where, them, it = f"{first} (and {len(paths) - 1} more files)", "them", "they are"
        if (out_dir / paths[0]).is_symlink():
            reason = (
                f"is a link publisher did not make, and publisher writes only inside its folder,"
                f" never through a link; nothing written. Remove {them}, or run again with"
                f" --force to replace {them} (a linked folder by a real one)"
            )
        else:
            reason = (
                f"publisher has no record of writing {them}, so it will not replace {them};"
                f" nothing written. Move {them} away, or run again with --force to replace"
                f" {them} (also right if {it} publisher's own output and cache_dir was deleted)"
            )
        super().__init__(reason, path=where)
        self.paths = paths


def foreign_files(
    out_dir: Path, outputs: Mapping[str, bytes], previous: Mapping[str, OutputStamp | None]
) -> list[str]:
    """What in ``out_dir`` is in the way of the planned paths and not publisher's: first the
    folders on the way that are links (or files), then the planned paths holding something
    publisher did not write, not on its record (``previous``) and not already the very bytes
    planned for them."""
    in_the_way = folders_in_the_way(out_dir, outputs)
    return in_the_way + [
        relative
        for relative in sorted(outputs)
        if relative not in previous
        and not _under(relative, in_the_way)
        and os.path.lexists(out_dir / relative)
        and not _same_bytes(out_dir / relative, outputs[relative])
    ]


def folders_in_the_way(out_dir: Path, paths: Iterable[str]) -> list[str]:
    """The folders (relative to ``out_dir``) on the way to ``paths`` that are not real
    folders: a link, which would take the files wherever it leads, or a file."""
    folders = {PurePosixPath(path).parent for path in paths if _is_relative(path)}
    on_the_way = sorted({folder for path in folders for folder in (path, *path.parents)})
    found: list[str] = []
    for folder in on_the_way:
        if folder == PurePosixPath(".") or _under(folder.as_posix(), found):
            continue
        where = out_dir / folder
        if where.is_symlink() or (os.path.lexists(where) and not where.is_dir()):
            found.append(folder.as_posix())
    return found


def _under(relative: str, folders: Iterable[str]) -> bool:
    """Whether ``relative`` lies inside one of ``folders`` (or is one)."""
    path = PurePosixPath(relative)
    return any(path == PurePosixPath(f) or PurePosixPath(f) in path.parents for f in folders)


def make_folder(folder: Path) -> None:
    """Create ``folder`` and its parents, or raise a one-line :class:`OutputError`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(
            f"cannot create folder: {error.strerror or error}", path=str(folder)
        ) from None


def write_outputs(
    out_dir: Path,
    outputs: Mapping[str, bytes],
    previous: Mapping[str, OutputStamp | None],
    *,
    claim: Callable[[list[str]], None],
    prune: bool = True,
    force: bool = False,
    order: Sequence[str] | None = None,
    precompress: Sequence[str] = (),
) -> WriteReport:
    """Make ``out_dir`` hold ``outputs``: each file replaced atomically, only when its bytes change.

    ``previous`` is what earlier runs wrote there (``None`` for a path a killed run may have
    left). Those paths, when no longer planned and ``prune`` is set, are removed; files
    publisher did not write are never removed, nor replaced unless ``force`` is set (else
    :class:`ForeignFiles` is raised before anything is written). ``claim`` records the planned
    paths new to ``previous`` before anything is written (it is called, once, even with none),
    so a run killed half-way still knows every file it may have left. Files are written in
    ``order`` (every path of ``outputs``) when given, else by path.

    ``precompress`` names encodings (:data:`TWIN_SUFFIXES`) of twins written beside each file,
    its exact bytes compressed; they are planned, claimed, recorded and pruned like any file
    (see :func:`twin_paths`), and compressed again only when their file changes.
    """
    for relative in outputs:
        _check_relative(relative)
    # What a damaged or tampered record says was written never reaches outside the folder.
    previous = {path: stamp for path, stamp in previous.items() if _is_relative(path)}
    planned = sorted(outputs) if order is None else list(order)
    everything = WithTwins(outputs, planned, precompress)
    if not force and (foreign := foreign_files(out_dir, everything, previous)):
        raise ForeignFiles(out_dir, foreign)
    make_folder(out_dir)
    for in_the_way in folders_in_the_way(out_dir, everything.order):
        _remove(out_dir, in_the_way)
    # A link left on the way to files no longer planned is never followed to remove them.
    linked = folders_in_the_way(out_dir, previous)
    for parent in {PurePosixPath(p).parent for p in [*previous, *everything.order]}:
        if not _under(parent.as_posix(), linked):
            remove_leftover_temps(out_dir / parent)
    # Called even with no new path: it also marks the folder as being written.
    claim([relative for relative in everything.order if relative not in previous])
    report = WriteReport()
    with Batch(out_dir, report) as batch:
        for relative in planned:
            data = outputs[relative]
            known = previous.get(relative)
            # A file on record is compared by digest; a new one is hashed as it is written.
            digest = _digest(data) if known is not None else None
            batch.put(relative, data, known, digest)
            # After their file: a twin is never there without it. A twin is reused only when
            # its file's bytes are those it was recorded with and it is still as recorded.
            same_source = known is not None and known[2] == digest
            for twin in everything.twins.get(relative, ()):
                recorded = previous.get(twin)
                stamp = _stamp(out_dir / twin)
                if same_source and recorded is not None and stamp == recorded[:2]:
                    report.unchanged.append(twin)
                    report.holds[twin] = recorded
                    continue
                batch.put(twin, everything[twin], None)
    stale = sorted(set(previous) - set(everything.order)) if prune else []
    # Twins first: a twin never outlives its file, even when a removal is cut short.
    for relative in sorted(stale, key=lambda path: not is_twin(path)):
        if _under(relative, linked):
            continue
        if _remove(out_dir, relative):
            report.removed.append(relative)
        _remove_empty_parents(out_dir, out_dir / relative)
    return report


def _remove(out_dir: Path, relative: str) -> bool:
    """Remove a file (or a link) of ``out_dir``; whether there was one."""
    try:
        (out_dir / relative).unlink()
    except FileNotFoundError:
        return False
    except OSError as error:
        raise OutputError(f"cannot remove: {error.strerror or error}", path=relative) from None
    return True


BATCH_FILES = 256
BATCH_BYTES = 64 << 20
"""Files, and bytes, written before a batch is made durable and renamed into place."""


class Batch:
    """Files replaced atomically a batch at a time: each is written to a temporary file beside
    it, and once the batch is on disk they are renamed over their targets, in the order they
    were put. Readers only ever see a whole old file or a whole new one, even after a power
    cut, as with one fsync per file; but the disk is waited for once per batch (one ``syncfs``
    of the output's file system where the system has it): a file system commits its journal
    at each fsync, and a cold build writes thousands of files.

    Each target is looked at, and its temporary file written, on a thread of their own, while
    the caller makes the next files. Leaving the block puts the last batch in place; after an
    error, the batch's temporary files are removed and its targets left as they were.
    """

    def __init__(self, out_dir: Path, report: WriteReport) -> None:
        self.out_dir, self.report = out_dir, report
        self._pending: list[tuple[str, Future[_Put]]] = []
        self._bytes = 0
        # Imported here: a run that writes nothing never needs a thread.
        from concurrent.futures import ThreadPoolExecutor

        self._writer = ThreadPoolExecutor(1, thread_name_prefix="publisher-writer")

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        try:
            if kind is None:
                self.flush()
            else:
                _remove_temps(self._done(raise_failure=False))
        finally:
            self._writer.shutdown()

    def put(
        self, relative: str, data: bytes, known: OutputStamp | None, digest: str | None = None
    ) -> None:
        """Replace the file at ``relative`` with ``data`` unless it already holds them; what it
        holds is reported once it is in place. ``known`` is what the record says the file
        holds; ``digest``, ``data``'s, when worked out already."""
        target = self.out_dir / relative
        self._pending.append((relative, self._writer.submit(_put, target, data, known, digest)))
        self._bytes += len(data)
        if len(self._pending) >= BATCH_FILES or self._bytes >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Wait for the disk to hold the pending files, then rename each over its target."""
        done = self._done()
        renamed = 0
        try:
            written = [(self.out_dir / path, temp) for path, temp, *_ in done if temp]
            _make_durable(self.out_dir, written)
            for relative, temp, stamp, digest in done:
                if temp is None:
                    self.report.unchanged.append(relative)
                else:
                    target = self.out_dir / relative
                    try:
                        temp.replace(target)
                    except OSError as error:
                        raise _cannot_write(target, error) from None
                    self.report.written.append(relative)
                renamed += 1
                # Renaming a file keeps its size and time: its stamp is its temporary file's.
                self.report.holds[relative] = (*stamp, digest)
        except BaseException:
            _remove_temps(done[renamed:])
            raise

    def _done(self, *, raise_failure: bool = True) -> list[_Done]:
        """What became of each pending file, once all are looked at and written. After a
        failure, the temporary files written are removed and (with ``raise_failure``) the
        first failure raised."""
        pending, self._pending, self._bytes = self._pending, [], 0
        done: list[_Done] = []
        failure: BaseException | None = None
        for relative, future in pending:
            try:
                done.append((relative, *future.result()))
            except BaseException as error:
                failure = failure or error
        if failure is None:
            return done
        _remove_temps(done)
        if raise_failure:
            raise failure
        return []


_Put = tuple[Path | None, FileStamp, str]
"""What became of a file put into a batch: the temporary file holding its new bytes (``None``
when it held them already), what it holds once the batch is in place, and their digest."""
_Done = tuple[str, Path | None, FileStamp, str]
"""A file put into a batch, by its path in the output folder, and what became of it."""


def _remove_temps(done: Sequence[_Done]) -> None:
    for _, temp, *_ in done:
        if temp:
            with contextlib.suppress(OSError):
                temp.unlink()


def _put(target: Path, data: bytes, known: OutputStamp | None, digest: str | None) -> _Put:
    """``data`` in a temporary file beside ``target``, unless ``target`` holds them already
    (as ``known``, its record, says, or as its bytes show); and ``data``'s digest (hashing
    lets other threads run)."""
    stamp = _stamp(target)
    if stamp and ((known and known == (*stamp, digest)) or _same_bytes(target, data)):
        return None, stamp, digest or _digest(data)
    return *write_temporary(target, data), _digest(data)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_temporary(target: Path, data: bytes) -> tuple[Path, FileStamp]:
    """``data`` in a new temporary file beside ``target``, readable as a published file, and
    that file's stamp; not yet on disk for sure (see :class:`Batch`). The folder is made
    when it is missing."""
    try:
        try:
            temp, handle = _new_file_beside(target)
        except FileNotFoundError:
            make_folder(target.parent)
            temp, handle = _new_file_beside(target)
    except OSError as error:
        raise _cannot_write(target, error) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        status = temp.stat()
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(error, OSError):
            raise _cannot_write(target, error) from None
        raise
    return temp, (status.st_size, status.st_mtime_ns)


_SERIALS = itertools.count()
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _new_file_beside(target: Path) -> tuple[Path, int]:
    """A file of ours, new and open for writing, in ``target``'s folder: named for this
    process and a serial number (no random names to make), with the mode any file the user
    writes gets, not a temporary file's 0600."""
    while True:
        name = f".{target.name}.{os.getpid()}-{next(_SERIALS)}{TEMP_SUFFIX}"
        temp = target.with_name(name)
        try:
            return temp, os.open(temp, _NEW_FILE, 0o666)
        except FileExistsError:
            continue  # left by a killed run whose process number this one has


def _make_durable(out_dir: Path, files: Sequence[tuple[Path, Path]]) -> None:
    """Wait until the temporary files of ``files`` (target, temporary file) are on disk: one
    ``syncfs`` of ``out_dir``'s file system, or where that is missing or fails, an fsync of
    each, the first failure raised naming its target."""
    if not files:
        return
    syncfs = _syncfs()
    if syncfs is not None and _opened(out_dir, syncfs) == 0:
        return
    for target, temp in files:
        try:
            _opened(temp, os.fsync)
        except OSError as error:
            raise _cannot_write(target, error) from None


def _opened(path: Path, act: Callable[[int], T]) -> T:
    """``act`` on a descriptor of ``path``, opened for reading for the while."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        return act(descriptor)
    finally:
        os.close(descriptor)


def _cannot_write(target: Path, error: OSError) -> OutputError:
    return OutputError(f"cannot write: {error.strerror or error}", path=str(target))


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """Linux's ``syncfs(fd)``, which Python's os module lacks; ``None`` elsewhere."""
    try:
        function: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError, TypeError):  # no such function, or no C library to ask
        return None
    return function


TWIN_SUFFIXES = {"gzip": ".gz", "brotli": ".br"}
"""The file name suffix of each encoding's twin, as nginx's gzip_static and Caddy look for it."""
UNSERVED = frozenset({"_headers"})
"""Files read by the host, never sent to readers: no twins."""
BROTLI_QUALITY = 11


def twin_paths(relative: str, encodings: Sequence[str]) -> list[str]:
    """The twins of the file at ``relative`` for ``encodings`` (none for a host's own file)."""
    if relative in UNSERVED:
        return []
    return [f"{relative}{TWIN_SUFFIXES[encoding]}" for encoding in encodings]


def is_twin(relative: str) -> bool:
    """Whether ``relative`` is named like a compressed twin."""
    return relative.endswith(tuple(TWIN_SUFFIXES.values()))


def compress(data: bytes, encoding: str) -> bytes:
    """``data`` compressed for ``encoding``, the same bytes every time: no time or name in
    the gzip header, a fixed brotli quality."""
    if encoding == "gzip":
        return gzip.compress(data, compresslevel=9, mtime=0)
    if encoding == "brotli":
        # Imported here: only a site that asks for brotli twins needs the package.
        import brotli

        compressed: bytes = brotli.compress(data, quality=BROTLI_QUALITY)
        return compressed
    raise OutputError(f"unknown encoding {encoding!r}", path=encoding)


class WithTwins(Mapping[str, bytes]):
    """``outputs`` with the compressed twins of each file, compressed when first asked for."""

    def __init__(
        self, outputs: Mapping[str, bytes], planned: Sequence[str], encodings: Sequence[str]
    ) -> None:
        self.outputs = outputs
        self.twins = {path: twin_paths(path, encodings) for path in planned}
        self.sources = {
            twin: (path, encoding)
            for path in planned
            for twin, encoding in zip(self.twins[path], encodings, strict=False)
        }
        if clash := sorted(set(self.sources) & set(outputs)):
            raise OutputError("planned both as a file and as a compressed twin", path=clash[0])
        self.order = [path for path in planned for path in [path, *self.twins[path]]]
        self._last: tuple[str, bytes] | None = None

    def __getitem__(self, path: str) -> bytes:
        if path not in self.sources:
            return self.outputs[path]
        if self._last is None or self._last[0] != path:
            source, encoding = self.sources[path]
            self._last = (path, compress(self.outputs[source], encoding))
        return self._last[1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


def unchanged_since(out_dir: Path, written: Mapping[str, OutputStamp | None]) -> bool:
    """Whether every file publisher wrote into ``out_dir`` is still exactly as it left it."""
    # Paths joined as strings: a Path per output cost three times the stat itself.
    folder = os.fspath(out_dir)
    return all(
        stamp is not None and _stamp(f"{folder}{os.sep}{relative}") == stamp[:2]
        for relative, stamp in written.items()
    )


def _stamp(path: str | Path) -> FileStamp | None:
    try:
        status = os.stat(path)  # noqa: PTH116
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _is_relative(relative: str) -> bool:
    path = PurePosixPath(relative)
    return bool(path.parts) and not path.is_absolute() and ".." not in path.parts


def _check_relative(relative: str) -> None:
    if not _is_relative(relative):
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
