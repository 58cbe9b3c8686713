"""Front matter text → the mapping PyYAML's safe loader would give."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class NotFrontMatter(ValueError):
    """The text does not start with a ``---`` fenced block."""


def split_front_matter(text: str) -> str:
    """The YAML between the opening ``---`` line and the next ``---`` (or ``...``) line."""
    if not text.startswith("---"):
        raise NotFrontMatter("the file does not start with a '---' line")
    first_break = text.find("\n")
    if first_break < 0 or text[3:first_break].strip():
        raise NotFrontMatter("the file does not start with a '---' line")
    start = first_break + 1
    position = start
    while True:
        end = text.find("\n", position)
        line = text[position:] if end < 0 else text[position:end]
        if line.rstrip() in ("---", "..."):
            return text[start:position]
        if end < 0:
            raise NotFrontMatter("no closing '---' line after the front matter")
        position = end + 1


def parse_yaml(text: str) -> Any:
    """Parse with PyYAML's safe loader (libyaml when present): tags never execute."""
    return yaml.load(text, Loader=SafeLoader)
