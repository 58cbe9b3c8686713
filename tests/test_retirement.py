"""Feeds never 404: a topic keeps its feed while any article carries it, and loses it only
after being gone from the content for longer than retire_after_days."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from helpers import edit

from publisher.cli import common, main
from publisher.config import Config, SelectionConfig, SiteConfig, load_config
from publisher.jobs import run_build
from publisher.selection import sight_topics

WriteArticle = Callable[..., Path]
Validate = Callable[[Path, str | None], tuple[list[str], list[str]]]
SITE = "https://example.org/feeds/"
DAY = date(2026, 3, 1)
GOSSIP_FILES = ["gossip/atom.xml", "gossip/feed.json", "gossip/index.html", "gossip/rss.xml"]


@pytest.fixture
def site(tmp_path: Path, write_article: WriteArticle) -> Config:
    """Two articles: one on Space and Gossip, one on Space only."""
    write_article("a.md", url="https://example.com/a", topics=("Space", "Gossip"))
    write_article("b.md", url="https://example.com/b", topics=("Space",))
    return Config(
        content=str(tmp_path / "_news"),
        out=str(tmp_path / "out"),
        cache_dir=str(tmp_path / "cache"),
        site=SiteConfig(url=SITE),
        selection=SelectionConfig(retire_after_days=30),
    )


def settle(config: Config) -> None:
    """Date every article file an hour back, so an unchanged rerun stops after the scan."""
    an_hour_ago = time.time() - 3600
    for path in Path(config.content).iterdir():
        os.utime(path, (an_hour_ago, an_hour_ago))


def gossip_files(config: Config) -> list[str]:
    out = Path(config.out)
    return sorted(path.relative_to(out).as_posix() for path in out.glob("gossip/*"))


@pytest.mark.parametrize(
    ("old", "new"),
    [("type: article", "type: article\npublished: false"), ("quality: 70", "quality: 10")],
)
def test_a_topic_without_qualifying_articles_keeps_an_empty_valid_feed(
    site: Config, tmp_path: Path, validate: Validate, old: str, new: str
):
    """Its last article unpublished or below the quality rule, a topic's feed stays: valid,
    complete, with no items."""
    run_build(site, today=DAY)
    edit(tmp_path / "_news" / "a.md", old, new)
    outcome = run_build(site, today=DAY + timedelta(days=400))
    assert GOSSIP_FILES == gossip_files(site)
    assert [] == [path for path in outcome.report.removed if path.startswith("gossip/")]
    out = Path(site.out)
    for name in ("gossip/rss.xml", "gossip/atom.xml"):
        parsed = feedparser.parse((out / name).read_bytes())
        assert ([], True) == (parsed.entries, "fh_complete" in parsed.feed), name
        errors, _ = validate(out / name, SITE + name)
        assert [] == errors, name


def test_a_topic_gone_from_the_content_retires_after_the_set_days(site: Config, tmp_path: Path):
    """No article carries it any more: the feed stays, empty, for 30 days from when a build
    first found it gone, and is removed on the 31st."""
    run_build(site, today=DAY)
    edit(tmp_path / "_news" / "a.md", "  - Gossip\n", "")
    run_build(site, today=DAY + timedelta(days=1))
    assert GOSSIP_FILES == gossip_files(site)
    edit(tmp_path / "_news" / "b.md", "What happened.", "What happened next.")
    run_build(site, today=DAY + timedelta(days=31))
    assert GOSSIP_FILES == gossip_files(site)
    edit(tmp_path / "_news" / "b.md", "What happened next.", "What happened then.")
    outcome = run_build(site, today=DAY + timedelta(days=32))
    assert [] == gossip_files(site)
    assert GOSSIP_FILES == [path for path in outcome.report.removed if path.startswith("gossip/")]
    assert b"Gossip" not in (Path(site.out) / "index.html").read_bytes()


def test_retirement_is_due_even_when_nothing_changed(site: Config, tmp_path: Path):
    """A rerun on unchanged content stops after the scan, unless a feed is due to retire."""
    run_build(site, today=DAY)
    edit(tmp_path / "_news" / "a.md", "  - Gossip\n", "")
    run_build(site, today=DAY + timedelta(days=1))
    settle(site)
    run_build(site, today=DAY + timedelta(days=1))
    assert run_build(site, today=DAY + timedelta(days=31)).up_to_date
    due = run_build(site, today=DAY + timedelta(days=32))
    assert (False, []) == (due.up_to_date, gossip_files(site))
    assert run_build(site, today=DAY + timedelta(days=33)).up_to_date


def test_a_topic_that_returns_in_time_starts_afresh(
    site: Config, tmp_path: Path, write_article: WriteArticle
):
    """Back before its time was up, a topic is seen again; gone again, its 30 days start over."""
    run_build(site, today=DAY)
    edit(tmp_path / "_news" / "a.md", "  - Gossip\n", "")
    run_build(site, today=DAY + timedelta(days=1))
    write_article("c.md", url="https://example.com/c", topics=("Gossip",))
    run_build(site, today=DAY + timedelta(days=20))
    (tmp_path / "_news" / "c.md").unlink()
    run_build(site, today=DAY + timedelta(days=25))
    edit(tmp_path / "_news" / "b.md", "What happened.", "What happened next.")
    run_build(site, today=DAY + timedelta(days=50))
    assert GOSSIP_FILES == gossip_files(site)
    edit(tmp_path / "_news" / "b.md", "What happened next.", "What happened then.")
    run_build(site, today=DAY + timedelta(days=56))
    assert [] == gossip_files(site)


def test_without_a_date_no_feed_retires(site: Config, tmp_path: Path):
    """A build not told the date keeps every published feed."""
    run_build(site, today=DAY)
    edit(tmp_path / "_news" / "a.md", "  - Gossip\n", "")
    run_build(site, today=DAY + timedelta(days=1))
    edit(tmp_path / "_news" / "b.md", "What happened.", "What happened next.")
    run_build(site)
    assert GOSSIP_FILES == gossip_files(site)


def test_a_waiting_topic_keeps_its_folder_from_a_clashing_name(
    site: Config, tmp_path: Path, write_article: WriteArticle
):
    """While its feed waits, a gone topic still owns its folder: a new name that slugifies
    alike gets another one."""
    write_article("cpp.md", url="https://example.com/cpp", topics=("C++",))
    run_build(site, today=DAY)
    (tmp_path / "_news" / "cpp.md").unlink()
    write_article("cs.md", url="https://example.com/cs", topics=("C#",))
    outcome = run_build(site, today=DAY + timedelta(days=2))
    assert outcome.plan is not None
    assert {"C++": "c", "C#": "c-2"} == {
        topic.name: topic.slug for topic in outcome.plan.topics if topic.name.startswith("C")
    }
    assert b"C++" in (Path(site.out) / "c" / "rss.xml").read_bytes()


def test_the_command_line_dates_the_build(
    site: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """publisher build dates topics by the injected day: a gone topic retires on schedule."""
    config = tmp_path / "site.toml"
    config.write_text(
        'content = "_news"\nout = "out"\ncache_dir = "cache"\n'
        f'[site]\nurl = "{SITE}"\n[selection]\nretire_after_days = 3\n',
        encoding="utf-8",
    )

    def build_on(day: date) -> None:
        monkeypatch.setattr(common, "today", lambda zone: day)
        result = CliRunner().invoke(main, ["build", "--config", str(config), "-q"])
        assert (0, "") == (result.exit_code, result.stderr)

    build_on(DAY)
    edit(tmp_path / "_news" / "a.md", "  - Gossip\n", "")
    build_on(DAY + timedelta(days=1))
    build_on(DAY + timedelta(days=4))
    assert GOSSIP_FILES == gossip_files(load_config(config))
    build_on(DAY + timedelta(days=5))
    assert [] == gossip_files(load_config(config))


def test_sightings_count_absence_from_when_it_was_noticed():
    """A topic last seen long ago but present at the last build starts its wait today."""
    before = {"Gossip": ("2020-01-01", True), "Old": ("2020-01-01", False), "Space": ("x", True)}
    seen = sight_topics(before, ["Space"], ["Gossip", "Old", "Space"], DAY, 30)
    assert {"Gossip": (DAY.isoformat(), False), "Space": (DAY.isoformat(), True)} == seen.sightings
    assert (frozenset({"Gossip", "Space"}), frozenset({"Old"})) == (seen.kept, seen.retired)
