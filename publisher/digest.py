"""Pure newsletter: a week's articles → a :class:`Digest` → Jinja → premailer → HTML, text, MIME.

Nothing here reads the clock or writes a file; the only input besides its arguments is the
template folder (the configured one, with the package's defaults behind it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import jinja2
from slugify import slugify

from publisher.config import Config
from publisher.errors import ConfigError, TemplateError
from publisher.model import Article, Image
from publisher.selection import best_first, deduplicate, is_selectable, rules_for

PACKAGE_TEMPLATES = Path(__file__).parent / "templates" / "email"
HTML_TEMPLATE = "digest.html"
TEXT_TEMPLATE = "digest.txt"
GMAIL_CLIP_BYTES = 102 * 1024
"""Gmail hides everything after this many bytes of HTML behind "[Message clipped]"."""
CONTENT_WIDTH = 560
"""The 600 px container less its 20 px side padding: the widest an image is shown."""
EXCERPT_CHARS = 280
SEND_HOUR = time(8, 0)
OTHER_TOPIC = "More news"
DASH = "\N{EN DASH}"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")
_WEEK = re.compile(r"(\d{4})-?W(\d{2})", re.IGNORECASE)
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
class IsoWeek:
    """An ISO 8601 week: Monday to Sunday."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """``2020-W47`` (or ``2020W47``) → the week; raises :class:`ConfigError` otherwise."""
        match = _WEEK.fullmatch(text.strip())
        if match is None:
            raise ConfigError(f"not an ISO week like 2020-W47: {text!r}", field="--week")
        year, week = int(match[1]), int(match[2])
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ConfigError(f"{year} has no week {week}", field="--week") from None
        return cls(year, week)

    @classmethod
    def containing(cls, day: date) -> IsoWeek:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def last_complete(cls, today: date) -> IsoWeek:
        """The last Monday-to-Sunday week that ended before ``today``."""
        return cls.containing(today - timedelta(days=today.isoweekday()))

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02}"

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Monday 00:00 (inclusive) to the next Monday 00:00 (exclusive), local time."""
        start = datetime.combine(self.monday, time(0), zone)
        return start, datetime.combine(self.monday + timedelta(days=7), time(0), zone)

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True, slots=True)
class StoryImage:
    """An image as the email shows it: https, an integer width, and alt text."""

    url: str
    width: int
    height: int | None
    alt: str


@dataclass(frozen=True, slots=True)
class Story:
    """One article as the newsletter lists it; ``url`` already carries the UTM parameters."""

    title: str
    url: str
    provider: str
    date: str
    excerpt: str
    is_video: bool
    image: StoryImage | None


@dataclass(frozen=True, slots=True)
class Section:
    """A topic and its stories, best first."""

    topic: str
    stories: tuple[Story, ...]


@dataclass(frozen=True)
class Digest:
    """Everything the templates see: one week's issue, ready to render."""

    week: IsoWeek
    sent_at: datetime
    subject: str
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

    @property
    def issue_date(self) -> date:
        return self.sent_at.date()

    @property
    def period(self) -> str:
        """``16-22 November 2026`` (with an en dash), or ``30 November - 6 December 2026``."""
        first, last = self.week.monday, self.week.sunday
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
    def is_empty(self) -> bool:
        return not self.stories

    @property
    def unsubscribe_link(self) -> str:
        """The link the footer shows: the web page when there is one, else the mailto."""
        return self.unsubscribe_url or _unsubscribe_mailto_url(self.unsubscribe_mailto)


@dataclass(frozen=True)
class RenderedDigest:
    """The rendered issue: inlined HTML, plain text, the whole message and the archive page."""

    digest: Digest
    html: str
    text: str
    message: bytes
    archive_page: bytes
    warnings: tuple[str, ...] = field(default=())

    @property
    def files(self) -> dict[str, bytes]:
        """The ``digest.out`` files, by name."""
        label = self.digest.week.label
        return {
            f"{label}.html": self.html.encode("utf-8"),
            f"{label}.txt": self.text.encode("utf-8"),
            f"{label}.eml": self.message,
        }

    @property
    def archive_name(self) -> str:
        """``<YYYY-MM-DD>-<slug>.html``, a Jekyll post name under ``digest.archive``."""
        slug = slugify(f"{self.digest.site_title} {self.digest.week.label}") or "newsletter"
        return f"{self.digest.issue_date.isoformat()}-{slug}.html"


