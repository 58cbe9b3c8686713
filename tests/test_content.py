# RUF001: the test data is made of look-alike characters on purpose.
# ruff: noqa: RUF001
"""Reading article files: every input variant becomes a clean Article or one problem line."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import load_folder

from publisher import workers
from publisher.content import parallel
from publisher.content.normalise import absolute_url, clean_text, parse_article
from publisher.content.parallel import Parsed, parse_files
from publisher.content.scan import read_file, scan_folder
from publisher.errors import ArticleError, Problem
from publisher.model import Article, Image

MINIMAL = {
    "title": '"A story"',
    "webUrl": '"https://example.com/a-story"',
    "publishedDateTime": "2024-05-01T12:00:00Z",
}


def front(*lines: str, **fields: str | None) -> bytes:
    """An article file with the minimal fields, ``fields`` replacing them and ``lines`` added."""
    values = {**MINIMAL, **fields}
    body = [f"{key}: {value}" for key, value in values.items() if value is not None]
    return ("---\n" + "\n".join([*body, *lines]) + "\n---\nBody.\n").encode("utf-8")


def parse(data: bytes, path: str = "_news/a.md") -> object:
    """Parse, turning a problem into its one-line text so tests can compare it."""
    try:
        return parse_article(data, path)
    except ArticleError as error:
        return str(error)


# --- encodings and framing ---------------------------------------------------------------


def test_minimal_article_loads():
    """The three required fields are enough for an article with sensible defaults."""
    article = parse_article(front(), "_news/a.md")
    assert ("A story", "https://example.com/a-story") == (article.title, article.url)
    assert (True, "article", None, None, ()) == (
        article.published,
        article.type,
        article.quality,
        article.heat,
        article.topics,
    )


def test_utf8_bom_is_accepted():
    """A byte order mark before the opening --- is not a problem."""
    article = parse_article(
        b"\xef\xbb\xbf" + front(title='"Caf\xc3\xa9"'.encode().decode()), "a.md"
    )
    assert "Café" == article.title


def test_crlf_line_endings_are_accepted():
    """Windows line endings give the same article as LF."""
    lf = parse_article(front(excerpt='"one two"'), "a.md")
    crlf = parse_article(front(excerpt='"one two"').replace(b"\n", b"\r\n"), "a.md")
    assert lf == crlf


def test_bom_and_crlf_together():
    """A BOM and CRLF endings at once still load."""
    article = parse_article(b"\xef\xbb\xbf" + front().replace(b"\n", b"\r\n"), "a.md")
    assert "A story" == article.title


def test_not_utf8_is_a_problem_naming_the_byte():
    """Latin-1 bytes are reported with the offending byte, not guessed at."""
    data = front(title='"Caf\xe9"').replace("Café".encode(), b"Caf\xe9")
    assert parse(data).startswith("_news/a.md: not UTF-8 (byte ")
    assert "0xe9" in parse(data)


def test_no_front_matter_is_a_problem():
    """A Markdown file without a --- block is reported."""
    assert "a.md: the file does not start with a '---' line" == parse(b"# Title\n\ntext\n", "a.md")


def test_empty_file_is_a_problem():
    """An empty file is reported, not crashed on."""
    assert "a.md: the file does not start with a '---' line" == parse(b"", "a.md")


def test_missing_closing_fence_is_a_problem():
    """Front matter that never closes is reported."""
    data = b"---\ntitle: A\nwebUrl: https://example.com/\n"
    assert "a.md: no closing '---' line after the front matter" == parse(data, "a.md")


def test_front_matter_that_is_a_list_is_a_problem():
    """A YAML list instead of a mapping of fields is reported."""
    assert "a.md: front matter is not a mapping of fields" == parse(b"---\n- a\n- b\n---\n", "a.md")


def test_invalid_yaml_names_the_file_line():
    """The line number counts from the top of the file, opening --- included."""
    data = (
        b'---\ntitle: "A"\nwebUrl: https://e.com/\n  oops: 1\npublishedDateTime: 2024-05-01\n---\n'
    )
    message = parse(data, "a.md")
    # libyaml and pure-Python PyYAML word the problem differently; the line is what matters.
    assert message.startswith("a.md: invalid YAML: mapping values are not allowed")
    assert message.endswith("(line 4)")


def test_python_tag_never_executes(tmp_path: Path):
    """A !!python/object tag is refused by the safe loader; its command never runs."""
    marker = tmp_path / "pwned"
    data = front(f'evil: !!python/object/apply:os.system ["touch {marker}"]')
    message = parse(data, "a.md")
    assert message.startswith("a.md: invalid YAML: ")
    assert not marker.exists()


def test_python_name_tag_is_refused():
    """Another python tag, on the title itself, is also a problem."""
    assert parse(front(title="!!python/name:os.system"), "a.md").startswith("a.md: invalid YAML: ")


def test_alias_bomb_is_a_problem_and_fast():
    """A billion-laughs front matter is reported without expanding it."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    start = time.perf_counter()
    message = parse(front(*lines), "a.md")
    elapsed = time.perf_counter() - start
    assert "a.md: front matter has too many values (alias bomb?)" == message
    assert elapsed < 5, "the bomb must be refused before it is walked in full"


