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

from publisher.archives import (
    ArchiveSplit,
    Histories,
    archive_paths,
    layout_signature,
    split_history,
    update_history,
)
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
    ArticleList,
    Catalogue,
    Rules,
    assign_slugs,
    rules_for,
    select_every,
    select_from,
)


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


@dataclass(frozen=True)
class BuildPlan:
    """Every output file of a build, with what the report needs to say about it."""

    outputs: PlannedOutputs
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
            home=f"{base}{topic.slug}/",  # the topic's own page, index.html in its folder
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


def build(
    config: Config, articles: Sequence[Article], known_slugs: Mapping[str, str] | None = None
) -> BuildPlan:
    """Select and render every feed, the OPML list and the index page of ``articles``."""
    catalogue = ArticleList(articles)
    return render_feeds(config, plan_feeds(config, catalogue, known_slugs), catalogue)


FEED_FILES = tuple(kind.file for kind in FORMATS)
RENDERED_FILES = frozenset((*FEED_FILES, ITEMS_FRAGMENT))
"""What rendering one feed gives: its files and the list of stories on its page."""

ItemMaker = Callable[[Sequence[Candidate]], Callable[[], list[Item]]]
"""Starts making the :class:`~publisher.feeds.Item` of each story; the function it returns
waits for them, in order. A maker may make them on other cores meanwhile."""


def made_here(catalogue: Catalogue) -> ItemMaker:
    """Makes items in this process, from the catalogue's articles, when they are asked for."""

    def start(stories: Sequence[Candidate]) -> Callable[[], list[Item]]:
        items = make_items(catalogue.articles(stories))
        return lambda: items

    return start


ITEMS_PER_BATCH = 2_500
"""Stories made into items at a time: few enough to hold, and to make the next batch while
the pages of this one are written; many enough to share out among the cores."""


class ItemCache:
    """Each story's items, made once per build however many documents carry it.

    Documents are expected in the order they will be rendered. The first one asked for makes
    its own stories' items and those of the documents after it, up to ``batch`` stories, and
    starts making the next batch at once, so the documents of one batch are rendered and
    written while the next is made. A story's items are let go once every expected document
    that carries it has been rendered: memory holds the documents being written and the
    stories they share, not the whole archive.
    """

    def __init__(self, make: ItemMaker, batch: int = ITEMS_PER_BATCH) -> None:
        self._make, self._batch = make, batch
        self._made: dict[str, Item] = {}
        self._expected: list[Candidate] = []
        self._next = 0
        self._uses: dict[str, int] = {}
        self._pending: tuple[list[str], Callable[[], list[Item]]] | None = None

    def expect(self, stories: Iterable[Candidate]) -> None:
        """A document of ``stories`` will be rendered (and :meth:`release` d) after those
        expected before it."""
        for story in stories:
            self._expected.append(story)
            self._uses[story.name] = self._uses.get(story.name, 0) + 1

    def of(self, stories: Sequence[Candidate]) -> list[Item]:
        """The items of ``stories``, in order."""
        if any(story.name not in self._made for story in stories):
            self._collect()
            todo = {story.name: story for story in stories if story.name not in self._made}
            if todo:
                self._take(self._batch_after(todo))
            self._prefetch()
        return [self._made[story.name] for story in stories]

    def __len__(self) -> int:
        """How many stories' items are held now."""
        return len(self._made)

    def release(self, stories: Iterable[Candidate]) -> None:
        """A document of ``stories`` is rendered: let go of items no other one still needs."""
        for story in stories:
            left = self._uses.get(story.name, 0) - 1
            self._uses[story.name] = left
            if left <= 0:
                self._made.pop(story.name, None)

    def _batch_after(self, todo: dict[str, Candidate]) -> dict[str, Candidate]:
        """``todo`` and the next expected stories not made yet, up to a batch."""
        while self._next < len(self._expected) and len(todo) < self._batch:
            story = self._expected[self._next]
            # A story whose documents are all rendered is needed no more.
            if story.name not in self._made and self._uses[story.name] > 0:
                todo.setdefault(story.name, story)
            self._next += 1
        return todo

    def _take(self, todo: dict[str, Candidate]) -> None:
        self._made.update(zip(todo, self._make(list(todo.values()))(), strict=True))

    def _prefetch(self) -> None:
        todo = self._batch_after({})
        if todo:
            self._pending = (list(todo), self._make(list(todo.values())))

    def _collect(self) -> None:
        if self._pending is not None:
            names, wait = self._pending
            self._pending = None
            self._made.update(zip(names, wait(), strict=True))


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
    cache = ItemCache(make_items_of or made_here(catalogue))
    reused = {folder: files for folder, files in _reusable(plans, reuse)}
    to_render = _pages_to_render(plans, unchanged)
    for plan in plans:
        if plan.folder not in reused:
            cache.expect(plan.items)
    for members in to_render.values():
        cache.expect(members)
    rendered: dict[str, dict[str, bytes]] = {}
    items: dict[str, bytes] = {}
    page_keys: dict[str, str] = {}
    for plan in plans:
        feed = f"the feed of topic {plan.topic.name!r}" if plan.topic else "the all-topics feed"
        files = reused.get(plan.folder) or {}
        if not files:
            pages = len(plan.pages) if plan.archived else None
            files = render_feed_files(plan.info, cache.of(plan.items), pages=pages)
            cache.release(plan.items)
            files[ITEMS_FRAGMENT] = render_items(catalogue.articles(plan.items))
            rendered[plan.render_key] = files
        for name in FEED_FILES:
            outputs.add(f"{plan.folder}{name}", files[name], feed)
        items[plan.folder] = files[ITEMS_FRAGMENT]
        for number in range(1, len(plan.pages) + 1):
            paths = plan.archive_paths(number)
            page_keys.update(dict.fromkeys(paths, plan.page_key(number)))
            if (plan.folder, number) in to_render:
                outputs.claim(paths, feed)
            else:
                for path in paths:
                    outputs.keep(path, feed)
    by_folder = {plan.folder: plan for plan in plans}
    for (folder, number), members in to_render.items():
        plan = by_folder[folder]
        outputs.files.put_later(
            plan.archive_paths(number), _page_renderer(plan, number, members, cache)
        )
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
            page = render_feed_page(listing, items[plan.folder], site.title, site.home)
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


