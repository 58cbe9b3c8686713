"""Values made fit to write into a feed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import idna

_URI_CHARS = r"A-Za-z0-9\-._~!$&'()*+,;=:@/?"
"""What RFC 3986 lets a URI's parts hold as they are: unreserved characters, sub-delimiters and
the path and query delimiters. ``%`` is kept only before two hex digits, ``#`` only once."""
_UNFIT = re.compile(rf"[^{_URI_CHARS}%]+|%(?![0-9A-Fa-f]{{2}})")
_UNFIT_IN_URI = re.compile(rf"[^{_URI_CHARS}%#]|%(?![0-9A-Fa-f]{{2}})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_IP_LITERAL = re.compile(r"\[[0-9A-Fa-f:.]+\]")
_HOSTNAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))+", re.I | re.A)


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest date a feed carries: RFC 822 dates need four-digit years, RFC 2822 from 1900."""


def feed_date(moment: datetime) -> datetime:
    """``moment``, or :data:`EARLIEST` for anything before it."""
    return max(moment, EARLIEST)


def uri(url: str) -> str:
    """``url`` as a URI: an IRI's host IDNA-encoded, and whatever else a URI may not hold
    (quotes, angle brackets, spaces, non-ASCII) percent-encoded as UTF-8.

    A URL that already is a URI comes back unchanged.
    """
    if url.count("#") <= 1 and not _UNFIT_IN_URI.search(url):
        return url
    before, hash_mark, fragment = url.partition("#")
    fragment = _escape(fragment)
    scheme, separator, rest = before.partition("://")
    if not (separator and _SCHEME.fullmatch(scheme)):
        return f"{_escape(before)}{hash_mark}{fragment}"
    authority = re.split(r"[/?]", rest, maxsplit=1)[0]
    path = rest[len(authority) :]
    userinfo, at, hostport = authority.rpartition("@")
    if literal := _IP_LITERAL.match(hostport):
        host, port = literal[0], hostport[literal.end() :]
    else:
        host, colon, port = hostport.partition(":")
        host, port = _ascii_host(host), f"{colon}{port}"
    authority = f"{_escape(userinfo)}{at}{host}{_escape(port)}"
    return f"{scheme}://{authority}{_escape(path)}{hash_mark}{fragment}"


def home_page(domain: str) -> str | None:
    """``https://domain/`` when ``domain`` is a host name with a dot in it, else ``None``."""
    host = _ascii_host(domain)
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        return None
    return f"https://{host}/"


def _ascii_host(host: str) -> str:
    """A host name in ASCII: IDNA 2008 (UTS #46) for an internationalised name, else anything a
    URI may not hold percent-encoded; lower case wherever it had to change, as host names ignore
    case and validators expect the canonical form."""
    if not host.isascii():
        try:
            return idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            pass
    escaped = _escape(host)
    return host if escaped == host else escaped.lower()


def _escape(text: str) -> str:
    return _UNFIT.sub(_percent_encoded, text)


def _percent_encoded(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match[0].encode("utf-8", "surrogatepass"))
