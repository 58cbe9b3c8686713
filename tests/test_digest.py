"""The newsletter core: week, selection, rendering, and email-safety of the generated files."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
import yaml
from helpers import list_config, load_folder

from publisher.config import Config, load_config
from publisher.digest.issue import (
    IssueWeek,
    StoryImage,
    add_utm,
    plan_digest,
    shorten,
    week_articles,
)
from publisher.digest.render import (
    GMAIL_CLIP_BYTES,
    PACKAGE_TEMPLATES,
    RenderedDigest,
    inline_css,
    make_digest,
    render_digest,
)
from publisher.digest.sections import TopicCounts, arrange
from publisher.errors import ConfigError, TemplateError
from publisher.model import Article, Image, Provider

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS_NEWS = SHARED / "corpus" / "microsoft-power-apps" / "_news"
GOLDEN = Path(__file__).parent / "golden" / "digest"
SAMPLE_WEEK = IssueWeek(2026, 47)
CORPUS_WEEK = IssueWeek(2020, 47)

MakeArticle = Callable[..., Article]
IMAGE = Image("https://cdn.example/lead.jpg", 1200, 600)


def sample_config() -> Config:
    """The repository's config.toml, paths resolved against the repository."""
    return load_config(ROOT / "config.toml")


def render_sample() -> RenderedDigest:
    config = sample_config()
    return make_digest(config, load_folder(Path(config.content)).articles, SAMPLE_WEEK)


def render_corpus() -> RenderedDigest:
    if not CORPUS_NEWS.is_dir():
        pytest.skip("../shared/corpus/microsoft-power-apps/_news is absent")
    config = replace(sample_config(), content=str(CORPUS_NEWS))
    return make_digest(config, load_folder(CORPUS_NEWS).articles, CORPUS_WEEK)


@pytest.fixture(scope="module", params=["sample", "corpus"])
def rendered(request: pytest.FixtureRequest) -> RenderedDigest:
    """The sample week's issue, then the real corpus's 2020-W47 issue."""
    return render_sample() if request.param == "sample" else render_corpus()


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02}:00:00").replace(tzinfo=UTC)


# Weeks -----------------------------------------------------------------------------------------


def test_week_parses_iso_labels() -> None:
    """2020-W47 and 2020w47 are the same week, Monday 16 to Sunday 22 November."""
    assert (IssueWeek(2020, 47), IssueWeek(2020, 47)) == (
        IssueWeek.parse("2020-W47"),
        IssueWeek.parse("2020w47"),
    )
    assert (date(2020, 11, 16), date(2020, 11, 22), date(2020, 11, 23)) == (
        IssueWeek(2020, 47).first_day,
        IssueWeek(2020, 47).last_day,
        IssueWeek(2020, 47).send_day,
    )


@pytest.mark.parametrize(
    "text",
    ["2020-47", "W47", "2021-W53", "2020-W00", "next week", "2020-02-30", "20-11-20"],
)
def test_week_rejects_what_is_not_a_week(text: str) -> None:
    """A malformed label or day, or a week the year does not have, is a one-line error."""
    with pytest.raises(ConfigError, match="--week"):
        IssueWeek.parse(text)


@pytest.mark.parametrize("text", ["9999-W52", "9999-12-30", "0001-01-01"])
def test_week_too_close_to_the_calendar_edge_is_an_error(text: str) -> None:
    """A week whose days or send date fall outside the calendar is refused, not a traceback."""
    with pytest.raises(ConfigError, match="--week"):
        IssueWeek.parse(text, starts=3)


def test_wednesday_week_covers_wednesday_to_tuesday() -> None:
    """With week_starts = wednesday, 2020-W47 is Wednesday 18 to Tuesday 24, sent on the 25th."""
    week = IssueWeek.parse("2020-W47", starts=3)
    expected = (date(2020, 11, 18), date(2020, 11, 24), date(2020, 11, 25), "2020-W47")
    assert expected == (week.first_day, week.last_day, week.send_day, week.label)


def test_an_issue_is_named_by_its_week_and_the_day_it_starts(make_article: MakeArticle) -> None:
    """Monday weeks keep their plain label in file names and the Message-ID; a Wednesday week
    of the same ISO week is another issue, named with its day."""
    article = make_article(published_at=at("2020-11-20"))
    monday = make_digest(list_config(), [article], IssueWeek.parse("2020-W47"))
    wednesday = make_digest(
        list_config(week_starts="wednesday"), [article], IssueWeek.parse("2020-W47", starts=3)
    )
    ids = [email.message_from_bytes(r.message)["Message-ID"] for r in (monday, wednesday)]
    expected = (
        ["2020-W47.eml", "2020-W47-wed.eml"],
        ["<digest-2020-w47.readers-test-example@test.example>",
         "<digest-2020-w47-wed.readers-test-example@test.example>"],
    )  # fmt: skip
    assert expected == ([min(r.files) for r in (monday, wednesday)], ids)