def test_recursive_alias_is_a_problem():
    """A list that contains itself is refused, not walked for ever."""
    assert "a.md: front matter has too many values (alias bomb?)" == parse(
        front("loop: &loop [*loop]"), "a.md"
    )


def test_unreadable_file_is_a_problem(tmp_path: Path):
    """A path that is not a file (here, a folder named like an article) is reported."""
    folder = tmp_path / "x.md"
    folder.mkdir()
    with pytest.raises(ArticleError) as raised:
        read_article(folder)
    assert f"{folder}: not a regular file (a folder)" == str(raised.value)


def test_raw_control_character_is_removed_not_fatal():
    """A scraped title with a raw vertical tab still loads, the character removed."""
    data = front(title='"Tab\x0bbed title"')
    assert "Tabbed title" == parse_article(data, "a.md").title


# --- title and text ----------------------------------------------------------------------


def test_title_as_list_is_a_problem():
    """A title that is a list names the field."""
    assert "a.md: title: expected text, got a list" == parse(front(title="[a, b]"), "a.md")


def test_title_as_mapping_is_a_problem():
    """A title that is a mapping names the field."""
    assert "a.md: title: expected text, got a mapping" == parse(front(title="{a: b}"), "a.md")


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("title", "a.md: title: missing"),
        ("publishedDateTime", "a.md: publishedDateTime: missing"),
        ("webUrl", "a.md: webUrl: missing (no webUrl, sourceUrl or originalUrl)"),
    ],
)
def test_missing_required_field_is_a_problem(field: str, expected: str):
    """Title, date and URL are required; the problem names the missing one."""
    assert expected == parse(front(**{field: None}), "a.md")


def test_empty_title_is_a_problem():
    """A title that cleans down to nothing is as bad as none."""
    assert "a.md: title: empty" == parse(front(title='"&shy; \\u0001 "'), "a.md")


def test_problem_reads_path_field_message():
    """Every problem is one line: path, field, message."""
    message = parse(front(title="[1]"), "_news/2024-05-01-x.md")
    assert ["_news/2024-05-01-x.md", "title", "expected text, got a list"] == message.split(": ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Russiaâ€™s Yandex", "Russia’s Yandex"),
        ("co&shy;operate", "cooperate"),
        ("AT&amp;T", "AT&T"),
        ("AT&amp;amp;T", "AT&T"),
        ("caf&eacute; &#8211; bar", "café – bar"),
        ("bell\x07 and\x00 null", "bell and null"),
        ("  many \n\t spaces  ", "many spaces"),
        ("emoji 🚀 stays", "emoji 🚀 stays"),
        ("“curly” quotes stay", "“curly” quotes stay"),
        ("عربي RTL", "عربي RTL"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),
        ("\u202aa\u202bb\u202cc\u202dd\u202ee", "abcde"),
        ("\u2066a\u2067b\u2068c\u2069", "abc"),
        ("mark\u200estays\u200f", "mark\u200estays\u200f"),
    ],
)
def test_clean_text(raw: str, expected: str):
    """Entities decoded, mojibake repaired, soft hyphens and controls dropped, spaces folded."""
    assert expected == clean_text(raw)


