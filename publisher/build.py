"""Plan every feed output in memory: ``{relative path: bytes}``, nothing written.

Each feed is a subscription document per format and, with archives on, the archive pages
behind it (RFC 5005): the stories that no longer fit the subscription document, on pages whose
membership the state store remembers from one build to the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from publisher.config import Config
from publisher.errors import OutputClash
from publisher.feeds import FORMATS, RENDERER_VERSION, FeedInfo, Item, history_of, make_items
from publisher.feeds.pages import (
    ITEMS_FRAGMENT,
    PAGE_FILE,
    FeedListing,
    render_feed_page,
    render_index,
    render_items,
    render_opml,
)
from publisher.feeds.safe import uri
from publisher.model import EPOCH, Article, Candidate, Topic
from publisher.selection import (
    ArchiveSplit,
    ArticleList,
    Catalogue,
    FeedHistory,
    Rules,
    assign_slugs,
    rules_for,
    select_every,
    select_from,
    split_history,
    update_history,
)


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


@dataclass(frozen=True)
class FeedPlan:
    """One feed: which topic (``None`` for all topics), where, its items and archive pages."""

    topic: Topic | None
    folder: str
    info: FeedInfo
    items: tuple[Candidate, ...]
    """The subscription document's items."""
    pages: tuple[tuple[Candidate, ...] | None, ...] = ()
    """The archive pages' items, page 1 (the oldest) first; ``None`` for a page the last build
    wrote from the same stories, whose files stay as they are."""
    archived: bool = False
    """Whether the documents say where they sit in the feed's history (archives are on):
    the subscription document is then ``fh:complete`` or links its newest archive page."""
    earlier_keys: Sequence[str] = ()
    """The keys of the pages the last build left as they are (``None`` in :attr:`pages`)."""

    @property
    def render_key(self) -> str:
        """A hash of everything the subscription document's files are made from: equal keys,
        equal bytes."""
        history = len(self.pages) if self.archived else None
        made_of = repr((RENDERER_VERSION, self.info, [item.digest for item in self.items], history))
        return hashlib.sha256(made_of.encode()).hexdigest()

    def page_key(self, page: int) -> str:
        """A hash of everything archive page ``page``'s files are made from: its own stories
        only, since a page links older pages alone."""
        items = self.pages[page - 1]
        if items is None:
            return self.earlier_keys[page - 1]
        made_of = repr((RENDERER_VERSION, self.info, page, [item.digest for item in items]))
        return hashlib.sha256(made_of.encode()).hexdigest()

    def archive_paths(self, page: int) -> list[str]:
        """The files of archive page ``page``, one per format."""
        return archive_paths(self.folder, page)


def archive_paths(folder: str, page: int) -> list[str]:
    """The files of archive page ``page`` of the feed in ``folder``, one per format."""
    return [f"{folder}{kind.archive_file(page)}" for kind in FORMATS]


@dataclass(frozen=True)
class BuildPlan:
    """Every output file of a build, with what the report needs to say about it."""

    outputs: Mapping[str, bytes]
    """Every file to write; archive pages are rendered as they are read (see
    :class:`PlannedOutputs`)."""
    feeds: tuple[FeedPlan, ...]
    topics: tuple[Topic, ...]
    warnings: tuple[str, ...] = field(default=())
    rendered: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """Subscription documents rendered by this build (not reused), by
    :attr:`FeedPlan.render_key`."""
    kept: tuple[str, ...] = ()
    """Archive files planned as they already are: not rendered, left untouched, not removed."""
    page_keys: dict[str, str] = field(default_factory=dict)
    """Every archive file with the key of what it is made from (:meth:`FeedPlan.page_key`)."""

    @property
    def selected(self) -> int:
        """Distinct articles in the subscription documents."""
        return selected_count(self.feeds)

    @property
    def subscriptions(self) -> dict[str, str]:
        """Each feed file a reader subscribes to, by path, with the URL its self link gives."""
        return {
            f"{feed.folder}{kind.file}": uri(feed.info.url(kind))
            for feed in self.feeds
            for kind in FORMATS
        }