def test_wednesday_issue_is_dated_the_wednesday_after(make_article: MakeArticle) -> None:
    """The Date header follows the window: 08:00 on the day after it ends, in digest.timezone."""
    config = list_config(week_starts="wednesday", timezone="America/New_York")
    friday = make_article(published_at=at("2020-11-20"))
    digest = plan_digest(config, [friday], IssueWeek.parse("2020-W47", starts=3))
    message = email.message_from_bytes(make_digest(config, [friday], digest.week).message)
    expected = ("Wed, 25 Nov 2020 08:00:00 -0500", "18\N{EN DASH}24 November 2020", [friday.title])
    assert expected == (message["Date"], digest.period, [story.title for story in digest.stories])


@pytest.mark.parametrize(
    ("day", "starts", "expected"),
    [
        ("2020-11-20", 1, IssueWeek(2020, 47)),
        ("2020-11-20", 3, IssueWeek(2020, 47, 3)),  # Friday: in the week from Wednesday 18th
        ("2020-11-23", 3, IssueWeek(2020, 47, 3)),  # Monday of ISO week 48, same issue
        ("2020-11-25", 3, IssueWeek(2020, 48, 3)),  # Wednesday: a new issue week starts
        ("2021-01-01", 3, IssueWeek(2020, 53, 3)),  # named after the ISO week of its first day
    ],
)
def test_week_from_a_day_is_the_one_containing_it(
    day: str, starts: int, expected: IssueWeek
) -> None:
    """--week YYYY-MM-DD picks the issue week that day falls in."""
    assert expected == IssueWeek.parse(day, starts)


@pytest.mark.parametrize(
    ("today", "starts", "expected"),
    [
        (date(2026, 11, 23), 1, IssueWeek(2026, 47)),  # Monday: last week just ended
        (date(2026, 11, 29), 1, IssueWeek(2026, 47)),  # Sunday: this week is not over yet
        (date(2026, 11, 30), 1, IssueWeek(2026, 48)),
        (date(2021, 1, 4), 1, IssueWeek(2020, 53)),  # across a 53-week year
        (date(2020, 11, 25), 3, IssueWeek(2020, 47, 3)),  # Wednesday: send day of W47
        (date(2020, 11, 24), 3, IssueWeek(2020, 46, 3)),  # Tuesday: W47 ends today
    ],
)
def test_last_complete_week_is_the_one_before_today(
    today: date, starts: int, expected: IssueWeek
) -> None:
    """--week alone means the last issue week that has ended."""
    assert expected == IssueWeek.last_complete(today, starts)


# Selection -------------------------------------------------------------------------------------


def test_week_articles_use_the_configured_time_zone(make_article: MakeArticle) -> None:
    """Sunday 23:30 UTC is Monday in Tokyo, so it belongs to the next week there."""
    late_sunday = make_article(published_at=datetime(2026, 11, 22, 23, 30, tzinfo=UTC))
    in_london = week_articles(list_config(timezone="Europe/London"), [late_sunday], SAMPLE_WEEK)
    in_tokyo = week_articles(list_config(timezone="Asia/Tokyo"), [late_sunday], SAMPLE_WEEK)
    assert ([late_sunday], []) == (in_london, in_tokyo)


def test_week_articles_select_as_feeds_do(make_article: MakeArticle) -> None:
    """Unpublished, low-quality, unrated and other-week articles are left out; copies merge."""
    day = at("2026-11-18")
    good = make_article(published_at=day, url="https://a.example/story", quality=80)
    copy = make_article(published_at=day, url="http://a.example/story/?utm_source=x", quality=60)
    articles = [
        good,
        copy,
        make_article(published_at=day, published=False),
        make_article(published_at=day, quality=20),
        make_article(published_at=day, quality=None),
        make_article(published_at=at("2026-11-24")),
    ]
    assert [good] == week_articles(list_config(), articles, SAMPLE_WEEK)


def test_week_articles_rank_by_quality_then_heat_then_date(make_article: MakeArticle) -> None:
    """Quality first, heat breaks ties, then the newer story."""
    older = make_article(published_at=at("2026-11-16"), quality=70, heat=5)
    newer = make_article(published_at=at("2026-11-20"), quality=70, heat=5)
    hotter = make_article(published_at=at("2026-11-16"), quality=70, heat=50)
    best = make_article(published_at=at("2026-11-16"), quality=90, heat=0)
    ranked = week_articles(list_config(), [older, newer, hotter, best], SAMPLE_WEEK)
    assert [best, hotter, newer, older] == ranked


def test_lead_is_the_best_story_with_an_image(make_article: MakeArticle) -> None:
    """The top story has a picture when any story does."""
    plain = make_article(quality=95)
    pictured = make_article(quality=60, images=(Image("https://cdn.example/a.jpg", 1200, 600),))
    arrangement = arrange(list_config(), [plain, pictured], TopicCounts(2, {"Space": 2}))
    assert pictured == arrangement.lead


def test_empty_week_plans_an_empty_issue(make_article: MakeArticle) -> None:
    """No selected article that week: the digest says it is empty."""
    digest = plan_digest(list_config(), [make_article(quality=10)], IssueWeek(2024, 18))
    expected = (True, None, ())
    assert expected == (digest.is_empty, digest.lead, digest.sections)


