"""The subject template under hostile settings: bounded in size and work, and any failure a
one-line config error naming digest.subject."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import list_config

from publisher.cli import main
from publisher.digest.issue import IssueWeek, plan_digest
from publisher.digest.render import SUBJECT_CHARS, render_subject
from publisher.errors import ConfigError
from publisher.model import Article

ROOT = Path(__file__).resolve().parents[1]
WEEK = IssueWeek(2026, 47)
MakeArticle = Callable[..., Article]

HOSTILE = [
    ("{{ 'x' * 10**9 }}", "repeats a value 1,000,000,000 times"),
    ("{{ count.to_bytes(10**10) }}", "uses 10,000,000,000 as a width, length or count"),
    ("{{ '%999999999d' % 1 }}", "formats a field 999999999 characters wide"),
    ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
    ("{{ range(10**9) | list }}", "uses 1,000,000,000 as a width, length or count"),
    ("{{ lead | truncate(-5) }}", "AssertionError: "),
    ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "RecursionError: "),
    ("{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}{{ m(lead) }}", "builds a value of more"),
    ("{{ '{:>999999999}'.format(1) }}", "formats a field 999999999 characters wide"),
    ("{{ '%*d' % (10**9, 1) }}", "uses 1,000,000,000 as a width"),
    ("{{ lead | center(10**9) }}", "uses 1,000,000,000 as a width"),
    ("{{ lead | replace('', lead) | replace('', lead) | replace('', lead) }}", "builds a value"),
    ("{% set s = lead %}" + "{% set s = s ~ s %}" * 40 + "{{ s }}", "builds a value of more"),
    (
        "{% for a in lead %}{% for b in lead %}{% for c in lead %}{% endfor %}{% endfor %}"
        "{% endfor %}x",
        "takes more than 2,000 steps",
    ),
    ("{% for i in range(1000) %}{{ lead }}{% endfor %}", "prints more than 2,000 characters"),
    ("{{ lipsum() }}", "'lipsum' is undefined"),
    ("{{ namespace() }}", "'namespace' is undefined"),
    ("{{ nothing() }}", "'nothing' is undefined"),
    ("{{ site.format }}", "prints a function or method (format), not text"),
    ("{{ lead.split() }}", "prints a list, not text"),
]


def issue(make_article: MakeArticle, title: str = "Glaciers lost record ice") -> object:
    article = make_article(title=title, published_at=datetime(2026, 11, 18, 12, tzinfo=UTC))
    return plan_digest(list_config(), [article], WEEK)


@pytest.mark.parametrize(("template", "reason"), HOSTILE)
def test_hostile_subject_is_a_config_error_in_bounded_memory(
    template: str, reason: str, make_article: MakeArticle
) -> None:
    """Each template that would build gigabytes, raise, recurse or print a method is one
    ConfigError naming digest.subject, having allocated less than 32 MB on the way."""
    digest = issue(make_article)
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as raised:
            render_subject(template, digest)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(raised.value)
    assert (True, True, 1) == (
        message.startswith("digest.subject: "),
        reason in message,
        len(message.splitlines()),
    ), message
    assert peak < 32 * 1024 * 1024


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ site }}: {{ lead }}", "Test News: Glaciers lost record ice"),
        ("{{ '%d stories' % count }}, {{ '{} more'.format(more) }}", "1 stories, 0 more"),
        ("{{ lead | upper }} ({{ start.strftime('%d %b') }})", "GLACIERS LOST RECORD ICE (16 Nov)"),
        (
            "{{ (lead ~ '! ') * 2 }}{{ range(3) | join('') }}",
            "Glaciers lost record ice! " * 2 + "012",
        ),
        ("{% for word in lead.split() %}{{ word[0] }}{% endfor %}", "Glri"),
    ],
)
def test_ordinary_subjects_still_render(
    template: str, expected: str, make_article: MakeArticle
) -> None:
    """The bounds leave room for what a subject does: formats, filters, loops, ~ and *."""
    assert expected.strip() == render_subject(template, issue(make_article))  # type: ignore[arg-type]


def test_a_long_subject_is_cut_at_a_word(make_article: MakeArticle) -> None:
    """A lead headline of 600 characters gives a subject of at most 200, cut at a word."""
    digest = issue(make_article, title="A glacier " * 60)
    subject = render_subject("{{ site }}: {{ lead }} and more", digest)  # type: ignore[arg-type]
    assert (True, True) == (len(subject) <= SUBJECT_CHARS, subject.endswith("…")), subject


def write_config(folder: Path, subject: str) -> Path:
    """The repository's config.toml with ``subject`` as digest.subject, writing into
    ``folder``."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('content = "content/_news"', f"content = {str(ROOT / 'content/_news')!r}")
    text = text.replace('templates = "templates/email"\n', "")
    text = text.replace("[digest]\n", f"[digest]\nsubject = {json.dumps(subject)}\n")
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "template", [template for template, _ in HOSTILE[:7]] + ["{{ site.format }}"]
)
def test_digest_with_a_hostile_subject_exits_2_with_its_json(tmp_path: Path, template: str) -> None:
    """digest --json with each of the issue's examples: exit 2, one line on stderr naming
    digest.subject, and the JSON object on stdout with the same error."""
    config = write_config(tmp_path, template)
    result = CliRunner().invoke(
        main, ["digest", "--config", str(config), "--week", "2026-W47", "--json"]
    )
    report = json.loads(result.stdout)
    lines = result.stderr.splitlines()
    assert (2, 2, 1) == (result.exit_code, report["exit"], len(lines)), result.stderr
    assert lines[0].startswith("publisher: error: digest.subject: ")
    assert report["error"].startswith("digest.subject: ")
