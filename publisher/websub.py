"""The only door to a WebSub hub: telling it which feeds changed.

A hub that knows a feed changed fetches it and pushes it to the readers subscribed there, so
they see a story within seconds instead of at their next poll. The notification is the one
every hub takes (WebSub's "publish", from PubSubHubbub): a form-encoded POST of
``hub.mode=publish`` and ``hub.url=<feed URL>``, one request per feed, since not every hub
accepts several ``hub.url`` in one request.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from publisher import __version__

USER_AGENT = f"publisher/{__version__} (+https://github.com/news-publisher/publisher)"
REASON_CHARS = 200
"""How much of a hub's error message a warning quotes."""


@dataclass
class PingReport:
    """What the hub was told: feeds it accepted, and feeds it was not told with why."""

    pinged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would come back as a GET, which no hub takes as a notification:
    a redirect is a failure that names where the hub moved."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def publish(hub: str, urls: Sequence[str], *, timeout: float) -> PingReport:
    """Tell ``hub`` that each feed in ``urls`` changed, one request per feed, in order.

    Any 2xx answer is success (WebSub asks for 204; hubs also answer 200 and 202). A hub that
    cannot be reached, or does not answer within ``timeout`` seconds, is not asked again in
    this run: the remaining feeds fail with the same reason, so a hub that is down costs one
    timeout, not one per feed.
    """
    opener = urllib.request.build_opener(_NoRedirect)
    report = PingReport()
    unreachable = ""
    for url in urls:
        if unreachable:
            report.failed[url] = unreachable
            continue
        request = urllib.request.Request(
            hub,
            data=urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii"),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": USER_AGENT,
            },
        )
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as error:
            report.failed[url] = _refusal(error)
        except TimeoutError:
            unreachable = report.failed[url] = f"no answer within {timeout:g} s"
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                unreachable = report.failed[url] = f"no answer within {timeout:g} s"
            else:
                unreachable = report.failed[url] = f"cannot reach the hub: {_one_line(reason)}"
        else:
            report.pinged.append(url)
    return report


def _refusal(error: urllib.error.HTTPError) -> str:
    """The hub's answer as one line: status, reason, the start of what it said."""
    if 300 <= error.code < 400:
        return f"the hub redirected ({error.code}) to {error.headers.get('Location', '?')}"
    try:
        said = error.read(4096).decode("utf-8", "replace")
    except OSError:
        said = ""
    said = _one_line(said)[:REASON_CHARS]
    return f"the hub answered {error.code} {_one_line(error.reason)}" + (
        f": {said}" if said else ""
    )


def _one_line(value: object) -> str:
    """Text from the network, fit for one line of a terminal: no control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
