"""The ``build`` job: every feed of a configuration planned, rendered and written into its
output folder, what it wrote recorded, and the WebSub hub told of the feeds that changed."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from publisher.config import Config, check_folders
from publisher.errors import PublisherError
from publisher.jobs.items import EarlyItems, items_on_every_core
from publisher.jobs.prelude import (
    RACY_NS,
    LoadReport,
    StoredArticles,
    Timings,
    input_fingerprint,
    load_content,
    site_url_warning,
    with_store,
)
from publisher.lock import job_lock, lock_path
from publisher.model import Candidate
from publisher.output import (
    FileStamp,
    OutputStamp,
    WriteReport,
    twin_paths,
    unchanged_since,
    write_outputs,
)
from publisher.state import (
    ArchiveLayout,
    ArchiveUpdate,
    BuildRecord,
    BuildUpdate,
    Changes,
    Store,
    encode_candidates,
    retirement_due,
)
from publisher.workers import Workers, usable_cores

if TYPE_CHECKING:
    from publisher.build import BuildPlan, FeedSelection, ItemMaker
    from publisher.content.parallel import Progress
    from publisher.websub import PingReport


@dataclass
class BuildOutcome:
    """What a build did; ``loaded`` and ``plan`` are ``None`` when it found nothing to do."""

    files: int
    report: WriteReport
    timings: Timings
    loaded: LoadReport | None = None
    plan: BuildPlan | None = None
    warnings: list[str] = field(default_factory=list)
    pings: PingReport | None = None
    """What the WebSub hub was told after writing; ``None`` when there was nothing to tell."""

    @property
    def up_to_date(self) -> bool:
        return self.loaded is None


class StrictRefusal(PublisherError):
    """``--strict`` and some files are bad: nothing was written."""

    def __init__(self, loaded: LoadReport) -> None:
        super().__init__(f"{len(loaded.problems)} bad article file(s); nothing written (--strict)")
        self.loaded = loaded


class ShrinkRefusal(PublisherError):
    """The build would publish far fewer articles than the last one: nothing was written."""

    def __init__(
        self, out_dir: Path, selected: int, last: int, max_drop: float, loaded: LoadReport
    ) -> None:
        drop = (last - selected) / last
        super().__init__(
            f"{selected} article(s) selected against {last} at the last build, {drop:.0%} fewer"
            f" (more than selection.max_drop = {max_drop:g} allows); nothing written."
            " Half-synced or unreadable article files? If the drop is meant, run build --force",
            path=str(out_dir),
        )
        self.loaded = loaded


def check_shrink(
    selected: int, last: tuple[int, str] | None, rules: str, max_drop: float
) -> int | None:
    """The last build's count when ``selected`` falls by more than ``max_drop`` of it, under
    the same selection settings (a first build, or new settings, never counts as a fall)."""
    if last is None or last[1] != rules or last[0] == 0:
        return None
    return last[0] if (last[0] - selected) / last[0] > max_drop else None


def selection_rules(config: Config) -> str:
    """A digest of the settings that decide how many articles a build selects: the
    subscription documents hold more with archives on (stories waiting to fill a page)."""
    selection = replace(config.selection, max_drop=0.0)
    made_of = repr((selection, sorted(config.topics.items()), config.archive))
    return hashlib.sha256(made_of.encode()).hexdigest()[:16]


def run_build(
    config: Config,
    *,
    wait: float = 60.0,
    use_cache: bool = True,
    strict: bool = False,
    progress: Progress | None = None,
    force: bool = False,
    today: date | None = None,
) -> BuildOutcome:
    """Build every feed of ``config`` into its output folder, holding its lock throughout:
    a slow run of older files can never finish after, and undo, a newer one.

    ``today`` dates the topics seen in the content; without it no topic's feed retires.

    Refused (:class:`ShrinkRefusal`) when far fewer articles are selected than last time, and
    (:class:`~publisher.output.ForeignFiles`) when a planned file would replace one publisher
    did not write; ``force`` overrides both.
    """
    check_folders(config, source="")
    out_dir = Path(config.out)
    with job_lock(Path(config.cache_dir), out_dir, wait):
        outcome = with_store(
            config,
            wait,
            lambda store, warnings: _notify_hub(
                store,
                config,
                _build(store, warnings, config, use_cache, strict, progress, force, today),
            ),
        )
    # Not among the warnings that keep a build from counting as clean: it says the same
    # every run, and such a run should still stop after the scan.
    outcome.warnings[:0] = site_url_warning(config)
    return outcome


def _build(
    store: Store,
    warnings: list[str],
    config: Config,
    use_cache: bool,
    strict: bool,
    progress: Progress | None,
    force: bool,
    today: date | None,
) -> BuildOutcome:
    """Read the store once (after the scan when nothing changed, else once the articles are
    loaded), plan with pure functions, render, claim, write, and record once."""
    timings = Timings()
    out_dir = Path(config.out)
    folder = os.path.realpath(out_dir)
    # Worked out once the scan is done, and kept for recording what this build wrote.
    inputs = ""

    def up_to_date(stamps: Mapping[str, FileStamp], keys: list[str]) -> BuildOutcome | None:
        """The outcome of a build made from what the last one was, its files untouched."""
        nonlocal inputs
        inputs = input_fingerprint(config, stamps, keys)
        known = store.folder_record(folder)
        last = known.last_build
        retiring = today is not None and retirement_due(
            known.sightings,
            (today - timedelta(days=config.selection.retire_after_days)).isoformat(),
        )
        if (
            use_cache
            and last is not None
            and last[0] == inputs
            and not retiring
            and not any(mtime >= last[1] - RACY_NS for _, mtime in stamps.values())
            and unchanged_since(out_dir, known.outputs)
        ):
            return BuildOutcome(len(stamps), WriteReport(unchanged=sorted(known.outputs)), timings)
        return None

    with timings.stage("scan"):
        _adopt_earlier_layout(store, out_dir, folder)
    # Worker processes, started when there are many items to make, live through the write:
    # pages are written while their successors' items are made.
    with Workers(usable_cores()) as workers:
        early = EarlyItems(config, workers)
        content = load_content(
            store,
            Path(config.content),
            empty="no article files (*.md); nothing published",
            up_to_date=up_to_date,
            timings=timings,
            reparse=not use_cache,
            progress=progress,
            cold=early,
        )
        if isinstance(content, BuildOutcome):
            return content
        loaded, catalogue = content.loaded, content.catalogue
        if strict and loaded.problems:
            raise StrictRefusal(loaded)
        warnings.extend(str(warning) for warning in loaded.warnings)
        with timings.stage("select"):
            # Read once the articles are loaded and before any is read for planning: its
            # change position counts their changes, and one made meanwhile is looked at again
            # next time.
            record = store.build_record(folder)
            planned = _plan(store, config, record, catalogue, use_cache, today)
            rules = selection_rules(config)
            selected, max_drop = planned.selection.selected, config.selection.max_drop
            count = check_shrink(selected, record.last_selected, rules, max_drop)
            if not force and count is not None:
                raise ShrinkRefusal(out_dir, selected, count, max_drop, loaded)
        # No thread of the store's runs while worker processes are forked.
        store.finish_checkpoint()
        items = early.maker(items_on_every_core(catalogue, workers))
        with timings.stage("render"):
            plan = _render(store, config, folder, planned, catalogue, use_cache, items)
        warnings.extend(plan.warnings)
        # A run with problems or warnings is never skipped next time: they are reported again.
        clean = not loaded.problems and not warnings
        with timings.stage("write"):
            report, pinged = _write(store, config, plan, record.outputs, force)
            update = BuildUpdate(
                outputs=report.holds,
                inputs=inputs if clean else "",
                written_ns=time.time_ns(),
                selected=selected,
                rules=rules,
                topic_slugs={topic.name: topic.slug for topic in plan.topics},
                archives=_layouts(planned.selection, plan, catalogue.source, record.seq),
                page_keys=plan.page_keys,
                sightings=planned.sightings if today is not None else None,
                rendered=plan.rendered,
                used_renders={feed.render_key for feed in plan.feeds},
                pinged=pinged,
            )
            store.record_build(folder, record, update)
    return BuildOutcome(loaded.files, report, timings, loaded, plan, warnings)


@dataclass(frozen=True)
class _Planned:
    """What a build selected, with what rendering it needs of what the store knew."""

    selection: FeedSelection
    sightings: Mapping[str, tuple[str, bool]]
    unchanged: Callable[[Sequence[str], str], bool]
    """Whether archive files written from a page key are untouched since: left as they are."""


def _plan(
    store: Store,
    config: Config,
    record: BuildRecord,
    catalogue: StoredArticles,
    use_cache: bool,
    today: date | None,
) -> _Planned:
    """Select every feed's stories from what the store knew of the folder before the build."""
    # Imported here: a build with nothing to do never needs the planner.
    from publisher.build import plan_feeds
    from publisher.selection import sight_topics

    out_dir = Path(config.out)
    written = record.outputs
    seen = sight_topics(
        record.sightings,
        catalogue.topic_names(),
        [name for name, slug in record.topic_slugs.items() if f"{slug}/rss.xml" in written],
        today,
        config.selection.retire_after_days,
    )

    def unchanged(paths: Sequence[str], key: str) -> bool:
        twins = [twin for path in paths for twin in twin_paths(path, config.output.precompress)]
        return (
            use_cache
            and all(record.page_keys.get(path) == key for path in paths)
            and unchanged_since(out_dir, {path: written.get(path) for path in [*paths, *twins]})
        )

    # Archive membership is not a cache: even --no-cache keeps every story on its page.
    histories = StoredHistories(
        store,
        os.path.realpath(out_dir),
        catalogue.source,
        record.layouts,
        unchanged,
        use_cache,
    )
    selection = plan_feeds(
        config, catalogue, record.topic_slugs, kept_topics=seen.kept, histories=histories
    )
    return _Planned(selection, seen.sightings, unchanged)