def test_clean_text_leaves_no_xml_invalid_characters():
    """Nothing XML 1.0 forbids survives cleaning."""
    raw = "".join(chr(code) for code in range(0, 0x20)) + "\ud800\ufffe\uffff" + "ok"
    cleaned = clean_text(raw)
    assert "ok" == cleaned


def test_mojibake_in_seed_related_title_is_repaired(seeds: Path):
    """The seed's broken title (in related:) comes out right when used as a title."""
    text = (seeds / "003_63d795e8c7832238.txt").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if "Russia" in line)
    broken = line.split('"', 1)[1].rsplit('"', 1)[0]
    assert clean_text(broken).startswith("Russia’s Yandex Is 'Creepy'")


def test_excerpt_entities_and_soft_hyphen_in_article():
    """The excerpt is cleaned like the title."""
    article = parse_article(front(excerpt='"Deep&shy;Mind &amp; friends"'), "a.md")
    assert "DeepMind & friends" == article.excerpt


def test_bidi_override_in_title_is_removed():
    """A right-to-left override, raw or escaped, cannot reverse a title in readers."""
    raw = parse_article(front(title='"Report \u202eFDP.exe"'), "a.md")
    escaped = parse_article(front(title='"Report \\u202EFDP.exe"'), "a.md")
    assert ("Report FDP.exe", "Report FDP.exe") == (raw.title, escaped.title)


def test_escaped_control_character_in_title_is_removed():
    """A YAML-escaped control character (valid YAML) is removed from the text."""
    assert "AB" == parse_article(front(title='"A\\x01\\x1fB"'), "a.md").title


# --- URLs --------------------------------------------------------------------------------


def test_url_prefers_web_url():
    """webUrl wins over sourceUrl and originalUrl."""
    data = front('sourceUrl: "https://s.example/"', 'originalUrl: "https://o.example/"')
    assert "https://example.com/a-story" == parse_article(data, "a.md").url


def test_url_falls_back_to_source_url():
    """Without webUrl, sourceUrl is used (one seed does this)."""
    data = front(
        'sourceUrl: "https://s.example/x"', 'originalUrl: "https://o.example/"', webUrl=None
    )
    assert "https://s.example/x" == parse_article(data, "a.md").url


def test_url_falls_back_to_original_url():
    """Without webUrl and sourceUrl, originalUrl is used (the Power Apps corpus does this)."""
    data = front('originalUrl: "https://o.example/y"', webUrl='""')
    assert "https://o.example/y" == parse_article(data, "a.md").url


@pytest.mark.parametrize(
    "bad",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/relative/path",
        "example.com/no-scheme",
        "//example.com/protocol-relative",
        "ftp://example.com/file",
        "https://exa mple.com/",
        "https:///no-host",
    ],
)
def test_unsafe_or_relative_url_is_a_problem(bad: str):
    """Only absolute http(s) URLs are kept; anything else is a problem for the file."""
    assert parse(front(webUrl=f'"{bad}"'), "a.md").startswith(
        "a.md: webUrl: not an absolute http(s) URL: "
    )


def test_url_as_list_is_a_problem():
    """A URL that is not a string names the field."""
    assert "a.md: webUrl: expected a URL, got a list" == parse(front(webUrl="[a]"), "a.md")


def test_numeric_entity_in_url_is_decoded():
    """WordPress's &#038; becomes &."""
    data = front(webUrl='"https://example.com/?p=1&#038;lang=en"')
    assert "https://example.com/?p=1&lang=en" == parse_article(data, "a.md").url


def test_absolute_url_keeps_uppercase_scheme():
    """An upper-case scheme is still http(s)."""
    assert "HTTPS://example.com/x" == absolute_url("HTTPS://example.com/x")


