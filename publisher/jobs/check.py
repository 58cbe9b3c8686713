"""The ``check`` job: every article file read and its problems reported; nothing written but
the state store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from publisher.config import Config
from publisher.jobs.prelude import LoadReport, load_content, with_store
from publisher.state import Store

if TYPE_CHECKING:
    from publisher.content.parallel import Progress


def run_check(
    config: Config, *, wait: float = 60.0, progress: Progress | None = None
) -> LoadReport:
    """Read every article file and report problems; writes nothing but the state store."""

    def check(store: Store, warnings: list[str]) -> LoadReport:
        return load_content(store, Path(config.content), progress=progress).loaded

    return with_store(config, wait, check)
