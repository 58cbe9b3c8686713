"""The content folder's article files, their stamps, and their bytes.

Only regular files are articles. A content folder may hold anything a user, a sync tool or an
attacker put there: a FIFO (which blocks a plain ``open`` forever), a link to ``/dev/zero``
(which never ends), a link that loops or leads out of the folder, a file name that is not
UTF-8. Each of those is a problem for that one file; the rest of the folder is read as usual.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from publisher.errors import ArticleError, Problem
from publisher.output import FileStamp

CANNOT_READ = "cannot read: "
"""How a problem that may pass by itself (permissions, a file being replaced) begins."""

MAX_ARTICLE_BYTES = 1 << 20
"""The largest article file read, 1 MiB; real ones are under 20 KB. A bigger file is damage
(or a log, or a video, misnamed) and would cost memory and time to parse."""

OUTSIDE = "links outside the content folder"

_OPEN_FLAGS = (
    os.O_RDONLY
    # A FIFO or a terminal would block a plain open until someone writes to it.
    | os.O_NONBLOCK
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


class Scan(dict[str, FileStamp]):
    """The article files of a content folder by name, with their stamps, in the folder's order;
    ``refused`` holds the files that cannot be articles whatever they contain."""

    def __init__(self, stamps: Mapping[str, FileStamp], refused: tuple[Problem, ...] = ()) -> None:
        super().__init__(stamps)
        self.refused = refused


def refused_files(stamps: Mapping[str, FileStamp]) -> tuple[Problem, ...]:
    """The files :func:`scan_folder` found but will not read (none for a plain mapping)."""
    return stamps.refused if isinstance(stamps, Scan) else ()


def scan_folder(content_dir: Path) -> Scan:
    """The ``*.md`` files of a content folder by name, with their size and mtime, in the
    folder's own order (stable while the folder is unchanged; sorting 50,000 names costs a
    third as much as the scan itself).

    Names starting with ``.`` or ``#`` (editor locks, macOS resource forks) are skipped, as
    Jekyll does. Anything else named ``*.md`` is kept, so reading it reports what is wrong: a
    folder, a FIFO, a link that dangles, loops, cannot be followed or leaves the folder. Such a
    link carries its own stamp, not its target's. A name that is not UTF-8 cannot be kept in the
    state store or shown as it is: it is refused, a problem that asks for a rename.
    """
    stamps: dict[str, FileStamp] = {}
    refused: list[Problem] = []
    try:
        with _listing(content_dir) as (names, status_of):
            for name in names:
                if not name.endswith(".md") or name[0] in ".#":
                    continue
                if not name.isascii() and not _is_utf8(name):
                    refused.append(Problem(str(content_dir / name), "", _NOT_UTF8))
                    continue
                try:
                    status = status_of(name)
                    if stat.S_ISLNK(status.st_mode):
                        status = _link_stamp(content_dir, f"{content_dir}{os.sep}{name}", status)
                except FileNotFoundError:
                    continue  # removed while we looked, by a git pull say
                stamps[name] = (status.st_size, status.st_mtime_ns)
    except FileNotFoundError:
        raise ArticleError("content folder not found", path=str(content_dir)) from None
    except NotADirectoryError:
        raise ArticleError("not a folder", path=str(content_dir)) from None
    except OSError as error:
        raise ArticleError(f"cannot read: {error.strerror}", path=str(content_dir)) from None
    return Scan(stamps, tuple(sorted(refused, key=_path_bytes)))


_NOT_UTF8 = "the file name is not UTF-8; rename the file"


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _path_bytes(problem: Problem) -> bytes:
    return os.fsencode(problem.path)


@contextlib.contextmanager
def _listing(
    content_dir: Path,
) -> Iterator[tuple[list[str], Callable[[str], os.stat_result]]]:
    """The names in a folder, in its own order, and how to get one's status (not following a
    link). Where the system can, both go through one descriptor of the folder: each status is
    then looked up in the folder alone, not along its whole path again (a third of a scan)."""
    # Names, not Path objects: making 50,000 of them would cost more than the lookups saved.
    if not _BY_DESCRIPTOR:
        names = os.listdir(content_dir)  # noqa: PTH208
        yield names, lambda name: os.lstat(f"{content_dir}{os.sep}{name}")
        return
    folder = os.open(content_dir, _FOLDER_FLAGS)
    try:
        names = os.listdir(folder)  # noqa: PTH208
        yield names, functools.partial(os.stat, dir_fd=folder, follow_symlinks=False)
    finally:
        os.close(folder)


_BY_DESCRIPTOR = os.stat in os.supports_dir_fd and os.listdir in os.supports_fd
_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _link_stamp(content_dir: Path, path: str, own: os.stat_result) -> os.stat_result:
    """A link's target's stamp when it stays in the folder and can be followed, else its own."""
    if _inside(content_dir, path):
        try:
            return os.stat(path)  # noqa: PTH116
        except OSError:
            pass  # dangling, looping or barred: reading it says which
    return own


def _inside(content_dir: Path, path: str) -> bool:
    """Whether ``path`` (a link, say) leads to a file inside the content folder."""
    return _within(content_dir, os.path.realpath(path))


def _within(content_dir: Path, real_path: str) -> bool:
    # Worked out for each link, never cached: the folder may itself be a link that moves.
    folder = os.path.realpath(content_dir)
    return _as_folder(real_path).startswith(_as_folder(folder))


def _as_folder(path: str) -> str:
    return path if path.endswith(os.sep) else path + os.sep


def read_file(path: str | Path, content_dir: Path | None = None) -> bytes:
    """The bytes of one article file; raises :class:`ArticleError` naming the file.

    Only a regular file of at most :data:`MAX_ARTICLE_BYTES` is read, and never more than that
    many bytes, whatever the file turns into while it is read. A link is followed only when
    it leads to a file inside ``content_dir`` (when given), so a message never quotes a file
    from elsewhere.
    """
    try:
        descriptor = _open(path, content_dir)
    except ArticleError:
        raise
    except OSError as error:
        raise ArticleError(f"{CANNOT_READ}{error.strerror or error}", path=str(path)) from None
    try:
        return _read_regular(descriptor, str(path))
    finally:
        os.close(descriptor)


def _open(path: str | Path, content_dir: Path | None) -> int:
    if _NOFOLLOW:
        try:
            # The common case, a regular file, in one call; a link makes it fail (ELOOP).
            return os.open(path, _OPEN_FLAGS | _NOFOLLOW)
        except OSError:
            if not Path(path).is_symlink():
                raise
    elif not Path(path).is_symlink():
        return os.open(path, _OPEN_FLAGS)
    # A link: followed by hand, only to a target inside the folder that is not itself a link
    # (a link that loops resolves to itself, and opening that fails).
    target = os.path.realpath(path)
    if content_dir is not None and not _within(content_dir, target):
        raise ArticleError(OUTSIDE, path=str(path))
    return os.open(target, _OPEN_FLAGS | _NOFOLLOW)


def _read_regular(descriptor: int, path: str) -> bytes:
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _KINDS if test(status.st_mode)), "a special file")
        raise ArticleError(f"not a regular file ({kind})", path=path)
    if status.st_size > MAX_ARTICLE_BYTES:
        raise _too_big(path)
    chunks: list[bytes] = []
    remaining = MAX_ARTICLE_BYTES + 1
    # The size is a hint: the file may grow while it is read, or be a procfs file of size 0.
    want = status.st_size + 1
    try:
        while remaining > 0:
            chunk = os.read(descriptor, min(want, remaining))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
            want = 1 << 16
    except OSError as error:
        raise ArticleError(f"{CANNOT_READ}{error.strerror or error}", path=path) from None
    if remaining <= 0:
        raise _too_big(path)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_big(path: str) -> ArticleError:
    return ArticleError(
        f"larger than {MAX_ARTICLE_BYTES // (1 << 20)} MiB, the most an article file may be",
        path=path,
    )