def test_amp_url_is_optional_and_checked():
    """A bad AMP URL is ignored, a good one kept."""
    good = parse_article(front('ampWebUrl: "https://amp.example/x"'), "a.md")
    bad = parse_article(front('ampWebUrl: "javascript:x"'), "a.md")
    assert ("https://amp.example/x", None) == (good.amp_url, bad.amp_url)


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("2024-05-01T14:30:00+02:30", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("2024-05-01T07:00:00-05:00", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("2024-05-01 12:00:00", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ('"2024-05-01T12:00:00Z"', datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ('"2024-05-01T13:00:00+01:00"', datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, 0, 0, tzinfo=UTC)),
        ('"2024-05-01"', datetime(2024, 5, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_dates_become_aware_utc(raw: str, expected: datetime):
    """Z, offsets, naive times (as UTC), quoted strings and bare dates all become aware UTC."""
    published_at = parse_article(front(publishedDateTime=raw), "a.md").published_at
    assert expected == published_at
    assert timedelta(0) == published_at.utcoffset()
    assert UTC == published_at.tzinfo


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"last Tuesday"', "a.md: publishedDateTime: not a date and time: 'last Tuesday'"),
        ('"2024-05-01T25:00:00"', "a.md: publishedDateTime: not a date and time: "),
        ("20240501", "a.md: publishedDateTime: expected a date and time, got int"),
        ("[2024]", "a.md: publishedDateTime: expected a date and time, got a list"),
    ],
)
def test_unparseable_date_is_a_problem(raw: str, expected: str):
    """A date that is not a date names the field."""
    assert parse(front(publishedDateTime=raw), "a.md").startswith(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1900-01-01T00:00:00Z", datetime(1900, 1, 1, tzinfo=UTC)),
        ("2200-12-31T23:59:59Z", datetime(2200, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("1900-01-01", datetime(1900, 1, 1, tzinfo=UTC)),
    ],
)
def test_dates_from_1900_to_2200_are_accepted(raw: str, expected: datetime):
    """The first and last moments of the accepted years load."""
    assert expected == parse_article(front(publishedDateTime=raw), "a.md").published_at


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00"),
        ("1899-12-31T23:59:59Z", "1899-12-31T23:59:59+00:00"),
        ("1900-01-01T00:30:00+01:00", "1900-01-01T00:30:00+01:00"),
        ("2201-01-01T00:00:00Z", "2201-01-01T00:00:00+00:00"),
        ('"9999-12-31T23:59:59"', "9999-12-31T23:59:59"),
        ("0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00+01:00"),
    ],
)
def test_dates_before_1900_or_after_2200_are_a_problem(raw: str, shown: str):
    """Year 1 and year 9999 are placeholders, not news: a problem naming the field."""
    expected = f"a.md: publishedDateTime: out of range (years 1900 to 2200): {shown}"
    assert expected == parse(front(publishedDateTime=raw), "a.md")


@pytest.mark.parametrize(
    "raw",
    [
        "2024-02-30",
        "2024-05-01T12:00:00+25:00",
        "0001-01-01T00:00:00+01:00",
        '"9999-12-31T23:59:59-01:00"',
    ],
)
def test_impossible_date_is_a_problem_not_a_crash(raw: str):
    """A date YAML resolves as a timestamp but cannot build is one problem line."""
    assert parse(front(publishedDateTime=raw), "a.md").startswith("a.md: ")


# --- published, quality, heat, type ------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [(None, True), ("published: true", True), ("published: false", False), ("published:", True)],
)
def test_published_follows_jekyll(line: str | None, expected: bool):
    """Only an explicit false hides an article; missing or empty means published."""
    lines = [line] if line else []
    assert expected == parse_article(front(*lines), "a.md").published


@pytest.mark.parametrize("value", ['"yes"', '"false"', "1", "[true]"])
def test_published_not_boolean_is_a_problem(value: str):
    """A string such as "yes" is a problem, not silently true or false."""
    assert parse(front(f"published: {value}"), "a.md").startswith(
        "a.md: published: expected true or false, got "
    )


@pytest.mark.parametrize(
    ("value", "expected"), [("75", 75), ('"75"', 75), ('" 80 "', 80), ("90.0", 90), ('""', None)]
)
def test_quality_accepts_numeric_strings(value: str, expected: int | None):
    """Quality is a whole number; a numeric string is accepted, an empty one means unrated."""
    assert expected == parse_article(front(f"quality: {value}"), "a.md").quality


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"high"', "a.md: quality: expected a whole number, got 'high'"),
        ("75.5", "a.md: quality: expected a whole number, got float"),
        ("true", "a.md: quality: expected a whole number, got true/false"),
        ("[75]", "a.md: quality: expected a whole number, got a list"),
    ],
)
def test_quality_not_a_number_is_a_problem(value: str, expected: str):
    """A quality that is not a whole number names the field."""
    assert expected == parse(front(f"quality: {value}"), "a.md")


