"""Article text as plain text: markup in a title or an excerpt read by an HTML parser, never
shown as tags.

Article fields arrive with entities already decoded (``content.normalise``), so ``<`` here is
either markup or the author's own character ("5 < 6", "vector<int>", "Why <script> tags
block rendering"). Only real HTML is parsed: an element HTML knows whose opening and closing
tags pair up, or one that needs no closing tag (``<br>``, ``<p>``), and comments. Everything
else stays as written. Pure; used by every output that wants text: the feeds, the newsletter
and its archive page.
"""

from __future__ import annotations

import functools
import re
from typing import Any


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


ELEMENTS = _names(
    """a abbr acronym address article aside b bdi bdo big blockquote body br caption center cite
    code col colgroup dd del details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4
    h5 h6 head header hr html i img ins kbd label li main mark nav noscript ol p pre q s samp
    script section small span strike strong style sub summary sup table tbody td template tfoot
    th thead time title tr tt u ul var video wbr"""
)
"""HTML elements that turn up in scraped titles and excerpts."""
UNCLOSED = frozenset({"br", "hr", "img", "wbr", "p", "li"})
"""Elements that count as markup without a closing tag: void, or routinely left open."""
BLOCKS = _names(
    """address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5
    h6 header hr li main nav ol p pre section summary table td th tr ul"""
)
"""Elements that separate words: their edges become spaces."""
HIDDEN = frozenset({"script", "style", "template", "noscript", "title"})
"""Elements whose text is never meant to be read."""
DOCUMENT = frozenset({"html", "head", "body"})
"""A whole document's frame: its tags are dropped, so the rest parses as one fragment."""

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)(?=[\s/>])[^<>]*>|<!--.*?-->", re.DOTALL)
COMMENT = "<!--"
_WORDS = re.compile(r"[\W_]+")


def plain_text(text: str) -> str:
    """``text`` with its HTML (if any) turned into the words a reader would see.

    ``<p>One</p><p>Two & <b>three</b></p>`` → ``One Two & three``; scripts, styles and
    comments are dropped. Text without markup comes back unchanged.
    """
    if "<" not in text:
        return text
    tags = list(_TAG.finditer(text))
    markup = _markup(tags)
    if not markup:
        return text
    # Only markup may reach the parser as markup: every other "<", and every "&" (entities
    # were decoded when the article was read), is escaped so it is read back as itself.
    fragment = _html_parser().fragment_fromstring(
        _escape_all_but_markup(text, tags, markup), create_parent="div"
    )
    for element in list(fragment.iter()):
        if not isinstance(element.tag, str):
            continue
        name = element.tag.lower()
        if name in HIDDEN and element is not fragment:
            element.drop_tree()
        elif name in BLOCKS:
            element.text = f" {element.text or ''}"
            element.tail = f" {element.tail or ''}"
    return " ".join(fragment.text_content().split())


def _html_parser() -> Any:
    # lxml.html takes a tenth of a second to import; most text has no markup to parse.
    import lxml.html

    return lxml.html


@functools.lru_cache(maxsize=1 << 16)
def headline(title: str) -> str:
    """A title as plain text; a title that is nothing but markup is kept as written."""
    return plain_text(title) or title


@functools.lru_cache(maxsize=1 << 16)
def summary_of(title: str, excerpt: str) -> str:
    """The excerpt as plain text, or nothing when it only repeats the title."""
    summary = plain_text(excerpt)
    if _words(summary) == _words(headline(title)):
        return ""
    return summary


def _words(text: str) -> str:
    return _WORDS.sub(" ", text.casefold()).strip()


def _markup(tags: list[re.Match[str]]) -> set[int]:
    """Which of ``tags`` (by position) are markup: a comment, an element that needs no
    closing tag, or an opening and closing tag of a known element that pair up."""
    markup: set[int] = set()
    waiting: dict[str, list[int]] = {}
    for index, match in enumerate(tags):
        name = _name(match)
        if name == COMMENT or name in UNCLOSED:
            markup.add(index)
        elif name not in ELEMENTS:
            continue
        elif not match[1]:
            waiting.setdefault(name, []).append(index)
        elif waiting.get(name):
            markup.update((waiting[name].pop(), index))
    return markup


def _name(match: re.Match[str]) -> str:
    return COMMENT if match[0].startswith("<!--") else match[2].lower()


def _escape_all_but_markup(text: str, tags: list[re.Match[str]], markup: set[int]) -> str:
    pieces: list[str] = []
    position = 0
    for index, match in enumerate(tags):
        pieces.append(_escape(text[position : match.start()]))
        if index not in markup:
            pieces.append(_escape(match[0]))
        elif _name(match) in DOCUMENT:
            pieces.append(" ")
        else:
            pieces.append(match[0])
        position = match.end()
    pieces.append(_escape(text[position:]))
    return "".join(pieces)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
