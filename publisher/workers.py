"""Work spread over forked worker processes, one batch at a time, in order."""

from __future__ import annotations

import functools
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import multiprocessing.context
    from concurrent.futures import ProcessPoolExecutor

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
    # Imported here, as in Workers.start: a run that starts no worker never needs them.
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    done = 0
    try:
        with ProcessPoolExecutor(workers, mp_context=_forking()) as pool:
            call = functools.partial(_pickled_call, function)
            for blob in pool.map(call, batches):
                yield pickle.loads(blob)
                done += 1
    except BrokenProcessPool:
        for batch in batches[done:]:
            yield function(batch)


def _forking() -> multiprocessing.context.BaseContext:
    """Workers forked where the system can: they start at once and share what the job loaded."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _pickled_call(function: Callable[[B], R], batch: B) -> bytes:
    # Pickled here, in the worker, into one bytes object: cheaper to send back than objects.
    return pickle.dumps(function(batch), protocol=5)


class Workers:
    """Forked worker processes kept for one job: batches are handed out at once, and their
    results waited for later, so the job goes on with other work meanwhile.

    A batch whose worker died (out of memory, killed by an operator) is done in this process
    when its result is waited for.
    """

    def __init__(self, workers: int) -> None:
        self.count = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        return self

    @property
    def started(self) -> bool:
        """Whether the worker processes are running: handing them a batch costs no start."""
        return self._pool is not None

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def start(self, function: Callable[[B], R], batches: Sequence[B]) -> Callable[[], list[R]]:
        """Hand ``function(batch)`` of each batch to the workers; the function returned waits
        for the results, in order."""
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.count, mp_context=_forking())
        try:
            futures = [self._pool.submit(_pickled_call, function, batch) for batch in batches]
        except BrokenProcessPool:
            futures = []

        def wait() -> list[R]:
            results: list[R] = []
            for index, batch in enumerate(batches):
                try:
                    results.append(pickle.loads(futures[index].result()))
                except (BrokenProcessPool, IndexError):
                    results.append(function(batch))
            return results

        return wait
