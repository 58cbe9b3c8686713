"""Editions: per audience and cadence, every article sent exactly once, late ones included."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import Inbox, load_folder

from publisher.cli import common, main
from publisher.config import load_config
from publisher.digest.edition import edition_of
from publisher.selection import deduplicate

CORPUS = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "microsoft-power-apps" / "_news"
)
HELD_BACK = ("2020-11-04-", "2020-11-12-ai-builder-receipt-scanning", "2020-11-13-")

CONFIG = """
content = "news"
cache_dir = "cache"
[site]
title = "Power Apps News"
url = "https://news.example.org/feeds/"
[selection]
include_unrated = true
min_quality = 0
[digest]
timezone = "UTC"
sender = "Power Apps News <news@example.org>"
list_address = "weekly@example.org"
unsubscribe_url = "https://news.example.org/unsubscribe"
postal_address = "1 Example Street"
utm = false
max_stories = 100
per_topic = 100
[digest.smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
timeout = 5
[editions.daily]
cadence = "daily"
list_address = "daily@example.org"
[editions.teams]
topics = ["Teams integration"]
list_address = "teams@example.org"
[editions.monthly]
cadence = "monthly"
list_address = "monthly@example.org"
"""


def run(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(main, ["digest", "--config", "config.toml", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def urls(report: dict[str, object]) -> list[str]:
    lead = report.get("lead")
    found = [lead["url"]] if isinstance(lead, dict) else []
    for section in report.get("sections") or []:  # type: ignore[attr-defined]
        found += [story["url"] for story in section["stories"]]
    return found


@pytest.fixture
def site(tmp_path: Path, smtp_server: tuple[int, Inbox], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the Power Apps corpus with three articles held back, and a config."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus/microsoft-power-apps/_news is absent")
    news = tmp_path / "news"
    shutil.copytree(CORPUS, news)
    held = tmp_path / "held"
    held.mkdir()
    for path in news.iterdir():
        if path.name.startswith(HELD_BACK):
            path.rename(held / path.name)
    (tmp_path / "config.toml").write_text(CONFIG.format(port=smtp_server[0]), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(common, "now", lambda zone: datetime(2020, 12, 1, 9, tzinfo=UTC))
    return tmp_path


@pytest.mark.slow
def test_daily_edition_sends_each_article_once_late_ones_included(
    site: Path, smtp_server: tuple[int, Inbox]
) -> None:
    """Sent day by day over November 2020, with three articles arriving on the 16th: the two
    within late_days go out on the 16th, the one of 4 November is named and never sent."""
    inbox = smtp_server[1]
    sent: dict[str, list[str]] = {}
    days: list[tuple[str, int, int]] = []
    warnings: list[str] = []
    for offset in range(28):
        day = (date(2020, 11, 2) + timedelta(days=offset)).isoformat()
        if day == "2020-11-16":
            for path in (site / "held").iterdir():
                path.rename(site / "news" / path.name)
        before = len(inbox.messages)
        code, report = run("--edition", "daily", "--day", day, "--send")
        assert code in (0, 5), report
        assert (code == 0) == (len(inbox.messages) == before + 1), report
        sent[day] = urls(report) if code == 0 else []
        days.append((day, len(sent[day]), len(report.get("late") or [])))  # type: ignore[arg-type]
        warnings += [w for w in report["warnings"] if "not sent" in w]  # type: ignore[attr-defined]
    config = load_config(site / "config.toml")
    edition = edition_of(config, "daily")
    start, end = datetime(2020, 11, 2, tzinfo=UTC), datetime(2020, 11, 30, tzinfo=UTC)
    qualifying = {
        article.url
        for article in deduplicate(
            a
            for a in load_folder(site / "news").articles
            if start <= a.published_at < end and edition.qualifies(a)
        )
    }
    four = {
        a.url
        for a in load_folder(site / "news").articles
        if a.path.split("/")[-1][:11] == "2020-11-04-"
    }
    every = [url for day in sent.values() for url in day]
    late = {
        a.url
        for a in load_folder(site / "news").articles
        if Path(a.path).name.startswith(HELD_BACK[1:])
    }
    assert len(every) == len(set(every))
    assert qualifying - four == set(every)
    assert late <= set(sent["2020-11-16"])
    assert not four & set(every)
    assert len(warnings) >= 1 and all(name in warnings[0] for name in ("2020-11-04-",))
    assert all(recipients == ["daily@example.org"] for _, recipients, _ in inbox.messages)
    # Rendering a sent day again sends nothing and shows what was sent.
    code, report = run("--edition", "daily", "--day", "2020-11-16", "--send")
    assert (0, sorted(sent["2020-11-16"])) == (code, sorted(urls(report)))
    assert inbox.to_list("daily@example.org") == sum(1 for d in sent.values() if d)


@pytest.mark.slow
def test_weekly_topic_edition_and_a_monthly_one(site: Path, smtp_server: tuple[int, Inbox]) -> None:
    """A weekly edition of one topic sends its topic's articles once each; a monthly one renders."""
    for path in (site / "held").iterdir():
        path.rename(site / "news" / path.name)
    inbox = smtp_server[1]
    every: list[str] = []
    for week in ("2020-W45", "2020-W46", "2020-W47", "2020-W48"):
        code, report = run("--edition", "teams", "--week", week, "--send")
        assert code in (0, 5), report
        every += urls(report) if code == 0 else []
    articles = {a.url: a for a in load_folder(site / "news").articles}
    assert every and len(every) == len(set(every))
    assert all("Teams integration" in articles[url].topics for url in every)
    assert all(recipients == ["teams@example.org"] for _, recipients, _ in inbox.messages)
    code, report = run("--edition", "monthly", "--month", "2020-11")
    assert (0, "2020-11") == (code, report["week"])
    assert (site / "newsletters" / "monthly" / "2020-11.html").is_file()


def test_a_period_flag_of_another_cadence_is_a_usage_error(site: Path) -> None:
    """--week for a daily edition: one line, exit 2."""
    result = CliRunner().invoke(
        main, ["digest", "--config", "config.toml", "--edition", "daily", "--week", "2020-W47"]
    )
    assert (2, 1) == (result.exit_code, len(result.stderr.strip().splitlines()))
    assert "--day" in result.stderr
