"""The only door to a WebSub hub: telling it which feeds changed.

A hub that knows a feed changed fetches it and pushes it to the readers subscribed there, so
they see a story within seconds instead of at their next poll. The notification is the one
every hub takes (WebSub's "publish", from PubSubHubbub): a form-encoded POST of
``hub.mode=publish`` and ``hub.url=<feed URL>``, one request per feed, since not every hub
accepts several ``hub.url`` in one request.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from publisher import __version__

USER_AGENT = f"publisher/{__version__} (+https://github.com/news-publisher/publisher)"
REASON_CHARS = 200
"""How much of what a hub says (its reason phrase, body or redirect address) a warning quotes."""
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class PingReport:
    """What the hub was told: feeds it accepted, and feeds it was not told with why."""

    pinged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def publish(
    hub: str,
    urls: Sequence[str],
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> PingReport:
    """Tell ``hub`` that each feed in ``urls`` changed, one request per feed, in order.

    Any 2xx answer is success (WebSub asks for 204; hubs also answer 200 and 202). ``timeout``
    bounds the whole stage, not each request or each read: a hub that trickles its answer a
    byte at a time is cut off when it runs out. The first failure (no answer in time, no
    connection, an error or a redirect) ends the stage: the remaining feeds fail with the same
    reason and wait for the next build, so a hub that is down, slow or refusing costs a run
    at most ``timeout`` seconds, and one request.
    """
    deadline = clock() + timeout
    report = PingReport()
    given_up = ""
    for url in urls:
        if not given_up:
            remaining = deadline - clock()
            if remaining <= 0:
                given_up = f"no answer within {timeout:g} s"
            else:
                given_up = _ask(hub, url, remaining, timeout)
            if not given_up:
                report.pinged.append(url)
                continue
        report.failed[url] = given_up
    return report


def _ask(hub: str, url: str, remaining: float, timeout: float) -> str:
    """Post one notification within ``remaining`` seconds; why it failed, or ``""``.

    The request runs in a thread of its own, so that nothing the hub (or the name server)
    does can hold the build past the deadline; at the deadline its connection is shut, which
    ends the thread's wait."""
    opened: list[http.client.HTTPConnection] = []
    outcome: list[str] = []

    def ask() -> None:
        try:
            outcome.append(_post(hub, url, remaining, opened, timeout))
        except Exception as error:  # whatever it is, the build goes on and says why
            outcome.append(f"cannot reach the hub: {quoted(f'{type(error).__name__}: {error}')}")

    worker = threading.Thread(
        target=ask,
        name="publisher-websub",
        daemon=True,
    )
    worker.start()
    worker.join(remaining)
    if outcome:
        return outcome[0]
    for connection in list(opened):
        with contextlib.suppress(OSError, AttributeError):
            connection.sock.shutdown(socket.SHUT_RDWR)
    return f"no answer within {timeout:g} s"


def _post(
    hub: str,
    url: str,
    remaining: float,
    opened: list[http.client.HTTPConnection],
    timeout: float,
) -> str:
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect(), _TrackedHTTP(opened)]
    if hub.lower().startswith("https:"):
        # Loading the certificates takes a while: only for a hub that needs them.
        handlers.append(_TrackedHTTPS(opened, ssl.create_default_context()))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(
        hub,
        data=urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii"),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
    )
    try:
        with opener.open(request, timeout=remaining) as response:
            response.read(65536)
    except urllib.error.HTTPError as error:
        return _refusal(error)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            return f"no answer within {timeout:g} s"
        return f"cannot reach the hub: {quoted(reason)}"
    return ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would come back as a GET, which no hub takes as a notification:
    a redirect is a failure that names where the hub moved."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class _TrackedHTTP(urllib.request.HTTPHandler):
    """Plain HTTP whose connections are kept in ``opened``, for the deadline to shut."""

    def __init__(self, opened: list[http.client.HTTPConnection]) -> None:
        super().__init__()
        self.opened = opened

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_tracked(http.client.HTTPConnection, self.opened), req)


class _TrackedHTTPS(urllib.request.HTTPSHandler):
    """HTTPS whose connections are kept in ``opened``, for the deadline to shut."""

    def __init__(self, opened: list[http.client.HTTPConnection], context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self.opened = opened
        self.context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connect = _tracked(http.client.HTTPSConnection, self.opened)
        return self.do_open(connect, req, context=self.context)


def _tracked(
    kind: type[http.client.HTTPConnection], opened: list[http.client.HTTPConnection]
) -> Callable[..., http.client.HTTPConnection]:
    """Makes connections of ``kind``, each kept in ``opened``."""

    def connect(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
        connection = kind(*args, **kwargs)
        opened.append(connection)
        return connection

    return connect


def _refusal(error: urllib.error.HTTPError) -> str:
    """The hub's answer as one line: status, reason, the start of what it said."""
    location = error.headers.get("Location") if error.headers else None
    if error.code in REDIRECTS and location:
        return f"the hub redirected ({error.code}) to {quoted(location)}"
    try:
        said = error.read(4096).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        said = ""
    said = quoted(said)
    return f"the hub answered {error.code} {quoted(error.reason)}" + (f": {said}" if said else "")


def quoted(value: object, limit: int = REASON_CHARS) -> str:
    """Text from the network, fit for one line of a terminal: white space folded, other
    control characters escaped (``\\x1b``), cut to ``limit`` characters."""
    text = " ".join(str(value).split())
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
