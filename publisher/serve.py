"""``publisher serve``: the site built into a scratch folder and served on a local port, built
again whenever an article, a template or the config file changes, with any week's newsletter
rendered on request.

The feeds are built by :func:`publisher.jobs.run_build`, as by ``publisher build``, with the
site's URL set to the local address so every link works, and no WebSub hub: a preview never
tells anyone anything. The newsletter comes from :func:`publisher.jobs.preview_digest`:
nothing is written, sent or recorded. Problems show in the terminal and, as a banner, on the
pages; the server keeps going.
"""

from __future__ import annotations

import contextlib
import errno
import html
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from publisher.config import Config, WebSubConfig
from publisher.content.scan import scan_folder
from publisher.digest.edition import FLAGS, Edition, edition_of
from publisher.digest.issue import Period
from publisher.errors import PublisherError
from publisher.jobs import SEARCHED_PERIODS, latest_preview, preview_digest, run_build

NEWSLETTER_PATH = "/newsletter/"
_NEWSLETTER = re.compile(r"/newsletter(?:/([A-Za-z0-9_-]+))?/?")
QUERY_KEYS = tuple(flag.removeprefix("--") for flag in FLAGS.values())
"""``?day=``, ``?week=``, ``?month=``: the period flags of ``publisher digest``."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
POLL_SECONDS = 0.5
"""How often the files are looked at; more on folders big enough that looking takes a while."""
Snapshot = dict[str, object]
"""What the watched files looked like: each file's size and mtime, or why it could not be seen."""


class Preview:
    """The state the file watcher and the request handlers share: the settings to build with,
    the folder served, and what went wrong last time (shown on every page)."""

    def __init__(
        self,
        settings: Callable[[], Config],
        out: Path,
        *,
        config_file: Path | None,
        today: Callable[[str], date],
        say: Callable[[str], None],
        warn: Callable[[str], None],
        wait: float = 60.0,
    ) -> None:
        self.settings = settings
        self.out = out
        self.config_file = config_file
        self.today = today
        self.say = say
        self.warn = warn
        self.wait = wait
        self.url = ""
        self.config: Config | None = None
        self.problems: list[str] = []
        self.jobs = threading.Lock()
        """One job at a time: a build, or a newsletter being rendered."""

    def preview_config(self) -> Config:
        """The settings, read again, with the preview's folder, URL and no hub."""
        config = self.settings()
        return replace(
            config,
            out=str(self.out),
            site=replace(config.site, url=self.url),
            websub=WebSubConfig(),
        )

    def build(self) -> None:
        """Build the site again; whatever goes wrong becomes the banner and a terminal line."""
        started = time.perf_counter()
        with self.jobs:
            try:
                config = self.config = self.preview_config()
                outcome = run_build(config, wait=self.wait)
            except PublisherError as error:
                self.problems = [f"error: {error}"]
                self.warn(f"publisher: error: {error} (still serving the last good build)")
                return
            except Exception as error:  # a preview must outlive any one build's failure
                self.problems = [f"error: unexpected {type(error).__name__}: {error}"]
                self.warn(f"publisher: error: unexpected {type(error).__name__}: {error}")
                return
        problems = [str(problem) for problem in outcome.loaded.problems] if outcome.loaded else []
        self.problems = problems + [f"warning: {warning}" for warning in outcome.warnings]
        for line in self.problems:
            self.warn(line)
        report = outcome.report
        bad = len(outcome.loaded.problems) if outcome.loaded else 0
        self.say(
            f"built in {time.perf_counter() - started:.2f} s: {len(report.written)} files written,"
            f" {len(report.removed)} removed; {bad} bad article file{'s' if bad != 1 else ''}"
        )

    def snapshot(self) -> Snapshot:
        """The size and mtime of every watched file: the articles, the newsletter templates
        and the config file (the folders of the last settings that could be read, so a
        broken config file is still watched for its fix)."""
        config = self.config
        if config is None:
            try:
                config = self.settings()
            except PublisherError:
                config = Config()
        content = Path(config.content)
        found: Snapshot = {}
        try:
            for name, stamp in scan_folder(content).items():
                found[str(content / name)] = stamp
        except PublisherError as error:
            found[str(content)] = str(error)
        # Unset, the package's own templates are used: nothing of the working folder (where
        # the cache or a log may change on every build) is looked at.
        if config.digest.templates:
            with contextlib.suppress(OSError):
                for path in sorted(Path(config.digest.templates).rglob("*")):
                    found[str(path)] = _stamp(path)
        if self.config_file:
            found[str(self.config_file)] = _stamp(self.config_file)
        return found

    # The newsletter ---------------------------------------------------------------------------

    def newsletter(self, query: str, name: str = "") -> tuple[int, str]:
        """The status and HTML of ``/newsletter/`` (or ``/newsletter/<edition>/``): the issue
        of ``?week=`` (``?day=``, ``?month=``, by the edition's cadence), else the latest one
        with articles, searched back from the period holding today."""
        asked = {
            f"--{key}": values[0] for key in QUERY_KEYS if (values := parse_qs(query).get(key))
        }
        try:
            edition = edition_of(self.preview_config(), name)
        except PublisherError as error:
            status = HTTPStatus.NOT_FOUND if name else HTTPStatus.INTERNAL_SERVER_ERROR
            return status, _message_page("Newsletter", str(error))
        config = edition.config
        try:
            today = self.today(config.digest.timezone)
            period = edition.period(asked, today) if asked else edition.containing(today)
            links = _period_links(edition, period)
        except PublisherError as error:
            return HTTPStatus.BAD_REQUEST, _message_page("Newsletter", str(error))
        except (ValueError, OverflowError):
            # A period at the very ends of the calendar (0001-01-10, 9999-12-25): its
            # neighbours, or its days, cannot be named.
            said = ", ".join(f"{flag[2:]}={value!r}" for flag, value in asked.items())
            return HTTPStatus.BAD_REQUEST, _message_page(
                "Newsletter", f"{said or 'today'}: outside the periods a newsletter can cover"
            )
        with self.jobs:
            try:
                if asked:
                    rendered = preview_digest(config, period, wait=self.wait, edition=edition)
                    found = (period, rendered) if rendered else None
                else:
                    found = latest_preview(edition, today, wait=self.wait)
            except PublisherError as error:
                self.warn(f"publisher: error: newsletter {period}: {error}")
                return HTTPStatus.INTERNAL_SERVER_ERROR, _message_page(
                    f"Newsletter {period}", f"cannot render it: {error}", links
                )
        if found is None:
            text = f"No articles selected for {period} ({period.first_day} to {period.last_day})."
            if not asked:
                text = f"No articles selected in the {SEARCHED_PERIODS} periods up to {period}."
            return HTTPStatus.NOT_FOUND, _message_page(f"Newsletter {period}", text, links)
        period, page = found[0], found[1].html
        bar = (
            f"Newsletter preview, {html.escape(str(period))} ({period.first_day} to"
            f" {period.last_day}): rendered now, not sent. {_period_links(edition, period)}"
        )
        return HTTPStatus.OK, _with_banner(page, [bar], escape=False)


