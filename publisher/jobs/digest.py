"""The ``digest`` job: one week's newsletter planned, rendered and written, then sent when
asked, with the send recorded before and after so the list is mailed once; and the same issue
rendered for a preview, with nothing written or sent."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from publisher.config import DEFAULT_SITE_URL, Config, check_folders
from publisher.errors import PreviewError, PublisherError, SendError
from publisher.jobs.prelude import LoadReport, StoredArticles, load_content, with_store
from publisher.lock import job_lock
from publisher.model import Article
from publisher.output import ForeignFiles, foreign_files, write_outputs
from publisher.state import SendRecord, Store

SEARCHED_PERIODS = 52
"""How far back a preview looks for the latest issue with articles: a year of weekly issues."""
EARLIEST = datetime(1, 1, 3, tzinfo=UTC)
"""Before any article: the earliest moment every time zone can name."""

if TYPE_CHECKING:
    from publisher.digest.edition import Edition, SentArticles
    from publisher.digest.issue import Digest, Period
    from publisher.digest.render import RenderedDigest


@dataclass(frozen=True)
class DigestRequest:
    """What ``publisher digest`` was asked to do."""

    week: Period
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
    edition: Edition | None = None
    """The edition (``None``: ``[digest]``, the default one)."""

    @property
    def send_key(self) -> str:
        """What names this issue among the list's sends: an edition's own periods never
        meet another's."""
        name = self.edition.name if self.edition else ""
        return f"{name}:{self.week.key}" if name else self.week.key


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
    late: list[str] = field(default_factory=list)
    """Articles of earlier periods this issue holds (their files)."""
    too_late: list[str] = field(default_factory=list)
    """Articles dated past ``late_days`` that no issue held: named, never sent."""
    held: list[str] = field(default_factory=list)
    """The URLs of the articles the issue holds, recorded when it is sent to the list."""


