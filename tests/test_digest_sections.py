"""The issue's sections: each story under its most specific topic, the site's umbrella topic
never a heading, a closing catch-all, and issue sizes that keep a real week whole."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import list_config, load_folder

from publisher.config import Config
from publisher.content.scan import scan_folder
from publisher.digest.issue import Digest, IssueWeek, plan_digest
from publisher.digest.sections import TopicCounts, arrange, count_topics, counts_from_rows
from publisher.jobs import refresh_articles
from publisher.model import Article, Image
from publisher.state import open_store

SHARED = Path(__file__).resolve().parents[2] / "shared"
POWER_APPS = SHARED / "corpus" / "microsoft-power-apps" / "_news"
AI = SHARED / "corpus" / "artificial-intelligence" / "_news"
IMAGE = (Image("https://cdn.example/lead.jpg", 800, 400),)

MakeArticle = Callable[..., Article]


def corpus(folder: Path) -> tuple[Article, ...]:
    """A real article collection, or a skip when ../shared is absent."""
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return load_folder(folder).articles


def sections(digest: Digest) -> list[tuple[str, int]]:
    """Each section's heading and number of stories, in order."""
    return [(section.topic, len(section.stories)) for section in digest.sections]


def section_of(digest: Digest, title: str) -> str:
    """The section a story was filed under (the lead's own, for the lead)."""
    if digest.lead and digest.lead.title == title:
        return digest.lead_section
    return next(s.topic for s in digest.sections for story in s.stories if story.title == title)


# Filing, on small made-up issues ---------------------------------------------------------------


def test_story_goes_under_its_most_specific_topic(make_article: MakeArticle) -> None:
    """Of its topics, a story is filed under the one fewest articles of the collection carry."""
    counts = TopicCounts(100, {"Site": 100, "Space": 40, "Mars": 3})
    lead = make_article(quality=90, images=IMAGE, topics=("Site", "Space"))
    story = make_article(quality=80, topics=("Site", "Space", "Mars"))
    arrangement = arrange(list_config(), [lead, story], counts)
    expected = ("Space", (("Mars", (story,)),))
    assert expected == (arrangement.lead_section, arrangement.sections)


def test_umbrella_topic_is_never_a_heading(make_article: MakeArticle) -> None:
    """A topic on 80 % of the collection is the site's umbrella: its stories close the issue
    under "More news"; the umbrella's name is never a section."""
    counts = TopicCounts(10, {"Site": 8, "Space": 2})
    lead = make_article(quality=90, images=IMAGE, topics=("Site",))
    only_site = make_article(quality=85, topics=("Site",))
    space = make_article(quality=60, topics=("Site", "Space"))
    untagged = make_article(quality=55, topics=())
    arrangement = arrange(list_config(), [lead, only_site, space, untagged], counts)
    expected = ("More news", (("Space", (space,)), ("More news", (only_site, untagged))))
    assert expected == (arrangement.lead_section, arrangement.sections)


def test_umbrella_share_is_a_setting(make_article: MakeArticle) -> None:
    """digest.umbrella_share = 0.9: a topic on 80 % of the articles is an ordinary section."""
    counts = TopicCounts(10, {"Site": 8})
    lead = make_article(quality=90, images=IMAGE, topics=("Site",))
    story = make_article(quality=80, topics=("Site",))
    arrangement = arrange(list_config(umbrella_share=0.9), [lead, story], counts)
    assert (("Site", (story,)),) == arrangement.sections


def test_topic_order_decides_between_topics(make_article: MakeArticle) -> None:
    """A story with several topics goes under the first of them in digest.topic_order, even
    a less specific one, and ordered sections come first."""
    counts = TopicCounts(100, {"Space": 40, "Mars": 3, "Moon": 5})
    lead = make_article(quality=90, images=IMAGE, topics=("Moon",))
    story = make_article(quality=80, topics=("Mars", "Space"))
    config = list_config(topic_order=("Space",))
    arrangement = arrange(config, [lead, story], counts)
    assert ("Moon", (("Space", (story,)),)) == (arrangement.lead_section, arrangement.sections)


def test_sections_come_in_topic_order_then_size_catch_all_last(make_article: MakeArticle) -> None:
    """digest.topic_order first, then the largest sections, then by name; "More news" last."""
    counts = TopicCounts(100, {"Site": 100, "Big": 10, "Small": 10, "Chosen": 10})
    articles = [
        make_article(quality=99, images=IMAGE, topics=("Site",)),
        make_article(quality=90, topics=("Site",)),
        make_article(topics=("Site", "Small")),
        make_article(topics=("Big",)),
        make_article(topics=("Big",)),
        make_article(topics=("Chosen",)),
    ]
    config = list_config(topic_order=("Chosen", "Absent"))
    arrangement = arrange(config, articles, counts)
    expected = ["Chosen", "Big", "Small", "More news"]
    assert expected == [topic for topic, _ in arrangement.sections]


def test_full_section_spills_to_the_next_topic(make_article: MakeArticle) -> None:
    """With per_topic = 2 a story whose own section is full goes under its next topic, then
    under the catch-all, and only then is left out."""
    counts = TopicCounts(100, {"Space": 40, "Mars": 3})
    lead = make_article(quality=99, images=IMAGE, topics=("Space",))
    stories = [make_article(quality=90 - n, topics=("Space", "Mars")) for n in range(7)]
    arrangement = arrange(list_config(per_topic=2), [lead, *stories], counts)
    expected = (
        (("Mars", tuple(stories[0:2])), ("Space", tuple(stories[2:4]))),
        ("More news", tuple(stories[4:6])),
        1,
    )
    assert expected == (arrangement.sections[:2], arrangement.sections[2], arrangement.left_out)