@pytest.mark.parametrize(("value", "expected"), [("-1", None), ("0", 0), ("117", 117)])
def test_heat_minus_one_means_unknown(value: str, expected: int | None):
    """heat -1 is the source's "unknown"."""
    assert expected == parse_article(front(f"heat: {value}"), "a.md").heat


def test_type_video():
    """type: video is kept, and the article knows it is a video."""
    article = parse_article(front("type: video"), "a.md")
    assert ("video", True) == (article.type, article.is_video)


def test_unknown_type_is_a_problem():
    """Only article and video are types."""
    assert "a.md: type: expected article or video, got 'podcast'" == parse(
        front("type: podcast"), "a.md"
    )


# --- topics and provider -----------------------------------------------------------------


def test_topics_list():
    """Topics keep their order; duplicates and blanks go."""
    data = front("topics:", "  - AI", "  - Robotics", "  - AI", '  - " "')
    assert ("AI", "Robotics") == parse_article(data, "a.md").topics


def test_topics_single_string_is_one_topic():
    """A single string is one topic, not a list of letters."""
    assert ("Machine Learning",) == parse_article(front("topics: Machine Learning"), "a.md").topics


def test_topics_beyond_fifty_are_dropped_with_a_warning():
    """A pasted tag cloud keeps its first 50 distinct topics; the file is warned about."""
    topics = "".join(f"\n  - Topic {number}\n  - Topic {number}" for number in range(1000))
    warnings: list[Problem] = []
    article = parse_article(front(topics=topics), "_news/a.md", warnings)
    assert [f"Topic {number}" for number in range(50)] == list(article.topics)
    assert ["_news/a.md: topics: 1,000 topics; only the first 50 are used"] == [
        str(warning) for warning in warnings
    ]


def test_fifty_topics_are_kept_without_a_warning():
    """At the limit, or with repeats that clean down to it, nothing is dropped."""
    topics = "".join(f"\n  - Topic {number}\n  - '  Topic {number} '" for number in range(50))
    warnings: list[Problem] = []
    assert 50 == len(parse_article(front(topics=topics), "_news/a.md", warnings).topics)
    assert [] == warnings


def test_topics_mapping_is_a_problem():
    """Topics as a mapping names the field."""
    assert "a.md: topics: expected a list of names, got a mapping" == parse(
        front("topics: {a: b}"), "a.md"
    )


def test_provider_name_and_domain():
    """The provider's name is kept and its domain lower-cased."""
    data = front("provider:", "  name: CNET", "  domain: CNET.com")
    provider = parse_article(data, "a.md").provider
    assert ("CNET", "cnet.com") == (provider.name, provider.domain)


def test_provider_as_plain_string():
    """A provider given as a bare name is accepted."""
    assert "Reuters" == parse_article(front("provider: Reuters"), "a.md").provider.name


# --- images ------------------------------------------------------------------------------


def test_absolute_https_image_keeps_its_size():
    """An https image keeps width, height and title."""
    data = front(
        "images:",
        '  - url: "https://cdn.example.com/a.jpg"',
        "    width: 756",
        '    height: "567"',
        "    title: Photo &amp; caption",
    )
    assert (Image("https://cdn.example.com/a.jpg", 756, 567, "Photo & caption"),) == (
        parse_article(data, "a.md").images
    )


