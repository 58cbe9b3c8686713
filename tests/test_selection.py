"""Selection: which articles go into a feed, which copy of a story wins, and topic slugs."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from publisher.config import SelectionConfig, TopicRule
from publisher.model import Article, Topic
from publisher.selection import (
    Rules,
    articles_by_topic,
    assign_slugs,
    best_first,
    canonical_url,
    deduplicate,
    loosest_rules,
    rules_for,
    select,
)

MakeArticle = Callable[..., Article]
DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def titles(articles: list[Article]) -> list[str]:
    """The titles, in order: what a reader would see."""
    return [article.title for article in articles]


def test_unpublished_is_left_out(make_article: MakeArticle):
    """published: false hides an article whatever its quality."""
    articles = [make_article(title="shown"), make_article(title="hidden", published=False)]
    assert ["shown"] == titles(select(articles, Rules()))


def test_min_quality_is_inclusive(make_article: MakeArticle):
    """Quality equal to min_quality is in, one below is out."""
    articles = [make_article(title="50", quality=50), make_article(title="49", quality=49)]
    assert ["50"] == titles(select(articles, Rules(min_quality=50)))


def test_unrated_excluded_by_default(make_article: MakeArticle):
    """An article without quality is left out unless include_unrated is set."""
    articles = [make_article(title="rated"), make_article(title="unrated", quality=None)]
    assert ["rated"] == titles(select(articles, Rules()))
    assert ["rated", "unrated"] == sorted(titles(select(articles, Rules(include_unrated=True))))


def test_unrated_does_not_count_as_zero(make_article: MakeArticle):
    """include_unrated lets unrated articles in even when min_quality is high."""
    articles = [make_article(title="unrated", quality=None)]
    assert ["unrated"] == titles(select(articles, Rules(min_quality=99, include_unrated=True)))


def test_rules_for_applies_topic_override():
    """A topic's min_quality and limit beat the site-wide ones; other topics keep them."""
    selection = SelectionConfig(min_quality=50, include_unrated=True, limit=20)
    topics = {"Space": TopicRule(min_quality=80, limit=3)}
    assert Rules(80, True, 3) == rules_for("Space", selection, topics)
    assert Rules(50, True, 20) == rules_for("Climate", selection, topics)
    assert Rules(50, True, 20) == rules_for(None, selection, topics)


def test_the_loosest_rules_are_any_feeds_lowest_quality_and_highest_limit():
    """What any feed could select: one topic's lower bar (0 included), another's longer list."""
    selection = SelectionConfig(min_quality=50, include_unrated=True, limit=20)
    topics = {"Space": TopicRule(min_quality=0), "Climate": TopicRule(min_quality=80, limit=30)}
    assert Rules(0, True, 30) == loosest_rules(selection, topics)
    assert Rules(50, False, 20) == loosest_rules(SelectionConfig(limit=20), {})


def test_topic_override_of_zero_is_honoured():
    """min_quality = 0 for a topic is an override, not "not given"."""
    rules = rules_for("Space", SelectionConfig(min_quality=50), {"Space": TopicRule(min_quality=0)})
    assert 0 == rules.min_quality


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://Example.COM/a", "https://example.com/a"),
        ("HTTPS://example.com/a", "https://example.com/a"),
        ("https://example.com/a/", "https://example.com/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?utm_source=x&utm_medium=rss", "https://example.com/a"),
        ("https://example.com/a?id=3&UTM_Campaign=y", "https://example.com/a?id=3"),
        ("http://example.com/a", "https://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
    ],
)
def test_canonical_url_ignores_noise(first: str, second: str):
    """Host case, scheme case, trailing slash, fragment and utm_* do not make a new story."""
    assert canonical_url(second) == canonical_url(first)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://example.com/A", "https://example.com/a"),
        ("https://example.com/a?id=1", "https://example.com/a?id=2"),
        ("https://example.com/a", "https://example.org/a"),
        ("https://example.com:8443/a", "https://example.com/a"),
    ],
)
def test_canonical_url_keeps_what_matters(first: str, second: str):
    """Path case, real query values, host and unusual ports do make different stories."""
    assert canonical_url(first) != canonical_url(second)


def test_duplicates_collapse_to_best_copy(make_article: MakeArticle):
    """Of two copies of one story, the higher-quality one is kept."""
    weak = make_article(title="weak", url="https://example.com/s?utm_source=a", quality=60)
    strong = make_article(title="strong", url="https://EXAMPLE.com/s/#top", quality=90)
    assert ["strong"] == titles(select([weak, strong], Rules()))
    assert ["strong"] == titles(select([strong, weak], Rules()))