def test_max_stories_caps_the_whole_issue(make_article: MakeArticle) -> None:
    """digest.max_stories counts the lead; the best stories are kept, the rest counted."""
    counts = TopicCounts(10, {"Space": 5, "Mars": 5})
    articles = [
        make_article(quality=90 - n, images=IMAGE, topics=("Space" if n % 2 else "Mars",))
        for n in range(6)
    ]
    arrangement = arrange(list_config(max_stories=4), articles, counts)
    shown = [story for _, group in arrangement.sections for story in group]
    expected = (articles[0], sorted(articles[1:4], key=articles.index), 2)
    assert expected == (
        arrangement.lead,
        sorted(shown, key=articles.index),
        arrangement.left_out,
    )


# Counting --------------------------------------------------------------------------------------


def test_topic_counts_use_each_topics_quality_rule(make_article: MakeArticle) -> None:
    """An article counts for a topic when that topic's rules would select it."""
    from publisher.config import TopicRule

    config = list_config()
    config = Config(
        site=config.site, digest=config.digest, topics={"Strict": TopicRule(min_quality=80)}
    )
    articles = [
        make_article(quality=70, topics=("Strict", "Loose")),
        make_article(quality=90, topics=("Strict",)),
        make_article(quality=10, topics=("Loose",)),
        make_article(quality=70, published=False, topics=("Loose",)),
    ]
    assert TopicCounts(2, {"Strict": 1, "Loose": 1}) == count_topics(config, articles)


def test_store_counts_equal_counting_in_memory(tmp_path: Path) -> None:
    """The store's grouped query counts the real corpus exactly as counting the articles does."""
    articles = corpus(POWER_APPS)
    config = list_config()
    store, _ = open_store(tmp_path / "cache")
    try:
        refresh_articles(store, POWER_APPS, scan_folder(POWER_APPS))
        rows = store.topic_quality_counts(store.source(POWER_APPS))
    finally:
        store.close()
    assert count_topics(config, articles) == counts_from_rows(config, *rows)


# The real corpora ------------------------------------------------------------------------------


def test_power_apps_week_has_a_section_per_sub_topic() -> None:
    """2020-W39 with the default settings: Common Data Service, Model-driven apps and Teams
    integration (the lead's) are sections, the rest closes the issue under "More news", and no
    heading repeats the masthead's "Power Apps"."""
    digest = plan_digest(list_config(), corpus(POWER_APPS), IssueWeek(2020, 39))
    expected = (
        {"Common Data Service", "Model-driven apps", "Teams integration", "More news"},
        "More news",
        0,
    )
    assert expected == (
        {digest.lead_section} | {section.topic for section in digest.sections},
        digest.sections[-1].topic,
        digest.left_out,
    )
    assert "Power Apps" not in [section.topic for section in digest.sections]


def test_power_apps_week_keeps_every_qualifying_story() -> None:
    """2020-W47 with the defaults: all seven qualifying stories, including the two the old
    single-section layout dropped."""
    digest = plan_digest(list_config(), corpus(POWER_APPS), IssueWeek(2020, 47))
    titles = [story.title for story in digest.stories]
    assert (7, 0) == (len(titles), digest.left_out)
    assert any(title.startswith("Transforming compliance evaluation") for title in titles)


def test_every_power_apps_week_fits_the_default_sizes() -> None:
    """No week of the real collection loses a story to per_topic or max_stories, Monday or
    Wednesday weeks alike."""
    articles = corpus(POWER_APPS)
    left_out = {}
    for starts, name in ((1, "monday"), (3, "wednesday")):
        config = list_config(week_starts=name)
        counts = count_topics(config, articles)
        weeks = {IssueWeek.containing(a.published_at.date(), starts) for a in articles}
        for week in sorted(weeks):
            digest = plan_digest(config, articles, week, counts)
            if digest.left_out:
                left_out[f"{name} {week}"] = digest.left_out
    assert {} == left_out


def test_ai_sections_follow_the_most_specific_topic() -> None:
    """Every story of every week of the AI collection (two or three topics an article) is
    filed under its least common topic, "AI" (on every article) under none."""
    articles = corpus(AI)
    config = list_config()
    counts = count_topics(config, articles)
    by_title = {article.title: article for article in articles}
    weeks = {IssueWeek.containing(article.published_at.date()) for article in articles}
    misfiled = []
    for week in sorted(weeks):
        digest = plan_digest(config, articles, week, counts)
        for story in digest.stories:
            own = [topic for topic in by_title[story.title].topics if topic != "AI"]
            fewest = min((counts.by_topic[t] for t in own), default=0)
            filed = section_of(digest, story.title)
            if (filed == "More news") != (not own) or (own and counts.by_topic[filed] != fewest):
                misfiled.append((str(week), story.title, filed, own))
        assert "AI" not in [section.topic for section in digest.sections]
    assert [] == misfiled


def test_topic_order_picks_between_real_sub_topics() -> None:
    """ "Add your canvas apps to Microsoft Teams" carries Canvas apps (5 articles) and Teams
    integration (13): filed under Canvas apps, unless topic_order names Teams integration."""
    articles = corpus(POWER_APPS)
    title = "Add your canvas apps to Microsoft Teams"
    week = IssueWeek(2021, 20)
    plain = plan_digest(list_config(), articles, week)
    ordered = plan_digest(list_config(topic_order=("Teams integration",)), articles, week)
    expected = ("Canvas apps", "Teams integration")
    assert expected == (section_of(plain, title), section_of(ordered, title))