def newsletter_edition(path: str) -> str | None:
    """The edition a ``/newsletter/…`` path names (``""``: the default one), or ``None``
    for any other path."""
    match = _NEWSLETTER.fullmatch(path)
    return match[1] or "" if match else None


def _period_links(edition: Edition, period: Period) -> str:
    key = FLAGS[edition.cadence].removeprefix("--")
    where = f"{NEWSLETTER_PATH}{quote(edition.name)}/" if edition.name else NEWSLETTER_PATH
    before, after = edition.before(period), edition.after(period)
    return (
        f'<a href="{where}?{key}={before}">&larr; {before}</a> · '
        f'<a href="{where}?{key}={after}">{after} &rarr;</a>'
    )


def _stamp(path: Path) -> object:
    try:
        status = path.stat()
    except OSError as error:
        return error.strerror
    return (status.st_size, status.st_mtime_ns)


# Pages with a banner ------------------------------------------------------------------------

BANNER_STYLE = (
    "margin:0;padding:.75rem 1rem;background:#fff8c5;color:#3b2300;"
    "border-bottom:2px solid #d4a72c;font:14px/1.4 system-ui,sans-serif;"
    "overflow-wrap:anywhere"
)
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def _with_banner(page: str, lines: Sequence[str], *, escape: bool = True) -> str:
    """``page`` with a banner of ``lines`` at the top of its body."""
    items = "".join(f"<li>{html.escape(line) if escape else line}</li>" for line in lines)
    banner = (
        f'<div role="alert" style="{BANNER_STYLE}"><strong>publisher serve</strong>'
        f'<ul style="margin:.25rem 0 0;padding-left:1.25rem">{items}</ul></div>'
    )
    found = _BODY.search(page)
    if found is None:
        return banner + page
    return page[: found.end()] + banner + page[found.end() :]


def _message_page(title: str, message: str, links: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n"
        '<body style="font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;'
        'padding:0 1rem">\n'
        f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(message)}</p>\n"
        f"{f'<p>{links}</p>' if links else ''}\n"
        '<p><a href="/">The site</a></p>\n</body>\n</html>\n'
    )


