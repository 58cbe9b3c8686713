"""Front matter text → exactly the value PyYAML's safe loader gives, fast.

PyYAML spends three quarters of its time building Python objects in Python. Article front
matter uses a small part of YAML: block mappings and sequences of one-line scalars. A
pure-Python parser for that subset handles it about five times faster than libyaml through
PyYAML:

* block mappings with simple plain keys (``[A-Za-z0-9_][A-Za-z0-9_.-]*``),
* block sequences (indented, indentless and compact ``- key: value`` items),
* single-line plain, double-quoted and single-quoted scalars, ``[]`` and ``{}``,
* full-line comments and blank lines.

Plain scalars are resolved with PyYAML's own YAML 1.1 implicit resolvers and built with its
``SafeConstructor`` (with fast paths for decimal integers and UTC timestamps). Anything else
(flow collections, anchors, aliases, tags, block or multi-line scalars, complex keys, tabs,
duplicate keys, unusual characters) makes the fast path give up, and the whole text goes to the
safe loader, so edge cases and errors behave exactly as PyYAML's. The fast path never interprets
tags, so ``!!python/...`` cannot execute code.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import yaml

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_CLOSING_LINE = re.compile(r"\n(?:---|\.\.\.)[ \t]*(?:\n|$)")


class NotFrontMatter(ValueError):
    """The text does not start with a ``---`` fenced block."""


def split_front_matter(text: str) -> str:
    """The YAML between the opening ``---`` line and the next ``---`` (or ``...``) line."""
    first_break = text.find("\n")
    if not text.startswith("---") or first_break < 0 or text[3:first_break].strip():
        raise NotFrontMatter("the file does not start with a '---' line")
    start = first_break + 1
    match = _CLOSING_LINE.search(text, first_break)
    if match is None:
        raise NotFrontMatter("no closing '---' line after the front matter")
    return text[start : match.start() + 1]


class _Unsupported(Exception):
    """Raised when the text is outside the subset handled by the fast path."""


# One line: indent, optional "- " entry marker, optional "key:" and the rest.
# Keys are kept well below libyaml's 1024-character limit for simple keys.
# The rest may only hold characters libyaml treats as ordinary printable ones:
# no tabs, CR, control characters, BOM or the line breaks NEL, LS and PS.  A
# line with any other character does not match at all.  The runs of spaces are
# possessive (``*+``, ``++``): the rest of the line may also hold spaces, and
# handing them back one by one when a line fails made a line of N spaces and a
# tab cost N² steps (40,000 spaces, 11 s).  Giving none back never loses a match:
# after the spaces, the rest alone can always take what they would have left.
_LINE = re.compile(
    r"^( *+)(-(?: ++|$))?(?:([A-Za-z0-9_][A-Za-z0-9_.\-]{0,999}):(?: ++|$))?"
    "([ -~\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*)$",
    re.MULTILINE,
)
# Characters that cannot start a plain scalar in block context.
_INDICATORS = frozenset("[]{},#&*!|>%@`'\"")
_DOUBLE_QUOTED = re.compile(
    r'"(?:[^"\\]|\\(?:[0abtnvfre "/\\N_LP]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}))*"'
)
_ESCAPE = re.compile(
    r"\\(?:([0abtnvfre \"/\\N_LP])|x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))"
)
_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
    "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_DECIMAL_INT = re.compile(r"-?[1-9][0-9]*|0")
_UTC_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_PLAIN_CACHE_SIZE = 4096

_KEY, _ITEM, _ITEM_WITH_KEY = 0, 1, 2
_Entry = tuple[int, int, str, str]  # column, kind, key, rest of the line

_SAFE_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_RESOLVERS = SafeLoader.yaml_implicit_resolvers
# Plain scalar text -> constructed value.  All values are immutable, so sharing
# them between documents is safe.
_PLAIN_CACHE: dict[str, object] = {}
_MISSING = object()


def _construct_with_pyyaml(
    method: Callable[[yaml.ScalarNode], object], tag: str, value: str
) -> object:
    """Build a scalar with a SafeConstructor method; any error means fall back."""
    try:
        return method(yaml.ScalarNode(tag, value))
    except Exception as exc:
        raise _Unsupported from exc


def _construct_int(value: str) -> object:
    """Build an int-tagged plain scalar."""
    if _DECIMAL_INT.fullmatch(value):
        return int(value)
    return _construct_with_pyyaml(
        _SAFE_CONSTRUCTOR.construct_yaml_int, "tag:yaml.org,2002:int", value
    )


def _construct_float(value: str) -> object:
    """Build a float-tagged plain scalar."""
    return _construct_with_pyyaml(
        _SAFE_CONSTRUCTOR.construct_yaml_float, "tag:yaml.org,2002:float", value
    )


def _construct_timestamp(value: str) -> object:
    """Build a timestamp-tagged plain scalar (date or datetime)."""
    if _UTC_DATETIME.fullmatch(value):
        try:
            return datetime.datetime.fromisoformat(value)  # tzinfo is timezone.utc
        except ValueError as exc:
            raise _Unsupported from exc
    return _construct_with_pyyaml(
        _SAFE_CONSTRUCTOR.construct_yaml_timestamp, "tag:yaml.org,2002:timestamp", value
    )


_CONSTRUCTORS: dict[str, Callable[[str], object]] = {
    "tag:yaml.org,2002:null": lambda value: None,
    "tag:yaml.org,2002:bool": lambda value: _SAFE_CONSTRUCTOR.bool_values[value.lower()],
    "tag:yaml.org,2002:int": _construct_int,
    "tag:yaml.org,2002:float": _construct_float,
    "tag:yaml.org,2002:timestamp": _construct_timestamp,
}


def _resolve_plain(text: str) -> object:
    """Resolve and construct a plain scalar the way PyYAML's SafeLoader does."""
    for tag, regexp in _RESOLVERS.get(text[:1], ()):
        if regexp.match(text):
            construct = _CONSTRUCTORS.get(tag)
            if construct is None:
                raise _Unsupported(tag)
            return construct(text)
    return text


