"""How an issue arrives: line lengths, subject, counts, headlines and the web page link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from conftest import CORPUS
from helpers import list_config, load_folder
from test_digest import SAMPLE_WEEK, render_corpus, render_sample

from publisher.config import DigestConfig
from publisher.digest.issue import IssueWeek, counted, plan_digest
from publisher.digest.render import (
    PHONE_SUBJECT_CHARS,
    RenderedDigest,
    make_digest,
    render_subject,
)
from publisher.model import Article

MakeArticle = Callable[..., Article]


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC)


@pytest.fixture(scope="module", params=["sample", "corpus"])
def rendered(request: pytest.FixtureRequest) -> RenderedDigest:
    """The sample week's issue, then the real corpus's 2020-W47 issue."""
    return render_sample() if request.param == "sample" else render_corpus()


def test_no_eml_line_is_longer_than_78(rendered: RenderedDigest) -> None:
    """Every line of the .eml, headers and quoted-printable bodies, fits RFC 2045's limit."""
    lines = rendered.message.split(b"\r\n")
    assert [] == [line for line in lines if len(line) > 78]


def test_default_subject_fits_a_phone_on_the_real_corpora(rendered: RenderedDigest) -> None:
    """The default subject is the lead headline, at most 78 characters, without the site's name."""
    subject = rendered.digest.subject
    assert (True, False) == (len(subject) <= 78, subject.startswith(rendered.digest.site_title))


def test_counts_are_singular_and_plural() -> None:
    """1 story, 2 stories, 1 section, 0 sections."""
    expected = ["1 story", "2 stories", "1 section", "0 sections"]
    actual = [
        counted(1, "story"),
        counted(2, "story"),
        counted(1, "section"),
        counted(0, "section"),
    ]
    assert expected == actual


def test_summary_says_one_section(make_article: MakeArticle) -> None:
    """Two stories of one topic are "2 stories in 1 section"."""
    articles = [make_article(published_at=at("2026-11-18"), topics=("Space",)) for _ in range(2)]
    digest = make_digest(list_config(), articles, SAMPLE_WEEK).digest
    assert "2 stories in 1 section" == digest.summary


def test_headlines_open_an_issue_of_more_than_three(make_article: MakeArticle) -> None:
    """Four stories get an "In this issue" list at the top; three do not."""
    articles = [make_article(published_at=at("2026-11-18")) for _ in range(4)]
    four = make_digest(list_config(), articles, SAMPLE_WEEK)
    three = make_digest(list_config(), articles[:3], SAMPLE_WEEK)
    assert (True, True, False, False) == (
        "In this issue" in four.html,
        "IN THIS ISSUE" in four.text,
        "In this issue" in three.html,
        "IN THIS ISSUE" in three.text,
    )


def test_view_in_browser_links_the_issue_page(make_article: MakeArticle) -> None:
    """With digest.url the issue links its HTML file; with archive_url its archive page;
    with neither, no link."""
    article = make_article(published_at=at("2026-11-18"))
    by_url = make_digest(list_config(url="https://n.example/letters"), [article], SAMPLE_WEEK)
    by_archive = make_digest(
        list_config(url="https://n.example/letters", archive_url="https://n.example/archive/"),
        [article],
        SAMPLE_WEEK,
    )
    none = make_digest(list_config(), [article], SAMPLE_WEEK)
    expected = (
        "https://n.example/letters/2026-W47.html",
        f"https://n.example/archive/{by_archive.archive_name}",
        True,
        "",
        False,
    )
    assert expected == (
        by_url.digest.web_url,
        by_archive.digest.web_url,
        f'href="{by_archive.digest.web_url}"' in by_archive.html,
        none.digest.web_url,
        "View in your browser" in none.html + none.text,
    )


@pytest.mark.parametrize("corpus", ["microsoft-power-apps", "artificial-intelligence"])
def test_every_default_subject_of_both_real_corpora_fits_a_phone(corpus: str) -> None:
    """Every week of both real corpora with stories gets a default subject of at most 78
    characters that does not repeat the sender's name."""
    folder = CORPUS / corpus / "_news"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    config = list_config()
    articles = load_folder(folder).articles
    weeks = sorted({IssueWeek.containing(article.published_at.date()) for article in articles})
    subjects = []
    for week in weeks:
        digest = plan_digest(config, articles, week)
        if digest.stories:
            subjects.append(render_subject(DigestConfig.subject, digest, PHONE_SUBJECT_CHARS))
    too_long = [subject for subject in subjects if len(subject) > 78]
    named = [subject for subject in subjects if subject.startswith(config.site.title)]
    assert ([], [], True) == (too_long, named, len(subjects) > 10)
