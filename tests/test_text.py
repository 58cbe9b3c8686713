"""Titles and excerpts as plain text: real markup read by a parser, the author's "<" kept."""

from __future__ import annotations

import pytest

from publisher.text import headline, plain_text, summary_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<p>One</p><p>Two &amp; <b>three</b></p>", "One Two &amp; three"),
        ("<p>One</p><p>Two & <b>three</b></p>", "One Two & three"),
        ("Use <angle> brackets; <b>not bold</b>", "Use <angle> brackets; not bold"),
        ('Watch <b>bold</b> & <script>x()</script> "q"', 'Watch bold & "q"'),
        ("]]><script>alert(1)</script>", "]]>"),
        ("line<br>break<br/>here", "line break here"),
        ("<ul><li>first</li><li>second</li></ul>", "first second"),
        ("<p>Open paragraph<p>and another", "Open paragraph and another"),
        ("Hello <!-- a note --> world", "Hello world"),
        ('<a href="https://a.example/?x=1&y=2">link</a> text', "link text"),
        ("<html><head><title>t</title></head><body>body</body></html>", "body"),
        ("<style>p { color: red }</style>Styled", "Styled"),
        ("]]><script>alert(1)</script> Why <script> tags block", "]]> Why <script> tags block"),
        ("A </b> stray and <b>bold</b>", "A </b> stray and bold"),
    ],
)
def test_markup_becomes_the_words_a_reader_sees(text: str, expected: str) -> None:
    """Tags go, block edges become spaces, scripts, styles and comments are dropped."""
    assert expected == plain_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "5 < 6 and x > y",
        "vector<int> and <T>",
        "Why <script> tags block rendering",
        "AT&T <3",
        "Hello <!-- never closed",
        "A plain headline",
    ],
)
def test_text_without_markup_is_unchanged(text: str) -> None:
    """An author's "<" that opens no real element is text, kept as written."""
    assert text == plain_text(text)


def test_a_title_of_nothing_but_markup_is_kept() -> None:
    """Dropping all of a title would leave nothing to show: it stays as written."""
    assert "<script>x()</script>" == headline("<script>x()</script>")


@pytest.mark.parametrize(
    ("title", "excerpt", "expected"),
    [
        ("Making the timeline maker", "Making the timeline maker", ""),
        ("Making the timeline maker", "making the timeline maker.", ""),
        ("<b>Big</b> news", "<p>Big news</p>", ""),
        ("Big news", "<p>Big news, and more</p>", "Big news, and more"),
        ("Big news", "", ""),
    ],
)
def test_summary_that_repeats_the_title_is_dropped(title: str, excerpt: str, expected: str) -> None:
    """An excerpt equal to its title (case, punctuation and markup aside) says nothing more."""
    assert expected == summary_of(title, excerpt)
