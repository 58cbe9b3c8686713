"""The real corpus from ../shared: every file loads or says why, and the counts are pinned."""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path

import pytest
from helpers import Folder, load_folder

from publisher.build import build
from publisher.config import Config, SelectionConfig, SiteConfig
from publisher.jobs import run_build

# name: (files, loaded, distinct articles in a feed or its archive with the default rules)
PINNED = {
    "artificial-intelligence": (70, 70, 34),
    "microsoft-power-apps": (192, 192, 131),
}
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@pytest.fixture(scope="module", params=sorted(PINNED))
def loaded(request: pytest.FixtureRequest) -> tuple[str, Path, Folder]:
    """One corpus, loaded once for the module."""
    folder = Path(__file__).resolve().parents[2] / "shared" / "corpus" / request.param / "_news"
    if not folder.is_dir():
        pytest.skip("../shared/corpus is absent")
    return request.param, folder, load_folder(folder)


def test_every_file_loads_or_has_a_reason(loaded: tuple[str, Path, Folder]):
    """Each *.md file is an article or a one-line problem naming it; the counts are pinned."""
    name, folder, result = loaded
    files, articles, _ = PINNED[name]
    assert len(list(folder.glob("*.md"))) == result.files
    assert files == result.files
    assert articles == len(result.articles)
    assert result.files == len(result.articles) + len(result.problems)
    for problem in result.problems:
        assert problem.path.startswith(str(folder))
        assert "\n" not in str(problem)


def test_selected_count_is_pinned(loaded: tuple[str, Path, Folder]):
    """With the default rules, the number of distinct articles in feeds is pinned."""
    name, _, result = loaded
    config = Config(site=SiteConfig(url="https://example.org/feeds/"))
    assert PINNED[name][2] == build(config, result.articles).selected


def test_articles_are_clean(loaded: tuple[str, Path, Folder]):
    """After loading: aware UTC dates, absolute URLs, no entities or control characters left."""
    _, _, result = loaded
    for article in result.articles:
        assert UTC == article.published_at.tzinfo, article.path
        assert article.url.startswith(("https://", "http://")), article.path
        assert "&#038;" not in article.url
        for text in (article.title, article.excerpt, *article.topics):
            assert not XML_INVALID.search(text), article.path
            assert "&shy;" not in text and "\xad" not in text, article.path
            assert "&amp;" not in text, article.path
            assert text == text.strip()
        for image in article.images:
            assert image.url.startswith("https://"), article.path


def test_power_apps_fallbacks_and_videos(corpus: Path):
    """Power Apps: files without webUrl use originalUrl; type: video is kept; CRLF loads."""
    folder = corpus / "microsoft-power-apps" / "_news"
    result = load_folder(folder)
    no_web_url = [
        path for path in folder.glob("*.md") if not re.search(rb"^webUrl:", path.read_bytes(), re.M)
    ]
    crlf = [path for path in folder.glob("*.md") if b"\r\n" in path.read_bytes()]
    by_path = {Path(article.path).name: article for article in result.articles}
    assert 12 == len(no_web_url)
    assert 57 == len(crlf)
    assert all(path.name in by_path for path in [*no_web_url, *crlf])
    assert 12 == sum(article.is_video for article in result.articles)


def test_ai_corpus_decodes_entities_in_urls(corpus: Path):
    """The AI corpus has &#038; in URLs on disk; none survives loading."""
    folder = corpus / "artificial-intelligence" / "_news"
    on_disk = [path for path in folder.glob("*.md") if b"&#038;" in path.read_bytes()]
    assert on_disk, "the corpus is expected to contain &#038;"
    assert not any("&#038;" in article.url for article in load_folder(folder).articles)


def test_ai_corpus_missing_published_means_published(corpus: Path):
    """Files without a published line are published (Jekyll's rule)."""
    folder = corpus / "artificial-intelligence" / "_news"
    without = {
        path.name
        for path in folder.glob("*.md")
        if not re.search(rb"^published:", path.read_bytes(), re.M)
    }
    assert 17 == len(without)
    articles = load_folder(folder).articles
    assert all(article.published for article in articles if Path(article.path).name in without)


@pytest.mark.parametrize("limit", [1, 5, 50])
def test_store_build_equals_the_in_memory_build(
    loaded: tuple[str, Path, Folder], tmp_path: Path, limit: int
):
    """Selecting by query from the state store writes exactly what selecting in memory plans."""
    _, folder, result = loaded
    config = Config(
        content=str(folder),
        out=str(tmp_path / "out"),
        cache_dir=str(tmp_path / "cache"),
        site=SiteConfig(url="https://example.org/feeds/"),
        selection=SelectionConfig(limit=limit, include_unrated=limit == 5),
    )
    run_build(config)
    written = {
        path.relative_to(tmp_path / "out").as_posix(): path.read_bytes()
        for path in (tmp_path / "out").rglob("*")
        if path.is_file()
    }
    expected = build(config, result.articles).outputs
    assert sorted(expected) == sorted(written)
    assert [name for name in expected if expected[name] != written[name]] == []
