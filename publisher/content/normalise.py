"""One article file's bytes → a clean :class:`Article`, or an :class:`ArticleError` that names
the field.

Every alias and repair of the front matter lives here: URL fallbacks, entities, mojibake,
control characters, relative image URLs, dates with or without an offset.
"""

from __future__ import annotations

import functools
import html
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

from publisher.content.frontmatter import (
    NotFrontMatter,
    parse_common,
    parse_yaml,
    split_front_matter,
)
from publisher.errors import ArticleError, Problem
from publisher.model import Article, ArticleType, Image, Provider

URL_FIELDS = ("webUrl", "sourceUrl", "originalUrl")
AMP_FIELDS = ("ampWebUrl", "cdnAmpWebUrl")
ARTICLE_TYPES: tuple[ArticleType, ...] = ("article", "video")
MAX_SCORE = 1_000_000_000
"""Quality and heat beyond this are damage, not a rating (and would not fit the store)."""
MAX_NODES = 20_000
"""More values than this in one front matter is an alias bomb, not an article."""
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
"""Publication dates outside these are typos or placeholders (year 1, 9999), not news; feeds
cannot write years before 1900 (RFC 822), and newsletters would sort them first or last."""
MAX_PIXELS = 10_000
"""Image widths and heights from 1 to this are kept; any other is damage, and is dropped (the
image stays): a thousand-digit width overflowed the newsletter's image arithmetic."""
MAX_TOPICS = 50
"""Topics kept per article: each topic is a feed, so a thousand of them on one article (a
tag cloud pasted into the wrong field) would cost minutes and litter the output folder."""

# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) go too: in
# a title they reverse what follows ("\u202egnp.exe" shows as "exe.png") in readers, mail
# clients and terminals alike. Marks (U+200E, U+200F) stay; right-to-left text needs them.
_CONTROL_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
_CONTROL_IN_YAML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_C1_CONTROL = re.compile("[\x80-\x9f]")
# UTF-8 read as Latin-1 or cp1252 always shows one of its lead bytes, Â to ô, or a
# C1 control: text without them has no mojibake for ftfy to find, and ftfy is slow.
_MOJIBAKE_HINT = re.compile("[\x80-\x9f\u00c2-\u00f4]")