# Selection ----------------------------------------------------------------------------------


def week_articles(config: Config, articles: Iterable[Article], week: IsoWeek) -> list[Article]:
    """Articles published in ``week`` (configured time zone) that a feed would select, best first.

    An article counts when some topic's rules (or the site-wide rules, when it has no topic)
    select it; copies of one story are reduced to the best one.
    """
    start, end = week.bounds(ZoneInfo(config.digest.timezone))
    chosen = []
    for article in articles:
        if not start <= article.published_at < end:
            continue
        topics: Sequence[str | None] = article.topics or (None,)
        if any(
            is_selectable(article, rules_for(topic, config.selection, config.topics))
            for topic in topics
        ):
            chosen.append(article)
    return sorted(deduplicate(chosen), key=best_first)


def arrange(
    config: Config, ranked: Sequence[Article]
) -> tuple[Article | None, list[tuple[str, list[Article]]]]:
    """The lead story and the topic sections, each article shown once.

    The lead is the best article with an image (else the best article). The others, best
    first, go under the first of their own topics that has fewer than ``digest.per_topic``
    stories, and are left out when all of them are full. Topics come in
    ``digest.topic_order``, then the others by number of stories, then by name.
    """
    if not ranked:
        return None, []
    lead = next((article for article in ranked if article.lead_image), ranked[0])
    placed: dict[str, list[Article]] = {}
    for article in ranked:
        if article is lead:
            continue
        for topic in article.topics or (OTHER_TOPIC,):
            stories = placed.setdefault(topic, [])
            if len(stories) < config.digest.per_topic:
                stories.append(article)
                break
    placed = {topic: stories for topic, stories in placed.items() if stories}
    configured = [topic for topic in config.digest.topic_order if topic in placed]
    others = sorted(
        (topic for topic in placed if topic not in configured),
        key=lambda topic: (-len(placed[topic]), topic.casefold(), topic),
    )
    return lead, [(topic, placed[topic]) for topic in configured + others]


# The issue ----------------------------------------------------------------------------------