def test_duplicate_tie_broken_by_heat_then_date(make_article: MakeArticle):
    """Equal quality: hotter wins; equal heat: newer wins."""
    cool = make_article(title="cool", url="https://e.com/s", heat=1)
    hot = make_article(title="hot", url="https://e.com/s/", heat=9)
    assert ["hot"] == titles(deduplicate([hot, cool]))
    assert ["hot"] == titles(deduplicate([cool, hot]))
    old = make_article(title="old", url="https://e.com/t", published_at=T0 - DAY)
    new = make_article(title="new", url="https://e.com/t#x", published_at=T0)
    assert ["new"] == titles(deduplicate([old, new]))
    assert ["new"] == titles(deduplicate([new, old]))


def test_duplicate_full_tie_is_stable_by_path(make_article: MakeArticle):
    """Identical copies: the choice depends on the path, not on the file order."""
    a = make_article(path="_news/a.md", title="a", url="https://e.com/s")
    b = make_article(path="_news/b.md", title="b", url="https://e.com/s")
    assert titles(deduplicate([a, b])) == titles(deduplicate([b, a]))


def test_best_first_ranks_quality_then_heat_then_date_then_url(make_article: MakeArticle):
    """Quality first, heat breaks ties, then the newer story, then the URL; unrated comes last."""
    unrated = make_article(title="unrated", quality=None, heat=99)
    b = make_article(title="b", url="https://e.com/b", quality=60)
    a = make_article(title="a", url="https://e.com/a", quality=60)
    newer = make_article(title="newer", quality=60, published_at=T0 + DAY)
    hotter = make_article(title="hotter", quality=60, heat=5)
    best = make_article(title="best", quality=90)
    ranked = sorted([unrated, b, a, newer, hotter, best], key=best_first)
    assert ["best", "hotter", "newer", "a", "b", "unrated"] == titles(ranked)


def test_best_first_tells_apart_a_microsecond_in_any_year(make_article: MakeArticle):
    """Dates compare exactly: a float timestamp cannot tell these two apart."""
    late = datetime(9999, 12, 30, tzinfo=UTC)
    older = make_article(title="older", url="https://e.com/a", published_at=late)
    newer = make_article(title="newer", url="https://e.com/b", published_at=late + MICROSECOND)
    assert older.published_at.timestamp() == newer.published_at.timestamp()
    assert ["newer", "older"] == titles(sorted([older, newer], key=best_first))


def test_unselectable_copy_does_not_hide_a_good_one(make_article: MakeArticle):
    """An unpublished copy is filtered out first, so the published copy still shows."""
    hidden = make_article(title="hidden", url="https://e.com/s", quality=99, published=False)
    shown = make_article(title="shown", url="https://e.com/s/", quality=60)
    assert ["shown"] == titles(select([hidden, shown], Rules()))


def test_newest_first(make_article: MakeArticle):
    """Newest first, across offsets: all dates are UTC already."""
    articles = [
        make_article(title="middle", published_at=T0),
        make_article(title="oldest", published_at=T0 - DAY),
        make_article(title="newest", published_at=T0 + DAY),
    ]
    assert ["newest", "middle", "oldest"] == titles(select(articles, Rules()))


def test_ties_are_stable_whatever_the_input_order(make_article: MakeArticle):
    """Articles with the same date come out in one order, whatever order they came in."""
    same = [make_article(title=f"t{i}", url=f"https://e.com/{i}") for i in (3, 1, 2)]
    expected = ["t1", "t2", "t3"]
    assert expected == titles(select(same, Rules()))
    assert expected == titles(select(list(reversed(same)), Rules()))


def test_limit_keeps_the_newest(make_article: MakeArticle):
    """At most limit items, and they are the newest ones."""
    articles = [make_article(title=f"d{i}", published_at=T0 + i * DAY) for i in range(5)]
    assert ["d4", "d3"] == titles(select(articles, Rules(limit=2)))


def test_limit_applies_after_dedupe(make_article: MakeArticle):
    """Duplicates do not use up the limit."""
    articles = [
        make_article(title="dup1", url="https://e.com/x", published_at=T0 + 2 * DAY),
        make_article(title="dup2", url="https://e.com/x/", published_at=T0 + 2 * DAY),
        make_article(title="other", url="https://e.com/y", published_at=T0),
    ]
    assert 2 == len(select(articles, Rules(limit=2)))


