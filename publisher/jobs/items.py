"""Feed items made on every core for the build: from the stored records of the stories asked
for, and, in a cold build, from the oldest stories while the store indexes them."""

from __future__ import annotations

import functools
import heapq
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from publisher.config import Config
from publisher.jobs.prelude import StoredArticles
from publisher.model import Candidate
from publisher.state import ArticleRow, decode_article

if TYPE_CHECKING:
    from publisher.build import ItemMaker
    from publisher.feeds import Item
    from publisher.selection import Rules
    from publisher.workers import Workers

ITEMS_IN_WORKERS_MIN = 1000
"""Stories to make into items from which worker processes pay for their start (any number,
once they run)."""

EARLY_ITEMS = 2_500
"""Stories a cold build makes into items while the store indexes its articles and the build
plans: about the time those take on one core, spent on the others."""
EARLY_FEEDS = 20
"""Without archive pages, the newest stories made early: enough for the subscription
documents of this many feeds."""


def items_on_every_core(catalogue: StoredArticles, workers: Workers) -> ItemMaker:
    """Makes stories into feed items, handed to worker processes when there are many: each
    worker decodes its share of the stored records and renders their items, while the build
    goes on writing the pages of the batch before."""

    def start(stories: Sequence[Candidate]) -> Callable[[], list[Item]]:
        few = len(stories) < ITEMS_IN_WORKERS_MIN and not workers.started
        if workers.count < 2 or few:
            from publisher.build import made_here

            return made_here(catalogue)(stories)
        return _on_workers(workers, catalogue.records(stories))

    return start


def _on_workers(workers: Workers, records: Sequence[tuple[str, str]]) -> Callable[[], list[Item]]:
    """Starts making the items of ``records`` (path, record), shared out among the workers."""
    size = -(-len(records) // (workers.count * 2))
    batches = [records[start : start + size] for start in range(0, len(records), size)]
    wait = workers.start(items_of_records, batches)
    return lambda: [item for made in wait() for item in made]


def items_of_records(records: Sequence[tuple[str, str]]) -> list[Item]:
    """The feed items of stored records, given with their file paths."""
    from publisher.feeds import make_items

    return make_items([decode_article(record, path) for path, record in records])


class EarlyItems:
    """A cold build's first stories made into items as soon as every file is parsed.

    What follows the parse, the store's index build and the planning, takes one core; the
    workers would wait. Every story a build with archive pages selects is on a page, and the
    oldest pages are rendered first (after the subscription documents), so the oldest
    stories that the loosest rules could select are made meanwhile: they are taken by the
    first batches, not held. Without archive pages, the feeds are subscription documents of
    the newest stories: the newest are made. Keeps the rows a bulk load stores (see
    :func:`~publisher.jobs.prelude.refresh_articles`); :meth:`maker` hands out what was made.
    """

    def __init__(self, config: Config, workers: Workers) -> None:
        self._config, self._workers = config, workers
        self._folder = f"{Path(config.content)}{os.sep}"
        self._newest = not config.archive.enabled
        # The first to be let go of on top: (date, name, record), the date negated when the
        # oldest are kept.
        self._kept: list[tuple[int, str, str]] = []
        self._started: list[str] = []
        self._waiting: set[str] = set()
        self._wait: Callable[[], list[Item]] = list
        self._made: dict[str, Item] | None = None

    @functools.cached_property
    def _rules(self) -> Rules:
        """What any feed's rules could select. (Worked out when rows come: a build with
        nothing to parse never selects, and never imports selection.)"""
        from publisher.selection import loosest_rules

        return loosest_rules(self._config.selection, self._config.topics)

    @functools.cached_property
    def _count(self) -> int:
        return min(EARLY_ITEMS, EARLY_FEEDS * self._rules.limit) if self._newest else EARLY_ITEMS

    def stored(self, rows: Sequence[ArticleRow]) -> None:
        """Rows just stored: the first to be rendered that may be selected are kept."""
        from publisher.selection import may_select

        for name, _, _, _, problem, published, quality, _, date_us, *_, record, _ in rows:
            if problem is not None or not may_select(published, quality, self._rules):
                continue
            heapq.heappush(self._kept, (date_us if self._newest else -date_us, name, record))
            if len(self._kept) > self._count:
                heapq.heappop(self._kept)

    def parsed(self) -> None:
        """Every file is parsed and stored: the stories kept are handed to the workers."""
        kept, self._kept = sorted(self._kept, reverse=True), []
        if len(kept) < ITEMS_IN_WORKERS_MIN or self._workers.count < 2:
            return
        self._started = [name for _, name, _ in kept]
        self._waiting = set(self._started)
        self._wait = _on_workers(self._workers, [(self._folder + n, r) for _, n, r in kept])

    def maker(self, make: ItemMaker) -> ItemMaker:
        """``make``, taking the items of stories made early from those."""

        def start(stories: Sequence[Candidate]) -> Callable[[], list[Item]]:
            early = {story.name for story in stories} & self._waiting
            if not early:
                return make(stories)
            self._waiting -= early
            rest = [story for story in stories if story.name not in early]
            wait = make(rest) if rest else list

            def items() -> list[Item]:
                made, others = self._made_early(), iter(wait())
                return [made.pop(s.name) if s.name in early else next(others) for s in stories]

            return items

        return start

    def _made_early(self) -> dict[str, Item]:
        if self._made is None:
            self._made = dict(zip(self._started, self._wait(), strict=True))
        return self._made
