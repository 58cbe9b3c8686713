"""The ``check`` job: every article file read and its problems reported; nothing written but
the state store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from publisher.config import Config
from publisher.content.scan import scan_folder
from publisher.errors import ArticleError
from publisher.jobs.prelude import LoadReport, refresh_articles, with_store
from publisher.state import Store

if TYPE_CHECKING:
    from publisher.content.parallel import Progress


def run_check(
    config: Config, *, wait: float = 60.0, progress: Progress | None = None
) -> LoadReport:
    """Read every article file and report problems; writes nothing but the state store."""
    content_dir = Path(config.content)

    def check(store: Store, warnings: list[str]) -> LoadReport:
        stamps = scan_folder(content_dir)
        if not stamps:
            raise ArticleError("no article files (*.md)", path=str(content_dir))
        return refresh_articles(store, content_dir, stamps, progress=progress)

    return with_store(config, wait, check)