def test_articles_by_topic(make_article: MakeArticle):
    """Each topic lists the articles carrying it, in input order."""
    a = make_article(title="a", topics=("AI", "Robotics"))
    b = make_article(title="b", topics=("AI",))
    c = make_article(title="c", topics=())
    grouped = articles_by_topic([a, b, c])
    assert {"AI": ["a", "b"], "Robotics": ["a"]} == {k: titles(v) for k, v in grouped.items()}


def test_slug_transliterates():
    """Umlauts and spaces become a plain ASCII slug."""
    topics, warnings = assign_slugs(["Künstliche Intelligenz"])
    assert ([Topic("Künstliche Intelligenz", "kunstliche-intelligenz")], []) == (topics, warnings)


def test_clashing_slugs_are_distinct_stable_and_warned():
    """C++ and C# both slugify to "c": they get distinct slugs whatever the order, and a warning."""
    forward, warnings = assign_slugs(["C++", "C#"])
    backward, _ = assign_slugs(["C#", "C++"])
    assert forward == backward
    assert [Topic("C#", "c"), Topic("C++", "c-2")] == forward
    assert 1 == len(warnings)
    assert "'C++'" in warnings[0]
    assert "'C#'" in warnings[0]
    assert "'c-2'" in warnings[0]


def test_clash_with_an_existing_numbered_slug_stays_unique():
    """A topic literally named like the numbered slug still gets a slug of its own."""
    topics, _ = assign_slugs(["C", "C#", "C 2"])
    slugs = [topic.slug for topic in topics]
    assert len(slugs) == len(set(slugs))


def test_unsluggable_name_gets_a_fallback():
    """A name made only of symbols still gets a usable slug."""
    topics, _ = assign_slugs(["🤖"])
    assert "topic" == topics[0].slug


def test_a_long_topic_name_gets_a_short_slug_ending_in_a_hash():
    """A 300-character name slugs to 80 characters: 71 of the name, a dash, 8 of a hash."""
    topics, _ = assign_slugs(["Quantum " * 37 + "computing"])
    slug = topics[0].slug
    assert (80, "quantum-quantum-", True) == (len(slug), slug[:16], slug[71] == "-")
    assert slug == assign_slugs(["Quantum " * 37 + "computing"])[0][0].slug


def test_long_names_that_differ_late_never_share_a_slug():
    """Names alike in their first 80 characters still get distinct slugs, with no warning."""
    names = ["x" * 300 + ending for ending in ("a", "b", "c")]
    topics, warnings = assign_slugs(names)
    slugs = [topic.slug for topic in topics]
    assert (3, [], {80}) == (len(set(slugs)), warnings, {len(slug) for slug in slugs})


def test_a_warning_about_long_names_cuts_them_short():
    """Two long names that slugify alike are warned about without quoting them whole."""
    _, warnings = assign_slugs(["Y" * 5000, "y" * 5000])
    assert 1 == len(warnings)
    assert len(warnings[0]) < 500


def _canonical_by_urllib(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port not in (None, 80, 443):
        host = f"{host}:{parts.port}"
    query = parts.query
    if "utm_" in query.lower():
        kept = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(key, value) for key, value in kept if key[:4].lower() != "utm_"])
    return urlunsplit(("https", host, parts.path.rstrip("/"), query, ""))


@pytest.mark.parametrize(
    "url",
    [
        "https://Example.COM/a/",
        "HTTP://example.com",
        "https://example.com?a=1",
        "https://example.com/a?",
        "https://example.com/a/?b=1#c",
        "https://example.com/a?b=/c/",
        "https://example.com/a:b/",
        "https://user@example.com/a",
        "https://[::1]/a",
        "http://example.com:80/a",
        "https://example.com/watch?v=x&UTM_medium=y",
    ],
)
def test_canonical_url_shortcut_agrees_with_urllib(url: str):
    """The string-splitting shortcut gives what the general urllib route gives."""
    assert _canonical_by_urllib(url) == canonical_url(url)


def test_canonical_url_agrees_with_urllib_on_real_urls():
    """Every URL of the real corpus has the same canonical form by either route."""
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    if not corpus.is_dir():
        pytest.skip("../shared/corpus is not here")
    urls = {
        url
        for path in corpus.glob("*/_news/*.md")
        for url in re.findall(r'Url: "([^"]+)"', path.read_text(encoding="utf-8-sig"))
    }
    assert len(urls) > 300
    assert [_canonical_by_urllib(u) for u in sorted(urls)] == [
        canonical_url(u) for u in sorted(urls)
    ]
