"""The issue rendered: Jinja templates → premailer → inlined HTML and plain text.

The only module that imports jinja2 and premailer. Nothing here reads the clock or writes a
file; the only input besides its arguments is the template folder (the configured one, with
the package's defaults behind it).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import jinja2
from slugify import slugify

from publisher.config import Config
from publisher.digest.issue import Digest, IssueWeek, plan_digest
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
        """``<YYYY-MM-DD>-<site>-<week>.html``, a Jekyll post name under ``digest.archive``;
        the site's part is cut at a word to keep the name well under file systems' limit."""
        site = slugify(self.digest.site_title)
        if len(site) > ARCHIVE_SLUG_CHARS:
            site = site[: ARCHIVE_SLUG_CHARS + 1].rsplit("-", 1)[0][:ARCHIVE_SLUG_CHARS]
        week = self.digest.week.label.lower()
        return f"{self.digest.issue_date.isoformat()}-{site or 'newsletter'}-{week}.html"


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
    digest = replace(digest, subject=render_subject(config.digest.subject, digest))
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


def render_subject(template: str, digest: Digest) -> str:
    """``digest.subject`` rendered for this issue: one line, whitespace folded.

    The template is configuration, so it is checked as such: a syntax error, an unknown name
    or an empty result is a :class:`ConfigError` naming ``digest.subject``.
    """
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    values = digest.subject_values
    try:
        subject = environment.from_string(template).render(**values)
    except jinja2.TemplateSyntaxError as error:
        raise ConfigError(f"line {error.lineno}: {error.message}", field="digest.subject") from None
    except jinja2.UndefinedError as error:
        names = ", ".join(values)
        raise ConfigError(f"{error.message} (it may use {names})", field="digest.subject") from None
    except (jinja2.TemplateError, ValueError, TypeError, AttributeError) as error:
        raise ConfigError(str(error), field="digest.subject") from None
    subject = " ".join(subject.split())
    if not subject:
        raise ConfigError("renders as an empty subject", field="digest.subject")
    return subject


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