# Links and text --------------------------------------------------------------------------------


def test_utm_keeps_other_parameters_and_the_fragment() -> None:
    """Existing parameters stay byte for byte; old utm values are replaced by the email's."""
    url = "https://a.example/p?id=7&q=a%20b&utm_source=twitter#top"
    expected = (
        "https://a.example/p?id=7&q=a%20b&utm_source=news&utm_medium=email"
        "&utm_campaign=2026-W47#top"
    )
    assert expected == add_utm(url, source="news", campaign="2026-W47")


def test_utm_can_be_turned_off(make_article: MakeArticle) -> None:
    """digest.utm = false leaves article links as the source wrote them."""
    article = make_article(published_at=at("2026-11-18"), url="https://a.example/x?id=1")
    digest = plan_digest(list_config(utm=False), [article], SAMPLE_WEEK)
    expected = "https://a.example/x?id=1"
    assert expected == digest.stories[0].url


def test_shorten_cuts_at_a_word() -> None:
    """Long excerpts end at a word boundary with an ellipsis."""
    expected = "alpha beta…"
    assert expected == shorten("alpha beta gamma", 12)


# Subject and preheader ---------------------------------------------------------------------------


def test_default_subject_is_the_lead_headline(make_article: MakeArticle) -> None:
    """The default subject is the lead headline alone: the From name already says whose it is."""
    lead = make_article(published_at=at("2026-11-18"), quality=90, title="<b>Big</b> story")
    others = [make_article(published_at=at("2026-11-19")) for _ in range(3)]
    full = make_digest(list_config(), [lead, *others], SAMPLE_WEEK).digest.subject
    alone = make_digest(list_config(), [lead], SAMPLE_WEEK).digest.subject
    assert ("Big story", "Big story") == (full, alone)


def test_default_subject_fits_a_phone(make_article: MakeArticle) -> None:
    """A long lead headline is cut at a word to at most 78 characters."""
    title = (
        "Microsoft announces general availability of new Power Apps and Dataverse for Teams"
        " with a great many words after it"
    )
    lead = make_article(published_at=at("2026-11-18"), title=title)
    subject = make_digest(list_config(), [lead], SAMPLE_WEEK).digest.subject
    expected = "Microsoft announces general availability of new Power Apps and Dataverse for…"
    assert (expected, True) == (subject, len(subject) <= 78)


def test_subject_template_still_wins(make_article: MakeArticle) -> None:
    """A configured digest.subject is rendered as written, not cut to a phone's width."""
    template = "{{ site }}: {{ lead }}{% if more %} and {{ more }} more{% endif %}"
    lead = make_article(published_at=at("2026-11-18"), quality=90, title="A " + "long " * 20)
    others = [make_article(published_at=at("2026-11-19"))]
    subject = make_digest(list_config(subject=template), [lead, *others], SAMPLE_WEEK).digest
    assert ("Test News: A long", "and 1 more") == (
        subject.subject[:17],
        subject.subject[-10:],
    )


def test_subject_template_sees_the_week_and_its_dates(make_article: MakeArticle) -> None:
    """digest.subject may use the week, its first and last day, the issue date and the count;
    the result is one line, in the Subject header and the HTML title."""
    template = (
        "{{ site }} {{ week }}\n({{ start.strftime('%d %b') }} to {{ end }},"
        " sent {{ date }}): {{ count }} stories, {{ period }}"
    )
    article = make_article(published_at=at("2026-11-18"))
    rendered = make_digest(list_config(subject=template), [article], SAMPLE_WEEK)
    message = email.message_from_bytes(rendered.message, policy=email.policy.default)
    expected = (
        "Test News 2026-W47 (16 Nov to 2026-11-22, sent 2026-11-23): 1 stories,"
        " 16\N{EN DASH}22 November 2026"
    )
    assert (expected, expected) == (str(message["Subject"]), parse(rendered).findtext("head/title"))


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ site }", "digest.subject: line 1: "),
        ("{{ sight }}", "digest.subject: 'sight' is undefined (it may use site, lead, count"),
        ("{{ lead.__class__.__mro__ }}", "digest.subject: "),
        ("{% if false %}x{% endif %}", "digest.subject: renders as an empty subject"),
    ],
)
def test_bad_subject_template_is_a_config_error(
    template: str, reason: str, make_article: MakeArticle
) -> None:
    """A subject that does not render names digest.subject; the sandbox refuses internals."""
    article = make_article(published_at=at("2026-11-18"))
    with pytest.raises(ConfigError) as raised:
        make_digest(list_config(subject=template), [article], SAMPLE_WEEK)
    assert str(raised.value).startswith(reason)


def test_preheader_of_a_one_story_issue_is_its_excerpt(make_article: MakeArticle) -> None:
    """With no other headline to show, the preview line is the lead's excerpt."""
    article = make_article(published_at=at("2026-11-18"), excerpt="What happened, in short.")
    digest = plan_digest(list_config(), [article], SAMPLE_WEEK)
    assert "What happened, in short." == digest.preheader