PREVIEW_TYPES = {
    # Shown in the browser rather than downloaded, for a preview.
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".opml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


class Handler(SimpleHTTPRequestHandler):
    """Files from the preview's folder, never cached; HTML pages carry the banner of problems;
    ``/newsletter/`` renders the newsletter."""

    preview: Preview

    def __init__(self, *args: Any, preview: Preview, **kwargs: Any) -> None:
        self.preview = preview
        self.extensions_map = {**self.extensions_map, **PREVIEW_TYPES}
        super().__init__(*args, directory=str(preview.out), **kwargs)

    def do_GET(self) -> None:
        try:
            self._get()
        except Exception as error:  # every request gets an answer, whatever went wrong
            self.preview.warn(f"publisher: error: {self.path!r}: {type(error).__name__}: {error}")
            with contextlib.suppress(Exception):
                page = _message_page("Error", f"cannot answer: {type(error).__name__}: {error}")
                self._send_html(HTTPStatus.INTERNAL_SERVER_ERROR, page)

    def _get(self) -> None:
        parts = urlsplit(self.path)
        if (edition := newsletter_edition(parts.path)) is not None:
            status, page = self.preview.newsletter(parts.query, edition)
            self._send_html(status, page)
            return
        problems = self.preview.problems
        target = Path(self.translate_path(self.path))
        if target.is_dir():
            target = target / "index.html"
        is_page = target.suffix == ".html" and parts.path.endswith(("/", ".html"))
        if problems and is_page:
            if target.is_file():
                page = target.read_text(encoding="utf-8", errors="replace")
                self._send_html(HTTPStatus.OK, _with_banner(page, problems))
                return
            if not (self.preview.out / "index.html").is_file():
                page = _message_page("Nothing built yet", "The site could not be built.")
                self._send_html(HTTPStatus.SERVICE_UNAVAILABLE, _with_banner(page, problems))
                return
        super().do_GET()

    def _send_html(self, status: int, page: str) -> None:
        data = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def end_headers(self) -> None:
        # Every reload shows the latest build.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal is for what changed and what went wrong, not every request

    def log_error(self, format: str, *args: Any) -> None:
        if not (args and str(args[0]) == str(HTTPStatus.NOT_FOUND.value)):
            self.preview.warn(f"{self.address_string()}: {format % args}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    """Connections waiting to be accepted: a page's many feeds and a reload's burst (the
    default, 5, made 100 requests at once wait seconds)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a browser that hangs up mid-response is not the site's problem


class _Server6(_Server):
    address_family = socket.AF_INET6


def listen(bind: str, port: int, preview: Preview) -> ThreadingHTTPServer:
    """A server bound to ``bind:port`` (``port`` 0: any free port), not yet serving; its URL
    becomes the preview's site URL."""
    if not bind.strip():
        # The socket library takes "" as every interface: listen there only when asked by name.
        raise PublisherError(
            "give the address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 (or ::)"
            " for every interface",
            field="--bind",
        )
    server_class = _Server6 if ":" in bind else _Server
    try:
        server = server_class((bind, port), partial(Handler, preview=preview))
    except (OSError, OverflowError) as error:
        in_use = isinstance(error, OSError) and error.errno == errno.EADDRINUSE
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise PublisherError(
            f"cannot listen on {bind} port {port}: {reason}", field="--port" if in_use else "--bind"
        ) from None
    host = f"[{bind}]" if ":" in bind else bind
    preview.url = f"http://{host}:{server.server_address[1]}/"
    return server


def serve(preview: Preview, server: ThreadingHTTPServer) -> None:
    """Build, serve, and build again on every change until Ctrl-C (or SIGTERM, inside
    :func:`stopping`)."""
    thread = threading.Thread(target=server.serve_forever, name="publisher-serve", daemon=True)
    try:
        before = preview.snapshot()
        preview.build()
        thread.start()
        newsletter = f"{preview.url}{NEWSLETTER_PATH.lstrip('/')}"
        preview.say(
            f"Serving {preview.url} from {preview.out} (newsletter: {newsletter}); Ctrl-C stops"
        )
        _watch(preview, before)
    except KeyboardInterrupt:
        pass
    finally:
        if thread.is_alive():
            server.shutdown()
        server.server_close()


def _watch(preview: Preview, before: Snapshot) -> None:
    """Look at the files every half second or so; build again when any changed. A change made
    during a build is seen by the next look, against what the files were when it started."""
    while True:
        started = time.perf_counter()
        now = preview.snapshot()
        looked = time.perf_counter() - started
        if now != before:
            changed = sorted(
                name for name in before.keys() | now.keys() if before.get(name) != now.get(name)
            )
            shown = ", ".join(Path(name).name for name in changed[:3])
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            preview.say(f"changed: {shown}{more}")
            preview.build()
        before = now
        # Looking at 50,000 files takes a fifth of a second: look less often at big folders.
        time.sleep(max(POLL_SECONDS, 10 * looked))


@contextlib.contextmanager
def stopping() -> Iterator[Callable[[], None]]:
    """Ctrl-C or SIGTERM (a service manager, ``kill``) stops the server, once.

    Both are held off until the block calls the function it is given (once what is to be
    tidied up is known); the first one after raises :class:`KeyboardInterrupt`, and from
    then on both are held off for good: the process is on its way out, and no second Ctrl-C
    may cut the tidying up short (a scratch folder left behind). A block that ends without
    being stopped puts the handlers back as they were."""
    stopped = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        hold_interrupts()
        stopped = True
        raise KeyboardInterrupt

    def allow() -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, interrupt)

    previous = {number: signal.signal(number, signal.SIG_IGN) for number in STOP_SIGNALS}
    try:
        yield allow
    finally:
        if not stopped:
            for number, handler in previous.items():
                signal.signal(number, handler)


def hold_interrupts() -> None:
    """Ignore Ctrl-C and SIGTERM from now until :func:`stopping` ends: the way out is taken."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
