"""A cold build makes its first stories into items while the store indexes them and the build
plans (with archive pages the oldest, without the newest): on the real Power Apps corpus, the
same files, each story made once."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS
from helpers import opened

from publisher import build as build_module
from publisher.config import ArchiveConfig, Config, SelectionConfig, SiteConfig
from publisher.jobs import build as build_job
from publisher.jobs import items, prelude, run_build
from publisher.workers import Workers

EARLY = 60
"""Stories made early here, with archive pages: the corpus has 192 files, 132 selectable."""
FEEDS = 3
"""Feeds whose subscription documents' worth of the newest stories is made early without."""


@pytest.fixture
def power_apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real Power Apps files, loaded in bulk and made into items on two workers, however
    few they are and however many cores the machine has."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    folder = tmp_path / "_news"
    shutil.copytree(CORPUS / "microsoft-power-apps" / "_news", folder)
    monkeypatch.setattr(prelude, "BULK_LOAD_MIN", 1)
    monkeypatch.setattr(items, "ITEMS_IN_WORKERS_MIN", 1)
    monkeypatch.setattr(build_job, "usable_cores", lambda: 2)
    return folder


def config(folder: Path, out: str, archives: bool) -> Config:
    return Config(
        content=str(folder),
        out=str(folder.parent / out),
        cache_dir=str(folder.parent / f"cache-{out}"),
        site=SiteConfig(url="https://early.example.org/feeds/"),
        selection=SelectionConfig(limit=10),
        archive=ArchiveConfig(enabled=archives, page_size=9),
    )


def files_in(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


@pytest.mark.parametrize("archives", [True, False], ids=["archives", "no archives"])
def test_the_first_stories_are_made_before_planning_and_no_story_twice(
    power_apps: Path, monkeypatch: pytest.MonkeyPatch, archives: bool
):
    """The first batch handed to the workers, before planning, is the oldest stories the rules
    may select (with archive pages) or the newest (without); every story is made once in all;
    the files are those of a build that makes none early."""
    log: list[Any] = []
    real_start, real_plan = Workers.start, build_module.plan_feeds

    def start(self: Workers, function: Callable[..., Any], batches: Sequence[Any]) -> Any:
        log.append([name for batch in batches for name, _ in batch])
        return real_start(self, function, batches)

    def plan(*args: Any, **kwargs: Any) -> Any:
        log.append("planning")
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(Workers, "start", start)
    monkeypatch.setattr(build_module, "plan_feeds", plan)
    monkeypatch.setattr(items, "EARLY_ITEMS", EARLY)
    monkeypatch.setattr(items, "EARLY_FEEDS", FEEDS)
    run_build(config(power_apps, "early", archives))

    early, planning, *later = log
    assert ("planning", EARLY if archives else FEEDS * 10) == (planning, len(early))
    with opened(power_apps.parent / "cache-early") as store:
        rows = store.connection.execute(
            "SELECT name, date_us FROM articles"
            " WHERE problem IS NULL AND published = 1 AND quality >= 50"
        ).fetchall()
    # Dates as they order the stories made early first (ties at the edge either way).
    dates = {f"{power_apps}/{name}": date if archives else -date for name, date in rows}
    later_dates = [dates[path] for path in dates.keys() - set(early)]
    assert max(dates[path] for path in early) <= min(later_dates)
    made = [*early, *(path for batch in later for path in batch)]
    assert len(made) == len(set(made))

    monkeypatch.setattr(items.EarlyItems, "parsed", lambda self: None)
    run_build(config(power_apps, "late", archives))
    assert files_in(power_apps.parent / "late") == files_in(power_apps.parent / "early")