def _render(
    store: Store,
    config: Config,
    folder: str,
    planned: _Planned,
    catalogue: StoredArticles,
    use_cache: bool,
    make_items: ItemMaker,
) -> BuildPlan:
    """Render the planned feeds, reusing subscription documents rendered earlier."""
    from publisher.build import render_feeds

    def reuse(key: str) -> dict[str, bytes]:
        return store.rendered(folder, key) if use_cache else {}

    return render_feeds(
        config,
        planned.selection,
        catalogue,
        reuse,
        planned.unchanged,
        make_items,
    )


def _write(
    store: Store,
    config: Config,
    plan: BuildPlan,
    written: Mapping[str, OutputStamp | None],
    force: bool,
) -> tuple[WriteReport, set[str]]:
    """Write the plan's files, claiming them (and queueing pings) in the store first; the
    report, kept archive files included, and the queued feed URLs that need no ping after all."""
    out_dir = Path(config.out)
    folder = os.path.realpath(out_dir)
    encodings = config.output.precompress
    # A kept archive page keeps its twins (planning keeps it only when they are on record).
    kept = {
        twin: written[twin]
        for path in plan.kept
        for twin in [path, *twin_paths(path, encodings)]
        if twin in written
    }
    feeds = plan.subscriptions
    published, changing = _changing_feeds(config, plan, written)
    queued: set[str] = set()

    def claim(paths: list[str]) -> None:
        queued.update(store.claim_build(folder, paths, published=published, changing=changing))

    outputs: Mapping[str, bytes] = plan.outputs
    order = plan.outputs.writing_order()
    if config.output.headers:
        from publisher.feeds.headers import with_headers

        outputs, order = with_headers(outputs, order, plan.kept, config.output.max_age)
    report = write_outputs(
        out_dir,
        outputs,
        {path: stamp for path, stamp in written.items() if path not in kept},
        claim=claim,
        force=force,
        order=order,
        precompress=encodings,
    )
    # Queued before writing, so a run killed half-way still pings; a feed that turned out
    # unchanged on disk (the store was lost, say) has nothing to tell.
    pinged = queued & {feeds[path] for path in report.unchanged if path in feeds}
    report.unchanged = sorted([*report.unchanged, *kept])
    report.holds.update({path: stamp for path, stamp in kept.items() if stamp is not None})
    return report, pinged