def plan_digest(config: Config, articles: Iterable[Article], week: IsoWeek) -> Digest:
    """The issue for ``week``: what it says, to whom, and when; it may have no stories."""
    digest_config = config.digest
    _check_list_settings(config)
    zone = ZoneInfo(digest_config.timezone)
    ranked = week_articles(config, articles, week)
    lead, sections = arrange(config, ranked)
    # The Monday after the week, at a fixed hour: a rerun gives the same Date header.
    sent_at = datetime.combine(week.monday + timedelta(days=7), SEND_HOUR, zone)
    site = config.site
    subject = f"{site.title} ({sent_at.date().isoformat()})"
    ordered = ([lead] if lead else []) + [article for _, group in sections for article in group]
    top_titles = tuple(article.title for article in ordered[:3])

    def story(article: Article, image_width: int) -> Story:
        return _story(config, week, zone, article, image_width)

    return Digest(
        week=week,
        sent_at=sent_at,
        subject=subject,
        preheader=_preheader(top_titles, len(ordered)),
        lead=story(lead, CONTENT_WIDTH) if lead else None,
        sections=tuple(
            Section(topic, tuple(story(article, 0) for article in group))
            for topic, group in sections
        ),
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


Inliner = Callable[[str, str], str]
"""Inlines the CSS of an HTML document rendered from the named template."""


def render_digest(config: Config, digest: Digest, inline: Inliner | None = None) -> RenderedDigest:
    """Templates → HTML with CSS inlined, plain text, the MIME message and the archive page.

    ``inline`` defaults to :func:`inline_css`; the command line passes a cached one.
    """
    environment = template_environment(Path(config.digest.templates))
    html = (inline or inline_css)(_render(environment, HTML_TEMPLATE, digest), HTML_TEMPLATE)
    text = _normalise_text(_render(environment, TEXT_TEMPLATE, digest))
    warnings = []
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        warnings.append(
            f"the newsletter HTML is {size / 1024:.0f} KB; Gmail clips messages above 102 KB"
        )
    return RenderedDigest(
        digest=digest,
        html=html,
        text=text,
        message=build_message(digest, html, text),
        archive_page=archive_page(digest, html),
        warnings=tuple(warnings),
    )


def make_digest(config: Config, articles: Iterable[Article], week: IsoWeek) -> RenderedDigest:
    """Plan and render the issue for ``week`` in one call."""
    return render_digest(config, plan_digest(config, articles, week))


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


def shorten(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(f" ,;:.-{DASH}\N{EM DASH}") + "…"


def _story(
    config: Config, week: IsoWeek, zone: ZoneInfo, article: Article, image_width: int
) -> Story:
    digest_config = config.digest
    url = article.url
    if digest_config.utm:
        url = add_utm(url, source=digest_config.utm_source, campaign=week.label)
    image = article.lead_image
    return Story(
        title=article.title,
        url=url,
        provider=article.provider.name if article.provider else "",
        date=_short_date(article.published_at.astimezone(zone).date()),
        excerpt=shorten(article.excerpt),
        is_video=article.is_video,
        image=_story_image(image, article.title, image_width) if image and image_width else None,
    )


def _story_image(image: Image, title: str, max_width: int) -> StoryImage:
    width = min(image.width or max_width, max_width)
    height = None
    if image.width and image.height:
        height = round(image.height * width / image.width)
    return StoryImage(image.url, width, height, image.title or title)


def _preheader(titles: Sequence[str], count: int) -> str:
    if not titles:
        return ""
    more = count - 1
    tail = f" and {more} more {'story' if more == 1 else 'stories'}" if more else ""
    return shorten(f"{titles[0]}{tail}", 140)


def _short_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1][:3]} {day.year}"


def _long_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _unsubscribe_mailto_url(address: str) -> str:
    return f"mailto:{address}?subject=unsubscribe" if address else ""


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


