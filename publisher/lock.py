"""The lock of the jobs that write an output folder: an ``flock`` on a file beside the store."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from publisher.errors import LockTimeout, OutputError


def lock_path(cache_dir: Path, folder: Path) -> Path:
    """The lock file of the jobs that write ``folder``."""
    key = hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()[:16]
    return cache_dir / "locks" / f"{key}.lock"


@contextlib.contextmanager
def job_lock(cache_dir: Path, folder: Path, wait: float) -> Iterator[None]:
    """Hold the lock of the jobs that write ``folder`` (by its real path); it lives beside the
    store, so the published folder holds only what readers fetch. After ``wait`` seconds
    raise :class:`LockTimeout`.

    An ``flock`` on a file of its own: the kernel releases it when the process ends, however
    it ends, so a killed run never leaves a stale lock.
    """
    path = lock_path(cache_dir, folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise OutputError(f"cannot lock: {error.strerror or error}", path=str(path)) from None
    try:
        _acquire(handle, wait, folder)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def _acquire(handle: int, wait: float, folder: Path) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"another publisher run holds the lock (waited {wait:g} s)", path=str(folder)
                ) from None
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0.001)))