# Settings a list must have ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ({"unsubscribe_url": "", "unsubscribe_mailto": ""}, "digest"),
        ({"unsubscribe_url": "http://test.example/u"}, "digest.unsubscribe_url"),
        ({"postal_address": " "}, "digest.postal_address"),
        ({"sender": "nobody"}, "digest.sender"),
    ],
)
def test_missing_list_settings_are_config_errors(setting: dict[str, str], field: str) -> None:
    """No unsubscribe link or postal address (CAN-SPAM) means no issue, and says which key."""
    with pytest.raises(ConfigError) as raised:
        plan_digest(list_config(**setting), [], SAMPLE_WEEK)
    assert field == raised.value.field


# Templates and CSS -----------------------------------------------------------------------------


def test_package_defaults_are_the_top_level_templates() -> None:
    """The package's default templates are templates/email itself: one copy, nothing to drift."""
    assert (ROOT / "templates" / "email").resolve() == PACKAGE_TEMPLATES.resolve()


def test_missing_template_folder_is_a_config_error(make_article: MakeArticle) -> None:
    """A configured folder that does not exist is a misspelt path: the key is named."""
    article = make_article(published_at=at("2026-11-18"))
    config = list_config(templates="/nonexistent/templates")
    with pytest.raises(ConfigError, match=r"^digest\.templates: no such folder: /nonexistent"):
        make_digest(config, [article], SAMPLE_WEEK)


def test_no_template_folder_uses_the_package(make_article: MakeArticle) -> None:
    """digest.templates unset: the templates shipped inside the package."""
    article = make_article(published_at=at("2026-11-18"))
    assert article.title in make_digest(list_config(templates=""), [article], SAMPLE_WEEK).html


def test_user_template_overrides_one_file(tmp_path: Path, make_article: MakeArticle) -> None:
    """A folder with only digest.txt overrides the text part; the HTML keeps the defaults."""
    (tmp_path / "digest.txt").write_text("{{ digest.subject }} / custom\n", encoding="utf-8")
    article = make_article(published_at=at("2026-11-18"))
    rendered = make_digest(list_config(templates=str(tmp_path)), [article], SAMPLE_WEEK)
    expected = (f"{article.title} / custom\n", True)
    assert expected == (
        rendered.text,
        "Story" in rendered.html,
    )


def test_misspelt_template_variable_fails(tmp_path: Path, make_article: MakeArticle) -> None:
    """An undefined name is an error naming the template, never a blank or a placeholder."""
    (tmp_path / "digest.txt").write_text("{{ digest.subjet }}\n", encoding="utf-8")
    article = make_article(published_at=at("2026-11-18"))
    with pytest.raises(TemplateError, match=r"digest\.txt.*subjet"):
        make_digest(list_config(templates=str(tmp_path)), [article], SAMPLE_WEEK)


def test_template_syntax_error_names_the_line(tmp_path: Path, make_article: MakeArticle) -> None:
    """A Jinja syntax error reads path: line N: reason."""
    (tmp_path / "digest.txt").write_text("ok\n{% if %}\n", encoding="utf-8")
    article = make_article(published_at=at("2026-11-18"))
    with pytest.raises(TemplateError, match=r"digest\.txt: line 2: "):
        make_digest(list_config(templates=str(tmp_path)), [article], SAMPLE_WEEK)


@pytest.mark.parametrize(
    "css",
    ["a { color: red; }}", "p { margin: ; }", "td { width: calc(100% - 2px); }", "a b{{c:d}"],
)
def test_css_error_fails_with_a_clear_message(css: str) -> None:
    """cssutils would drop or mangle the rule silently; the run fails instead."""
    page = f"<html><head><style>{css}</style></head><body><p><a>x</a></p></body></html>"
    with pytest.raises(TemplateError, match=r"^layout\.html: invalid CSS: "):
        inline_css(page, "layout.html")


def test_css_error_fails_every_time() -> None:
    """A second render of the same broken CSS fails too (cssutils' parse cache logs nothing)."""
    page = "<html><head><style>p { margin: ; }</style></head><body><p>x</p></body></html>"
    failures = 0
    for _ in range(2):
        with pytest.raises(TemplateError):
            inline_css(page)
        failures += 1
    expected = 2
    assert expected == failures


def test_css_inlining_is_quiet_and_keeps_media_rules(capfd: pytest.CaptureFixture[str]) -> None:
    """Unknown email properties log nothing to stderr; @media keeps !important."""
    css = (
        "td { mso-line-height-rule: exactly; color: #111; }"
        "@media (prefers-color-scheme: dark) { td { color: #eee !important; } }"
    )
    inline_css(f"<html><head><style>{css}</style></head><body><table><tr><td>x</td></tr></table>")
    html = inline_css(f"<html><head><style>{css}</style></head><body><p>x</p></body></html>")
    expected = ("", True)
    assert expected == (capfd.readouterr().err, "color: #eee !important" in html)


