"""The build job and the state store: one read before planning, the claim before writing, one
record after writing."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import edit, opened

from publisher import build as build_module
from publisher import output
from publisher.config import ArchiveConfig, Config, SelectionConfig, SiteConfig
from publisher.jobs import build as build_job
from publisher.jobs import prelude, run_build
from publisher.state import retirement_due

WriteArticle = Callable[..., Path]
SETTLED_NS = 1_700_000_000 * 10**9
"""An mtime long past: a rerun of untouched files may be skipped."""
DAY0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TRANSACTIONS = {"BEGIN": "read", "BEGIN IMMEDIATE": "write"}


@pytest.fixture
def site(tmp_path: Path, write_article: WriteArticle) -> Config:
    """Nine settled articles, limit = 3 and pages of 2: two feeds with three archive pages."""
    for day in range(1, 10):
        path = write_article(
            f"story-{day}.md",
            title=f"Story of day {day}",
            date=(DAY0 + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            url=f"https://example.com/story-{day}",
        )
        os.utime(path, ns=(SETTLED_NS, SETTLED_NS))
    return Config(
        content=str(tmp_path / "_news"),
        out=str(tmp_path / "out"),
        cache_dir=str(tmp_path / "cache"),
        site=SiteConfig(url="https://example.org/feeds/"),
        selection=SelectionConfig(limit=3),
        archive=ArchiveConfig(page_size=2),
    )


@pytest.fixture
def store_log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the build does, in order: each transaction its store begins ("read" or "write"),
    and the marks "loaded" (articles stored), "planning" and "writing files" (each file)."""
    log: list[str] = []
    real_open, real_load = prelude.open_store, build_job.load_content
    real_plan, real_write = build_module.plan_feeds, output.write_temporary

    def traced_open(*args: Any, **kwargs: Any) -> Any:
        store, warnings = real_open(*args, **kwargs)
        store.connection.set_trace_callback(
            lambda sql: log.append(TRANSACTIONS[sql]) if sql in TRANSACTIONS else None
        )
        return store, warnings

    def traced_load(*args: Any, **kwargs: Any) -> Any:
        content = real_load(*args, **kwargs)
        if isinstance(content, prelude.Content):  # not the outcome of a build with nothing to do
            log.append("loaded")
        return content

    def marked(mark: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            log.append(mark)
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(prelude, "open_store", traced_open)
    monkeypatch.setattr(build_job, "load_content", traced_load)
    monkeypatch.setattr(build_module, "plan_feeds", marked("planning", real_plan))
    monkeypatch.setattr(output, "write_temporary", marked("writing files", real_write))
    return log


def after_loading(log: list[str]) -> list[str]:
    """The log from when the articles were stored, each run of file writes as one entry."""
    steps = log[log.index("loaded") + 1 :]
    return [step for index, step in enumerate(steps) if index == 0 or step != steps[index - 1]]


EXPECTED = ["read", "planning", "write", "writing files", "write"]
"""After loading: the build record read once, the plan, the claim (with the pings queued)
committed before the first file is written, and everything learned recorded at once."""


def test_a_cold_build_reads_once_claims_and_records_once(site: Config, store_log: list[str]):
    """Into an empty store: one read, one claim before writing, one record after."""
    run_build(site, wait=5)
    assert EXPECTED == after_loading(store_log)


def test_a_build_of_one_changed_article_reads_once_claims_and_records_once(
    site: Config, store_log: list[str]
):
    """One article edited since the last build: the same three transactions after loading."""
    run_build(site, wait=5)
    store_log.clear()
    edit(Path(site.content) / "story-4.md", "Story of day 4", "Story of day 4, corrected")
    outcome = run_build(site, wait=5)
    archived = {path for path in outcome.report.written if "archive/" in path}
    assert (EXPECTED, True) == (
        after_loading(store_log),
        archived == {*build_module.archive_paths("", 2), *build_module.archive_paths("space/", 2)},
    )


def test_a_build_with_nothing_to_do_reads_once_and_writes_nothing(
    site: Config, store_log: list[str]
):
    """A rerun of untouched files: one read of what the folder holds, nothing loaded or
    written."""
    run_build(site, wait=5)
    store_log.clear()
    outcome = run_build(site, wait=5)
    assert (True, ["read"]) == (outcome.up_to_date, store_log)


def test_the_build_record_is_what_the_last_build_recorded(site: Config):
    """After a build, the record holds its outputs, topics, archive pages and selection."""
    run_build(site, wait=5)
    folder = os.path.realpath(site.out)
    with opened(Path(site.cache_dir)) as store:
        record = store.build_record(folder)
        expected = (
            store.outputs(folder),
            {"Space": "space"},
            ["", "space/"],
            [2, 2, 2],
            18,  # three pages of two feeds, three formats each
            (3, build_job.selection_rules(site)),
            store.change_seq(),
        )
        assert expected == (
            record.outputs,
            record.topic_slugs,
            sorted(record.layouts),
            [size for _, size in record.layouts[""].pages],
            len(record.page_keys),
            record.last_selected,
            record.seq,
        )


def test_retirement_is_due_only_for_a_topic_gone_before_the_cut_off():
    """A topic absent since before the cut-off is due; one present, or gone since, is not."""
    sightings = {
        "Mars": ("2024-01-01", False),
        "Venus": ("2024-03-01", False),
        "Earth": ("2023-01-01", True),
    }
    assert [True, False] == [
        retirement_due(sightings, "2024-02-01"),
        retirement_due({**sightings, "Mars": ("2024-01-01", True)}, "2024-02-01"),
    ]
