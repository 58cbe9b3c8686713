"""The issue: which week, which articles, in which order, and what the templates see.

Pure: no clock, no files, no templates. :func:`plan_digest` turns a week's articles into a
:class:`Digest`, the view model that :mod:`publisher.digest.render` renders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.utils import parseaddr
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from publisher.config import WEEKDAYS, Config
from publisher.digest.sections import TopicCounts, arrange, count_topics
from publisher.errors import ConfigError
from publisher.model import Article, Image
from publisher.selection import best_first, deduplicate, is_selectable, rules_for
from publisher.text import headline, summary_of

CONTENT_WIDTH = 560
"""The 600 px container less its 20 px side padding: the widest an image is shown."""
THUMBNAIL_SIZE = 120
"""A thumbnail fits a square of this many pixels."""
ALT_CHARS = 50
"""Alt text is the story's title, cut at a word after this many characters: with images
blocked it shows inside the picture's box."""
EXCERPT_CHARS = 280
KEEP_WHOLE = 0.2
"""An excerpt longer than :data:`EXCERPT_CHARS` is kept whole when cutting it would drop no
more than this share of it (up to 350 characters)."""
PREHEADER_CHARS = 140
"""About what inbox previews show after the subject."""
HEADLINES_FROM = 3
"""An issue of more stories than this opens with a list of its headlines."""
HEADLINES_SHOWN = 5
"""The most headlines in that list: a glance, not a second table of contents."""
SEND_HOUR = time(8, 0)
DASH = "\N{EN DASH}"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")
_WEEK = re.compile(r"(\d{4})-?W(\d{2})", re.IGNORECASE)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True, slots=True, order=True)
class IssueWeek:
    """The seven days an issue covers: from a fixed weekday (``starts``, ISO numbering, 1 for
    Monday) to the day before it comes round again, named after the ISO week of its first day.

    With Monday, the default, that is the ISO week itself. An editor who sends on Wednesdays
    covers Wednesday to Tuesday: ``IssueWeek(2020, 47, starts=3)`` is 18 to 24 November 2020,
    sent on the 25th.
    """

    year: int
    week: int
    starts: int = 1

    @classmethod
    def parse(cls, text: str, starts: int = 1) -> IssueWeek:
        """``2020-W47`` (or ``2020W47``): the issue starting in that ISO week; ``2020-11-20``:
        the issue whose seven days contain that day. Anything else is a :class:`ConfigError`."""
        value = text.strip()
        match = _WEEK.fullmatch(value)
        if match is not None:
            year, week = int(match[1]), int(match[2])
            try:
                first = date.fromisocalendar(year, week, starts)
            except ValueError:
                raise ConfigError(f"{year} has no week {week}", field="--week") from None
            return cls._checked(first, starts)
        if _DAY.fullmatch(value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise ConfigError(f"no such day: {value!r}", field="--week") from None
            return cls.containing(day, starts)
        raise ConfigError(
            f"not an ISO week like 2020-W47 or a day like 2020-11-20: {text!r}", field="--week"
        )

    @classmethod
    def containing(cls, day: date, starts: int = 1) -> IssueWeek:
        """The issue whose seven days contain ``day``."""
        try:
            first = day - timedelta(days=(day.isoweekday() - starts) % 7)
        except OverflowError:
            raise ConfigError(f"{day} is too early for an issue", field="--week") from None
        return cls._checked(first, starts)

    @classmethod
    def last_complete(cls, today: date, starts: int = 1) -> IssueWeek:
        """The last issue week that ended before ``today``."""
        return cls.containing(today - timedelta(days=7), starts)

    @classmethod
    def _checked(cls, first: date, starts: int) -> IssueWeek:
        # A day of margin either side: the week's bounds are taken in any time zone.
        if first <= date.min:
            raise ConfigError(f"{first} is too early for an issue", field="--week")
        if first > date.max - timedelta(days=8):
            raise ConfigError(
                f"the issue starting {first} would be sent after {date.max}", field="--week"
            )
        iso = first.isocalendar()
        return cls(iso.year, iso.week, starts)

    @property
    def first_day(self) -> date:
        return date.fromisocalendar(self.year, self.week, self.starts)

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=6)

    @property
    def send_day(self) -> date:
        """The day after the week ends: the issue's date."""
        return self.first_day + timedelta(days=7)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02}"

    @property
    def key(self) -> str:
        """What names the issue among all others (its files, its record, its send and its
        Message-ID): the label, and the day its week starts on unless Monday (``2020-W47``,
        ``2020-W47-wed``), so that a changed ``digest.week_starts`` makes a new issue."""
        if self.starts == 1:
            return self.label
        return f"{self.label}-{WEEKDAYS[self.starts - 1][:3]}"

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The first day 00:00 (inclusive) to the send day 00:00 (exclusive), local time."""
        start = datetime.combine(self.first_day, time(0), zone)
        return start, datetime.combine(self.send_day, time(0), zone)

    def __str__(self) -> str:
        return self.label


def counted(count: int, word: str, plural: str = "") -> str:
    """``1 story``, ``2 stories``, ``0 sections``."""
    if count == 1:
        return f"1 {word}"
    if not plural:
        plural = (
            f"{word[:-1]}ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else f"{word}s"
        )
    return f"{count} {plural}"


class Period(Protocol):
    """The days an issue covers: a week (:class:`IssueWeek`), a day or a month."""

    @property
    def starts(self) -> int: ...
    @property
    def first_day(self) -> date: ...
    @property
    def last_day(self) -> date: ...
    @property
    def send_day(self) -> date: ...
    @property
    def label(self) -> str: ...
    @property
    def key(self) -> str: ...
    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]: ...


def weekday_number(name: str) -> int:
    """``"wednesday"`` → 3 (ISO numbering); names as ``digest.week_starts`` takes them."""
    return WEEKDAYS.index(name.lower()) + 1


@dataclass(frozen=True, slots=True)
class StoryImage:
    """An image as the email shows it: https, integer width and height, and a short alt.

    ``cropped`` when the source gave no size: the box is a fixed shape and the picture is
    cropped to it (``object-fit: cover``) where the client can.
    """

    url: str
    width: int
    height: int
    alt: str
    cropped: bool = False


@dataclass(frozen=True, slots=True)
class Story:
    """One article as the newsletter lists it, its text plain; ``url`` already carries the
    UTM parameters, ``article_url`` is the link as the article file gives it."""

    title: str
    url: str
    article_url: str
    provider: str
    date: str
    excerpt: str
    is_video: bool
    image: StoryImage | None
    """The lead's picture, the width of the issue; ``None`` for the other stories."""
    thumbnail: StoryImage | None = None
    """A small picture beside the story: its own image, else its provider's logo."""