# The generated files: sample week and real corpus ----------------------------------------------


def parse(rendered: RenderedDigest) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(rendered.html)


def test_html_is_under_gmail_clipping(rendered: RenderedDigest) -> None:
    """Gmail clips HTML above 102 KB; the issue stays well below."""
    assert len(rendered.html.encode("utf-8")) < GMAIL_CLIP_BYTES
    expected = ()
    assert expected == rendered.warnings


def test_html_head_has_lang_charset_viewport_and_subject(rendered: RenderedDigest) -> None:
    """lang, charset and viewport are there; <title> is the subject."""
    root = parse(rendered)
    assert ("en", ["utf-8"], 1, rendered.digest.subject) == (
        root.get("lang"),
        root.xpath("//head/meta/@charset"),
        len(root.xpath("//head/meta[@name='viewport'][contains(@content,'width=device-width')]")),
        root.findtext("head/title"),
    )


def test_preheader_comes_first_and_is_hidden(rendered: RenderedDigest) -> None:
    """The first element in the body is the hidden preview text: the headlines after the
    lead, which the subject already names."""
    first = parse(rendered).body[0]
    style = first.get("style", "").replace(" ", "")
    second = rendered.digest.stories[1]
    expected = (True, True, False)
    assert expected == (
        "display:none" in style,
        first.text_content().startswith(f"{second.title} · "),
        rendered.digest.preheader.startswith(rendered.digest.stories[0].title),
    )


def test_layout_tables_are_presentation_and_600px(rendered: RenderedDigest) -> None:
    """Every table is role=presentation; the container is at most 600 px wide."""
    root = parse(rendered)
    tables = root.xpath("//table")
    expected = []
    assert expected == [table for table in tables if table.get("role") != "presentation"]
    containers = root.xpath("//table[contains(@style,'max-width:600px')]")
    expected = 1
    assert expected == len(containers)


def test_images_have_alt_integer_size_and_https(rendered: RenderedDigest) -> None:
    """Every <img> has alt text, integer width and height and an absolute https src."""
    images = parse(rendered).xpath("//img")
    assert images
    for image in images:
        assert image.get("alt"), lxml.html.tostring(image)
        assert re.fullmatch(r"[1-9]\d*", image.get("width", "")), lxml.html.tostring(image)
        assert re.fullmatch(r"[1-9]\d*", image.get("height", "")), lxml.html.tostring(image)
        assert image.get("src", "").startswith("https://"), lxml.html.tostring(image)


def test_every_story_with_a_picture_shows_one(rendered: RenderedDigest) -> None:
    """The lead's picture and one thumbnail per other story, each linking to its story, with
    a short alt, inside a tinted box that shows with images blocked."""
    root = parse(rendered)
    digest = rendered.digest
    pictures = [story.image or story.thumbnail for story in digest.stories]
    expected = [
        (picture.url, story.url, picture.alt)
        for story, picture in zip(digest.stories, pictures, strict=True)
        if picture
    ]
    shown = [
        (img.get("src"), img.getparent().get("href"), img.get("alt"))
        for img in root.xpath("//td[contains(@class, 'picture-box')]/a/img")
    ]
    assert len(expected) == len(digest.stories)
    assert expected == shown
    assert [] == [alt for _, _, alt in shown if not 0 < len(alt.removesuffix("…")) <= 50]


def test_picture_links_are_not_underlined(rendered: RenderedDigest) -> None:
    """With images blocked, alt text inherits its link's style: the link is never underlined."""
    root = parse(rendered)
    styles = [a.get("style", "").replace(" ", "") for a in root.xpath("//a[img]")]
    assert styles
    assert [] == [style for style in styles if "text-decoration:none" not in style]


def test_story_without_an_image_shows_its_provider_logo(make_article: MakeArticle) -> None:
    """No image of its own: the provider's logo, at its size, is the thumbnail."""
    logo = Image("https://cdn.example/logo-50.png", 50, 50)
    lead = make_article(published_at=at("2026-11-18"), quality=90, images=(IMAGE,))
    plain = make_article(
        published_at=at("2026-11-18"), provider=Provider("Logo Times", "logo.example", logo)
    )
    bare = make_article(published_at=at("2026-11-18"))
    digest = plan_digest(list_config(), [lead, plain, bare], SAMPLE_WEEK)
    by_title = {story.title: story for story in digest.stories}
    expected = (
        (560, 280, None),
        (None, StoryImage(logo.url, 50, 50, plain.title)),
        (None, None),
    )
    lead_story = by_title[lead.title]
    assert lead_story.image is not None
    assert expected == (
        (lead_story.image.width, lead_story.image.height, lead_story.thumbnail),
        (by_title[plain.title].image, by_title[plain.title].thumbnail),
        (by_title[bare.title].image, by_title[bare.title].thumbnail),
    )


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1200, 630), (120, 63, False)),
        ((1600, 1600), (120, 120, False)),
        ((300, 900), (40, 120, False)),
        ((60, 40), (60, 40, False)),
        ((None, None), (120, 80, True)),
    ],
)
def test_thumbnail_fits_a_square_and_keeps_its_shape(
    make_article: MakeArticle,
    size: tuple[int | None, int | None],
    expected: tuple[int, int, bool],
) -> None:
    """Thumbnails are scaled down (never up) into 120 x 120; an image of unknown size gets a
    3:2 box and is cropped to it."""
    lead = make_article(published_at=at("2026-11-18"), quality=90, images=(IMAGE,))
    story = make_article(
        published_at=at("2026-11-18"), images=(Image("https://cdn.example/t.jpg", *size),)
    )
    thumbnail = plan_digest(list_config(), [lead, story], SAMPLE_WEEK).sections[0].stories[0]
    assert thumbnail.thumbnail is not None
    picture = thumbnail.thumbnail
    assert expected == (picture.width, picture.height, picture.cropped)


