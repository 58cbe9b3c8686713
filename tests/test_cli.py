"""The command line: help, exit codes, one-line errors, the JSON report, the lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from publisher import __version__
from publisher.cli import main
from publisher.lock import lock_path

WriteArticle = Callable[..., Path]
SITE = "https://example.org/feeds/"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every CLI test runs in its own folder, so caches and defaults land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def site(tmp_path: Path, write_article: WriteArticle) -> Path:
    """A folder with a config file and three good articles; returns the config path."""
    write_article("a.md", title="Alpha", url="https://example.com/a", topics=("Space",))
    write_article("b.md", title="Beta", url="https://example.com/b", topics=("Space", "AI"))
    write_article("c.md", title="Gamma", url="https://example.com/c", topics=("AI",))
    config = tmp_path / "site.toml"
    config.write_text(f'content = "_news"\nout = "public"\n[site]\nurl = "{SITE}"\n')
    return config


def run(*args: str) -> Result:
    """Run the command line in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_no_traceback(result: Result) -> None:
    """User errors never show a Python traceback."""
    assert "Traceback" not in result.output + result.stderr
    assert "Error:" not in result.stderr or result.stderr.startswith("Usage:")


def command_names() -> list[str]:
    """Every command the group offers."""
    with click.Context(main) as context:
        return main.list_commands(context)


def test_version():
    """--version prints the program name and version."""
    result = run("--version")
    assert (0, f"publisher, version {__version__}\n") == (result.exit_code, result.output)


def test_group_help_lists_the_feed_commands():
    """publisher --help lists build and check."""
    result = run("--help")
    assert 0 == result.exit_code
    assert {"build", "check"} <= set(command_names())
    for name in command_names():
        assert f"  {name} " in result.output


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help_with_an_example(name: str):
    """Each command's --help works and shows an example invocation."""
    result = run(name, "--help")
    assert 0 == result.exit_code, result.output
    assert "Example" in result.output
    assert f"publisher {name}" in result.output


@pytest.mark.parametrize("name", command_names())
def test_every_command_and_option_is_in_the_readme(name: str):
    """The README documents each command and every one of its options."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    with click.Context(main) as context:
        command = main.get_command(context, name)
    assert command is not None
    options = [
        max(param.opts, key=len)
        for param in command.params
        if isinstance(param, click.Option) and param.name != "help"
    ]
    assert f"publisher {name}" in readme
    assert [] == [option for option in options if option not in readme]


def test_build_writes_feeds_and_reports(site: Path, tmp_path: Path):
    """build writes the feeds and prints one summary line."""
    result = run("build", "--config", str(site))
    assert 0 == result.exit_code, result.stderr
    assert (tmp_path / "public" / "rss.xml").is_file()
    assert (tmp_path / "public" / "space" / "atom.xml").is_file()
    assert (tmp_path / "public" / "ai" / "feed.json").is_file()
    assert "3 articles read" in result.output
    assert "" == result.stderr


def test_build_json_report_shape(site: Path, write_article: WriteArticle):
    """--json prints the documented keys: written, unchanged, skipped [{path, error}], counts."""
    bad = write_article("z-bad.md", b"---\ntitle: [x]\n---\n")
    report = json.loads(run("build", "--config", str(site), "--json").stdout)
    assert {"written", "unchanged", "skipped", "articles", "loaded", "selected", "feeds"} <= set(
        report
    )
    assert (4, 3, 3) == (report["articles"], report["loaded"], report["selected"])
    assert [{"path": str(bad), "error": f"{bad}: title: expected text, got a list"}] == report[
        "skipped"
    ]
    assert "rss.xml" in report["written"]
    assert [] == report["unchanged"]


def test_second_build_reports_everything_unchanged(site: Path):
    """A rerun on the same input writes nothing."""
    first = json.loads(run("build", "--config", str(site), "--json").stdout)
    second = json.loads(run("build", "--config", str(site), "--json").stdout)
    assert [] == second["written"]
    assert sorted(first["written"]) == sorted(second["unchanged"])


def test_cli_options_beat_config(site: Path, tmp_path: Path):
    """--out and --site-url override the config file's out and site.url."""
    result = run(
        "build", "--config", str(site), "--out", "elsewhere", "--site-url", "https://x.example/f/"
    )
    assert 0 == result.exit_code, result.stderr
    assert not (tmp_path / "public").exists()
    rss = (tmp_path / "elsewhere" / "rss.xml").read_text()
    assert 'href="https://x.example/f/rss.xml" rel="self"' in rss