@dataclass(frozen=True, slots=True)
class Section:
    """A topic and its stories, best first."""

    topic: str
    stories: tuple[Story, ...]


@dataclass(frozen=True)
class Digest:
    """Everything the templates see: one week's issue, ready to render."""

    week: Period
    sent_at: datetime
    subject: str
    """Rendered from ``digest.subject`` by :mod:`publisher.digest.render`; empty until then."""
    preheader: str
    lead: Story | None
    sections: tuple[Section, ...]
    site_title: str
    site_link: str
    language: str
    sender: str
    list_address: str
    list_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    postal_address: str
    top_titles: tuple[str, ...] = ()
    lead_section: str = ""
    """The section the lead story belongs to (it is shown on its own, above the sections)."""
    left_out: int = 0
    """Qualifying stories of the week that did not fit (``per_topic``, ``max_stories``)."""
    web_url: str = ""
    """The issue's web page ("view in browser"), when ``archive_url`` or ``url`` is set."""

    @property
    def issue_date(self) -> date:
        return self.sent_at.date()

    @property
    def archive_title(self) -> str:
        """``<site title> (<issue date>)``: the archive page's title, the same every week."""
        return f"{self.site_title} ({self.issue_date.isoformat()})"

    @property
    def subject_values(self) -> dict[str, object]:
        """What a ``digest.subject`` template may use."""
        return {
            "site": self.site_title,
            "lead": self.lead.title if self.lead else "",
            "count": len(self.stories),
            "more": max(0, len(self.stories) - 1),
            "week": self.week.label,
            "start": self.week.first_day,
            "end": self.week.last_day,
            "date": self.issue_date,
            "period": self.period,
        }

    @property
    def heading(self) -> str:
        """What the issue covers, as its masthead says: ``The week of 16-22 November 2026``,
        ``16 November 2026`` or ``November 2026``."""
        first, last = self.week.first_day, self.week.last_day
        return f"The week of {self.period}" if last - first == timedelta(days=6) else self.period

    @property
    def period(self) -> str:
        """``16-22 November 2026`` (with an en dash), or ``30 November - 6 December 2026``."""
        first, last = self.week.first_day, self.week.last_day
        if first == last:
            return _long_date(first)
        if first.day == 1 and last.month == first.month and (last + timedelta(days=1)).day == 1:
            return f"{_MONTHS[first.month - 1]} {first.year}"
        if first.year != last.year:
            return f"{_long_date(first)} {DASH} {_long_date(last)}"
        if first.month != last.month:
            return f"{first.day} {_MONTHS[first.month - 1]} {DASH} {_long_date(last)}"
        return f"{first.day}{DASH}{_long_date(last)}"

    @property
    def stories(self) -> tuple[Story, ...]:
        lead = (self.lead,) if self.lead else ()
        return lead + tuple(story for section in self.sections for story in section.stories)

    @property
    def headlines(self) -> tuple[Story, ...]:
        """The stories listed at the top of an issue of more than :data:`HEADLINES_FROM`: the
        first :data:`HEADLINES_SHOWN`; none in a short issue, which is its own list."""
        stories = self.stories
        return stories[:HEADLINES_SHOWN] if len(stories) > HEADLINES_FROM else ()

    @property
    def more_headlines(self) -> str:
        """``and 10 more stories below`` after the list of headlines, or nothing."""
        rest = len(self.stories) - len(self.headlines) if self.headlines else 0
        return f"and {counted(rest, 'more story', 'more stories')} below" if rest else ""

    @property
    def summary(self) -> str:
        """``2 stories in 1 section``."""
        return f"{counted(len(self.stories), 'story')} in {counted(len(self.sections), 'section')}"

    @property
    def is_empty(self) -> bool:
        return not self.stories

    @property
    def unsubscribe_link(self) -> str:
        """The link the footer shows: the web page when there is one, else the mailto."""
        return self.unsubscribe_url or self.unsubscribe_mailto_link

    @property
    def unsubscribe_mailto_link(self) -> str:
        """``mailto:…?subject=unsubscribe``, or nothing when the list has no such address."""
        if not self.unsubscribe_mailto:
            return ""
        return f"mailto:{self.unsubscribe_mailto}?subject=unsubscribe"


