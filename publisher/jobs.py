"""Each job from start to finish, under its lock: ``run_build``, ``run_check``, ``run_digest``.

The only module that composes the others: it scans the content folder, brings the state
store up to date, selects, renders, writes, sends and records. Nothing here talks to the
terminal; the time of day comes in as a parameter.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from publisher import __version__
from publisher.config import DEFAULT_SITE_URL, Config, check_folders
from publisher.content.scan import FileStamp, refused_files, scan_folder
from publisher.errors import ArticleError, PreviewError, Problem, PublisherError, SendError
from publisher.lock import job_lock, lock_path
from publisher.model import EPOCH, Article, Candidate
from publisher.output import (
    ForeignFiles,
    OutputStamp,
    WriteReport,
    foreign_files,
    unchanged_since,
    write_outputs,
)
from publisher.state import (
    DB_NAME,
    RECORD_VERSION,
    ArchiveLayout,
    Changes,
    DamagedStore,
    SendRecord,
    Store,
    article_row,
    decode_article,
    encode_candidates,
    open_store,
    set_aside,
    stamp_key,
)

if TYPE_CHECKING:
    from publisher.build import BuildPlan, FeedSelection
    from publisher.content.parallel import Progress
    from publisher.digest.issue import Digest, IssueWeek
    from publisher.digest.render import RenderedDigest
    from publisher.selection import Rules
    from publisher.websub import PingReport

T = TypeVar("T")

BULK_LOAD_MIN = 2000
"""A content folder new to the store with at least this many files is stored in one bulk
load (measured: three times quicker at 10,000 files; below a few thousand it makes no
difference)."""

RACY_NS = 2_000_000_000
"""A file modified this close to when it was read may have changed unseen since (git's
racy-clean rule): it is read again."""


@dataclass
class Timings:
    """Seconds spent in each stage, for ``--json``."""

    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(time.perf_counter() - start, 4)


@dataclass(frozen=True)
class LoadReport:
    """What bringing the store up to date with a content folder found."""

    files: int
    parsed: int
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...] = ()
    """What was left out of good articles (topics beyond the limit)."""

    @property
    def cache_hits(self) -> int:
        return self.files - self.parsed


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


def site_url_warning(config: Config) -> list[str]:
    """The warning for a build whose self links would point at the local default."""
    if config.site.url:
        return []
    return [
        f"site.url is not set, so feeds call themselves {DEFAULT_SITE_URL}; set site.url in"
        " config.toml (or --site-url) to the public URL of the output folder"
    ]


# The store, opened for one job --------------------------------------------------------------


@contextmanager
def _store_for(config: Config, wait: float, warnings: list[str]) -> Iterator[Store]:
    store, opened = open_store(Path(config.cache_dir), wait=wait)
    warnings.extend(opened)
    try:
        yield store
    finally:
        store.close()


def _with_store(config: Config, wait: float, job: Callable[[Store, list[str]], T]) -> T:
    """Run ``job(store, warnings)``; a store found damaged on the way is set aside and the job
    run once more on a new one (outputs are only ever replaced whole, so that is safe)."""
    warnings: list[str] = []
    try:
        with _store_for(config, wait, warnings) as store:
            return job(store, warnings)
    except DamagedStore as damage:
        warnings.append(set_aside(Path(config.cache_dir) / DB_NAME, str(damage)))
        with _store_for(config, wait, warnings) as store:
            return job(store, warnings)


# Articles -----------------------------------------------------------------------------------


def refresh_articles(
    store: Store,
    content_dir: Path,
    stamps: Mapping[str, FileStamp],
    *,
    keys: Sequence[str] | None = None,
    reparse: bool = False,
    progress: Progress | None = None,
) -> LoadReport:
    """Bring the store up to date with ``content_dir``: parse new and changed files (all of
    them with ``reparse``), forget removed ones; report every bad file. ``keys`` are the
    files' :func:`stamp_keys`, when the caller has them already."""
    source = store.source(content_dir)
    trusted = set() if reparse else store.trusted_stamps(source, RACY_NS)
    keys = stamp_keys(stamps) if keys is None else keys
    todo = [name for name, key in zip(stamps, keys, strict=True) if key not in trusted]
    stored_todo = store.count(source, todo) if len(todo) < 1000 else len(todo) + 1
    if store.count(source) != len(stamps) - len(todo) + stored_todo:
        # Some stored file is neither trusted nor to be parsed again: look for files now gone.
        gone = store.stored_names(source) - stamps.keys()
        if gone:
            store.forget_articles(source, sorted(gone))
    warnings: list[Problem] = []
    if todo:
        # Imported here: a run with nothing to parse never needs the parser.
        from publisher.content.parallel import parse_files

        def keep(rows: list[Any]) -> None:
            store.put_articles(source, stamps, rows)

        if len(todo) >= BULK_LOAD_MIN and store.count(source) == 0:
            with store.bulk_load(source):
                parse_files(
                    content_dir, todo, article_row, keep, progress=progress, warn=warnings.extend
                )
        else:
            parse_files(
                content_dir, todo, article_row, keep, progress=progress, warn=warnings.extend
            )
    if not content_dir.is_dir():
        raise ArticleError("content folder disappeared during the run", path=str(content_dir))
    folder = f"{content_dir}{os.sep}"
    refused = refused_files(stamps)
    problems = refused + tuple(
        Problem(folder + name, field_name, message, bool(transient))
        for name, field_name, message, transient in store.problems(source)
        if name in stamps
    )
    return LoadReport(len(stamps) + len(refused), len(todo), problems, tuple(warnings))