def _plain(text: str) -> object:
    """Construct a single-line plain scalar (non-empty, no surrounding spaces)."""
    value = _PLAIN_CACHE.get(text, _MISSING)
    if value is _MISSING:
        first = text[0]
        if (
            first in _INDICATORS
            or (first in "-?:" and text[1:2] in ("", " "))
            or ": " in text
            or " #" in text
            or text[-1] == ":"
        ):
            raise _Unsupported(text)
        value = _resolve_plain(text)
        if len(_PLAIN_CACHE) >= _PLAIN_CACHE_SIZE:
            _PLAIN_CACHE.clear()
        _PLAIN_CACHE[text] = value
    return value


def _double_quoted(text: str) -> str:
    """Decode a single-line double-quoted scalar that contains escapes or quotes."""
    if not _DOUBLE_QUOTED.fullmatch(text):
        raise _Unsupported(text)
    return _ESCAPE.sub(_unescape, text[1:-1])


def _unescape(match: re.Match[str]) -> str:
    """Replace one backslash escape sequence like libyaml does."""
    simple, *hex_digits = match.groups()
    if simple is not None:
        return _ESCAPES[simple]
    code = int(next(h for h in hex_digits if h is not None), 16)
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        raise _Unsupported(match.group())
    return chr(code)


def _single_quoted(text: str) -> str:
    """Decode a complete single-line single-quoted scalar."""
    body = text[1:-1]
    if len(text) < 2 or text[-1] != "'" or "'" in body.replace("''", ""):
        raise _Unsupported(text)
    return body.replace("''", "'")


def _scalar(text: str) -> object:
    """Construct the scalar written as ``text`` (non-empty, no leading spaces)."""
    if text[-1] == " ":
        text = text.rstrip(" ")
    first = text[0]
    if first == '"':
        body = text[1:-1]
        if text[-1] == '"' and len(text) > 1 and '"' not in body and "\\" not in body:
            return body
        return _double_quoted(text)
    if first == "'":
        return _single_quoted(text)
    if text == "[]":
        return []
    if text == "{}":
        return {}
    return _plain(text)