def parse_article(data: bytes, path: str, warnings: list[Problem] | None = None) -> Article:
    """The bytes of one article file → an article; what was left out of it (extra topics) is
    added to ``warnings``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ArticleError(
            f"not UTF-8 (byte {error.start}: {data[error.start]:#04x})", path=path
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        front_matter = split_front_matter(text)
    except NotFrontMatter as error:
        raise ArticleError(str(error), path=path) from None
    # Most files are in the common subset, which admits no control character: nothing to
    # repair, and no need to look for one (which took a tenth of the time of reading a file).
    raw = parse_common(front_matter)
    if raw is None:
        raw = _parse_damaged(front_matter, path)
    if not isinstance(raw, dict):
        raise ArticleError("front matter is not a mapping of fields", path=path)
    return article_from_fields(raw, path, warnings)


def _parse_damaged(front_matter: str, path: str) -> Any:
    """Front matter outside the common subset, repaired of control characters, by PyYAML."""
    if _C1_CONTROL.search(front_matter):
        # UTF-8 read as Latin-1 leaves C1 controls (â\x80\x99), which YAML rejects outright.
        front_matter = _repair_mojibake(front_matter)
    if _CONTROL_IN_YAML.search(front_matter):
        # Stray control characters are damage, not meaning; YAML would reject the whole file.
        front_matter = _CONTROL_IN_YAML.sub("", front_matter)
    try:
        raw = parse_yaml(front_matter)
    except yaml.YAMLError as error:
        raise ArticleError(_describe_yaml_error(error), path=path) from None
    except (ValueError, OverflowError) as error:
        # PyYAML builds timestamps eagerly: 2024-02-30 fails inside the parser.
        reason = str(error)
        if "integer string conversion" in reason:
            # Python refuses such numbers (reading them takes quadratic time); say so plainly.
            reason = f"a number of more than {sys.get_int_max_str_digits()} digits"
        raise ArticleError(f"impossible value: {reason}", path=path) from None
    except RecursionError:
        raise ArticleError("front matter is nested too deeply", path=path) from None
    if "*" in front_matter:
        # Only aliases (*name) can make a document bigger than its text.
        _check_size(raw, path)
    return raw


def article_from_fields(
    raw: Mapping[str, Any], path: str, warnings: list[Problem] | None = None
) -> Article:
    """Check and normalise the front-matter fields of one article."""
    fields = _Fields(raw, path, warnings)
    provider = fields.provider()
    return Article(
        path=path,
        title=fields.text("title", required=True),
        url=fields.url(),
        published_at=fields.datetime("publishedDateTime"),
        excerpt=fields.text("excerpt"),
        type=fields.article_type(),
        quality=fields.integer("quality"),
        heat=_unknown_heat(fields.integer("heat")),
        published=fields.published(),
        provider=provider,
        topics=fields.topics(),
        images=fields.images("images", raw.get("images"), provider),
        amp_url=fields.amp_url(),
    )


def clean_text(value: str) -> str:
    """Decode entities, repair mojibake, drop soft hyphens, control characters and bidi
    overrides, fold spaces."""
    text = value
    # Scraped excerpts are often escaped twice ("&amp;amp;"); two passes undo both.
    for _ in range(2):
        if "&" not in text:
            break
        text = html.unescape(text)
    if not text.isascii():
        if _MOJIBAKE_HINT.search(text):
            text = _repair_mojibake(text)
        text = text.replace("\xad", "")
    if not text.isprintable():
        text = _CONTROL_CHARS.sub("", text)
    return " ".join(text.split())


def absolute_url(value: str, *, base: str = "", https_only: bool = False) -> str | None:
    """An absolute http(s) URL with entities decoded, or ``None`` when it cannot be one."""
    url = html.unescape(value.strip()) if "&" in value else value.strip()
    # Spaces and control characters make a link that readers and mail clients break.
    if not url.isprintable() or " " in url:
        return None
    schemes = ("https://",) if https_only else ("https://", "http://")
    lowered = url[:8].lower()
    scheme = next((prefix for prefix in schemes if lowered.startswith(prefix)), None)
    if scheme is None:
        try:
            if not base or urlsplit(url).scheme:
                return None
            joined = urljoin(base, url)
        except ValueError:
            return None
        return absolute_url(joined, https_only=https_only)
    authority = url[len(scheme) :].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if ":" in authority or "[" in authority:
        # A port or an IPv6 host: let urllib judge, as every later reader of the URL will.
        try:
            parts = urlsplit(url)
            valid = bool(parts.hostname) and (parts.port is None or parts.port > 0)
        except ValueError:
            return None
        return url if valid else None
    host = authority.rpartition("@")[2]
    return url if host.strip(".") else None


@functools.cache
def _mojibake_fixer() -> Callable[[str], str]:
    # ftfy takes a tenth of a second to import; most runs never need it.
    import ftfy

    config = ftfy.TextFixerConfig(
        # Curly quotes, ligatures and full-width forms are the author's choice, not damage.
        uncurl_quotes=False,
        fix_latin_ligatures=False,
        fix_character_width=False,
        unescape_html=False,
        explain=False,
    )
    return functools.partial(ftfy.fix_text, config=config)


def _repair_mojibake(text: str) -> str:
    return _mojibake_fixer()(text)


def _unknown_heat(heat: int | None) -> int | None:
    return None if heat is None or heat < 0 else heat


def _describe_yaml_error(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    # +2: the opening '---' line, and libyaml counts lines from zero.
    where = f" (line {mark.line + 2})" if mark is not None else ""
    return f"invalid YAML: {problem}{where}"


def _check_size(raw: Any, path: str) -> None:
    budget = MAX_NODES
    stack = [raw]
    while stack:
        value = stack.pop()
        budget -= 1
        if budget < 0:
            raise ArticleError("front matter has too many values (alias bomb?)", path=path)
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


class _Fields:
    """Typed access to one file's raw fields; every failure names the field."""

    def __init__(
        self, raw: Mapping[str, Any], path: str, warnings: list[Problem] | None = None
    ) -> None:
        self.raw = raw
        self.path = path
        self.warnings = [] if warnings is None else warnings

    def fail(self, field: str, reason: str) -> ArticleError:
        return ArticleError(reason, path=self.path, field=field)

    def text(self, field: str, *, required: bool = False) -> str:
        value = self.raw.get(field)
        if value is None:
            if required:
                raise self.fail(field, "missing")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(field, f"expected text, got {_kind(value)}")
        text = clean_text(str(value))
        if required and not text:
            raise self.fail(field, "empty")
        return text

    def url(self) -> str:
        for field in URL_FIELDS:
            value = self.raw.get(field)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise self.fail(field, f"expected a URL, got {_kind(value)}")
            url = absolute_url(value)
            if url is None:
                raise self.fail(field, f"not an absolute http(s) URL: {value[:80]!r}")
            return url
        raise self.fail("webUrl", "missing (no webUrl, sourceUrl or originalUrl)")

    def amp_url(self) -> str | None:
        for field in AMP_FIELDS:
            value = self.raw.get(field)
            if isinstance(value, str) and (url := absolute_url(value)):
                return url
        return None

    def datetime(self, field: str) -> datetime:
        value = self.raw.get(field)
        if value is None:
            raise self.fail(field, "missing")
        if isinstance(value, str):
            text = value.strip()
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise self.fail(field, f"not a date and time: {text[:40]!r}") from None
        elif isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if not isinstance(value, datetime):
            raise self.fail(field, f"expected a date and time, got {_kind(value)}")
        try:
            moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            moment = None
        if moment is None or not EARLIEST <= moment <= LATEST:
            span = f"years {EARLIEST.year} to {LATEST.year}"
            raise self.fail(field, f"out of range ({span}): {value.isoformat()}")
        return moment

    def integer(self, field: str) -> int | None:
        value = self.raw.get(field)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                raise self.fail(field, f"expected a whole number, got {value[:20]!r}") from None
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"expected a whole number, got {_kind(value)}")
        else:
            number = value
        if not -MAX_SCORE <= number <= MAX_SCORE:
            raise self.fail(field, f"out of range (at most {MAX_SCORE:,} either way)")
        return number

    def published(self) -> bool:
        value = self.raw.get("published", True)
        if value is None:
            return True
        if not isinstance(value, bool):
            raise self.fail("published", f"expected true or false, got {value!r}"[:80])
        return value

    def article_type(self) -> ArticleType:
        value = self.raw.get("type")
        if value is None:
            return "article"
        for known in ARTICLE_TYPES:
            if value == known:
                return known
        raise self.fail("type", f"expected article or video, got {value!r}"[:80])

    def topics(self) -> tuple[str, ...]:
        value = self.raw.get("topics")
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.fail("topics", f"expected a list of names, got {_kind(value)}")
        names: dict[str, None] = {}
        for item in items:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise self.fail("topics", f"expected a topic name, got {_kind(item)}")
            name = clean_text(str(item))
            if name:
                names[name] = None
        if len(names) > MAX_TOPICS:
            reason = f"{len(names):,} topics; only the first {MAX_TOPICS} are used"
            self.warnings.append(Problem(self.path, "topics", reason))
        return tuple(names)[:MAX_TOPICS]

    def provider(self) -> Provider | None:
        value = self.raw.get("provider")
        if value is None:
            return None
        if isinstance(value, str):
            name = clean_text(value)
            return Provider(name) if name else None
        if not isinstance(value, dict):
            raise self.fail("provider", f"expected a name and domain, got {_kind(value)}")
        raw_name, raw_domain = value.get("name"), value.get("domain")
        domain = clean_text(raw_domain).lower() if isinstance(raw_domain, str) else ""
        name = clean_text(raw_name) if isinstance(raw_name, str) else domain
        if not name:
            return None
        site = Provider(name, domain)
        logos = self.images("provider.images", value.get("images"), site)
        return Provider(name, domain, logos[0] if logos else None)

    def images(self, field: str, value: Any, provider: Provider | None) -> tuple[Image, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(field, f"expected a list of images, got {_kind(value)}")
        base = f"https://{provider.domain}/" if provider and provider.domain else ""
        images: list[Image] = []
        for item in value:
            raw_url = item.get("url") if isinstance(item, dict) else item
            if not isinstance(raw_url, str):
                continue
            # Relative paths are resolved against the provider's site; http images are
            # dropped, since readers and mail clients block mixed content.
            url = absolute_url(raw_url, base=base, https_only=True)
            if url is None:
                continue
            size = item if isinstance(item, dict) else {}
            title = size.get("title")
            images.append(
                Image(
                    url=url,
                    width=_dimension(size.get("width")),
                    height=_dimension(size.get("height")),
                    title=clean_text(title) if isinstance(title, str) else "",
                )
            )
        return tuple(images)


def _dimension(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        digits = value.strip()
        # Longer than the limit's digits is out of range anyway; int() of thousands of digits
        # is refused outright (and slow).
        if not digits.isdecimal() or len(digits) > len(str(MAX_PIXELS)):
            return None
        value = int(digits)
    return value if isinstance(value, int) and 0 < value <= MAX_PIXELS else None


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", bool: "true/false"}
    return names.get(type(value), type(value).__name__)