def test_relative_image_resolves_against_provider_domain():
    """A relative provider logo or image becomes https://<domain>/path."""
    data = front(
        "provider:",
        "  name: Engadget",
        "  domain: engadget.com",
        "  images:",
        '    - url: "/assets/logo.jpg"',
        "      width: 50",
        "      height: 50",
        "images:",
        '  - url: "/img/lead.png"',
    )
    article = parse_article(data, "a.md")
    assert "https://engadget.com/assets/logo.jpg" == article.provider.logo.url
    assert "https://engadget.com/img/lead.png" == article.lead_image.url


def test_relative_image_without_provider_domain_is_dropped():
    """With no domain to resolve against, a relative image is dropped, not a problem."""
    assert () == parse_article(front("images:", '  - url: "/img/lead.png"'), "a.md").images


def test_http_and_unsafe_images_are_dropped():
    """http, data: and javascript: images are dropped; the https one stays first."""
    data = front(
        "images:",
        '  - url: "http://cdn.example.com/a.jpg"',
        '  - url: "data:image/png;base64,AAAA"',
        '  - url: "javascript:alert(1)"',
        '  - url: "https://cdn.example.com/b.jpg?w=1&#038;h=2"',
    )
    assert ["https://cdn.example.com/b.jpg?w=1&h=2"] == [
        image.url for image in parse_article(data, "a.md").images
    ]


def test_bad_image_size_is_ignored():
    """A size that is not a positive number is left out, the image kept."""
    data = front("images:", '  - url: "https://c.example/a.jpg"', "    width: 0", "    height: 1.5")
    assert Image("https://c.example/a.jpg") == parse_article(data, "a.md").lead_image


@pytest.mark.parametrize(
    ("width", "expected"),
    [
        ("1", 1),
        ("10000", 10000),
        ('"800"', 800),
        ("10001", None),
        ("-5", None),
        ("true", None),
        ("1" + "0" * 400, None),
        ('"' + "9" * 5000 + '"', None),
        ("0x10", 16),
    ],
)
def test_image_sizes_from_1_to_10000_pixels_are_kept(width: str, expected: int | None):
    """Sizes outside 1-10000 px (a 400-digit width, say) are dropped; the image is kept."""
    data = front("images:", '  - url: "https://c.example/a.jpg"', f"    width: {width}")
    image = parse_article(data, "a.md").lead_image
    assert ("https://c.example/a.jpg", expected) == (image.url, image.width)


def test_a_number_too_long_for_python_is_one_plain_problem():
    """A 5,000-digit number cannot be read at all: the file is reported, in plain words."""
    data = front("images:", '  - url: "https://c.example/a.jpg"', "    height: " + "9" * 5000)
    assert "a.md: impossible value: a number of more than 4300 digits" == parse(data, "a.md")


def test_images_not_a_list_is_a_problem():
    """images as a mapping names the field."""
    assert "a.md: images: expected a list of images, got a mapping" == parse(
        front("images: {url: x}"), "a.md"
    )


# --- folders -----------------------------------------------------------------------------


def read_article(path: Path) -> Article:
    """One file → its article, or the :class:`ArticleError` that names the file."""
    return parse_article(read_file(path), str(path))


def keep_parsed(name: str, parsed: Parsed, read_ns: int) -> Parsed:
    """What a test keeps of each parsed file: the article or problem itself."""
    return parsed


def parse_folder(folder: Path, workers: int) -> list[Parsed]:
    """Every file of ``folder`` parsed with ``workers`` processes, in name order."""
    results: list[Parsed] = []
    parse_files(folder, list(scan_folder(folder)), keep_parsed, results.extend, workers=workers)
    return results


def test_a_folder_reports_every_problem_and_goes_on(tmp_path: Path):
    """Bad files are skipped with one problem each; the good ones still load."""
    folder = tmp_path / "_news"
    folder.mkdir()
    (folder / "1-good.md").write_bytes(front())
    (folder / "2-no-title.md").write_bytes(front(title=None))
    (folder / "3-latin1.md").write_bytes(b"---\ntitle: caf\xe9\n---\n")
    (folder / "4-good.md").write_bytes(front(webUrl='"https://example.com/b"'))
    (folder / "notes.txt").write_text("not an article")
    result = load_folder(folder)
    assert 4 == result.files
    assert ["https://example.com/a-story", "https://example.com/b"] == sorted(
        article.url for article in result.articles
    )
    assert [str(folder / "2-no-title.md"), str(folder / "3-latin1.md")] == sorted(
        problem.path for problem in result.problems
    )
    assert f"{folder / '2-no-title.md'}: title: missing" in [str(p) for p in result.problems]