def _entries(text: str) -> list[_Entry]:
    """Split the text into entries; a ``- key: value`` line gives two entries."""
    lines = _LINE.findall(text)
    if len(lines) != text.count("\n") + 1:
        raise _Unsupported("unexpected character")
    entries: list[_Entry] = []
    for indent, dash, key, rest in lines:
        if not dash:
            if key:
                entries.append((len(indent), _KEY, key, rest))
            elif rest and rest[0] != "#":
                raise _Unsupported(rest)
        elif key:
            entries.append((len(indent), _ITEM_WITH_KEY, "", ""))
            entries.append((len(indent) + len(dash), _KEY, key, rest))
        else:
            entries.append((len(indent), _ITEM, "", rest))
    return entries


def _node(entries: list[_Entry], i: int) -> tuple[object, int]:
    """Parse the block collection starting at entry ``i``."""
    column, kind = entries[i][0], entries[i][1]
    if kind == _KEY:
        return _mapping(entries, i, column)
    return _sequence(entries, i, column)


def _nested(entries: list[_Entry], i: int, column: int) -> tuple[object, int]:
    """Parse the value of an entry with nothing after its ``:`` or ``-``."""
    if i < len(entries) and entries[i][0] > column:
        return _node(entries, i)
    return None, i


def _mapping(entries: list[_Entry], i: int, column: int) -> tuple[dict[object, object], int]:
    """Parse a block mapping whose keys sit at ``column``."""
    mapping: dict[object, object] = {}
    count = len(entries)
    while i < count:
        entry_column, kind, key_text, rest = entries[i]
        if entry_column < column:
            break
        if entry_column > column or kind != _KEY:
            raise _Unsupported(key_text)
        key = _plain(key_text)
        if key in mapping:
            raise _Unsupported(key_text)
        i += 1
        if rest:
            mapping[key] = _scalar(rest)
        elif i < count and entries[i][0] == column and entries[i][1] != _KEY:
            mapping[key], i = _sequence(entries, i, column)
        else:
            mapping[key], i = _nested(entries, i, column)
    return mapping, i


def _sequence(entries: list[_Entry], i: int, column: int) -> tuple[list[object], int]:
    """Parse a block sequence whose ``-`` markers sit at ``column``."""
    items: list[object] = []
    count = len(entries)
    while i < count:
        entry_column, kind, _, rest = entries[i]
        if entry_column < column or kind == _KEY:
            break
        if entry_column > column:
            raise _Unsupported(rest)
        i += 1
        item: object
        if kind == _ITEM_WITH_KEY:
            item, i = _mapping(entries, i, entries[i][0])
        elif rest:
            item = _scalar(rest)
        else:
            item, i = _nested(entries, i, column)
        items.append(item)
    return items, i


def _parse_subset(text: str) -> object:
    """Parse ``text`` with the fast path or raise ``_Unsupported``."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    entries = _entries(text)
    if not entries:
        raise _Unsupported("empty document")
    value, end = _node(entries, 0)
    if end != len(entries):
        raise _Unsupported("trailing content")
    return value


def parse_common(text: str) -> Any:
    """What ``yaml.load(text, Loader=CSafeLoader)`` gives, when ``text`` is in the common
    subset; ``None`` when it is not. Text in the subset holds no control characters (not even
    tabs): each line must match :data:`_LINE`."""
    try:
        return _parse_subset(text)
    except (_Unsupported, RecursionError, ValueError, OverflowError):
        # Values out of range too: PyYAML's own errors say what is wrong with them.
        return None


def parse_yaml(text: str) -> Any:
    """Parse exactly as ``yaml.load(text, Loader=CSafeLoader)`` would, several times faster.

    Front matter in the common subset takes the fast path; anything else is handed whole to
    PyYAML's safe loader, so its errors, and its refusal of tags, are PyYAML's own.
    """
    value = parse_common(text)
    return yaml.load(text, Loader=SafeLoader) if value is None else value