def _normalise_text(text: str) -> str:
    # "-- " (with its space) is the signature separator mail clients recognise.
    lines = [line if line == "-- " else line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


# Templates ----------------------------------------------------------------------------------


def template_environment(folder: Path) -> jinja2.Environment:
    """The configured template folder, with the package defaults behind it file by file."""
    loaders: list[jinja2.BaseLoader] = []
    if folder.is_dir():
        loaders.append(jinja2.FileSystemLoader(folder))
    loaders.append(jinja2.FileSystemLoader(PACKAGE_TEMPLATES))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
        # A misspelt name fails the run instead of leaving a blank, or a placeholder, in mail.
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(environment: jinja2.Environment, name: str, digest: Digest) -> str:
    try:
        template = environment.get_template(name)
        return template.render(digest=digest)
    except jinja2.TemplateSyntaxError as error:
        where = error.filename or error.name or name
        raise TemplateError(f"line {error.lineno}: {error.message}", path=where) from None
    except jinja2.TemplateNotFound as error:
        raise TemplateError(f"template not found: {error.name}", path=name) from None
    except jinja2.TemplateError as error:
        raise TemplateError(str(error), path=name) from None


# CSS inlining -------------------------------------------------------------------------------


class _CssProblems(logging.Handler):
    """Collects what cssutils says while premailer parses a template's CSS."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            message = record.getMessage()
            if message not in self.errors:
                self.errors.append(message)


@contextlib.contextmanager
def _quiet_cssutils(problems: _CssProblems) -> Iterator[None]:
    """Route cssutils' log to ``problems`` only: its own handler would print to stderr."""
    logger = logging.getLogger("CSSUTILS")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers = []
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers, _, logger.propagate = saved
        logger.setLevel(saved[1])


def inline_css(html: str, source: str = HTML_TEMPLATE) -> str:
    """Copy the ``<style>`` rules onto each element; keep the block for ``@media`` rules.

    Fails on any CSS error cssutils reports (a dropped rule, an invalid value) instead of
    mailing a silently different layout.
    """
    # premailer and cssutils take a tenth of a second to import; a cached issue never needs them.
    from premailer import Premailer

    problems = _CssProblems()
    with _quiet_cssutils(problems):
        premailer = Premailer(
            html,
            allow_network=False,
            allow_loading_external_files=False,
            # @media rules for phones and dark mode only work from a <style> block, and only
            # with their !important, since they must beat the inline styles.
            keep_style_tags=True,
            strip_important=False,
            # Cached parses log nothing the second time; every render must see its errors.
            cache_css_parsing=False,
            cssutils_logging_handler=problems,
            cssutils_logging_level=logging.WARNING,
            # Integer width/height attributes come from the templates; CSS "100%" must not
            # overwrite them (Outlook sizes images by the attribute).
            disable_basic_attributes=["width", "height"],
            remove_classes=False,
        )
        try:
            inlined: str = premailer.transform(pretty_print=False)
        except Exception as error:  # premailer raises whatever cssutils or lxml raise
            raise TemplateError(f"cannot inline CSS: {error}", path=source) from None
    if problems.errors:
        raise TemplateError(f"invalid CSS: {problems.errors[0]}", path=source)
    if not inlined.endswith("\n"):
        inlined += "\n"
    return inlined


# Message and archive ------------------------------------------------------------------------


HEADER_POLICY = SMTP.clone(max_line_length=998)
"""Fold headers only past RFC 5322's hard limit: a folded List-Unsubscribe URL becomes an
encoded word, and one-click unsubscribe stops working."""


def build_message(digest: Digest, html: str, text: str) -> bytes:
    """The whole email, ``multipart/alternative`` with the text part first, CRLF line ends."""
    message = EmailMessage(policy=HEADER_POLICY)
    message["Subject"] = digest.subject
    message["From"] = digest.sender
    message["To"] = digest.list_address
    message["Date"] = format_datetime(digest.sent_at)
    message["Message-ID"] = message_id(digest)
    message["List-Id"] = f"{_phrase(digest.site_title)} <{digest.list_id}>"
    unsubscribe = []
    if digest.unsubscribe_url:
        unsubscribe.append(f"<{digest.unsubscribe_url}>")
    if digest.unsubscribe_mailto:
        unsubscribe.append(f"<{_unsubscribe_mailto_url(digest.unsubscribe_mailto)}>")
    message["List-Unsubscribe"] = ", ".join(unsubscribe)
    if digest.unsubscribe_url:
        # RFC 8058 one-click: only meaningful with an https URI to POST to.
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Precedence"] = "bulk"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # The default boundary is random; one derived from the content keeps reruns identical.
    fingerprint = hashlib.sha256(f"{text}\0{html}".encode()).hexdigest()[:32]
    message.set_boundary(f"=_publisher_{fingerprint}")
    return message.as_bytes()


def message_id(digest: Digest) -> str:
    """``<digest-2026-w47@example.org>``: one id per week and list, stable across reruns."""
    domain = Address(addr_spec=parseaddr(digest.sender)[1]).domain
    return f"<digest-{digest.week.label.lower()}.{slugify(digest.list_id)}@{domain}>"


def archive_page(digest: Digest, html: str) -> bytes:
    """A Jekyll page for the site's newsletter archive: front matter, then the email's HTML."""
    front_matter = [
        "---",
        f"title: {quoted(digest.subject)}",
        f"date: {digest.sent_at.strftime('%Y-%m-%d %H:%M:%S %z')}",
        f"excerpt: {quoted(' / '.join(digest.top_titles))}",
        f"week: {quoted(digest.week.label)}",
        # Article titles may contain "{{"; Jekyll must not read the issue as Liquid.
        "render_with_liquid: false",
        "---",
        "",
    ]
    return ("\n".join(front_matter) + html).encode("utf-8")


def quoted(value: str) -> str:
    """A YAML double-quoted scalar: JSON's string escapes are a subset of YAML's."""
    return json.dumps(value, ensure_ascii=False)


def _phrase(text: str) -> str:
    """A display name safe in a header: quoted when it holds specials."""
    if re.fullmatch(r"[\w !#$%&'*+\-/=?^`{|}~]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