def test_every_link_is_absolute(rendered: RenderedDigest) -> None:
    """No relative links: a mail client has no base to resolve them against."""
    hrefs = parse(rendered).xpath("//a/@href")
    expected = []
    assert expected == [
        href for href in hrefs if not re.match(r"(https?://[^/]+|mailto:\S+@)", href)
    ]


def test_no_active_content(rendered: RenderedDigest) -> None:
    """No script, iframe, form, object, embed or on* event attribute."""
    root = parse(rendered)
    banned = root.xpath("//script|//iframe|//form|//object|//embed|//input")
    handlers = [name for element in root.iter() for name in element.attrib if name.startswith("on")]
    expected = ([], [])
    assert expected == (banned, handlers)


def test_no_placeholders_or_double_escaped_entities(rendered: RenderedDigest) -> None:
    """Nothing like {link_color}, {{ x }} or &amp;amp; reaches a reader, in either part."""
    root = parse(rendered)
    for style in root.xpath("//style"):
        style.drop_tree()
    shown = lxml.html.tostring(root, encoding="unicode")
    placeholder = re.compile(r"\{\{|\}\}|\{%|%\}|\{[\w-]+\}")
    double = re.compile(r"&amp;(?:[a-z]+|#\d+|#x[0-9a-f]+);", re.IGNORECASE)
    expected = ([], [], [], [])
    assert expected == (
        placeholder.findall(shown),
        placeholder.findall(rendered.text),
        double.findall(rendered.html),
        re.findall(r"&(?:[a-z]+|#\d+);", rendered.text),
    )


def test_article_links_carry_utm(rendered: RenderedDigest) -> None:
    """Each story link has utm_source, utm_medium=email and utm_campaign=the week."""
    for story in rendered.digest.stories:
        query = parse_qs(urlsplit(story.url).query)
        assert (["publisher-sample"], ["email"], [rendered.digest.week.label]) == (
            query["utm_source"],
            query["utm_medium"],
            query["utm_campaign"],
        )
        assert story.url in parse(rendered).xpath("//a/@href")


def test_footer_has_unsubscribe_and_postal_address(rendered: RenderedDigest) -> None:
    """CAN-SPAM: an unsubscribe link and the postal address, in HTML and text."""
    root = parse(rendered)
    unsubscribe = root.xpath("//a[normalize-space()='Unsubscribe']/@href")
    address = "Publisher Sample News, 1 Example Street, Springfield 12345"
    expected = (["https://news.example.org/unsubscribe"], True, True, True)
    assert expected == (
        unsubscribe,
        address in root.text_content(),
        address in rendered.text,
        "https://news.example.org/unsubscribe" in rendered.text,
    )


def test_style_block_keeps_media_rules_with_important(rendered: RenderedDigest) -> None:
    """Phones and dark mode need the @media rules and their !important after inlining."""
    style = "".join(parse(rendered).xpath("//style/text()"))
    expected = (True, True, True)
    assert expected == (
        "@media only screen and (max-width: 620px)" in style,
        "@media (prefers-color-scheme: dark)" in style,
        "!important" in style,
    )


def test_every_story_appears_once_with_title_provider_date(rendered: RenderedDigest) -> None:
    """Each story's link appears once as a title; provider and date are beside it."""
    root = parse(rendered)
    text = root.text_content()
    for story in rendered.digest.stories:
        titles = root.xpath("//h1/a|//h3/a")
        expected = 1
        assert expected == [a.get("href") for a in titles].count(story.url)
        assert story.provider in text and story.date in text
        assert story.url in rendered.text


def test_video_is_marked(rendered: RenderedDigest) -> None:
    """A video is labelled as one in both parts."""
    videos = [story for story in rendered.digest.stories if story.is_video]
    badges = parse(rendered).xpath("//span[@class='badge']")
    assert (len(videos), len(videos)) == (len(badges), rendered.text.count("[Video]"))