def test_missing_folder_raises(tmp_path: Path):
    """A content folder that does not exist is an error naming it."""
    with pytest.raises(ArticleError) as raised:
        scan_folder(tmp_path / "nope")
    assert f"{tmp_path / 'nope'}: content folder not found" == str(raised.value)


def test_seeds_all_load(seeds: Path):
    """The five seeds load; the sourceUrl one uses it; heat -1 is unknown."""
    result = [read_article(path) for path in sorted(seeds.glob("*.txt"))]
    by_name = {Path(article.path).name: article for article in result}
    assert 5 == len(by_name)
    dw = by_name["003_63d795e8c7832238.txt"]
    assert dw.url.startswith("https://www.dw.com/en/hundreds-of-us-police")
    assert (None, False, 54) == (dw.heat, dw.published, dw.quality)
    engadget = by_name["000_c7b786c82af430c5.txt"]
    assert "https://engadget.com/assets/images/organizations/engadget.com-50x50.jpg" == (
        engadget.provider.logo.url
    )


def _die(*args: object) -> bytes:
    os._exit(1)


def test_parallel_parse_equals_serial_parse(write_article, monkeypatch):
    """Worker processes give exactly the articles and problems one process gives."""
    for number in range(30):
        write_article(f"{number:02}.md", title=f"Story {number}", url=f"https://e.com/{number}")
    write_article("bad.md", "no front matter")
    folder = write_article("00.md").parent
    monkeypatch.setattr(parallel, "PARALLEL_MIN_FILES", 1)
    serial = parse_folder(folder, workers=1)
    assert serial == parse_folder(folder, workers=2)
    assert 1 == sum(not isinstance(result, Article) for result in serial)


def test_worker_processes_pass_warnings_back_and_mark_the_file_to_read_again(
    write_article, monkeypatch
):
    """A warning found in a worker reaches the caller; its file's read time is READ_AGAIN."""
    for number in range(30):
        write_article(f"{number:02}.md", title=f"Story {number}", url=f"https://e.com/{number}")
    folder = write_article("many.md", topics=tuple(f"T{number}" for number in range(60))).parent
    monkeypatch.setattr(parallel, "PARALLEL_MIN_FILES", 1)
    read: dict[str, int] = {}
    warnings: list[Problem] = []
    parse_files(
        folder, list(scan_folder(folder)), read_times, read.update, workers=2, warn=warnings.extend
    )
    assert [f"{folder}/many.md: topics: 60 topics; only the first 50 are used"] == [
        str(warning) for warning in warnings
    ]
    assert (parallel.READ_AGAIN, 30) == (read["many.md"], sum(t > 0 for t in read.values()))


def read_times(name: str, parsed: Parsed, read_ns: int) -> tuple[str, int]:
    """What a test keeps of each parsed file: its name and read time."""
    return name, read_ns


def test_a_dead_worker_process_falls_back_to_parsing_here(write_article, monkeypatch):
    """A worker killed mid-parse (out of memory, say) costs time, never articles."""
    for number in range(30):
        write_article(f"{number:02}.md", title=f"Story {number}", url=f"https://e.com/{number}")
    folder = write_article("00.md").parent
    expected = parse_folder(folder, workers=1)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(workers, "_pickled_call", _die)
    assert expected == parse_folder(folder, workers=2)


def test_mojibake_with_c1_controls_is_repaired_not_rejected():
    """UTF-8 read as Latin-1 keeps its C1 bytes (â\\x80\\x99); YAML alone would reject the file."""
    data = '---\ntitle: "Russiaâ\x80\x99s plan"\npublishedDateTime: 2020-01-01T00:00:00Z\n'
    data += "webUrl: https://example.com/x\n---\n"
    assert "Russia’s plan" == parse_article(data.encode("utf-8"), "x.md").title
