"""Parse many article files, in worker processes when there are enough to be worth it."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from publisher.content.normalise import parse_article
from publisher.content.scan import CANNOT_READ, read_file
from publisher.errors import ArticleError, Problem
from publisher.model import Article
from publisher.workers import map_batches, usable_cores

T = TypeVar("T")

Parsed = Article | Problem
"""What one file gives: its article, or why it was skipped."""

Convert = Callable[[str, Parsed, int], T]
"""Turns (file name, what it gave, when it was read in ns) into what the caller keeps; it runs
in the worker, so the main process receives it ready to store. The read time is
:data:`READ_AGAIN` for a file with warnings."""

Warn = Callable[[list[Problem]], None]
"""Called with the warnings of the files just parsed (what was left out of good articles)."""

READ_AGAIN = -1
"""The read time given for a file with warnings: earlier than any change to it, so its parse is
never trusted and the file is read, and its warnings repeated, on every run, as problems are."""

Progress = Callable[[int, int], None]
"""Called with (files parsed so far, files to parse)."""

PARALLEL_MIN_FILES = 500
"""Below this many files to parse, starting worker processes costs more than it saves
(measured on two cores: even at 300 files; at 1,000, 0.19 s against 0.29 s)."""


BATCH_FILES = 500
"""Files parsed at a time, at most, and handed on together: about a tenth of a second of work,
so the last batch of a load on workers keeps the other cores waiting no longer than that (a
sixteenth of 200,000 files took seconds)."""


def parse_file(content_dir: Path, name: str, warnings: list[Problem] | None = None) -> Parsed:
    """One file → its article, or the problem that keeps it out; never raises. What was left out
    of a good article is added to ``warnings``."""
    # A string, not a Path: joining paths took longer than reading the file.
    path = f"{content_dir}{os.sep}{name}"
    try:
        return parse_article(read_file(path, content_dir), path, warnings)
    except ArticleError as error:
        transient = error.reason.startswith(CANNOT_READ)
        return Problem(path, error.field, error.reason, transient=transient)
    except Exception as error:
        return Problem(path, "", f"unexpected {type(error).__name__}: {error}")


def parse_files(
    content_dir: Path,
    names: Sequence[str],
    convert: Convert[T],
    keep: Callable[[list[T]], None],
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    warn: Warn | None = None,
) -> None:
    """Parse ``names``, handing ``keep`` the converted results, and ``warn`` the warnings, a
    batch at a time.

    ``convert`` must be a module-level function, so worker processes can run it.
    """
    workers = workers or usable_cores()

    def take(batch: tuple[list[T], list[Problem]]) -> None:
        converted, warnings = batch
        keep(converted)
        if warn and warnings:
            warn(warnings)

    on_workers = workers >= 2 and len(names) >= PARALLEL_MIN_FILES
    size = max(100, min(BATCH_FILES, len(names) // (workers * 8))) if on_workers else BATCH_FILES
    batches = [list(names[start : start + size]) for start in range(0, len(names), size)]
    convert_batch = functools.partial(_convert_batch, content_dir, convert=convert)
    results = (
        map_batches(convert_batch, batches, workers) if on_workers else map(convert_batch, batches)
    )
    done = 0
    for batch, result in zip(batches, results, strict=True):
        take(result)
        done += len(batch)
        if progress:
            progress(done, len(names))


def _convert_batch(
    content_dir: Path, names: Sequence[str], *, convert: Convert[T]
) -> tuple[list[T], list[Problem]]:
    converted: list[T] = []
    warnings: list[Problem] = []
    for name in names:
        found: list[Problem] = []
        parsed = parse_file(content_dir, name, found)
        # Read time, for git's racy-clean rule: a file changed within a tick of it is re-read.
        converted.append(convert(name, parsed, READ_AGAIN if found else time.time_ns()))
        warnings.extend(found)
    return converted, warnings
