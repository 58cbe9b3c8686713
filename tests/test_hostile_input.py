"""A content folder can hold anything: every hostile file is one problem, the rest is published."""

from __future__ import annotations

import pytest

from publisher.errors import Problem, PublisherError, quote_path

# --- one line per problem, whatever the path holds ------------------------------------------


@pytest.mark.parametrize(
    "path", ["_news/2024-05-01-story.md", "_news/café 🚀.md", "_news/عربي.md", "a: b.md"]
)
def test_printable_paths_are_shown_as_they_are(path: str):
    """Names in any script, with spaces or colons, are shown unquoted."""
    assert path == quote_path(path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("_news/a\nb.md", r"'_news/a\nb.md'"),
        ("_news/a\rb\tc.md", r"'_news/a\rb\tc.md'"),
        ("_news/\x1b[31mred.md", r"'_news/\x1b[31mred.md'"),
        ("_news/bad\udcff\udce9.md", r"'_news/bad\xff\xe9.md'"),
        ("_news/evil\u202edm.txt", r"'_news/evil\u202edm.txt'"),
        ("_news/it's\n\\.md", r"'_news/it\'s\n\\.md'"),
    ],
)
def test_paths_with_controls_or_bytes_that_are_not_utf8_are_quoted(path: str, expected: str):
    """Control and bidi characters and undecodable bytes are escaped inside quotes."""
    assert expected == quote_path(path)


def test_a_problem_is_one_line_whatever_its_path_and_message():
    """A newline in a file name or a message cannot forge a second line of output."""
    problem = Problem("_news/x.md\n_news/y.md: title: missing", "title", "bad\nvalue")
    assert r"'_news/x.md\n_news/y.md: title: missing': title: bad\nvalue" == str(problem)


def test_errors_that_carry_a_path_quote_it():
    """A folder error names the folder on one line too."""
    error = PublisherError("content folder not found", path="/srv/news\n/_news")
    assert r"'/srv/news\n/_news': content folder not found" == str(error)
