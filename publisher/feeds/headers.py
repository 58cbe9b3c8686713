"""The ``_headers`` file Netlify and Cloudflare Pages read: each published file's content type
and cache lifetime, the same as ``deploy/nginx.conf`` and ``deploy/Caddyfile`` give."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import PurePosixPath

from publisher.feeds import FORMATS

HEADERS_FILE = "_headers"
ARCHIVE_MAX_AGE = 604_800
"""Seconds an archive page may be kept without asking again (a week). Its stories never move,
but an edited story renders its page again: a year would keep the old text too long."""
HTML_TYPE = "text/html; charset=utf-8"
OPML_TYPE = "text/x-opml"


def media_type(relative: str) -> str | None:
    """The content type of a published file, by its name; ``None`` for one publisher does not
    name (the host's own guess stands)."""
    path = PurePosixPath(relative)
    if path.parent.name == "archive":
        # The longest pattern first: an Atom page (``1.atom.xml``) also ends in ``.xml``.
        patterns = sorted(FORMATS, key=lambda kind: -len(kind.archive_pattern))
        for kind in patterns:
            suffix = kind.archive_pattern.split("{page}")[-1]
            if path.name.endswith(suffix) and path.name[: -len(suffix)].isdigit():
                return kind.media_type
        return None
    by_name = {kind.file: kind.media_type for kind in FORMATS}
    by_name.update({"feeds.opml": OPML_TYPE, "index.html": HTML_TYPE})
    return by_name.get(path.name)


def cache_control(relative: str, max_age: int) -> str:
    """How long readers and caches may keep a published file: archive pages never change."""
    if PurePosixPath(relative).parent.name == "archive":
        return f"public, max-age={ARCHIVE_MAX_AGE}, immutable"
    return f"public, max-age={max_age}"


def render_headers(paths: Iterable[str], max_age: int) -> bytes:
    """``_headers`` for the published files at ``paths`` (relative to the output folder, which
    the host serves as the site's root).

    One rule per file, and for a folder's ``index.html`` one for the folder's URL too: both
    hosts apply every rule that matches and join a header set twice with commas, so patterns
    that overlap (``/archive/*.xml`` also matches ``1.atom.xml``) would send two types.
    """
    lines = ["# Written by publisher: content types and cache lifetimes of the feeds."]
    for relative in sorted(paths):
        if relative == HEADERS_FILE:
            continue
        rule = [f"  Cache-Control: {cache_control(relative, max_age)}"]
        if kind := media_type(relative):
            rule.insert(0, f"  Content-Type: {kind}")
        urls = [f"/{relative}"]
        if PurePosixPath(relative).name == "index.html":
            urls.append(f"/{relative[: -len('index.html')]}")
        for url in urls:
            lines += [url, *rule]
    return ("\n".join(lines) + "\n").encode("utf-8")


def with_headers(
    outputs: Mapping[str, bytes], order: Sequence[str], kept: Sequence[str], max_age: int
) -> tuple[Mapping[str, bytes], list[str]]:
    """``outputs`` (written in ``order``) with ``_headers`` for them and the ``kept`` files
    added, written last, and the new order."""
    headers = render_headers([*order, *kept], max_age)
    return _Plus(outputs, HEADERS_FILE, headers), [*order, HEADERS_FILE]


class _Plus(Mapping[str, bytes]):
    """``outputs`` and one more file, without asking ``outputs`` for any bytes."""

    def __init__(self, outputs: Mapping[str, bytes], path: str, data: bytes) -> None:
        self.outputs, self.path, self.data = outputs, path, data

    def __getitem__(self, path: str) -> bytes:
        return self.data if path == self.path else self.outputs[path]

    def __iter__(self) -> Iterator[str]:
        yield from self.outputs
        yield self.path

    def __len__(self) -> int:
        return len(self.outputs) + 1