def _reusable(
    plans: Sequence[FeedPlan], reuse: Callable[[str], dict[str, bytes]] | None
) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Each feed folder whose subscription documents an earlier build rendered, with them."""
    for plan in plans:
        files = reuse(plan.render_key) if reuse else {}
        # Kept by a version that rendered less: rendered again.
        if files.keys() >= RENDERED_FILES:
            yield plan.folder, files


def _pages_to_render(
    plans: Sequence[FeedPlan], unchanged: Callable[[Sequence[str], str], bool] | None
) -> dict[tuple[str, int], tuple[Candidate, ...]]:
    """Every archive page that is not kept as it is (by feed folder and number), with its
    stories, oldest page first across feeds: pages that share stories are then made, and let
    go of, together."""
    pages = {
        (plan.folder, number): members
        for plan in plans
        for number, members in enumerate(plan.pages, start=1)
        if members is not None
        and not (unchanged and unchanged(plan.archive_paths(number), plan.page_key(number)))
    }
    return dict(
        sorted(pages.items(), key=lambda page: min((s.date_us for s in page[1]), default=0))
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

    def writing_order(self) -> list[str]:
        """Archive pages first, in the order they were planned (pages sharing stories
        together), then every other file by path: a subscription document is written after
        the pages it links."""
        return [*self._deferred, *sorted(self._files)]


def _page_renderer(
    plan: FeedPlan, page: int, stories: Sequence[Candidate], cache: ItemCache
) -> Callable[[], dict[str, bytes]]:
    """Renders archive page ``page`` of a feed: its files by output path."""

    def render() -> dict[str, bytes]:
        files = render_feed_files(plan.info, cache.of(stories), page=page, pages=len(plan.pages))
        cache.release(stories)
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

    def claim(self, paths: Sequence[str], claimant: str) -> None:
        """Take ``paths`` for files planned later (:meth:`PlannedOutputs.put_later`)."""
        for path in paths:
            self._claim(path, claimant)

    def keep(self, path: str, claimant: str) -> None:
        """Plan ``path`` to stay as it is."""
        self._claim(path, claimant)
        self.kept.append(path)

    def _claim(self, path: str, claimant: str) -> None:
        if path in self.claimants:
            raise OutputClash(path, self.claimants[path], claimant)
        self.claimants[path] = claimant
