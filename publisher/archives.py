"""Archive paging (RFC 5005), pure: how a feed's stories split between its subscription
document and numbered archive pages, laid out afresh or carried forward from the last build's
layout, and what a page's files are called. What the store remembers of layouts lives beside
it, in :mod:`publisher.state.archives`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from publisher.feeds import FORMATS, RENDERER_VERSION, FeedInfo
from publisher.model import Candidate
from publisher.selection import Catalogue, Rules, best_copies, newest_first, select_from

CURRENT_PAGE = 0
"""The page number archive membership gives stories in the subscription document."""


@dataclass(frozen=True)
class ArchiveSplit:
    """One feed's stories, split between its subscription document and its archive pages, and
    what changes in the membership to remember for next time."""

    current: tuple[Candidate, ...]
    """The newest stories, for the subscription document."""
    pages: tuple[tuple[Candidate, ...] | None, ...] = ()
    """The archive pages, oldest first (page 1 is ``pages[0]``), each newest first; ``None``
    for a page whose stories are as the last build left them."""
    sizes: tuple[int, ...] = ()
    """How many stories each page holds."""
    placed: dict[str, int] = field(default_factory=dict)
    """Stories (by canonical URL) whose page is new or moved: :data:`CURRENT_PAGE` for the
    subscription document. Stories that no longer qualify keep their place, so a page never
    takes in others."""
    gone: frozenset[str] = frozenset()
    """Stories to forget."""


def split_history(
    stories: Sequence[Candidate], limit: int, page_size: int, members: Mapping[str, int]
) -> ArchiveSplit:
    """The subscription document's stories, and the older ones on archive pages.

    A story keeps the page ``members`` gives it, so an archive page changes only when one of
    its own stories does. Pages are only ever made full: stories new to the archive wait in the
    subscription document (beyond its newest ``limit``) until ``page_size`` of them fill a new
    page at once, oldest first. So a new article, even one dated long ago, never changes a
    page already written. When every story fits there are no pages, and nothing to remember.
    """
    current = list(stories[:limit])
    older = stories[limit:]
    in_current = {story.canonical for story in current}
    # A story back in the subscription document leaves its page; it is archived anew later.
    placed = {
        canonical: page
        for canonical, page in members.items()
        if canonical not in in_current and page > CURRENT_PAGE
    }
    waiting = [story for story in reversed(older) if story.canonical not in placed]
    filled = len(waiting) - len(waiting) % page_size
    first = max(placed.values(), default=0) + 1
    for index, story in enumerate(waiting[:filled]):
        placed[story.canonical] = first + index // page_size
    current.extend(sorted(waiting[filled:], key=newest_first))
    archived = [story for story in older if story.canonical in placed]
    if not archived:
        return ArchiveSplit(tuple(sorted(current, key=newest_first)), gone=frozenset(members))
    pages: list[list[Candidate]] = [[] for _ in range(max(placed.values()))]
    for story in archived:
        pages[placed[story.canonical] - 1].append(story)
    remembered = placed | dict.fromkeys((story.canonical for story in current), CURRENT_PAGE)
    return ArchiveSplit(
        tuple(sorted(current, key=newest_first)),
        tuple(map(tuple, pages)),
        tuple(map(len, pages)),
        {story: page for story, page in remembered.items() if members.get(story) != page},
        frozenset(members.keys() - remembered.keys()),
    )


class FeedHistory(Protocol):
    """What the last build left of one feed's history: enough to lay it out again from the
    stories that changed since, without reading every other one."""

    @property
    def changed(self) -> frozenset[str]:
        """Stories (by canonical URL) any copy of which was added, edited or removed since."""
        ...

    @property
    def sizes(self) -> Sequence[int]:
        """How many stories each archive page held, page 1 first."""
        ...

    @property
    def stale(self) -> frozenset[int]:
        """Pages whose files are not as written from those stories: made again."""
        ...

    @property
    def unchanged(self) -> Sequence[Candidate] | None:
        """The subscription document's stories, when none of the feed's stories changed
        since (then nothing else needs reading)."""
        ...

    def pages_of(self, canonicals: Sequence[str]) -> Mapping[str, int]:
        """The remembered page of each story given that has one."""
        ...

    def current(self) -> list[str]:
        """The stories the subscription document held."""
        ...

    def member_counts(self) -> Mapping[int, int]:
        """How many stories each archive page holds a place for (qualifying or not)."""
        ...

    def members(self, page: int) -> list[str]:
        """The stories that hold a place on archive page ``page``."""
        ...


def update_history(
    catalogue: Catalogue, topic: str | None, rules: Rules, page_size: int, history: FeedHistory
) -> ArchiveSplit | None:
    """:func:`split_history` of the feed's stories, read only where they may have changed:
    the subscription documents' stories, the changed ones and the pages that hold them.

    The same split as :func:`split_history` over every story, or ``None`` when the archive
    would empty (every archived story gone), for which that reads them all.
    """
    if history.unchanged is not None and not history.stale:
        as_before = (None,) * len(history.sizes)
        return ArchiveSplit(tuple(history.unchanged), as_before, tuple(history.sizes))
    newest = select_from(catalogue, topic, rules)
    in_current = {story.canonical for story in newest}
    was_current = history.current()
    pages_of = dict.fromkeys(was_current, CURRENT_PAGE)
    pages_of |= history.pages_of(sorted((history.changed | in_current) - pages_of.keys()))
    # Stories back in the subscription document leave their pages, as in split_history.
    leaving = {pages_of[canonical] for canonical in in_current if pages_of.get(canonical, 0) > 0}
    counts = dict(history.member_counts())
    for canonical in in_current:
        if (page := pages_of.get(canonical, 0)) > 0:
            counts[page] -= 1
    last = max((page for page, count in counts.items() if count > 0), default=0)
    # The newest stories are best copies already; the others' copies are looked up.
    others = sorted({*was_current, *history.changed} - in_current)
    found = sorted(
        [*newest, *best_copies(catalogue.copies(topic, rules, others))], key=newest_first
    )
    waiting = [
        story
        for story in reversed(found)
        if story.canonical not in in_current and pages_of.get(story.canonical, 0) < 1
    ]
    filled = len(waiting) - len(waiting) % page_size
    new_pages = [
        tuple(sorted(waiting[start : start + page_size], key=newest_first))
        for start in range(0, filled, page_size)
    ]
    dirty = {pages_of[canonical] for canonical in history.changed if pages_of.get(canonical, 0)}
    dirty |= leaving | history.stale
    pages: list[tuple[Candidate, ...] | None] = []
    sizes: list[int] = []
    for page in range(1, last + 1):
        if page in dirty or page > len(history.sizes):
            held = history.members(page)
            stories = best_copies(catalogue.copies(topic, rules, held))
            kept = tuple(
                sorted((s for s in stories if s.canonical not in in_current), key=newest_first)
            )
            pages.append(kept)
            sizes.append(len(kept))
        else:
            pages.append(None)
            sizes.append(history.sizes[page - 1])
    pages.extend(new_pages)
    sizes.extend(map(len, new_pages))
    if not any(sizes):
        return None
    current = sorted([*newest, *waiting[filled:]], key=newest_first)
    placed = {
        story.canonical: last + 1 + index // page_size
        for index, story in enumerate(waiting[:filled])
    }
    placed |= {
        story.canonical: CURRENT_PAGE
        for story in current
        if pages_of.get(story.canonical) != CURRENT_PAGE
    }
    in_document = {story.canonical for story in current}
    gone = {
        canonical
        for canonical in was_current
        if canonical not in in_document and canonical not in placed
    }
    return ArchiveSplit(tuple(current), tuple(pages), tuple(sizes), placed, frozenset(gone))


class ArchiveHistory(FeedHistory, Protocol):
    """A feed's history as the last build left it, with each archive page's key."""

    @property
    def keys(self) -> Sequence[str]:
        """The :meth:`FeedPlan.page_key` of each page, page 1 first."""
        ...


class Histories(Protocol):
    """What earlier builds of an output folder remember of its feeds' archives."""

    def members(self, folder: str) -> Mapping[str, int]:
        """Feed ``folder``'s every remembered story (by canonical URL) with its page."""
        ...

    def history(self, folder: str, topic: str | None, signature: str) -> ArchiveHistory | None:
        """The history of feed ``folder`` (of ``topic``, ``None`` for all), if the last build
        laid it out by the same ``signature`` (:func:`layout_signature`) and what changed since
        is known."""
        ...


def archive_paths(folder: str, page: int) -> list[str]:
    """The files of archive page ``page`` of the feed in ``folder``, one per format."""
    return [f"{folder}{kind.archive_file(page)}" for kind in FORMATS]


def layout_signature(info: FeedInfo, rules: Rules, page_size: int) -> str:
    """What a feed's archive layout and page keys are made from, besides its stories: an
    earlier layout is carried forward only under the same signature."""
    made_of = repr((RENDERER_VERSION, info, rules, page_size))
    return hashlib.sha256(made_of.encode()).hexdigest()