def test_message_is_multipart_alternative_text_first(rendered: RenderedDigest) -> None:
    """The stdlib parser sees text/plain then text/html, equal to the written parts."""
    message = email.message_from_bytes(rendered.message, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    parts = list(message.iter_parts())
    expected = ("multipart/alternative", ["text/plain", "text/html"])
    assert expected == (
        message.get_content_type(),
        [part.get_content_type() for part in parts],
    )
    assert (rendered.text, rendered.html) == tuple(
        part.get_content().replace("\r\n", "\n")  # type: ignore[attr-defined]
        for part in parts
    )


def test_message_headers(rendered: RenderedDigest) -> None:
    """Subject, From, To, Date, Message-ID and the list headers of RFC 2369 and 8058."""
    message = email.message_from_bytes(rendered.message, policy=email.policy.default)
    week = rendered.digest.week.label.lower()
    assert {
        "Subject": rendered.digest.subject,
        "From": "Publisher Sample News <news@news.example.org>",
        "To": "readers@news.example.org",
        "Date": rendered.digest.sent_at.strftime("%a, %d %b %Y 08:00:00 +0000"),
        "Message-ID": f"<digest-{week}.weekly-news-example-org@news.example.org>",
        "List-Id": "Publisher Sample News <weekly.news.example.org>",
        "List-Unsubscribe": "<https://news.example.org/unsubscribe>, "
        "<mailto:unsubscribe@news.example.org?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    } == {name: str(message[name]) for name in (
        "Subject", "From", "To", "Date", "Message-ID",
        "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post",
    )}  # fmt: skip


def test_message_lines_fit_smtp(rendered: RenderedDigest) -> None:
    """Every line ends in CRLF and stays under SMTP's 998 octets."""
    lines = rendered.message.split(b"\r\n")
    expected = ([], False)
    assert expected == (
        [n for n, line in enumerate(lines) if len(line) > 998],
        b"\n" in b"".join(lines),
    )


def test_archive_page_front_matter(rendered: RenderedDigest) -> None:
    """Jekyll front matter: title with the date, date, excerpt = top three titles."""
    page = rendered.archive_page.decode("utf-8")
    _, front, body = page.split("---\n", 2)
    fields = yaml.safe_load(front)
    digest = rendered.digest
    day = digest.issue_date.isoformat()
    assert (
        f"Publisher Sample News ({day})",
        " / ".join(digest.top_titles),
        3,
        False,
        rendered.html,
    ) == (
        fields["title"],
        fields["excerpt"],
        len(digest.top_titles),
        fields["render_with_liquid"],
        body,
    )
    assert rendered.archive_name.startswith(f"{day}-")


def test_rendering_twice_gives_identical_bytes() -> None:
    """Reruns on the same input are byte-identical: no clock, no random boundary."""
    first, second = render_sample(), render_sample()
    assert (first.files, first.archive_page) == (second.files, second.archive_page)


def test_digest_with_awkward_text(make_article: MakeArticle) -> None:
    """Markup in a title is shown as its words, markup-like text is escaped once."""
    article = make_article(
        published_at=at("2026-11-18"),
        title="<b>Tom & Jerry</b> {{ not liquid }} {link_color} 5 < 6",
        excerpt="Fish &amp; chips",
        provider=Provider("A & B", "ab.example"),
        url="https://a.example/x?a=1&b=2",
    )
    rendered = make_digest(list_config(), [article], SAMPLE_WEEK)
    expected = (True, True, False, False)
    assert expected == (
        ">Tom &amp; Jerry {{ not liquid }} {link_color} 5 &lt; 6</a>" in rendered.html,
        "https://a.example/x?a=1&amp;b=2&amp;utm_source" in rendered.html,
        "<b>" in rendered.html,
        "&lt;b&gt;" in rendered.html,
    )


def test_html_in_excerpts_is_never_shown_as_tags(make_article: MakeArticle) -> None:
    """An excerpt with HTML reads as its words in the HTML part, the text part and the
    archive page's front matter, never as literal or escaped tags."""
    article = make_article(
        published_at=at("2026-11-18"),
        title="<i>Apps</i> in Teams",
        excerpt="<p>Build apps <b>inside</b> Teams.</p><p>Now in preview.</p>",
    )
    rendered = make_digest(list_config(), [article], SAMPLE_WEEK)
    root = lxml.html.document_fromstring(rendered.html)
    front = yaml.safe_load(rendered.archive_page.decode("utf-8").split("---\n")[1])
    expected = (
        ["Build apps inside Teams. Now in preview."],
        ["Apps in Teams"],
        True,
        "Apps in Teams",
    )
    assert expected == (
        [p.text_content() for p in root.xpath("//p[contains(@class, 'excerpt')]")],
        [a.text_content() for a in root.xpath("//h1/a")],
        "\nBuild apps inside Teams. Now in preview.\n" in rendered.text,
        front["excerpt"],
    )
    assert [] == re.findall(r"<p>|&lt;p&gt;|<b>|&lt;b&gt;", rendered.text + rendered.html)


def test_excerpt_repeating_the_title_is_not_printed_twice(make_article: MakeArticle) -> None:
    """An excerpt equal to its title (case and punctuation aside) is left out."""
    article = make_article(
        published_at=at("2026-11-18"),
        title="Announcing the rich text editor (RTE) control",
        excerpt="Announcing the rich text editor (RTE) control.",
    )
    rendered = make_digest(list_config(), [article], SAMPLE_WEEK)
    lead = rendered.digest.lead
    assert lead is not None
    story = rendered.text.split("TOP STORY", 1)[1]
    assert ("", 1) == (lead.excerpt, story.count("rich text editor"))