# Selection ----------------------------------------------------------------------------------


def week_articles(config: Config, articles: Iterable[Article], week: Period) -> list[Article]:
    """Articles published in ``week`` (configured time zone) that a feed would select, best first.

    An article counts when some topic's rules (or the site-wide rules, when it has no topic)
    select it; copies of one story are reduced to the best one.
    """
    start, end = week.bounds(ZoneInfo(config.digest.timezone))
    chosen = [
        article
        for article in articles
        if start <= article.published_at < end and qualifies(config, article)
    ]
    return sorted(deduplicate(chosen), key=best_first)


def qualifies(config: Config, article: Article) -> bool:
    """Some topic's rules (or the site-wide rules, when it has no topic) select ``article``."""
    topics: Sequence[str | None] = article.topics or (None,)
    return any(
        is_selectable(article, rules_for(topic, config.selection, config.topics))
        for topic in topics
    )


# The issue ----------------------------------------------------------------------------------


def plan_digest(
    config: Config,
    articles: Iterable[Article],
    week: Period,
    counts: TopicCounts | None = None,
    chosen: Iterable[Article] | None = None,
) -> Digest:
    """The issue for ``week``: what it says, to whom, and when; it may have no stories.

    ``counts`` are the topic counts of the whole collection (see :class:`TopicCounts`); without
    them they are counted from ``articles``, which should then be the whole collection.
    ``chosen`` are the issue's articles when an edition chose them (see
    :func:`publisher.digest.edition.holding`); by default, the week's.
    """
    digest_config = config.digest
    _check_list_settings(config)
    zone = ZoneInfo(digest_config.timezone)
    articles = list(articles)
    if counts is None:
        counts = count_topics(config, articles)
    if chosen is None:
        ranked = week_articles(config, articles, week)
    else:
        ranked = sorted(deduplicate(chosen), key=best_first)
    arrangement = arrange(config, ranked, counts)
    lead = arrangement.lead
    sections = arrangement.sections
    # The day after the week, at a fixed hour: a rerun gives the same Date header.
    sent_at = datetime.combine(week.send_day, SEND_HOUR, zone)
    site = config.site

    def story(article: Article, *, is_lead: bool = False) -> Story:
        return _story(config, week, zone, article, lead=is_lead)

    lead_story = story(lead, is_lead=True) if lead else None
    shown = tuple(
        Section(topic, tuple(story(article) for article in group)) for topic, group in sections
    )
    ordered = ([lead_story] if lead_story else []) + [
        s for section in shown for s in section.stories
    ]
    top_titles = tuple(item.title for item in ordered[:3])
    return Digest(
        week=week,
        sent_at=sent_at,
        subject="",
        preheader=_preheader(ordered),
        lead=lead_story,
        lead_section=arrangement.lead_section,
        sections=shown,
        left_out=arrangement.left_out,
        site_title=site.title,
        site_link=site.home,
        language=site.language,
        sender=digest_config.sender,
        list_address=digest_config.list_address,
        list_id=digest_config.list_id or digest_config.list_address.replace("@", "."),
        unsubscribe_url=digest_config.unsubscribe_url,
        unsubscribe_mailto=digest_config.unsubscribe_mailto,
        postal_address=digest_config.postal_address,
        top_titles=top_titles,
    )


# Links and text -----------------------------------------------------------------------------


