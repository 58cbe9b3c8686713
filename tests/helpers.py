"""Small helpers shared by the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from publisher.content.parallel import parse_file
from publisher.content.scan import scan_folder
from publisher.errors import Problem
from publisher.model import Article


@dataclass(frozen=True)
class Folder:
    """A content folder read in memory, without the state store."""

    articles: tuple[Article, ...]
    problems: tuple[Problem, ...]

    @property
    def files(self) -> int:
        return len(self.articles) + len(self.problems)


def load_folder(folder: Path) -> Folder:
    """Every article file of ``folder`` parsed, in name order."""
    results = [parse_file(folder, name) for name in sorted(scan_folder(folder))]
    return Folder(
        tuple(result for result in results if isinstance(result, Article)),
        tuple(result for result in results if isinstance(result, Problem)),
    )