@dataclass(frozen=True)
class StoredArticles:
    """The :class:`~publisher.selection.Catalogue` of one content folder in the store."""

    store: Store
    source: int
    content_dir: Path

    def topic_names(self) -> list[str]:
        return self.store.topic_names(self.source)

    def newest(self, topic: str | None, rules: Rules, limit: int, offset: int) -> list[Candidate]:
        return self.store.newest(
            self.source, topic, rules.min_quality, rules.include_unrated, limit, offset
        )

    def copies(self, topic: str | None, rules: Rules, canonicals: Sequence[str]) -> list[Candidate]:
        return self.store.copies(
            self.source, topic, rules.min_quality, rules.include_unrated, canonicals
        )

    def every(self, topic: str | None, rules: Rules) -> list[Candidate]:
        return self.store.every_candidate(
            self.source, topic, rules.min_quality, rules.include_unrated
        )

    def articles(self, items: Sequence[Candidate]) -> list[Article]:
        records = self.store.records(self.source, [item.name for item in items])
        folder = f"{self.content_dir}{os.sep}"
        return [decode_article(records[item.name], folder + item.name) for item in items]

    def published_between(self, start: datetime, end: datetime) -> list[Article]:
        """Every published article dated in ``[start, end)``."""
        rows = self.store.published_between(self.source, _microseconds(start), _microseconds(end))
        folder = f"{self.content_dir}{os.sep}"
        return [decode_article(record, folder + name) for name, record in rows]