def add_utm(url: str, *, source: str, campaign: str, medium: str = "email") -> str:
    """``url`` with ``utm_source``, ``utm_medium`` and ``utm_campaign`` set.

    Other query parameters are kept exactly as written (order and encoding), and so is the
    fragment; earlier ``utm_*`` values for these three keys are replaced, since this link is
    the email's.
    """
    parts = urlsplit(url)
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and pair.split("=", 1)[0].lower() not in UTM_KEYS
    ]
    ours = [
        f"{key}={quote(value, safe='')}"
        for key, value in zip(UTM_KEYS, (source, medium, campaign), strict=True)
    ]
    return urlunsplit(parts._replace(query="&".join(kept + ours)))


def shorten(text: str, limit: int = EXCERPT_CHARS, *, keep_whole: float = KEEP_WHOLE) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis.

    A text that would lose no more than ``keep_whole`` of itself is kept whole: cutting the
    last few words of a story's excerpt saves a line and loses its point.
    """
    if len(text) <= limit or len(text) - limit <= keep_whole * len(text):
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(f" ,;:.-{DASH}\N{EM DASH}") + "…"


def _story(config: Config, week: Period, zone: ZoneInfo, article: Article, *, lead: bool) -> Story:
    digest_config = config.digest
    url = article.url
    if digest_config.utm:
        url = add_utm(url, source=digest_config.utm_source, campaign=week.label)
    image = article.lead_image
    logo = article.provider.logo if article.provider else None
    title = headline(article.title)
    picture = None
    if image and lead:
        picture = _story_image(image, title, CONTENT_WIDTH, CONTENT_WIDTH * 9 // 16)
    return Story(
        title=title,
        url=url,
        article_url=article.url,
        provider=article.provider.name if article.provider else "",
        date=_short_date(article.published_at.astimezone(zone).date()),
        excerpt=shorten(summary_of(article.title, article.excerpt)),
        is_video=article.is_video,
        image=picture,
        thumbnail=None if picture else _thumbnail(image or logo, title),
    )


def _thumbnail(image: Image | None, title: str) -> StoryImage | None:
    if image is None:
        return None
    return _story_image(image, title, THUMBNAIL_SIZE, THUMBNAIL_SIZE * 2 // 3, THUMBNAIL_SIZE)


def _story_image(
    image: Image, title: str, max_width: int, unknown_height: int, max_height: int = 0
) -> StoryImage:
    """The picture scaled down (never up) to ``max_width`` and, when given, ``max_height``,
    keeping its shape; without a known size, a box ``max_width`` by ``unknown_height``."""
    alt = shorten(image.title or title, ALT_CHARS, keep_whole=0)
    if not (image.width and image.height):
        return StoryImage(image.url, max_width, unknown_height, alt, cropped=True)
    scale = min(1.0, max_width / image.width)
    if max_height:
        scale = min(scale, max_height / image.height)
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    return StoryImage(image.url, width, height, alt)


def _preheader(stories: Sequence[Story]) -> str:
    """The inbox's preview line: the headlines after the lead (which the subject names), or
    the lead's excerpt when it is the only story."""
    if not stories:
        return ""
    text = " · ".join(story.title for story in stories[1:]) or stories[0].excerpt
    return shorten(text, PREHEADER_CHARS, keep_whole=0)


def _short_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1][:3]} {day.year}"


def _long_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _check_list_settings(config: Config) -> None:
    """What the law (CAN-SPAM) and RFC 8058 need before anything is rendered."""
    digest_config = config.digest
    if not (digest_config.unsubscribe_url or digest_config.unsubscribe_mailto):
        raise ConfigError(
            "set unsubscribe_url or unsubscribe_mailto: every issue needs an unsubscribe link",
            field="digest",
        )
    if digest_config.unsubscribe_url and not digest_config.unsubscribe_url.startswith("https://"):
        raise ConfigError(
            "must be an https URL (one-click unsubscribe needs https)",
            field="digest.unsubscribe_url",
        )
    if not digest_config.postal_address.strip():
        raise ConfigError(
            "required: every issue must show the sender's postal address",
            field="digest.postal_address",
        )
    for key, value in (
        ("digest.sender", digest_config.sender),
        ("digest.list_address", digest_config.list_address),
    ):
        if "@" not in parseaddr(value)[1]:
            raise ConfigError(f"not an email address: {value!r}", field=key)


def issue_page_url(config: Config, archive_name: str, key: str) -> str:
    """Where an issue is on the web: its archive page (``archive_name`` under
    ``digest.archive_url``), else its HTML file (``<key>.html``) under ``digest.url``, else
    nothing."""
    if config.digest.archive_url:
        return f"{folder_url(config.digest.archive_url)}{archive_name}"
    if config.digest.url:
        return f"{folder_url(config.digest.url)}{key}.html"
    return ""


def folder_url(url: str) -> str:
    """``url`` ending in ``/``, so a file name can follow; empty stays empty."""
    return url if not url or url.endswith("/") else f"{url}/"
