"""One feed build from start to finish: scan, stop if nothing changed, load, select, render, write.

The command line calls :func:`run_build` while it holds the output folder's lock; nothing here
talks to the terminal or reads the date.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from publisher.cache import RenderCache, cache_file, input_fingerprint, is_racy, scan_folder
from publisher.config import Config
from publisher.errors import ArticleError, PublisherError
from publisher.output import WriteReport, current_outputs, write_outputs

if TYPE_CHECKING:
    from publisher.build import BuildPlan
    from publisher.content import LoadResult, Progress


@dataclass
class Timings:
    """Seconds spent in each stage, for ``--json``."""

    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(time.perf_counter() - start, 4)


@dataclass
class BuildOutcome:
    """What a build did; ``loaded`` and ``plan`` are ``None`` when it found nothing to do."""

    files: int
    report: WriteReport
    timings: Timings
    loaded: LoadResult | None = None
    plan: BuildPlan | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return self.loaded is None


class StrictRefusal(PublisherError):
    """``--strict`` and some files are bad: nothing was written."""

    def __init__(self, loaded: LoadResult) -> None:
        super().__init__(f"{len(loaded.problems)} bad article file(s); nothing written (--strict)")
        self.loaded = loaded


def run_build(
    config: Config,
    *,
    use_cache: bool = True,
    strict: bool = False,
    progress: Progress | None = None,
) -> BuildOutcome:
    """Build every feed of ``config`` into its output folder; the caller holds the lock."""
    timings = Timings()
    out_dir = Path(config.out)
    with timings.stage("scan"):
        stamps = scan_folder(Path(config.content))
        if not stamps:
            # Likely a checkout or sync caught half-way: publishing would empty every feed.
            raise ArticleError("no article files (*.md); nothing published", path=config.content)
        inputs = input_fingerprint(config, Path(config.content), stamps)
        settled = None
        if use_cache:
            trusted = lambda written_ns: not is_racy(stamps, written_ns)  # noqa: E731
            settled = current_outputs(out_dir, inputs, trusted)
    if settled is not None:
        return BuildOutcome(len(stamps), WriteReport(unchanged=settled), timings)
    # Imported here: a build with nothing to do never needs the parser or the renderers.
    from publisher.build import (
        TOPIC_MAP,
        plan_feeds,
        read_topic_map,
        render_feed_files,
        render_feeds,
    )
    from publisher.content import load_articles
    from publisher.feeds import RENDERER_VERSION

    cache_dir = Path(config.cache_dir) if use_cache else None
    with timings.stage("load"):
        loaded = load_articles(
            Path(config.content), cache_dir=cache_dir, progress=progress, stamps=stamps
        )
        # The articles live until the process ends: keep the cyclic collector off them.
        gc.freeze()
    if strict and loaded.problems:
        raise StrictRefusal(loaded)
    with timings.stage("select"):
        try:
            known_slugs = read_topic_map((out_dir / TOPIC_MAP).read_bytes())
        except OSError:
            known_slugs = {}
        selection = plan_feeds(config, loaded.articles, known_slugs)
    render_warnings: list[str] = []
    with timings.stage("render"):
        if cache_dir is None:
            plan = render_feeds(config, selection)
        else:
            cache_path = cache_file(cache_dir, out_dir, kind="feeds")
            rendered = RenderCache(cache_path, RENDERER_VERSION, render_feed_files)
            plan = render_feeds(config, selection, rendered)
            if warning := rendered.save():
                render_warnings.append(warning)
    warnings = [*loaded.warnings, *plan.warnings, *render_warnings]
    # A run with problems or warnings is never skipped next time: they are reported again.
    clean = not loaded.problems and not warnings
    with timings.stage("write"):
        report = write_outputs(out_dir, plan.outputs, inputs=inputs if clean else "")
    return BuildOutcome(loaded.files, report, timings, loaded, plan, warnings)