def _layouts(
    selection: FeedSelection, plan: BuildPlan, source: int, seq: int
) -> dict[str, ArchiveUpdate]:
    """What to remember of each feed with archive pages: its layout and membership changes."""
    layouts: dict[str, ArchiveUpdate] = {}
    for feed in plan.feeds:
        split = selection.splits.get(feed.folder)
        if split is None or not split.pages:
            continue
        keys = [feed.page_key(page) for page in range(1, len(split.pages) + 1)]
        pages = tuple(zip(keys, split.sizes, strict=True))
        signature = selection.signatures[feed.folder]
        layout = ArchiveLayout(source, seq, signature, pages, encode_candidates(feed.items))
        layouts[feed.folder] = (layout, split.placed, split.gone)
    return layouts


MOST_CHANGES = 2_000
"""Stories changed since a feed's last layout beyond which it is laid out from every story."""


@dataclass(frozen=True)
class StoredHistory:
    """One feed's history as the last build left it in the store (see
    :class:`~publisher.build.ArchiveHistory`)."""

    store: Store
    folder: str
    feed: str
    changed: frozenset[str]
    sizes: tuple[int, ...]
    keys: tuple[str, ...]
    stale: frozenset[int]
    unchanged: tuple[Candidate, ...] | None

    def pages_of(self, canonicals: Sequence[str]) -> dict[str, int]:
        return self.store.pages_of(self.folder, self.feed, canonicals)

    def current(self) -> list[str]:
        from publisher.archives import CURRENT_PAGE

        return self.store.page_members(self.folder, self.feed, CURRENT_PAGE)

    def member_counts(self) -> dict[int, int]:
        return self.store.member_counts(self.folder, self.feed)

    def members(self, page: int) -> list[str]:
        return self.store.page_members(self.folder, self.feed, page)


