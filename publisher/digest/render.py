"""The issue rendered: Jinja templates → premailer → inlined HTML and plain text.

The only module that imports jinja2 and premailer. Nothing here reads the clock or writes a
file; the only input besides its arguments is the template folder (the configured one, with
the package's defaults behind it).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer
from slugify import slugify

from publisher.config import Config, DigestConfig
from publisher.digest.issue import Digest, IssueWeek, issue_page_url, plan_digest, shorten
from publisher.digest.message import archive_page, build_message
from publisher.errors import ConfigError, TemplateError
from publisher.model import Article

PACKAGE_TEMPLATES = Path(__file__).parents[1] / "templates" / "email"
HTML_TEMPLATE = "digest.html"
TEXT_TEMPLATE = "digest.txt"
ARCHIVE_SLUG_CHARS = 60
"""The site title's share of an archive page's file name (255 bytes is the usual limit)."""
GMAIL_CLIP_BYTES = 102 * 1024
"""Gmail hides everything after this many bytes of HTML behind "[Message clipped]"."""
SUBJECT_CHARS = 200
"""A longer subject is cut at a word with an ellipsis (inboxes show a third of that)."""
PHONE_SUBJECT_CHARS = 78
"""The default subject (the lead headline) is cut at a word to this: what a phone shows."""
SUBJECT_LIMIT = 2_000
"""The most characters or items a subject template may build in one value or print, and the
most steps (loop rounds, calls, operations) it may take."""
NUMBER_LIMIT = 10_000
"""The largest width, length or count a subject template may pass to a call or a format."""

T = TypeVar("T")


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
        label = self.digest.week.key
        return {
            f"{label}.html": self.html.encode("utf-8"),
            f"{label}.txt": self.text.encode("utf-8"),
            f"{label}.eml": self.message,
        }

    @property
    def archive_name(self) -> str:
        """The issue's page under ``digest.archive`` (see :func:`archive_name`)."""
        return archive_name(self.digest)


def archive_name(digest: Digest) -> str:
    """``<YYYY-MM-DD>-<site>-<week>.html``, a Jekyll post name under ``digest.archive``;
    the site's part is cut at a word to keep the name well under file systems' limit."""
    site = slugify(digest.site_title)
    if len(site) > ARCHIVE_SLUG_CHARS:
        site = site[: ARCHIVE_SLUG_CHARS + 1].rsplit("-", 1)[0][:ARCHIVE_SLUG_CHARS]
    week = digest.week.key.lower()
    return f"{digest.issue_date.isoformat()}-{site or 'newsletter'}-{week}.html"


Inliner = Callable[[str, str], str]
"""Inlines the CSS of an HTML document rendered from the named template."""


CompiledStore = tuple[Callable[[str], bytes | None], Callable[[str, bytes], None]]
"""Where compiled templates are kept between runs: (load by key, store by key)."""


def render_digest(
    config: Config,
    digest: Digest,
    inline: Inliner | None = None,
    compiled: CompiledStore | None = None,
) -> RenderedDigest:
    """Templates → HTML with CSS inlined, plain text, the MIME message and the archive page.

    ``inline`` defaults to :func:`inline_css`; the jobs pass a cached one, and a ``compiled``
    store so that a rerun does not compile the templates again.
    """
    template = config.digest.subject
    limit = PHONE_SUBJECT_CHARS if template == DigestConfig.subject else SUBJECT_CHARS
    digest = replace(
        digest,
        subject=render_subject(template, digest, limit),
        web_url=issue_page_url(config, archive_name(digest), digest.week.key),
    )
    environment = template_environment(template_folder(config), compiled)
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


def make_digest(config: Config, articles: Iterable[Article], week: IssueWeek) -> RenderedDigest:
    """Plan and render the issue for ``week`` in one call."""
    return render_digest(config, plan_digest(config, articles, week))


