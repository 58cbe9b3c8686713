"""The parse cache's base-and-delta files, and the caches of rendered feeds and inlined HTML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from publisher.build import render_feed_files
from publisher.cache import DELTA_SHARE, InlineCache, ParseCache, RenderCache, read_cache
from publisher.feeds import FeedInfo
from publisher.model import Article

MakeArticle = Callable[..., Article]


def _entries(make_article: MakeArticle, count: int) -> dict[str, tuple[tuple[int, int], Article]]:
    return {f"{n:03}.md": ((100 + n, 1_000 + n), make_article()) for n in range(count)}


def test_first_save_writes_the_base_only(make_article: MakeArticle, tmp_path: Path):
    """A new cache is one base file, read back whole."""
    path = tmp_path / "articles.pickle"
    entries = _entries(make_article, 20)
    assert ParseCache(path).save(entries) is None
    assert entries == read_cache(path)
    assert not path.with_suffix(".delta.pickle").exists()


def test_a_small_change_goes_to_the_delta(make_article: MakeArticle, tmp_path: Path):
    """One changed file of many rewrites the small delta, not the base."""
    path = tmp_path / "articles.pickle"
    entries = _entries(make_article, 40)
    ParseCache(path).save(entries)
    base_bytes = path.read_bytes()
    changed = dict(entries)
    changed["005.md"] = ((999, 999), make_article(title="Changed"))
    ParseCache(path).save(changed)
    assert base_bytes == path.read_bytes()
    assert path.with_suffix(".delta.pickle").exists()
    cache = ParseCache(path)
    assert "Changed" == cache.get("005.md", (999, 999)).title
    assert cache.get("005.md", (105, 1005)) is None
    assert changed == read_cache(path)


def test_a_large_change_rewrites_the_base(make_article: MakeArticle, tmp_path: Path):
    """Past DELTA_SHARE of the entries, the base is rewritten and the delta removed."""
    path = tmp_path / "articles.pickle"
    entries = _entries(make_article, 20)
    ParseCache(path).save(entries)
    many = int(DELTA_SHARE * 20) + 1
    changed = dict(entries)
    for name in list(entries)[:many]:
        changed[name] = ((1, 1), make_article())
    ParseCache(path).save(changed)
    assert not path.with_suffix(".delta.pickle").exists()
    assert changed == read_cache(path)


def test_a_delta_for_another_base_is_ignored(make_article: MakeArticle, tmp_path: Path):
    """A delta only applies to the base it was written against."""
    path = tmp_path / "articles.pickle"
    entries = _entries(make_article, 40)
    ParseCache(path).save(entries)
    changed = dict(entries)
    changed["001.md"] = ((7, 7), make_article(title="Only in the delta"))
    ParseCache(path).save(changed)
    path.unlink()
    ParseCache(path).save(entries)  # a new base, the old delta still beside it
    assert ParseCache(path).get("001.md", (7, 7)) is None


def test_stamp_mismatch_is_a_miss(make_article: MakeArticle, tmp_path: Path):
    """A file whose size or mtime changed is parsed again."""
    path = tmp_path / "articles.pickle"
    ParseCache(path).save(_entries(make_article, 3))
    cache = ParseCache(path)
    assert cache.get("000.md", (100, 1000)) is not None
    assert cache.get("000.md", (100, 1001)) is None
    assert cache.get("missing.md", (100, 1000)) is None


def test_inline_cache_reuses_a_stored_result(tmp_path: Path):
    """The same HTML is inlined once; the second call reads the stored result."""
    calls: list[str] = []

    def inline(html: str, source: str) -> str:
        calls.append(html)
        return html.upper()

    cache = InlineCache(tmp_path, inline)
    assert "<P>HI</P>" == cache("<p>hi</p>", "layout.html")
    assert "<P>HI</P>" == InlineCache(tmp_path, inline)("<p>hi</p>", "layout.html")
    assert "<P>BYE</P>" == cache("<p>bye</p>", "layout.html")
    assert ["<p>hi</p>", "<p>bye</p>"] == calls


def test_inline_cache_stores_no_failure(tmp_path: Path):
    """A CSS error is raised every time, never cached as a result."""

    def inline(html: str, source: str) -> str:
        raise ValueError("invalid CSS")

    cache = InlineCache(tmp_path, inline)
    for _ in range(2):
        with pytest.raises(ValueError, match="invalid CSS"):
            cache("<p>x</p>", "layout.html")
    assert [] == list(tmp_path.glob("inlined-*"))


def test_inline_cache_keeps_only_recent_results(tmp_path: Path):
    """Old results are pruned so the cache folder does not grow for ever."""
    cache = InlineCache(tmp_path, lambda html, source: html)
    for number in range(InlineCache.KEEP + 5):
        cache(f"<p>{number}</p>", "layout.html")
    assert InlineCache.KEEP == len(list(tmp_path.glob("inlined-*.html")))


def _counting_renderer(calls: list[str]) -> Callable[[FeedInfo, tuple[Article, ...]], dict]:
    def render(info: FeedInfo, articles: tuple[Article, ...]) -> dict[str, bytes]:
        calls.append(info.title)
        return render_feed_files(info, articles)

    return render


INFO = FeedInfo("News", "All the news", "https://e.org/", "https://e.org/feeds/")


def test_render_cache_renders_each_feed_once(make_article: MakeArticle, tmp_path: Path):
    """An unchanged feed is read back from the cache, byte for byte what rendering gives."""
    articles = (make_article(), make_article())
    calls: list[str] = []
    first = RenderCache(tmp_path / "feeds.pickle", "v1", _counting_renderer(calls))
    expected = first(INFO, articles)
    first.save()
    again = RenderCache(tmp_path / "feeds.pickle", "v1", _counting_renderer(calls))
    assert expected == again(INFO, articles)
    assert render_feed_files(INFO, articles) == again(INFO, articles)
    assert ["News"] == calls


def test_render_cache_renders_again_when_anything_changes(
    make_article: MakeArticle, tmp_path: Path
):
    """A changed article, feed setting or renderer version is rendered afresh."""
    article = make_article()
    calls: list[str] = []
    path = tmp_path / "feeds.pickle"
    cache = RenderCache(path, "v1", _counting_renderer(calls))
    cache(INFO, (article,))
    cache.save()
    RenderCache(path, "v1", _counting_renderer(calls))(INFO, (replace(article, excerpt="New"),))
    RenderCache(path, "v1", _counting_renderer(calls))(replace(INFO, title="Other"), (article,))
    RenderCache(path, "v2", _counting_renderer(calls))(INFO, (article,))
    assert ["News", "News", "Other", "News"] == calls


def test_render_cache_keeps_only_what_the_last_build_used(
    make_article: MakeArticle, tmp_path: Path
):
    """Feeds no build uses any more drop out of the cache."""
    path = tmp_path / "feeds.pickle"
    old, new = (make_article(),), (make_article(),)
    cache = RenderCache(path, "v1", render_feed_files)
    cache(INFO, old)
    cache.save()
    cache = RenderCache(path, "v1", render_feed_files)
    cache(INFO, new)
    cache.save()
    assert 1 == len(RenderCache(path, "v1", render_feed_files).stored)


def test_inline_cache_ignores_a_cut_short_result(tmp_path: Path):
    """A stored result truncated by a crash fails its checksum and is inlined again."""
    calls: list[str] = []

    def inline(html: str, source: str) -> str:
        calls.append(html)
        return f"<html>{html}</html>\n"

    InlineCache(tmp_path, inline)("<p>x</p>", "layout.html")
    (stored,) = tmp_path.glob("inlined-*.html")
    stored.write_bytes(stored.read_bytes()[:-10])
    assert "<html><p>x</p></html>\n" == InlineCache(tmp_path, inline)("<p>x</p>", "layout.html")
    assert 2 == len(calls)
