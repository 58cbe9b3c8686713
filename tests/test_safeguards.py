"""What a content folder, a setting or a stray file cannot do: empty the feeds, put two outputs
in one folder, or overwrite a file publisher did not write."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from publisher.cli import main
from publisher.state import open_store

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


def everything_in(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by relative path."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def outputs_on_record(cache: Path, folder: Path) -> dict[str, object]:
    """What the state store says publisher wrote into ``folder``."""
    store, _ = open_store(cache)
    try:
        return dict(store.outputs(os.path.realpath(folder)))
    finally:
        store.close()


def error_line(result: Result) -> str:
    """The last line on stderr, the one-line error."""
    return result.stderr.splitlines()[-1]


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


# Files publisher did not write ----------------------------------------------------------------


def test_hand_written_file_is_not_overwritten(site: Path, tmp_path: Path):
    """A hand-written index.html where the index page goes: exit 3, one line naming it,
    nothing at all written; --force replaces it."""
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "index.html").write_text("<p>my page</p>", encoding="utf-8")
    result = run("build", "--config", str(site))
    expected = (
        f"publisher: error: {tmp_path / 'public' / 'index.html'}: publisher has no record of"
        " writing it, so it will not replace it; nothing written. Move it away, or run again with"
        " --force to replace it (also right if it is publisher's own output and cache_dir was"
        " deleted)"
    )
    assert (3, [expected]) == (result.exit_code, result.stderr.splitlines())
    assert {"index.html": b"<p>my page</p>"} == everything_in(tmp_path / "public")
    forced = run("build", "--config", str(site), "--force", "-q")
    assert 0 == forced.exit_code
    assert b"<p>my page</p>" != (tmp_path / "public" / "index.html").read_bytes()
    assert 0 == run("build", "--config", str(site), "-q").exit_code


def test_other_files_in_the_folder_are_fine(site: Path, tmp_path: Path):
    """Files publisher does not plan to write (a README, a CNAME) are no obstacle."""
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "CNAME").write_text("feeds.example.org\n", encoding="utf-8")
    assert 0 == run("build", "--config", str(site), "-q").exit_code
    assert "feeds.example.org\n" == (tmp_path / "public" / "CNAME").read_text(encoding="utf-8")


def test_first_build_after_deleting_the_cache_takes_identical_files(site: Path, tmp_path: Path):
    """cache_dir deleted, the feeds already as they would be written: exit 0, all unchanged,
    and they are on record again."""
    run("build", "--config", str(site), "-q")
    before = everything_in(tmp_path / "public")
    shutil.rmtree(tmp_path / "cache")
    result = run("build", "--config", str(site), "--json")
    report = json.loads(result.stdout)
    assert (0, [], sorted(before)) == (
        result.exit_code,
        report["written"],
        sorted(report["unchanged"]),
    )
    assert before == everything_in(tmp_path / "public")
    assert sorted(report["unchanged"]) == sorted(
        outputs_on_record(tmp_path / "cache", tmp_path / "public")
    )


def test_first_build_after_deleting_the_cache_with_new_content_says_what_to_do(
    site: Path, tmp_path: Path, write_article: WriteArticle
):
    """cache_dir deleted and an article changed since: the feeds differ, so exit 3 with the
    way out (--force) in the line; --force then publishes."""
    run("build", "--config", str(site), "-q")
    (tmp_path / "cache").rename(tmp_path / "old-cache")
    write_article("e.md", title="Epsilon", url="https://example.com/e", topics=("Space",))
    result = run("build", "--config", str(site))
    assert 3 == result.exit_code
    line = error_line(result)
    assert line.startswith(f"publisher: error: {tmp_path / 'public' / 'atom.xml'} (and ")
    assert (
        " more files): publisher has no record of writing them, so it will not replace them;"
        " nothing written." in line
    )
    assert "run again with --force" in error_line(result)
    assert b"Epsilon" not in (tmp_path / "public" / "rss.xml").read_bytes()
    assert 0 == run("build", "--config", str(site), "--force", "-q").exit_code
    assert b"Epsilon" in (tmp_path / "public" / "rss.xml").read_bytes()


def test_digest_never_overwrites_a_file_it_did_not_write(site: Path, tmp_path: Path):
    """A hand-written archive page where the issue's goes: exit 3, neither folder written
    (never half an issue); --force writes both."""
    archive = tmp_path / "_newsletters"
    archive.mkdir()
    page = "2024-05-06-news-2024-w18.html"
    (archive / page).write_text("mine", encoding="utf-8")
    result = run("digest", "--config", str(site), "--week", WEEK)
    assert 3 == result.exit_code, result.stderr
    assert f"{archive / page}: publisher has no record" in result.stderr
    assert (False, "mine") == (
        (tmp_path / "newsletters").exists(),
        (archive / page).read_text(encoding="utf-8"),
    )
    forced = run("digest", "--config", str(site), "--week", WEEK, "--force")
    assert 0 == forced.exit_code, forced.stderr
    expected = ["2024-W18.eml", "2024-W18.html", "2024-W18.txt", "feed.json", "feed.xml"]
    assert [*expected, "index.html", "latest.html"] == sorted(
        path.name for path in (tmp_path / "newsletters").iterdir()
    )
    assert "mine" != (archive / page).read_text(encoding="utf-8")


def test_strict_build_leaves_no_output_folder(site: Path, tmp_path: Path):
    """--strict with a bad file writes nothing and creates no output folder."""
    (tmp_path / "_news" / "z.md").write_bytes(b"---\ntitle: x\n")
    result = run("build", "--config", str(site), "--strict", "--out", "deep/er/public")
    assert (1, False) == (result.exit_code, (tmp_path / "deep").exists())


# A folder gone bad must not empty the feeds ---------------------------------------------------


@pytest.mark.parametrize("spoil", ["truncated", "unreadable"])
def test_all_bad_folder_is_refused_and_changes_nothing(site: Path, tmp_path: Path, spoil: str):
    """Every file truncated (a sync caught half-way) or unreadable: exit 2, one line with the
    numbers and the override after the problem lines; feeds, topic folders and the store's
    record of outputs unchanged."""
    assert 0 == run("build", "--config", str(site), "-q").exit_code
    before = everything_in(tmp_path / "public")
    record = outputs_on_record(tmp_path / "cache", tmp_path / "public")
    for article in (tmp_path / "_news").iterdir():
        if spoil == "truncated":
            article.write_bytes(b"")
        else:
            article.unlink()
            article.symlink_to(tmp_path / "nowhere" / article.name)
    result = run("build", "--config", str(site))
    expected = (
        f"publisher: error: {tmp_path / 'public'}: 0 article(s) selected against 4 at the last"
        " build, 100% fewer (more than selection.max_drop = 0.5 allows); nothing written."
        " Half-synced or unreadable article files? If the drop is meant, run build --force"
    )
    lines = result.stderr.splitlines()
    assert (2, expected, len(ARTICLES) + 1) == (result.exit_code, lines[-1], len(lines))
    assert before == everything_in(tmp_path / "public")
    assert record == outputs_on_record(tmp_path / "cache", tmp_path / "public")
    assert "Traceback" not in result.stderr


def test_force_publishes_the_drop_and_it_becomes_the_new_count(site: Path, tmp_path: Path):
    """build --force writes the smaller set; the next build compares against it."""
    run("build", "--config", str(site), "-q")
    for name in ("a.md", "b.md", "c.md"):
        (tmp_path / "_news" / name).unlink()
    assert 2 == run("build", "--config", str(site), "-q").exit_code
    forced = run("build", "--config", str(site), "--force", "--json")
    report = json.loads(forced.stdout)
    # The topic's feed stays, empty, until it has been gone selection.retire_after_days.
    assert (0, 1, [], True) == (
        forced.exit_code,
        report["selected"],
        sorted(path for path in report["removed"] if path.startswith("ai/")),
        (tmp_path / "public" / "ai" / "rss.xml").is_file(),
    )
    assert 0 == run("build", "--config", str(site), "-q").exit_code


def test_drop_up_to_max_drop_is_published(site: Path, tmp_path: Path):
    """Losing half the articles is allowed by the default max_drop of 0.5 (the emptied
    topic keeps its feed, as any topic does until it has been gone a while)."""
    run("build", "--config", str(site), "-q")
    for name in ("a.md", "b.md"):
        (tmp_path / "_news" / name).unlink()
    report = json.loads(run("build", "--config", str(site), "--json").stdout)
    assert (2, []) == (report["selected"], sorted(report["removed"]))


def test_max_drop_setting_is_honoured(site: Path, tmp_path: Path):
    """selection.max_drop = 0.2: losing one article in four (25%) is refused."""
    with site.open("a", encoding="utf-8") as config:
        config.write("[selection]\nmax_drop = 0.2\n")
    run("build", "--config", str(site), "-q")
    (tmp_path / "_news" / "d.md").unlink()
    result = run("build", "--config", str(site), "-q")
    assert 2 == result.exit_code
    assert "3 article(s) selected against 4 at the last build, 25% fewer" in result.stderr
    assert "selection.max_drop = 0.2 allows" in result.stderr


def test_first_build_is_never_refused_for_shrinking(site: Path, tmp_path: Path):
    """No earlier build on record: even a build selecting nothing is published."""
    for article in (tmp_path / "_news").iterdir():
        article.write_bytes(b"")
    result = run("build", "--config", str(site), "--json")
    assert (0, 0) == (result.exit_code, json.loads(result.stdout)["selected"])


def test_new_selection_settings_are_not_a_drop(site: Path, tmp_path: Path):
    """A stricter min_quality selects fewer articles on purpose: published without --force."""
    run("build", "--config", str(site), "-q")
    with site.open("a", encoding="utf-8") as config:
        config.write("[selection]\nmin_quality = 90\n")
    result = run("build", "--config", str(site), "--json")
    assert (0, 0) == (result.exit_code, json.loads(result.stdout)["selected"])


def test_turning_archives_off_is_not_a_drop(site: Path, tmp_path: Path):
    """With archives on, stories wait in the subscription documents until they fill a page;
    turning archives off leaves only the newest, on purpose: published without --force."""
    with site.open("a", encoding="utf-8") as config:
        config.write("[selection]\nlimit = 1\nmax_drop = 0.2\n[archive]\npage_size = 10\n")
    on = run("build", "--config", str(site), "--json")
    site.write_text(site.read_text(encoding="utf-8") + "enabled = false\n", encoding="utf-8")
    off = run("build", "--config", str(site), "--json")
    selected = [json.loads(result.stdout)["selected"] for result in (on, off)]
    assert (0, [4, 3]) == (off.exit_code, selected)


# Without site.url ----------------------------------------------------------------------------


def test_build_without_site_url_warns_once(site: Path, tmp_path: Path):
    """No site.url: one warning line naming the key, -q keeps it; the settled rerun still stops
    after the scan, and says it again."""
    site.write_text(
        site.read_text(encoding="utf-8").replace(f'url = "{SITE}"\n', ""), encoding="utf-8"
    )
    for article in (tmp_path / "_news").iterdir():
        os.utime(article, (1_700_000_000, 1_700_000_000))
    warning = (
        "warning: site.url is not set, so feeds call themselves http://localhost:8000/; set"
        " site.url in config.toml (or --site-url) to the public URL of the output folder"
    )
    first = run("build", "--config", str(site), "-q")
    assert (0, warning + "\n") == (first.exit_code, first.stderr)
    rss = (tmp_path / "public" / "rss.xml").read_text(encoding="utf-8")
    assert 'href="http://localhost:8000/rss.xml" rel="self"' in rss
    again = run("build", "--config", str(site), "--json")
    report = json.loads(again.stdout)
    assert (True, [warning.removeprefix("warning: ")]) == (
        report["up_to_date"],
        report["warnings"],
    )


def test_build_with_site_url_does_not_warn(site: Path):
    """With site.url set, a clean build prints nothing on stderr."""
    result = run("build", "--config", str(site), "-q")
    assert (0, "") == (result.exit_code, result.stderr)


def test_digest_without_a_site_link_warns(site: Path):
    """No site.link nor site.url: the issue would link subscribers to localhost; one warning
    names the key to set, and the issue is still written."""
    site.write_text(
        site.read_text(encoding="utf-8").replace(f'url = "{SITE}"\n', ""), encoding="utf-8"
    )
    result = run("digest", "--config", str(site), "--week", WEEK)
    expected = (
        "warning: site.link is not set (nor site.url), so the newsletter links to"
        " http://localhost:8000/ as the site's home page; set site.link in config.toml\n"
    )
    assert (0, expected) == (result.exit_code, result.stderr)