def test_real_excerpts_repeating_their_titles_are_dropped() -> None:
    """The real corpus has excerpts equal to their titles; none is printed in its issue."""
    if not CORPUS_NEWS.is_dir():
        pytest.skip("../shared/corpus/microsoft-power-apps/_news is absent")
    articles = load_folder(CORPUS_NEWS).articles
    repeated = [a for a in articles if a.excerpt and a.excerpt == a.title]
    assert repeated
    config = list_config()
    for article in repeated:
        week = IssueWeek.containing(article.published_at.date())
        digest = plan_digest(config, articles, week)
        shown = [story for story in digest.stories if story.title == article.title]
        assert [""] * len(shown) == [story.excerpt for story in shown]


def test_shorten_keeps_an_excerpt_it_would_barely_cut() -> None:
    """Cutting no more than a fifth of an excerpt keeps it whole; a longer one is cut at a
    word, ending in an ellipsis, every kept word whole."""
    words = [f"word{n:02}" for n in range(60)]
    barely = " ".join(words[:46])  # 321 characters: cutting at 280 would drop 13 %
    long = " ".join(words)  # 419 characters
    cut = shorten(long)
    kept = cut.removesuffix("…").split(" ")
    expected = (barely, True, True, words[: len(kept)])
    assert expected == (shorten(barely), len(cut) <= 280, cut.endswith("…"), kept)


def test_archive_front_matter_is_inert_text(make_article: MakeArticle) -> None:
    """A title that closes CDATA and opens a script reaches the front matter as plain text
    a layout may print as it is: no "<" or ">" left."""
    article = make_article(
        published_at=at("2026-11-18"),
        title="]]><script>alert(1)</script> Why <script> tags block rendering",
    )
    rendered = make_digest(list_config(), [article], SAMPLE_WEEK)
    front = rendered.archive_page.decode("utf-8").split("---\n")[1]
    fields = yaml.safe_load(front)
    left, right = (
        "\N{SINGLE LEFT-POINTING ANGLE QUOTATION MARK}",
        "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}",
    )
    expected = (f"]]{right} Why {left}script{right} tags block rendering", False, False)
    assert expected == (fields["excerpt"], "<" in front, ">" in front)


def test_long_site_title_gives_a_short_archive_name(make_article: MakeArticle) -> None:
    """A 300-character site title is cut at a word in the archive page's name."""
    config = list_config()
    config = replace(config, site=replace(config.site, title="Very long title " * 20))
    article = make_article(published_at=at("2026-11-18"))
    name = make_digest(config, [article], SAMPLE_WEEK).archive_name
    expected = "2026-11-23-very-long-title-very-long-title-very-long-title-very-long-2026-w47.html"
    assert expected == name


# Golden ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["html", "txt"])
def test_sample_week_matches_golden(suffix: str, update_golden: bool) -> None:
    """The sample week's issue, pinned; regenerate with pytest --update-golden and review."""
    actual = render_sample().files[f"{SAMPLE_WEEK.label}.{suffix}"]
    golden = GOLDEN / f"{SAMPLE_WEEK.label}.{suffix}"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual)
    assert golden.read_bytes().decode("utf-8") == actual.decode("utf-8")


def test_long_unsubscribe_url_stays_a_plain_header(make_article: MakeArticle) -> None:
    """A long one-click URL is not folded into an encoded word that clients cannot use."""
    url = "https://test.example/lists/weekly/unsubscribe?token=" + "a1b2c3d4" * 12
    config = list_config(unsubscribe_url=url)
    articles = [make_article(published_at=datetime(2026, 11, 18, 9, tzinfo=UTC))]
    rendered = make_digest(config, articles, SAMPLE_WEEK)
    raw = rendered.message.split(b"\r\n\r\n", 1)[0].decode("ascii")
    header = next(line for line in raw.split("\r\n") if line.startswith("List-Unsubscribe:"))
    assert f"List-Unsubscribe: <{url}>, <mailto:leave@test.example?subject=unsubscribe>" == header


def test_compiled_templates_are_reused_and_change_nothing() -> None:
    """A second render loads every template compiled by the first, and writes the same bytes."""
    config = sample_config()
    issue = plan_digest(config, load_folder(Path(config.content)).articles, SAMPLE_WEEK)
    kept: dict[str, bytes] = {}
    found: list[bool] = []

    def load(key: str) -> bytes | None:
        found.append(key in kept)
        return kept.get(key)

    first = render_digest(config, issue, compiled=(load, kept.__setitem__))
    first_loads, found[:] = list(found), []
    second = render_digest(config, issue, compiled=(load, kept.__setitem__))
    assert (False, True, len(first_loads)) == (any(first_loads), all(found), len(kept))
    assert (first.html, first.text, first.message) == (second.html, second.text, second.message)