def _normalise_text(text: str) -> str:
    # "-- " (with its space) is the signature separator mail clients recognise.
    lines = [line if line == "-- " else line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


# Templates ----------------------------------------------------------------------------------


def render_subject(template: str, digest: Digest, limit: int = SUBJECT_CHARS) -> str:
    """``digest.subject`` rendered for this issue: one line, whitespace folded, cut at a word
    past ``limit`` characters.

    The template is configuration, so it is checked as such: a syntax error, an unknown name,
    an empty result, anything it raises or a bound it passes (see :class:`_SubjectSandbox`) is
    a :class:`ConfigError` naming ``digest.subject``.
    """
    values = {
        name: shorten(value, limit, keep_whole=0) if isinstance(value, str) else value
        for name, value in digest.subject_values.items()
    }
    environment = _SubjectSandbox()
    try:
        compiled = environment.from_string(_Metered(environment).visit(environment.parse(template)))
        subject = environment.rendered(compiled, values)
    except jinja2.TemplateSyntaxError as error:
        raise ConfigError(f"line {error.lineno}: {error.message}", field="digest.subject") from None
    except jinja2.UndefinedError as error:
        names = ", ".join(values)
        raise ConfigError(f"{error.message} (it may use {names})", field="digest.subject") from None
    except _Unbounded as error:
        raise ConfigError(str(error), field="digest.subject") from None
    except Exception as error:  # the template is the user's code: whatever it raises is theirs
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise ConfigError(
            shorten(reason, SUBJECT_CHARS, keep_whole=0), field="digest.subject"
        ) from None
    subject = " ".join(subject.split())
    if not subject:
        raise ConfigError("renders as an empty subject", field="digest.subject")
    return shorten(subject, limit, keep_whole=0)


class _Unbounded(Exception):
    """The subject template went past one of its bounds, or printed something not text."""


def _weight(value: object, budget: int = SUBJECT_LIMIT) -> int:
    """About how many characters ``value`` makes as text (digits for a number, items and
    their own weight for a collection), counted until past ``budget``."""
    if isinstance(value, str | bytes | bytearray | range):
        return len(value)
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 1
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if not isinstance(value, list | tuple | set | frozenset):
        return 1
    total = len(value)
    for item in value:
        if total > budget:
            break
        total += _weight(item, budget - total)
    return total


def _bounded(value: T) -> T:
    if _weight(value) > SUBJECT_LIMIT:
        raise _Unbounded(f"builds a value of more than {SUBJECT_LIMIT:,} characters or items")
    return value


def _check_numbers(values: Iterable[object]) -> None:
    """A width, length or count past :data:`NUMBER_LIMIT` builds too much (``to_bytes``,
    ``center``, ``indent``, ``range``)."""
    for value in values:
        if isinstance(value, int) and abs(value) > NUMBER_LIMIT:
            raise _Unbounded(
                f"uses {_number(value)} as a width, length or count (at most {NUMBER_LIMIT:,})"
            )


def _number(value: int) -> str:
    return f"{value:,}" if value.bit_length() < 64 else f"a {_weight(value)}-digit number"


_PRINTF_SIZES = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SIZES = re.compile(r"\d+")


def _check_printf(pattern: str, arguments: object) -> None:
    """``'%999999999d' % 1`` builds a string that wide: widths and precisions are bounded."""
    for width, precision in _PRINTF_SIZES.findall(pattern):
        for size in (width, precision):
            if size == "*":
                values = arguments if isinstance(arguments, tuple) else (arguments,)
                _check_numbers(values)
            elif size and (len(size) > 9 or int(size) > NUMBER_LIMIT):
                raise _Unbounded(f"formats a field {size} characters wide")


def _check_format(pattern: str) -> None:
    """``'{:>999999999}'.format(1)``: the sizes in ``str.format`` fields are bounded."""
    for _, _, spec, _ in string.Formatter().parse(pattern):
        for size in _FORMAT_SIZES.findall(spec or ""):
            if len(size) > 9 or int(size) > NUMBER_LIMIT:
                raise _Unbounded(f"formats a field {size} characters wide")


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses oversized arguments and results (``center(10**9)``)."""

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = (*args, *kwargs.values())
        _check_numbers(values)
        for value in values:
            _bounded(value)
        if name == "format" and args and isinstance(args[0], str):
            _check_printf(args[0], tuple(args[1:]))
        return _bounded(function(*args, **kwargs))

    return bounded


class _SubjectSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no attribute escapes) with bounds on size and work, so that a subject
    template cannot take the machine: every value it builds (``'x' * 10**9``, a filter's
    result, ``~``) stays within :data:`SUBJECT_LIMIT` characters or items, every number it
    passes as a width or count within :data:`NUMBER_LIMIT`, its loop rounds, calls and
    operations together within :data:`SUBJECT_LIMIT` steps, and what it prints is text."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, optimized=False)
        self.finalize = self.shown
        self.steps = 0
        # namespace() would let a loop build without bound; lipsum, cycler and joiner have no
        # use in a subject.
        self.globals = {"range": self.bounded_range, "dict": dict}
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def step(self) -> None:
        self.steps += 1
        if self.steps > SUBJECT_LIMIT:
            raise _Unbounded(f"takes more than {SUBJECT_LIMIT:,} steps (loop rounds and calls)")

    def bounded_range(self, *args: int) -> range:
        _check_numbers(args)
        return _bounded(range(*args))

    def metered(self, iterable: Iterable[T]) -> Iterator[T]:
        """What a ``{% for %}`` loop goes over, a step a round."""
        for item in iterable:
            self.step()
            yield item

    def joined(self, values: list[object]) -> str:
        """``a ~ b``, whose parts are checked before they become text."""
        for value in values:
            _bounded(value)
        return _bounded("".join(str(value) for value in values))

    def shown(self, value: object) -> object:
        """What ``{{ … }}`` prints: text, a number or a date, never a function's repr."""
        if isinstance(value, jinja2.Undefined):
            return value  # StrictUndefined says which name, when printed
        if isinstance(value, str | int | float | date):
            return _bounded(value)
        kind = "a function or method" if callable(value) else f"a {type(value).__name__}"
        named = getattr(value, "__name__", "")
        raise _Unbounded(f"prints {kind}{f' ({named})' if named else ''}, not text")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        self.step()
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                repeated = isinstance(times, int) and not isinstance(sized, int | float)
                if repeated and _weight(sized) * times > SUBJECT_LIMIT:
                    raise _Unbounded(f"repeats a value {_number(times)} times")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and _weight(left) * right > SUBJECT_LIMIT:
                raise _Unbounded(f"raises a number to the power {_number(right)}")
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        return _bounded(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.step()
        values = (*args, *kwargs.values())
        _check_numbers(values)
        for value in (getattr(__obj, "__self__", None), *values):
            _bounded(value)
        method = getattr(__obj, "__wrapped__", __obj)  # str.format, as the sandbox wraps it
        owner = getattr(method, "__self__", None)
        if getattr(method, "__name__", "") in ("format", "format_map") and isinstance(owner, str):
            _check_format(owner)
        return _bounded(super().call(__context, __obj, *args, **kwargs))

    def rendered(self, template: jinja2.Template, values: dict[str, object]) -> str:
        """``template`` rendered, its output bounded as it comes."""
        pieces, size = [], 0
        for piece in template.generate(**values):
            size += len(piece)
            if size > SUBJECT_LIMIT:
                raise _Unbounded(f"prints more than {SUBJECT_LIMIT:,} characters")
            pieces.append(piece)
        return "".join(pieces)


class _Metered(NodeTransformer):
    """Loops go through :meth:`_SubjectSandbox.metered` and ``~`` through ``joined``, which
    Jinja's sandbox would not see."""

    def __init__(self, environment: _SubjectSandbox) -> None:
        self.environment = environment

    def _call(self, name: str, argument: nodes.Node, like: nodes.Node) -> nodes.Call:
        call = nodes.Call(nodes.EnvironmentAttribute(name), [argument], [], None, None)
        call.set_lineno(like.lineno).set_environment(self.environment)
        return call

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._call("metered", node.iter, node)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        items = nodes.List(node.nodes)
        items.set_lineno(node.lineno).set_environment(self.environment)
        return self._call("joined", items, node)


def template_folder(config: Config) -> Path | None:
    """The configured template folder, or ``None`` for the package's own templates.

    A configured folder that does not exist is a misspelt path, not a wish for the defaults:
    a :class:`ConfigError` naming ``digest.templates``.
    """
    if not config.digest.templates:
        return None
    folder = Path(config.digest.templates)
    if not folder.is_dir():
        raise ConfigError(f"no such folder: {folder}", field="digest.templates")
    return folder


class _StoredBytecode(jinja2.BytecodeCache):
    """Compiled templates kept between runs (about 35 ms of Jinja's compiler on each digest).
    Jinja checks each entry against the template's source and its own version on loading."""

    def __init__(self, compiled: CompiledStore) -> None:
        self.load, self.dump = compiled

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self.load(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.dump(bucket.key, bucket.bytecode_to_string())


def template_environment(
    folder: Path | None, compiled: CompiledStore | None = None
) -> jinja2.Environment:
    """The configured template folder, with the package defaults behind it file by file."""
    loaders: list[jinja2.BaseLoader] = []
    if folder is not None:
        loaders.append(jinja2.FileSystemLoader(folder))
    loaders.append(jinja2.FileSystemLoader(PACKAGE_TEMPLATES))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        bytecode_cache=_StoredBytecode(compiled) if compiled else None,
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