@dataclass(frozen=True)
class FeedSelection:
    """Every feed to write, every topic with its slug (with a feed or not), what to remember
    of the archives, and warnings."""

    feeds: tuple[FeedPlan, ...]
    topics: tuple[Topic, ...]
    warnings: tuple[str, ...] = ()
    splits: dict[str, ArchiveSplit] = field(default_factory=dict)
    """Each archived feed's split, by feed folder: its pages' sizes and membership changes."""
    signatures: dict[str, str] = field(default_factory=dict)
    """Each archived feed's :func:`layout_signature`, by feed folder."""

    @property
    def selected(self) -> int:
        """Distinct articles in the subscription documents."""
        return selected_count(self.feeds)


def selected_count(feeds: Sequence[FeedPlan]) -> int:
    """Distinct articles in the feeds' subscription documents (archive pages not counted)."""
    return len({item.url for feed in feeds for item in feed.items})


def plan_feeds(
    config: Config,
    catalogue: Catalogue,
    known_slugs: Mapping[str, str] | None = None,
    *,
    kept_topics: Collection[str] = (),
    histories: Histories | None = None,
) -> FeedSelection:
    """The all-topics feed, then one feed per topic that has selected articles or is kept.

    ``known_slugs`` maps topics to the folders earlier builds gave them, so that a topic's
    feed URL never moves. ``kept_topics`` keep their feeds, empty if need be, whether any
    article still carries them or not (their feeds are published and not retired).
    ``histories`` is what earlier builds remember of the archives: a feed whose history is
    known is laid out again from the stories that changed since; without, every story is read.
    """
    site = config.site
    base = site.base_url if site.base_url.endswith("/") else f"{site.base_url}/"
    hub = config.websub.hub
    page_size = config.archive.page_size
    splits: dict[str, ArchiveSplit] = {}
    signatures: dict[str, str] = {}

    def plan(topic: Topic | None, folder: str, info: FeedInfo, rules: Rules) -> FeedPlan:
        name = topic.name if topic else None
        if not config.archive.enabled:
            return FeedPlan(topic, folder, info, tuple(select_from(catalogue, name, rules)))
        signature = layout_signature(info, rules, page_size)
        history = histories.history(folder, name, signature) if histories else None
        split = update_history(catalogue, name, rules, page_size, history) if history else None
        if split is None:
            every = select_every(catalogue, name, rules)
            members = histories.members(folder) if histories else {}
            split = split_history(every, rules.limit, page_size, members)
        splits[folder], signatures[folder] = split, signature
        earlier = history.keys if history else ()
        return FeedPlan(topic, folder, info, split.current, split.pages, True, earlier)

    everything = FeedInfo(site.title, site.description, site.home, base, site.language, hub)
    plans = [plan(None, "", everything, rules_for(None, config.selection, config.topics))]
    # Slugs come from every topic name, selected or not, so a topic's feed URL does not move
    # when another topic with a clashing name gains or loses articles.
    names = {*catalogue.topic_names(), *kept_topics}
    topics, warnings = assign_slugs(names, known_slugs)
    for topic in topics:
        info = FeedInfo(
            title=f"{site.title}: {topic.name}",
            description=f"{site.description}: {topic.name}",
            home=site.home,
            base_url=f"{base}{topic.slug}/",
            language=site.language,
            hub=hub,
        )
        feed = plan(
            topic, f"{topic.slug}/", info, rules_for(topic.name, config.selection, config.topics)
        )
        if feed.items or feed.pages or topic.name in kept_topics:
            plans.append(feed)
    return FeedSelection(tuple(plans), tuple(topics), tuple(warnings), splits, signatures)


def layout_signature(info: FeedInfo, rules: Rules, page_size: int) -> str:
    """What a feed's archive layout and page keys are made from, besides its stories: an
    earlier layout is carried forward only under the same signature."""
    made_of = repr((RENDERER_VERSION, info, rules, page_size))
    return hashlib.sha256(made_of.encode()).hexdigest()


def build(
    config: Config, articles: Sequence[Article], known_slugs: Mapping[str, str] | None = None
) -> BuildPlan:
    """Select and render every feed, the OPML list and the index page of ``articles``."""
    catalogue = ArticleList(articles)
    return render_feeds(config, plan_feeds(config, catalogue, known_slugs), catalogue)


