"""Editions: a newsletter per audience and cadence, and which articles each issue holds.

Pure: the store's record of what an edition sent comes in as :class:`SentArticles`.
``[digest]`` is the default edition (named ``""``): weekly, every topic, today's folders.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from publisher.config import Config, DigestConfig, check_config
from publisher.digest.issue import IssueWeek, Period, qualifies, weekday_number
from publisher.errors import ConfigError
from publisher.model import Article

DEFAULT_LATE_DAYS = 7
_MONTH = re.compile(r"(\d{4})-(\d{2})")
FLAGS = {"daily": "--day", "weekly": "--week", "monthly": "--month"}


class _CalendarPeriod:
    """What a day and a month share: named by their label, bounded by their first and last
    day in the edition's time zone."""

    __slots__ = ()

    @property
    def key(self: Period) -> str:
        return self.label

    def bounds(self: Period, zone: ZoneInfo) -> tuple[datetime, datetime]:
        return _bounds(self, zone)

    def __str__(self: Period) -> str:
        return self.label


@dataclass(frozen=True, slots=True, order=True)
class IssueDay(_CalendarPeriod):
    """One calendar day, sent the next."""

    day: date
    starts: int = 1

    @classmethod
    def parse(cls, text: str) -> IssueDay:
        try:
            return cls(date.fromisoformat(text.strip()))
        except ValueError:
            raise ConfigError(f"not a day like 2020-11-16: {text!r}", field="--day") from None

    @property
    def first_day(self) -> date:
        return self.day

    @property
    def last_day(self) -> date:
        return self.day

    @property
    def send_day(self) -> date:
        return self.day + timedelta(days=1)

    @property
    def label(self) -> str:
        return self.day.isoformat()


@dataclass(frozen=True, slots=True, order=True)
class IssueMonth(_CalendarPeriod):
    """One calendar month, sent on the first day of the next."""

    year: int
    month: int
    starts: int = 1

    @classmethod
    def parse(cls, text: str) -> IssueMonth:
        match = _MONTH.fullmatch(text.strip())
        if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
            raise ConfigError(f"not a month like 2020-11: {text!r}", field="--month")
        return cls(int(match[1]), int(match[2]))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def send_day(self) -> date:
        return self.last_day + timedelta(days=1)

    @property
    def label(self) -> str:
        return f"{self.year:04}-{self.month:02}"


def _bounds(period: Period, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(period.first_day, time(0), zone)
    return start, datetime.combine(period.send_day, time(0), zone)


@dataclass(frozen=True)
class Edition:
    """One edition, its settings merged over ``[digest]``: ``config.digest`` is the edition's."""

    name: str
    config: Config
    topics: tuple[str, ...] = ()
    cadence: str = "weekly"
    late_days: int = DEFAULT_LATE_DAYS

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.digest.timezone)

    def period(self, given: Mapping[str, str | None], today: date) -> Period:
        """The period named by the one flag given (``--day``, ``--week`` or ``--month``), or
        the last complete one before ``today``; a flag of another cadence is a usage error."""
        named = {flag: value for flag, value in given.items() if value}
        own = FLAGS[self.cadence]
        for flag in named:
            if flag != own:
                raise ConfigError(
                    f"{flag}: the {self.title} edition is {self.cadence}; name its issue with {own}"
                )
        text = named.get(own)
        starts = weekday_number(self.config.digest.week_starts)
        if self.cadence == "daily":
            return IssueDay.parse(text) if text else IssueDay(today - timedelta(days=1))
        if self.cadence == "monthly":
            if text:
                return IssueMonth.parse(text)
            last = today.replace(day=1) - timedelta(days=1)
            return IssueMonth(last.year, last.month)
        return IssueWeek.parse(text, starts) if text else IssueWeek.last_complete(today, starts)

    def containing(self, day: date) -> Period:
        """The edition's period that holds ``day``."""
        if self.cadence == "daily":
            return IssueDay(day)
        if self.cadence == "monthly":
            return IssueMonth(day.year, day.month)
        return IssueWeek.containing(day, weekday_number(self.config.digest.week_starts))

    def before(self, period: Period) -> Period:
        """The period just before ``period``."""
        return self.containing(period.first_day - timedelta(days=1))

    def after(self, period: Period) -> Period:
        """The period just after ``period``."""
        return self.containing(period.last_day + timedelta(days=1))

    @property
    def title(self) -> str:
        return repr(self.name) if self.name else "default"

    def qualifies(self, article: Article) -> bool:
        """The article is selectable and carries one of the edition's topics (any, if none)."""
        if self.topics and not set(article.topics) & set(self.topics):
            return False
        return qualifies(self.config, article)


def edition_of(config: Config, name: str = "") -> Edition:
    """The edition called ``name`` (``""``: ``[digest]``), its settings checked."""
    if not name:
        return Edition("", config)
    table = config.editions.get(name)
    if table is None:
        known = ", ".join(sorted(config.editions)) or "none"
        raise ConfigError(f"no edition {name!r} (editions: {known})", field="--edition")
    overrides: dict[str, Any] = {
        key: value
        for key in DigestConfig.__dataclass_fields__
        if (value := getattr(table, key)) is not None
    }
    overrides.setdefault("out", str(Path(config.digest.out) / name))
    overrides.setdefault("archive", str(Path(config.digest.archive) / name))
    merged = replace(config, digest=replace(config.digest, **overrides))
    try:
        check_config(merged)
    except ConfigError as error:
        where = error.field.replace("digest.", f"editions.{name}.", 1)
        raise ConfigError(error.reason, path=error.path, field=where) from None
    return Edition(name, merged, tuple(table.topics), table.cadence, table.late_days)


@dataclass(frozen=True)
class SentArticles:
    """What the store knows of an edition's sends: the first day of its first sent issue,
    and every article (by URL) a sent issue held, with the period that held it."""

    first_day: date | None = None
    held: Mapping[str, str] | None = None
    periods: frozenset[str] = frozenset()
    """The periods sent (or being sent) to the list."""

    def period_of(self, url: str) -> str | None:
        return (self.held or {}).get(url)


@dataclass(frozen=True)
class Holding:
    """What an issue holds: its own articles and late ones, and the too late, by name."""

    articles: list[Article]
    late: list[Article]
    too_late: list[Article]


def holding(
    edition: Edition, period: Period, articles: Iterable[Article], sent: SentArticles
) -> Holding:
    """The period's qualifying articles no sent issue held, plus the late ones: dated from
    the edition's first sent issue on, at most ``late_days`` before the period, never held.
    A period that was sent holds exactly what it held then."""
    start, end = period.bounds(edition.zone)
    window = start - timedelta(days=edition.late_days)
    first = datetime.combine(sent.first_day, time(0), edition.zone) if sent.first_day else start
    own: list[Article] = []
    late: list[Article] = []
    too_late: list[Article] = []
    if period.key in sent.periods:
        shown = [article for article in articles if sent.period_of(article.url) == period.key]
        return Holding(shown, [], [])
    for article in articles:
        where = sent.period_of(article.url)
        if where is not None:
            if where == period.key:
                own.append(article)
            continue
        if not edition.qualifies(article) or not first <= article.published_at < end:
            continue
        if article.published_at >= start:
            own.append(article)
        elif article.published_at >= window:
            late.append(article)
        else:
            too_late.append(article)
    return Holding(own + late, late, too_late)