def run_digest(config: Config, request: DigestRequest, *, wait: float = 60.0) -> DigestOutcome:
    """Write one week's newsletter and send it when asked, holding ``digest.out``'s lock, so
    that the "already sent?" check, the send and its record are one step: two overlapping
    runs mail the list once."""
    check_folders(config, source="")
    with job_lock(Path(config.cache_dir), Path(config.digest.out), wait):
        outcome = with_store(
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
    from publisher.digest.edition import SentArticles, edition_of, holding
    from publisher.digest.render import inline_css, render_digest, template_folder
    from publisher.preview import find_browser

    template_folder(config)  # a misspelt folder fails before any work is done
    browser = find_browser() if request.preview else None
    content = load_content(store, Path(config.content))
    warnings.extend(str(warning) for warning in content.loaded.warnings)
    edition = request.edition or edition_of(config)
    sent = SentArticles(*_sent(store, edition.name))
    start = min(request.week.bounds(edition.zone)[0], _first(sent, edition))
    start -= timedelta(days=edition.late_days)
    end = request.week.bounds(edition.zone)[1]
    held = holding(edition, request.week, content.catalogue.published_between(start, end), sent)
    issue = _plan_issue(config, content.catalogue, request.week, held.articles)
    outcome = DigestOutcome(content.loaded, issue, warnings=warnings)
    outcome.late = [article.path for article in held.late]
    outcome.too_late = [article.path for article in held.too_late]
    if held.too_late:
        outcome.warnings.append(
            f"not sent, dated more than {edition.late_days} days before {request.week.label}:"
            f" {', '.join(outcome.too_late)}"
        )
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


def _plan_issue(
    config: Config, catalogue: StoredArticles, week: Period, chosen: list[Article] | None = None
) -> Digest:
    """The issue of ``week``, planned from the articles of ``catalogue`` (or ``chosen``)."""
    from publisher.digest.issue import plan_digest
    from publisher.digest.sections import counts_from_rows

    start, end = week.bounds(ZoneInfo(config.digest.timezone))
    counts = counts_from_rows(config, *catalogue.store.topic_quality_counts(catalogue.source))
    articles = catalogue.published_between(start, end) if chosen is None else chosen
    return plan_digest(config, articles, week, counts, chosen)


def _sent(store: Store, edition: str) -> tuple[date | None, dict[str, str], frozenset[str]]:
    first, held, periods = store.edition_sends(edition)
    return (date.fromisoformat(first) if first else None), held, frozenset(periods)


def _first(sent: SentArticles, edition: Edition) -> datetime:
    if sent.first_day is None:
        return datetime.max.replace(tzinfo=edition.zone)
    return datetime.combine(sent.first_day, time(0), edition.zone)


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
    issue_week = request.week
    week = request.send_key
    moment = request.now.isoformat(timespec="seconds") if request.now else ""
    if to_list:
        # Claimed before sending, in one step with the check: if the record cannot be written,
        # nothing is sent; if the run dies mid-send, the list is not mailed again without
        # --resend.
        identifier = message_id(rendered.digest)
        outcome.already_sent = earlier = store.claim_send(
            list_address,
            week,
            identifier,
            moment,
            resend=request.resend,
            starts=issue_week.starts,
            label=issue_week.label,
        )
        if earlier:
            if earlier.week_starts is None and issue_week.starts != 1:
                outcome.warnings.append(
                    f"{issue_week.label} was sent to the list before publisher recorded the day"
                    " its weeks start on, and is taken as this issue; if that was an issue of"
                    " weeks starting on another day, send this one with --resend"
                )
            return
        edition = request.edition.name if request.edition else ""
        held = [story.article_url for story in rendered.digest.stories]
        store.keep_edition_issue(edition, issue_week.key, issue_week.first_day.isoformat(), held)
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
            store.forget_edition_issue(
                request.edition.name if request.edition else "", issue_week.key
            )
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
    week = rendered.digest.week
    earlier = store.issue(folder, week.key)
    if earlier is None and week.key != week.label:
        # Recorded under its plain label before an issue's name held the day its week starts
        # on: the same issue if it went out on the same day, kept as one feed entry.
        named = store.issue(folder, week.label)
        if named is not None and named.sent_at == issue_record(rendered, None, now).sent_at:
            store.forget_issue(folder, week.label)
            earlier = named
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
    _update_issue_pages(store, config, outcome, force=force)


def _update_issue_pages(
    store: Store, config: Config, outcome: DigestOutcome, *, force: bool = False
) -> None:
    """Rewrite ``index.html`` and ``latest.html`` of the folder's issues from the store, as
    the feeds are: every issue written there, newest first."""
    from publisher.digest.web import INDEX_ISSUES, issue_pages

    out_dir = Path(config.digest.out)
    pages = issue_pages(config, store.issues(os.path.realpath(out_dir), INDEX_ISSUES))
    _write_kept(store, out_dir, pages, force=force)
    outcome.files.extend(str(out_dir / name) for name in sorted(pages))


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


def preview_digest(
    config: Config, week: Period, *, wait: float = 60.0, edition: Edition | None = None
) -> RenderedDigest | None:
    """One period's newsletter rendered as ``digest`` would write it, for a preview: nothing
    is written, sent or recorded (the parse cache is brought up to date, as by ``check``).
    ``None`` for a period with no articles. ``edition`` (default: ``[digest]``) chooses the
    articles and the settings; ``config`` then is ``edition.config``."""

    def render(store: Store, warnings: list[str]) -> RenderedDigest | None:
        content = load_content(store, Path(config.content))
        return _preview(store, config, content.catalogue, week, edition)

    rendered: RenderedDigest | None = with_store(config, wait, render)
    return rendered


def latest_preview(
    edition: Edition, today: date, *, periods: int = SEARCHED_PERIODS, wait: float = 60.0
) -> tuple[Period, RenderedDigest] | None:
    """The newest of the edition's issues that has articles, rendered as
    :func:`preview_digest` does: searched from the period holding ``today`` back through at
    most ``periods`` periods, then, if none has any, from the newest qualifying article's
    period (a collection whose news stopped long ago still shows its last issue); ``None``
    when the edition has no article up to ``today``."""
    config = edition.config

    def render(store: Store, warnings: list[str]) -> tuple[Period, RenderedDigest] | None:
        catalogue = load_content(store, Path(config.content)).catalogue
        period = edition.containing(today)
        found, oldest = _search_back(store, edition, catalogue, period, periods)
        if found is None and oldest is not None:
            dates = (
                article.published_at
                for article in catalogue.published_between(EARLIEST, oldest.bounds(edition.zone)[1])
                if edition.qualifies(article)
            )
            if newest := max(dates, default=None):
                start = edition.containing(newest.astimezone(edition.zone).date())
                found = _search_back(store, edition, catalogue, start, periods)[0]
        return found

    found: tuple[Period, RenderedDigest] | None = with_store(config, wait, render)
    return found


def _search_back(
    store: Store, edition: Edition, catalogue: StoredArticles, period: Period, periods: int
) -> tuple[tuple[Period, RenderedDigest] | None, Period | None]:
    """The first of ``periods`` periods from ``period`` back whose issue has articles, and
    the period it would look at next (``None`` when the calendar ran out)."""
    for _ in range(periods):
        start, end = period.bounds(edition.zone)
        if any(map(edition.qualifies, catalogue.published_between(start, end))):
            rendered = _preview(store, edition.config, catalogue, period, edition)
            if rendered is not None:
                return (period, rendered), period
        try:
            period = edition.before(period)
        except (PublisherError, ValueError, OverflowError):  # the start of the calendar
            return None, None
    return None, period


def _preview(
    store: Store,
    config: Config,
    catalogue: StoredArticles,
    period: Period,
    edition: Edition | None,
) -> RenderedDigest | None:
    from publisher.digest.render import render_digest

    chosen = None
    if edition is not None and edition.name:
        start, end = period.bounds(edition.zone)
        chosen = [a for a in catalogue.published_between(start, end) if edition.qualifies(a)]
    issue = _plan_issue(config, catalogue, period, chosen)
    if issue.is_empty:
        return None
    return render_digest(config, issue, compiled=(store.compiled, store.keep_compiled))


def _premailer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("premailer") + "/" + version("cssutils")
    except PackageNotFoundError:
        return ""