def _microseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def input_fingerprint(
    config: Config, stamps: Mapping[str, FileStamp], keys: Sequence[str] | None = None
) -> str:
    """A digest of what a build is made from: the tool, the settings, every file's stamp.

    Files are taken in the scan's order: a folder whose order changed without its files
    changing costs one full check, never a missed change.
    """
    digest = hashlib.sha256(repr((__version__, RECORD_VERSION, config)).encode())
    listing = "\n".join(stamp_keys(stamps) if keys is None else keys)
    digest.update(listing.encode("utf-8", "surrogateescape"))
    for problem in refused_files(stamps):
        digest.update(f"\n{problem}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def stamp_keys(stamps: Mapping[str, FileStamp]) -> list[str]:
    """Every file's :func:`~publisher.state.stamp_key`, in the scan's order."""
    return [stamp_key(name, size, mtime) for name, (size, mtime) in stamps.items()]


# build --------------------------------------------------------------------------------------


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
        outcome = _with_store(
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
    timings = Timings()
    content_dir, out_dir = Path(config.content), Path(config.out)
    folder = os.path.realpath(out_dir)
    with timings.stage("scan"):
        _adopt_earlier_layout(store, out_dir, folder)
        stamps = scan_folder(content_dir)
        if not stamps:
            # Likely a checkout or sync caught half-way: publishing would empty every feed.
            raise ArticleError("no article files (*.md); nothing published", path=str(content_dir))
        keys = stamp_keys(stamps)
        inputs = input_fingerprint(config, stamps, keys)
        written = store.outputs(folder)
        last = store.last_build(folder)
        retiring = today is not None and store.retirement_due(
            folder, (today - timedelta(days=config.selection.retire_after_days)).isoformat()
        )
        if (
            use_cache
            and last is not None
            and last[0] == inputs
            and not retiring
            and not any(mtime >= last[1] - RACY_NS for _, mtime in stamps.values())
            and unchanged_since(out_dir, written)
        ):
            return BuildOutcome(len(stamps), WriteReport(unchanged=sorted(written)), timings)
    # Imported here: a build with nothing to do never needs the parser or the renderers.
    from publisher.build import plan_feeds, render_feeds
    from publisher.selection import sight_topics

    with timings.stage("load"):
        loaded = refresh_articles(
            store, content_dir, stamps, keys=keys, reparse=not use_cache, progress=progress
        )
    if strict and loaded.problems:
        raise StrictRefusal(loaded)
    warnings.extend(str(warning) for warning in loaded.warnings)
    catalogue = StoredArticles(store, store.source(content_dir), content_dir)
    with timings.stage("select"):
        known = store.topic_slugs(folder)
        seen = sight_topics(
            store.topic_sightings(folder),
            catalogue.topic_names(),
            [name for name, slug in known.items() if f"{slug}/rss.xml" in written],
            today,
            config.selection.retire_after_days,
        )
        seq = store.change_seq()  # before reading: a change made meanwhile is looked at again
        page_keys = store.page_keys(folder)

        def unchanged(paths: Sequence[str], key: str) -> bool:
            """Archive files written from ``key`` and untouched since: left as they are."""
            return (
                use_cache
                and all(page_keys.get(path) == key for path in paths)
                and unchanged_since(out_dir, {path: written.get(path) for path in paths})
            )

        # Archive membership is not a cache: even --no-cache keeps every story on its page.
        histories = StoredHistories(store, folder, catalogue.source, unchanged, use_cache)
        selection = plan_feeds(config, catalogue, known, kept_topics=seen.kept, histories=histories)
        selected = selection.selected
        rules = selection_rules(config)
        max_drop = config.selection.max_drop
        previous = store.last_selected(folder)
        if not force and (count := check_shrink(selected, previous, rules, max_drop)) is not None:
            raise ShrinkRefusal(out_dir, selected, count, max_drop, loaded)
    with timings.stage("render"):

        def reuse(key: str) -> dict[str, bytes]:
            return store.rendered(folder, key) if use_cache else {}

        plan = render_feeds(config, selection, catalogue, reuse, unchanged)
    warnings.extend(plan.warnings)
    # A run with problems or warnings is never skipped next time: they are reported again.
    clean = not loaded.problems and not warnings
    with timings.stage("write"):
        queued = _queue_pings(store, folder, config, plan, written)
        kept = {path: written[path] for path in plan.kept}
        report = write_outputs(
            out_dir,
            plan.outputs,
            {path: stamp for path, stamp in written.items() if path not in kept},
            claim=lambda paths: store.claim_outputs(folder, paths),
            force=force,
        )
        if queued:
            # Queued before writing, so a run killed half-way still pings; a feed that turned
            # out unchanged on disk (the store was lost, say) has nothing to tell.
            feeds = plan.subscriptions
            store.forget_pings(
                folder, queued & {feeds[path] for path in report.unchanged if path in feeds}
            )
        report.unchanged = sorted([*report.unchanged, *kept])
        report.holds.update({path: stamp for path, stamp in kept.items() if stamp is not None})
        store.finish_outputs(folder, report.holds, inputs if clean else "", time.time_ns())
        store.set_selected(folder, selected, rules)
        store.set_topic_slugs(folder, {topic.name: topic.slug for topic in plan.topics})
        layouts = _layouts(selection, plan, catalogue.source, seq)
        store.record_archives(folder, layouts, histories.layouts, page_keys, plan.page_keys)
        if today is not None:
            store.set_topic_sightings(folder, seen.sightings)
        used = {feed.render_key for feed in plan.feeds}
        store.keep_rendered(folder, plan.rendered, used)
    return BuildOutcome(loaded.files, report, timings, loaded, plan, warnings)


def _layouts(
    selection: FeedSelection, plan: BuildPlan, source: int, seq: int
) -> dict[str, tuple[ArchiveLayout, Mapping[str, int], frozenset[str]]]:
    """What to remember of each feed with archive pages: its layout and membership changes."""
    layouts: dict[str, tuple[ArchiveLayout, Mapping[str, int], frozenset[str]]] = {}
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
        from publisher.selection import CURRENT_PAGE

        return self.store.page_members(self.folder, self.feed, CURRENT_PAGE)

    def member_counts(self) -> dict[int, int]:
        return self.store.member_counts(self.folder, self.feed)

    def members(self, page: int) -> list[str]:
        return self.store.page_members(self.folder, self.feed, page)


class StoredHistories:
    """What earlier builds of an output folder remember of its feeds' archives (see
    :class:`~publisher.build.Histories`); without ``carry_forward`` every feed is laid out
    from all its stories, keeping each on its page."""

    def __init__(
        self,
        store: Store,
        folder: str,
        source: int,
        intact: Callable[[Sequence[str], str], bool],
        carry_forward: bool,
    ) -> None:
        self.store, self.folder, self.source, self.intact = store, folder, source, intact
        self.carry_forward = carry_forward
        self.layouts = store.archive_layouts(folder)
        """The layouts the last build recorded, by feed folder."""
        self._changes: dict[int, Changes | None] = {}

    def members(self, folder: str) -> dict[str, int]:
        return self.store.feed_members(self.folder, folder)

    def history(self, folder: str, topic: str | None, signature: str) -> StoredHistory | None:
        from publisher.build import archive_paths

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


def _queue_pings(
    store: Store,
    folder: str,
    config: Config,
    plan: BuildPlan,
    written: Mapping[str, OutputStamp | None],
) -> set[str]:
    """With a hub, record every feed whose bytes are about to change as waiting for a ping, and
    forget waiting pings of feeds no longer published; the feeds newly queued."""
    if not config.websub.hub:
        return set()
    feeds = plan.subscriptions
    changing = [
        url
        for path, url in feeds.items()
        if (stamp := written.get(path)) is None
        or stamp[2] != hashlib.sha256(plan.outputs[path]).hexdigest()
    ]
    store.forget_pings(folder, set(store.pending_pings(folder)) - set(feeds.values()))
    return store.queue_pings(folder, changing)


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


# check --------------------------------------------------------------------------------------


def run_check(
    config: Config, *, wait: float = 60.0, progress: Progress | None = None
) -> LoadReport:
    """Read every article file and report problems; writes nothing but the state store."""
    content_dir = Path(config.content)

    def check(store: Store, warnings: list[str]) -> LoadReport:
        stamps = scan_folder(content_dir)
        if not stamps:
            raise ArticleError("no article files (*.md)", path=str(content_dir))
        return refresh_articles(store, content_dir, stamps, progress=progress)

    return _with_store(config, wait, check)


# digest -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestRequest:
    """What ``publisher digest`` was asked to do."""

    week: IssueWeek
    send: bool = False
    recipients: tuple[str, ...] = ()
    """Send here instead of the list (a test send: never blocked, never recorded)."""
    resend: bool = False
    password: str | None = None
    now: datetime | None = None
    """When the job runs, for the record of a send."""
    preview: Path | None = None
    """Also write a PNG screenshot of the issue here (headless Chromium)."""
    force: bool = False
    """Replace files in the newsletter folders that publisher did not write."""


@dataclass
class DigestOutcome:
    """What a digest did; ``rendered`` is ``None`` for a week with no articles."""

    loaded: LoadReport
    issue: Digest
    rendered: RenderedDigest | None = None
    files: list[str] = field(default_factory=list)
    sent_to: list[str] = field(default_factory=list)
    already_sent: SendRecord | None = None
    warnings: list[str] = field(default_factory=list)
    preview_error: str = ""
    """Why the preview failed; it is taken after sending, so it never holds the issue back."""
    send_error: SendError | None = None
    """Why sending failed; the files are written, and no preview is taken."""


def run_digest(config: Config, request: DigestRequest, *, wait: float = 60.0) -> DigestOutcome:
    """Write one week's newsletter and send it when asked, holding ``digest.out``'s lock, so
    that the "already sent?" check, the send and its record are one step: two overlapping
    runs mail the list once."""
    check_folders(config, source="")
    with job_lock(Path(config.cache_dir), Path(config.digest.out), wait):
        outcome = _with_store(
            config, wait, lambda store, warnings: _digest(store, warnings, config, request)
        )
    if outcome.rendered is not None and not (config.site.link or config.site.url):
        outcome.warnings.insert(
            0,
            f"site.link is not set (nor site.url), so the newsletter links to {DEFAULT_SITE_URL}"
            " as the site's home page; set site.link in config.toml",
        )
    return outcome


def _digest(
    store: Store, warnings: list[str], config: Config, request: DigestRequest
) -> DigestOutcome:
    from publisher.digest.issue import counts_from_rows, plan_digest
    from publisher.digest.render import inline_css, render_digest, template_folder
    from publisher.preview import find_browser

    template_folder(config)  # a misspelt folder fails before any work is done
    browser = find_browser() if request.preview else None
    content_dir = Path(config.content)
    stamps = scan_folder(content_dir)
    if not stamps:
        raise ArticleError("no article files (*.md)", path=str(content_dir))
    loaded = refresh_articles(store, content_dir, stamps)
    warnings.extend(str(warning) for warning in loaded.warnings)
    source = store.source(content_dir)
    catalogue = StoredArticles(store, source, content_dir)
    start, end = request.week.bounds(ZoneInfo(config.digest.timezone))
    counts = counts_from_rows(config, *store.topic_quality_counts(source))
    issue = plan_digest(config, catalogue.published_between(start, end), request.week, counts)
    outcome = DigestOutcome(loaded, issue, warnings=warnings)
    if issue.is_empty:
        return outcome

    def inline(html: str, source: str) -> str:
        key = hashlib.sha256(repr((_premailer_version(), source, html)).encode()).hexdigest()
        inlined = store.inlined(key)
        if inlined is None:
            inlined = inline_css(html, source)
            store.keep_inlined(key, inlined)
        return inlined

    rendered = render_digest(config, issue, inline, (store.compiled, store.keep_compiled))
    outcome.issue, outcome.rendered = rendered.digest, rendered
    _deliver(store, config, request, outcome)
    if browser and request.preview and outcome.send_error is None:
        from publisher.preview import screenshot

        try:
            screenshot(browser, rendered.html, request.preview)
        except PreviewError as error:
            outcome.preview_error = str(error)
    return outcome


def _deliver(store: Store, config: Config, request: DigestRequest, outcome: DigestOutcome) -> None:
    """Write the issue's files, then send it when asked: recorded before and after sending.
    A failed send is left in ``outcome.send_error``."""
    from publisher.digest.message import message_id
    from publisher.mail import envelope_address, send_message

    rendered = outcome.rendered
    assert rendered is not None
    outcome.warnings.extend(rendered.warnings)
    folders = (
        (Path(config.digest.out), rendered.files),
        (Path(config.digest.archive), {rendered.archive_name: rendered.archive_page}),
    )
    if not request.force:
        # Both folders are checked before either is written: never half an issue.
        for folder, files in folders:
            written = store.outputs(os.path.realpath(folder))
            if foreign := foreign_files(folder, files, written):
                raise ForeignFiles(folder, foreign)
    for folder, files in folders:
        _write_kept(store, folder, files, force=request.force)
        outcome.files.extend(str(folder / name) for name in sorted(files))
    _update_issue_feeds(store, config, rendered, request.now, outcome, force=request.force)
    if not request.send:
        return
    to_list = not request.recipients
    list_address = envelope_address(config.digest.list_address)
    recipients = list(request.recipients) or [list_address]
    week = request.week.label
    moment = request.now.isoformat(timespec="seconds") if request.now else ""
    if to_list:
        # Claimed before sending, in one step with the check: if the record cannot be written,
        # nothing is sent; if the run dies mid-send, the list is not mailed again without
        # --resend.
        identifier = message_id(rendered.digest)
        outcome.already_sent = store.claim_send(
            list_address, week, identifier, moment, resend=request.resend
        )
        if outcome.already_sent:
            return
    try:
        send_message(
            config.digest.smtp,
            rendered.message,
            sender=envelope_address(config.digest.sender),
            recipients=recipients,
            password=request.password,
        )
    except SendError as error:
        if to_list and not error.possibly_sent:
            store.forget_send(list_address, week)
        outcome.send_error = error
        return
    if to_list:
        store.mark_sent(list_address, week)
    outcome.sent_to = recipients


def _update_issue_feeds(
    store: Store,
    config: Config,
    rendered: RenderedDigest,
    now: datetime | None,
    outcome: DigestOutcome,
    *,
    force: bool = False,
) -> None:
    """Record the issue just written and rewrite the feeds of the folder's issues from the
    store: the feeds list what was written, whatever else lies in the folder."""
    from publisher.digest.feed import FEED_ISSUES, feeds_key, issue_feeds, issue_record

    out_dir = Path(config.digest.out)
    folder = os.path.realpath(out_dir)
    earlier = store.issue(folder, rendered.digest.week.label)
    record = issue_record(rendered, earlier, now)
    if record != earlier:
        store.keep_issue(folder, record)
    records = store.issues(folder, FEED_ISSUES)
    key = feeds_key(config, records)
    feeds = store.rendered(folder, key)
    if not feeds:
        feeds = issue_feeds(config, records)
        store.keep_rendered(folder, {key: feeds}, {key})
    _write_kept(store, out_dir, feeds, force=force)
    outcome.files.extend(str(out_dir / name) for name in sorted(feeds))


def _write_kept(
    store: Store, out_dir: Path, files: Mapping[str, bytes], *, force: bool = False
) -> None:
    """Write files into a folder that keeps what earlier runs wrote (newsletter issues)."""
    folder = os.path.realpath(out_dir)
    written = store.outputs(folder)
    report = write_outputs(
        out_dir,
        files,
        written,
        claim=lambda paths: store.claim_outputs(folder, paths),
        prune=False,
        force=force,
    )
    kept = {path: stamp for path, stamp in written.items() if stamp is not None}
    store.finish_outputs(folder, kept | report.holds, "", 0)


def preview_digest(config: Config, week: IssueWeek, *, wait: float = 60.0) -> RenderedDigest | None:
    """One week's newsletter rendered as ``digest`` would write it, for a preview: nothing is
    written, sent or recorded (the parse cache is brought up to date, as by ``check``).
    ``None`` for a week with no articles."""

    def render(store: Store, warnings: list[str]) -> RenderedDigest | None:
        from publisher.digest.issue import counts_from_rows, plan_digest
        from publisher.digest.render import render_digest

        content_dir = Path(config.content)
        stamps = scan_folder(content_dir)
        if not stamps:
            raise ArticleError("no article files (*.md)", path=str(content_dir))
        refresh_articles(store, content_dir, stamps)
        source = store.source(content_dir)
        catalogue = StoredArticles(store, source, content_dir)
        start, end = week.bounds(ZoneInfo(config.digest.timezone))
        counts = counts_from_rows(config, *store.topic_quality_counts(source))
        issue = plan_digest(config, catalogue.published_between(start, end), week, counts)
        if issue.is_empty:
            return None
        return render_digest(config, issue, compiled=(store.compiled, store.keep_compiled))

    rendered: RenderedDigest | None = _with_store(config, wait, render)
    return rendered


def forget_output_folder(config: Config, *, wait: float = 60.0) -> None:
    """Forget what the state store knows of ``config.out``, a folder deleted for good (a
    preview's scratch folder), so the store does not keep growing with them."""
    folder = os.path.realpath(config.out)
    with job_lock(Path(config.cache_dir), Path(config.out), wait):
        _with_store(config, wait, lambda store, warnings: store.forget_folder(folder))
    with contextlib.suppress(OSError):
        lock_path(Path(config.cache_dir), Path(config.out)).unlink()


def _premailer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("premailer") + "/" + version("cssutils")
    except PackageNotFoundError:
        return ""