FEED_FILES = tuple(kind.file for kind in FORMATS)
RENDERED_FILES = frozenset((*FEED_FILES, ITEMS_FRAGMENT))
"""What rendering one feed gives: its files and the list of stories on its page."""

ItemMaker = Callable[[Sequence[Candidate]], list[Item]]
"""Makes the :class:`~publisher.feeds.Item` of each story, in order."""


class ItemCache:
    """Each story's items, made once per build however many documents carry it, and made
    together: the first document asked for makes every expected story's items in one batch,
    which a caller's :data:`ItemMaker` may spread over every core."""

    def __init__(self, make: ItemMaker) -> None:
        self._make = make
        self._made: dict[str, Item] = {}
        self._expected: dict[str, Candidate] = {}

    def expect(self, stories: Iterable[Candidate]) -> None:
        """Make ``stories``' items with the next batch."""
        self._expected.update((story.name, story) for story in stories)

    def of(self, stories: Sequence[Candidate]) -> list[Item]:
        """The items of ``stories``, in order."""
        if any(story.name not in self._made for story in stories):
            self.expect(stories)
            todo = [story for name, story in self._expected.items() if name not in self._made]
            self._made.update(zip([story.name for story in todo], self._make(todo), strict=True))
            self._expected.clear()
        return [self._made[story.name] for story in stories]


def render_feed_files(
    info: FeedInfo,
    items: Sequence[Item],
    *,
    page: int | None = None,
    pages: int | None = None,
) -> dict[str, bytes]:
    """Every format's file of one feed document: ``{path in the feed's folder: bytes}``.

    The subscription document, or archive page ``page``; ``pages`` is how many archive pages
    the feed has, ``None`` for a feed without history (archives off).
    """
    files: dict[str, bytes] = {}
    for kind in FORMATS:
        history = None if pages is None else history_of(info, kind, page, pages)
        name = kind.file if page is None else kind.archive_file(page)
        files[name] = kind.assemble(info, items, history)
    return files


def render_feeds(
    config: Config,
    selection: FeedSelection,
    catalogue: Catalogue,
    reuse: Callable[[str], dict[str, bytes]] | None = None,
    unchanged: Callable[[Sequence[str], str], bool] | None = None,
    make_items_of: ItemMaker | None = None,
) -> BuildPlan:
    """Render the selected feeds, their archive pages and web pages, the OPML list and the
    index page.

    ``reuse`` returns the files an earlier build rendered for a render key (or nothing);
    ``unchanged(paths, key)`` says whether archive files still hold what was made from a page
    key. Only the other documents' stories are made into items, each once, all together
    (by ``make_items_of`` when given, else here from the catalogue's articles).
    """
    plans = selection.feeds
    outputs = _Outputs()
    cache = ItemCache(make_items_of or (lambda stories: make_items(catalogue.articles(stories))))
    reused: dict[str, dict[str, bytes]] = {}
    to_render: dict[tuple[str, int], tuple[Candidate, ...]] = {}
    for plan in plans:
        files = reuse(plan.render_key) if reuse else {}
        if files.keys() >= RENDERED_FILES:
            reused[plan.folder] = files
        for number, members in enumerate(plan.pages, start=1):
            paths, key = plan.archive_paths(number), plan.page_key(number)
            if members is not None and not (unchanged and unchanged(paths, key)):
                to_render[plan.folder, number] = members
    cache.expect(
        [
            *(story for plan in plans if plan.folder not in reused for story in plan.items),
            *(story for members in to_render.values() for story in members),
        ]
    )
    rendered: dict[str, dict[str, bytes]] = {}
    items: dict[str, bytes] = {}
    page_keys: dict[str, str] = {}
    for plan in plans:
        feed = f"the feed of topic {plan.topic.name!r}" if plan.topic else "the all-topics feed"
        files = reused.get(plan.folder) or {}
        if not files:
            # Nothing kept, or kept by a version that rendered less: render it all again.
            pages = len(plan.pages) if plan.archived else None
            files = render_feed_files(plan.info, cache.of(plan.items), pages=pages)
            files[ITEMS_FRAGMENT] = render_items(catalogue.articles(plan.items))
            rendered[plan.render_key] = files
        for name in FEED_FILES:
            outputs.add(f"{plan.folder}{name}", files[name], feed)
        items[plan.folder] = files[ITEMS_FRAGMENT]
        for number in range(1, len(plan.pages) + 1):
            paths = plan.archive_paths(number)
            page_keys.update(dict.fromkeys(paths, plan.page_key(number)))
            members = to_render.get((plan.folder, number))
            if members is None:
                for path in paths:
                    outputs.keep(path, feed)
            else:
                outputs.defer(paths, _page_renderer(plan, number, members, cache), feed)
    listings = [
        FeedListing(
            plan.info,
            len(plan.items),
            EPOCH + timedelta(microseconds=plan.items[0].date_us) if plan.items else None,
            plan.folder,
            plan.topic.name if plan.topic else "All topics",
        )
        for plan in plans
    ]
    site = config.site
    outputs.add("feeds.opml", render_opml(site.title, listings), "the OPML list")
    for plan, listing in zip(plans, listings, strict=True):
        if plan.topic and plan.folder:
            page = render_feed_page(listing, items[plan.folder], site.title)
            outputs.add(f"{plan.folder}{PAGE_FILE}", page, f"the page of topic {plan.topic.name!r}")
    index = render_index(
        site.title, site.description, site.language, listings, items[""], config.digest.url
    )
    outputs.add(PAGE_FILE, index, "the index page")
    return BuildPlan(
        outputs.files,
        plans,
        selection.topics,
        selection.warnings,
        rendered,
        tuple(outputs.kept),
        page_keys,
    )