class StoredHistories:
    """What earlier builds of an output folder remember of its feeds' archives (see
    :class:`~publisher.build.Histories`): the layouts read with the build's record, and what
    depends on the plan (changes since a layout, a feed's members) asked of the store as the
    planner needs it. Without ``carry_forward`` every feed is laid out from all its stories,
    keeping each on its page."""

    def __init__(
        self,
        store: Store,
        folder: str,
        source: int,
        layouts: Mapping[str, ArchiveLayout],
        intact: Callable[[Sequence[str], str], bool],
        carry_forward: bool,
    ) -> None:
        self.store, self.folder, self.source, self.intact = store, folder, source, intact
        self.carry_forward = carry_forward
        self.layouts = layouts
        """The layouts the last build recorded, by feed folder (:attr:`BuildRecord.layouts`)."""
        self._changes: dict[int, Changes | None] = {}

    def members(self, folder: str) -> dict[str, int]:
        return self.store.feed_members(self.folder, folder)

    def history(self, folder: str, topic: str | None, signature: str) -> StoredHistory | None:
        from publisher.archives import archive_paths

        layout = self.layouts.get(folder)
        if not self.carry_forward or layout is None:
            return None
        if (layout.source, layout.signature) != (self.source, signature):
            return None
        if layout.seq not in self._changes:
            self._changes[layout.seq] = self.store.changes_since(
                self.source, layout.seq, MOST_CHANGES
            )
        changes = self._changes[layout.seq]
        if changes is None:
            return None
        # Only articles that carry a topic, before or after, change its feed.
        touched = topic in changes.topics if topic else bool(changes.stories or changes.topics)
        keys = tuple(key for key, _ in layout.pages)
        stale = frozenset(
            page
            for page, key in enumerate(keys, start=1)
            if not self.intact(archive_paths(folder, page), key)
        )
        sizes = tuple(size for _, size in layout.pages)
        unchanged = None if touched else layout.current()
        return StoredHistory(
            self.store, self.folder, folder, changes.stories, sizes, keys, stale, unchanged
        )


def _changing_feeds(
    config: Config, plan: BuildPlan, written: Mapping[str, OutputStamp | None]
) -> tuple[list[str] | None, list[str]]:
    """With a hub, every feed URL the build publishes and those whose bytes are about to
    change (to queue for a ping as the files are claimed); without, ``None`` and nothing."""
    if not config.websub.hub:
        return None, []
    feeds = plan.subscriptions
    changing = [
        url
        for path, url in feeds.items()
        if (stamp := written.get(path)) is None
        or stamp[2] != hashlib.sha256(plan.outputs[path]).hexdigest()
    ]
    return list(feeds.values()), changing


def _notify_hub(store: Store, config: Config, outcome: BuildOutcome) -> BuildOutcome:
    """Tell the WebSub hub of every feed waiting for it: this build's changes, and those an
    earlier build could not deliver. Those it does not take wait for the next build."""
    if not config.websub.hub:
        return outcome
    folder = os.path.realpath(config.out)
    waiting = store.pending_pings(folder)
    if waiting:
        from publisher.websub import publish

        with outcome.timings.stage("ping"):
            outcome.pings = publish(config.websub.hub, waiting, timeout=config.websub.timeout)
        store.forget_pings(folder, outcome.pings.pinged)
    return outcome


LEGACY_MANIFEST = ".publisher-manifest.json"
LEGACY_FILES = (LEGACY_MANIFEST, ".publisher.lock", "topics.json")
"""What publisher 0.1 kept inside the published folder."""


def _adopt_earlier_layout(store: Store, out_dir: Path, folder: str) -> None:
    """Take over an output folder written by publisher 0.1: its files go on record (so the
    ones no longer planned are removed), its topic folders are kept, and its own bookkeeping
    files leave the published folder."""
    manifest = out_dir / LEGACY_MANIFEST
    if not manifest.is_file():
        return
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        store.claim_outputs(folder, [path for path in listed if isinstance(path, str)])
    if not store.topic_slugs(folder):
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            topics = json.loads((out_dir / "topics.json").read_text(encoding="utf-8"))["topics"]
            store.set_topic_slugs(folder, {entry["name"]: entry["slug"] for entry in topics})
    for name in LEGACY_FILES:
        with contextlib.suppress(OSError):
            (out_dir / name).unlink()


def forget_output_folder(config: Config, *, wait: float = 60.0) -> None:
    """Forget what the state store knows of ``config.out``, a folder deleted for good (a
    preview's scratch folder), so the store does not keep growing with them."""
    folder = os.path.realpath(config.out)
    with job_lock(Path(config.cache_dir), Path(config.out), wait):
        with_store(config, wait, lambda store, warnings: store.forget_folder(folder))
    with contextlib.suppress(OSError):
        lock_path(Path(config.cache_dir), Path(config.out)).unlink()