def test_config_paths_are_relative_to_the_config_file(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Run from another folder, the config's relative content and out still resolve."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert 0 == run("build", "--config", str(site), "-q").exit_code
    assert (tmp_path / "public" / "rss.xml").is_file()
    assert not (elsewhere / "public").exists()


def test_build_with_a_bad_file_goes_on(site: Path, write_article: WriteArticle, tmp_path: Path):
    """One bad file: a problem line on stderr, the other feeds still written, exit 0."""
    bad = write_article("z-bad.md", b"no front matter")
    result = run("build", "--config", str(site), "-q")
    assert 0 == result.exit_code
    assert f"{bad}: the file does not start with a '---' line\n" == result.stderr
    assert (tmp_path / "public" / "rss.xml").is_file()
    assert_no_traceback(result)


def test_strict_exits_1_and_writes_nothing(site: Path, write_article: WriteArticle, tmp_path: Path):
    """--strict with a bad file: exit 1, the problem reported, no output folder content."""
    write_article("z-bad.md", b"---\ntitle: x\n")
    result = run("build", "--config", str(site), "--strict")
    assert 1 == result.exit_code
    assert "no closing '---' line" in result.stderr
    assert [] == list((tmp_path / "public").rglob("*.xml"))
    assert_no_traceback(result)


def test_check_clean_exits_0_and_writes_nothing(site: Path, tmp_path: Path):
    """check on good files: exit 0, nothing written."""
    result = run("check", "--config", str(site))
    assert 0 == result.exit_code
    assert "3 articles read, 0 with problems\n" == result.output
    assert not (tmp_path / "public").exists()


def test_check_with_bad_files_exits_1(site: Path, write_article: WriteArticle):
    """check lists every problem, one line each, and exits 1."""
    one = write_article("y.md", b"---\ntitle: ok\n---\n")
    two = write_article("z.md", b"\xff\xfe not utf-8")
    result = run("check", "--config", str(site))
    assert 1 == result.exit_code
    lines = result.stderr.splitlines()
    assert 2 == len(lines)
    assert lines[0].startswith(f"{one}: ")
    assert lines[1].startswith(f"{two}: not UTF-8")
    assert_no_traceback(result)


def test_check_json(site: Path, write_article: WriteArticle):
    """check --json gives counts and skipped files, and still exits 1."""
    bad = write_article("z.md", b"---\ntitle: [1]\n---\n")
    result = run("check", "--config", str(site), "--json")
    assert 1 == result.exit_code
    report = json.loads(result.stdout)
    assert (4, 3) == (report["articles"], report["loaded"])
    assert [str(bad)] == [item["path"] for item in report["skipped"]]


def test_bad_config_exits_2_with_one_line_naming_the_key(tmp_path: Path):
    """An unknown key: exit 2, one line on stderr naming file and key."""
    config = tmp_path / "bad.toml"
    config.write_text("[selection]\nmin_qualty = 3\n")
    result = run("build", "--config", str(config))
    assert 2 == result.exit_code
    assert f"publisher: error: {config}: selection.min_qualty: unknown key\n" == result.stderr
    assert_no_traceback(result)


def test_wrong_type_in_config_exits_2(tmp_path: Path):
    """A wrong type: exit 2, the key named, for check as well as build."""
    config = tmp_path / "bad.toml"
    config.write_text('[selection]\nlimit = "ten"\n')
    for command in ("build", "check"):
        result = run(command, "--config", str(config))
        assert 2 == result.exit_code
        assert "selection.limit: expected an integer" in result.stderr
        assert 1 == len(result.stderr.splitlines())


def test_missing_config_file_exits_2(tmp_path: Path):
    """--config pointing nowhere is a usage error."""
    result = run("check", "--config", str(tmp_path / "nope.toml"))
    assert 2 == result.exit_code
    assert result.stderr.endswith("nope.toml: file not found\n")


@pytest.mark.parametrize("command", ["build", "check"])
def test_missing_content_folder_exits_2(command: str, tmp_path: Path):
    """A content folder that does not exist: exit 2, one line."""
    result = run(command, "--content", str(tmp_path / "missing"))
    assert 2 == result.exit_code
    assert 1 == len(result.stderr.splitlines())
    assert "missing" in result.stderr
    assert_no_traceback(result)


def test_content_path_is_a_file_exits_2(tmp_path: Path):
    """--content naming a file is a usage error, not a crash."""
    (tmp_path / "file.md").write_text("x")
    result = run("check", "--content", str(tmp_path / "file.md"))
    assert 2 == result.exit_code
    assert_no_traceback(result)


def test_bad_site_url_exits_2(site: Path):
    """--site-url must be an absolute http(s) URL."""
    result = run("build", "--config", str(site), "--site-url", "javascript:alert(1)")
    assert 2 == result.exit_code
    assert "--site-url" in result.stderr


def test_output_folder_is_a_file_exits_3(site: Path, tmp_path: Path):
    """An output path that cannot be a folder is an output error, exit 3."""
    (tmp_path / "blocker").write_text("x")
    result = run("build", "--config", str(site), "--out", str(tmp_path / "blocker" / "feeds"))
    assert 3 == result.exit_code
    assert 1 == len(result.stderr.splitlines())
    assert_no_traceback(result)


def test_unknown_option_is_usage_error():
    """A typo in an option is exit 2 with click's usage message."""
    result = run("build", "--stirct")
    assert 2 == result.exit_code
    assert "No such option" in result.stderr


HOLD_LOCK = """
import fcntl, sys, time
handle = open(sys.argv[1], "w")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(30)
"""


def test_lock_held_by_another_process_exits_4(site: Path, tmp_path: Path):
    """Another run holding the output lock: exit 4 after --wait, one line, nothing written."""
    out = tmp_path / "public"
    lock = lock_path(tmp_path / ".publisher-cache", out)
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "locked" == holder.stdout.readline().strip()
        result = run("build", "--config", str(site), "--wait", "0.2")
    finally:
        holder.kill()
        holder.wait()
    assert 4 == result.exit_code
    assert "another publisher run holds the lock" in result.stderr
    assert not (out / "rss.xml").exists()
    assert_no_traceback(result)


def test_impossible_date_never_shows_a_traceback(site: Path, write_article: WriteArticle):
    """A file with an impossible date is one problem line, not a crash of the whole run."""
    write_article(
        "z.md", b"---\ntitle: x\nwebUrl: https://e.com/\npublishedDateTime: 2024-02-30\n---\n"
    )
    result = CliRunner().invoke(main, ["check", "--config", str(site)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert 1 == result.exit_code
    assert_no_traceback(result)


def test_installed_entry_point_runs(tmp_path: Path):
    """The console script works outside the test runner."""
    script = Path(sys.executable).with_name("publisher")
    if not script.exists():
        pytest.skip("publisher is not installed as a console script in this environment")
    completed = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    assert (0, f"publisher, version {__version__}\n") == (completed.returncode, completed.stdout)


def test_negative_wait_is_a_usage_error(site: Path):
    """--wait -1 would block for ever on a held lock; it is refused up front."""
    result = run("build", "--config", str(site), "--wait", "-1")
    assert 2 == result.exit_code


def _age(folder: Path, seconds: float = 3600) -> None:
    """Make every file in ``folder`` look modified ``seconds`` ago."""
    then = time.time() - seconds
    for path in folder.iterdir():
        os.utime(path, (then, then))


def test_rerun_on_settled_input_stops_after_the_scan(site: Path, tmp_path: Path):
    """Same files, same settings, untouched outputs: reported up to date, nothing loaded."""
    _age(tmp_path / "_news")
    run("build", "--config", str(site))
    report = json.loads(run("build", "--config", str(site), "--json").stdout)
    assert (True, None, 0) == (report["up_to_date"], report["loaded"], len(report["written"]))
    assert "public is up to date" in run("build", "--config", str(site)).stdout


def test_an_edited_output_is_rebuilt(site: Path, tmp_path: Path):
    """A feed changed by hand is not trusted: the next run puts the real one back."""
    _age(tmp_path / "_news")
    run("build", "--config", str(site))
    feed = tmp_path / "public" / "rss.xml"
    expected = feed.read_bytes()
    feed.write_bytes(b"<rss/>")
    report = json.loads(run("build", "--config", str(site), "--json").stdout)
    assert (False, ["rss.xml"]) == (report["up_to_date"], report["written"])
    assert expected == feed.read_bytes()


def test_input_changed_within_the_timestamp_window_is_not_skipped(site: Path, tmp_path: Path):
    """A file written just before the last run may have changed unseen: never skipped on it."""
    run("build", "--config", str(site))
    report = json.loads(run("build", "--config", str(site), "--json").stdout)
    assert (False, 0) == (report["up_to_date"], report["cache_hits"])


def test_settled_files_come_from_the_parse_cache(
    site: Path, tmp_path: Path, write_article: WriteArticle
):
    """Files older than the cache are not read again; a changed one is."""
    _age(tmp_path / "_news")
    run("build", "--config", str(site), "-q")
    changed = write_article("a.md", title="Alpha 2", url="https://example.com/a", topics=("Space",))
    half_an_hour_ago = time.time() - 1800
    os.utime(changed, (half_an_hour_ago, half_an_hour_ago))
    report = json.loads(run("build", "--config", str(site), "--json").stdout)
    assert 2 == report["cache_hits"]
    assert "Alpha 2" in (tmp_path / "public" / "rss.xml").read_text(encoding="utf-8")


def test_editor_and_system_files_are_not_articles(site: Path, tmp_path: Path):
    """Names starting with . or # (editor locks, macOS forks) are skipped, as Jekyll does."""
    news = tmp_path / "_news"
    (news / "._a.md").write_bytes(b"\x00\x05\x16\x07 not utf-8 \xff")
    (news / ".#b.md").symlink_to("nobody@host.1234")
    (news / "#c.md#").write_text("autosave")
    result = run("check", "--config", str(site))
    assert (0, "") == (result.exit_code, result.stderr)
    assert "3 articles read" in result.stdout


def test_url_with_a_bad_port_is_a_problem_not_a_crash(site: Path, write_article: WriteArticle):
    """Malformed ports and hosts are reported for the file; the run goes on."""
    write_article("p.md", title="Port", url="https://example.com:99999/x")
    write_article("q.md", title="Host", url="https://[oops/x")
    result = run("build", "--config", str(site))
    assert_no_traceback(result)
    assert 0 == result.exit_code
    assert 2 == len(result.stderr.splitlines())
    assert all(
        ": webUrl: not an absolute http(s) URL" in line for line in result.stderr.splitlines()
    )


def test_empty_content_folder_is_refused(site: Path, tmp_path: Path):
    """A folder with no articles (a checkout half done) never wipes the published feeds."""
    run("build", "--config", str(site), "-q")
    before = {p.name: p.read_bytes() for p in (tmp_path / "public").glob("*.xml")}
    for article in (tmp_path / "_news").iterdir():
        article.unlink()
    result = run("build", "--config", str(site))
    assert 2 == result.exit_code
    assert "no article files" in result.stderr
    assert before == {p.name: p.read_bytes() for p in (tmp_path / "public").glob("*.xml")}