class PlannedOutputs(Mapping[str, bytes]):
    """Every output file of a build, ``{relative path: bytes}``.

    Archive pages are rendered when their bytes are first asked for, a page (all its formats)
    at a time, and not held afterwards: writing a large archive never holds it all in memory.
    Rendering is pure, so asking again renders the same bytes again; it reads the articles
    from the build's catalogue, so ask while that is open (a job's store closes when it ends).
    """

    def __init__(self) -> None:
        self._paths: dict[str, None] = {}
        self._files: dict[str, bytes] = {}
        self._deferred: dict[str, Callable[[], dict[str, bytes]]] = {}
        self._last: dict[str, bytes] = {}

    def put(self, path: str, data: bytes) -> None:
        self._paths[path] = None
        self._files[path] = data

    def put_later(self, paths: Sequence[str], render: Callable[[], dict[str, bytes]]) -> None:
        """Plan ``paths``, whose bytes ``render`` gives all at once, by path."""
        for path in paths:
            self._paths[path] = None
            self._deferred[path] = render

    def __getitem__(self, path: str) -> bytes:
        if path in self._files:
            return self._files[path]
        if path not in self._last:
            self._last = self._deferred[path]()
        return self._last[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def _page_renderer(
    plan: FeedPlan, page: int, stories: Sequence[Candidate], cache: ItemCache
) -> Callable[[], dict[str, bytes]]:
    """Renders archive page ``page`` of a feed: its files by output path."""

    def render() -> dict[str, bytes]:
        files = render_feed_files(plan.info, cache.of(stories), page=page, pages=len(plan.pages))
        return {f"{plan.folder}{name}": data for name, data in files.items()}

    return render


class _Outputs:
    """Output files as they are planned, each path claimed once."""

    def __init__(self) -> None:
        self.files = PlannedOutputs()
        self.kept: list[str] = []
        self.claimants: dict[str, str] = {}

    def add(self, path: str, data: bytes, claimant: str) -> None:
        """Plan ``data`` at ``path``; raise :class:`OutputClash` if it is already taken."""
        self._claim(path, claimant)
        self.files.put(path, data)

    def defer(
        self, paths: Sequence[str], render: Callable[[], dict[str, bytes]], claimant: str
    ) -> None:
        """Plan ``paths``, rendered by ``render`` when their bytes are asked for."""
        for path in paths:
            self._claim(path, claimant)
        self.files.put_later(paths, render)

    def keep(self, path: str, claimant: str) -> None:
        """Plan ``path`` to stay as it is."""
        self._claim(path, claimant)
        self.kept.append(path)

    def _claim(self, path: str, claimant: str) -> None:
        if path in self.claimants:
            raise OutputClash(path, self.claimants[path], claimant)
        self.claimants[path] = claimant
