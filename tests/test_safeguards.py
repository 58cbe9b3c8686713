"""What a setting cannot do: put two outputs in one folder, or make a run wait for ever."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from publisher.cli import main

WriteArticle = Callable[..., Path]
SITE = "https://example.org/feeds/"
ARTICLES = [
    ("a.md", "Alpha", ("Space",)),
    ("b.md", "Beta", ("Space", "AI")),
    ("c.md", "Gamma", ("AI",)),
    ("d.md", "Delta", ("Climate",)),
]
WEEK = "2024-W18"
"""The week of the articles' date (2024-05-01, as ``article_text`` writes it)."""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own folder, so caches and defaults land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def site(tmp_path: Path, write_article: WriteArticle) -> Path:
    """Four good articles in ``_news``, feeds into ``public``; returns the config path."""
    for name, title, topics in ARTICLES:
        write_article(name, title=title, url=f"https://example.com/{name[0]}", topics=topics)
    config = tmp_path / "site.toml"
    config.write_text(
        'content = "_news"\nout = "public"\ncache_dir = "cache"\n'
        f'[site]\nurl = "{SITE}"\n'
        '[digest]\nout = "newsletters"\narchive = "_newsletters"\n'
        'unsubscribe_url = "https://example.org/unsubscribe"\n'
        'postal_address = "1 Example Street, Springfield"\n',
        encoding="utf-8",
    )
    return config


def run(*args: str) -> Result:
    """Run the command line in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# Output folders of their own ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["build", "--out", "."],
            "out (--out): contains content ({tmp}/_news)",
        ),
        (
            ["build", "--out", "_news/feeds"],
            "out (--out): is inside content ({tmp}/_news)",
        ),
        (
            ["build", "--out", "cache"],
            "out (--out): is the same folder as cache_dir ({tmp}/cache)",
        ),
        (
            ["digest", "--week", WEEK, "--out", "public"],
            "digest.out (--out): is the same folder as out ({tmp}/public)",
        ),
        (
            ["digest", "--week", WEEK, "--out", "public/newsletters"],
            "digest.out (--out): is inside out ({tmp}/public)",
        ),
        (
            ["digest", "--week", WEEK, "--out", "."],
            "digest.out (--out): contains out ({tmp}/public)",
        ),
    ],
)
def test_overlapping_folders_from_the_command_line_are_refused(
    site: Path, tmp_path: Path, args: list[str], expected: str
):
    """An option that puts an output in, around or on another folder: exit 2, one line naming
    both settings, nothing written."""
    result = run(*args, "--config", str(site))
    line = (
        f"publisher: error: command line: {expected.format(tmp=tmp_path)}: give each output"
        " (out, digest.out, digest.archive) a folder of its own, apart from content and cache_dir"
    )
    assert (2, [line]) == (result.exit_code, result.stderr.splitlines())
    assert not (tmp_path / "public").exists()
    assert not (tmp_path / "newsletters").exists()


def test_absolute_digest_out_equal_to_out_is_refused(site: Path, tmp_path: Path):
    """digest.out written as an absolute path to the feeds folder is caught, for every command."""
    text = site.read_text(encoding="utf-8").replace(
        'out = "newsletters"', f'out = "{tmp_path}/public"'
    )
    site.write_text(text, encoding="utf-8")
    for command in (["build"], ["check"], ["digest", "--week", WEEK]):
        result = run(*command, "--config", str(site))
        assert 2 == result.exit_code
        assert f"{site}: digest.out: is the same folder as out ({tmp_path}/public)" in (
            result.stderr
        )


def test_symlinked_folder_is_the_same_folder(site: Path, tmp_path: Path):
    """A symlink to the feeds folder is the feeds folder: real paths are compared."""
    (tmp_path / "public").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "public")
    result = run("digest", "--config", str(site), "--week", WEEK, "--out", "alias")
    assert 2 == result.exit_code
    assert f"digest.out (--out): is the same folder as out ({tmp_path}/public)" in result.stderr


@pytest.mark.parametrize("where", ["home", "root"])
def test_output_in_the_home_or_root_folder_is_refused(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
):
    """--out ~ or --out /: exit 2 before anything is read or written."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    folder = str(home) if where == "home" else "/"
    result = run("build", "--config", str(site), "--out", folder)
    name = "the home folder" if where == "home" else "the root folder"
    assert 2 == result.exit_code
    assert f"out (--out): must not be {name} ({folder})" in result.stderr
    assert [] == list(home.iterdir())


def test_the_sample_layout_is_allowed(site: Path, tmp_path: Path):
    """A Jekyll site holding the content, the archive and the feeds side by side is fine."""
    text = (
        'content = "site/_news"\nout = "site/feeds"\ncache_dir = ".cache"\n'
        f'[site]\nurl = "{SITE}"\n'
        '[digest]\nout = "newsletters"\narchive = "site/_newsletters"\n'
    )
    site.write_text(text, encoding="utf-8")
    (tmp_path / "site").mkdir()
    (tmp_path / "_news").rename(tmp_path / "site" / "_news")
    result = run("build", "--config", str(site), "-q")
    assert (0, "") == (result.exit_code, result.stderr)


# Numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["build"], ["check"], ["digest", "--week", WEEK]])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1"])
def test_wait_must_be_a_finite_number_of_seconds(site: Path, command: list[str], value: str):
    """--wait nan would never time out, --wait inf waits for ever: exit 2, the option named."""
    result = run(*command, "--config", str(site), "--wait", value)
    assert 2 == result.exit_code
    assert "Invalid value for '--wait'" in result.stderr
