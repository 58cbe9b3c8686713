"""Work spread over forked worker processes, one batch at a time, in order."""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

B = TypeVar("B")
R = TypeVar("R")


def usable_cores() -> int:
    """The cores this process may use: in a container with a CPU limit, fewer than the host's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def map_batches(function: Callable[[B], R], batches: Sequence[B], workers: int) -> Iterator[R]:
    """``function(batch)`` for each batch, in order, on ``workers`` forked processes.

    ``function`` must be a module-level function (or a partial of one). A batch whose worker
    died (out of memory, killed by an operator) is done in this process instead.
    """
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    done = 0
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            call = functools.partial(_pickled_call, function)
            for blob in pool.map(call, batches):
                yield pickle.loads(blob)
                done += 1
    except BrokenProcessPool:
        for batch in batches[done:]:
            yield function(batch)


def _pickled_call(function: Callable[[B], R], batch: B) -> bytes:
    # Pickled here, in the worker, into one bytes object: cheaper to send back than objects.
    return pickle.dumps(function(batch), protocol=5)
