"""``publisher serve`` as a user runs it: a real process on a loopback port, fetched over HTTP
while its files are edited, stopped with Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import main
from publisher.config import Config
from publisher.serve import Preview, listen

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "build"
WAIT = 30.0
"""The longest a test waits for the server to show a change; it usually takes a second."""
CONFIG = """\
content = "_news"
out = "feeds"
cache_dir = "cache"

[site]
title = "Serve News"
url = "https://news.example.org/feeds/"

[digest]
out = "newsletters"
unsubscribe_url = "https://news.example.org/unsubscribe"
postal_address = "Serve News, 1 Example Street, Springfield"
"""


@dataclass
class Server:
    """A running ``publisher serve`` and what it printed on the way up."""

    process: subprocess.Popen[str]
    url: str
    folder: Path
    """The scratch folder it builds into."""
    site: Path

    def get(self, path: str) -> tuple[int, str]:
        """The status and body of ``path``, as a browser would fetch it."""
        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=30) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8")

    def wait_for(self, path: str, test: Callable[[str], bool]) -> str:
        """Fetch ``path`` until ``test`` holds for its body (at most :data:`WAIT` seconds)."""
        deadline = time.monotonic() + WAIT
        while True:
            body = self.get(path)[1]
            if test(body) or time.monotonic() > deadline:
                return body
            time.sleep(0.2)

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C; the exit code and what it printed."""
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The fixture articles (one of them broken) and a config that can render a newsletter."""
    shutil.copytree(FIXTURE / "_news", tmp_path / "_news")
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def start_serve(site: Path, **env: str) -> subprocess.Popen[str]:
    """``publisher serve --port 0`` started in ``site``, with ``env`` added to the environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "publisher", "serve", "--config", "config.toml", "--port", "0"],
        cwd=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


@pytest.fixture
def server(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """``publisher serve --port 0`` started in ``site``; its URL read from its first lines."""
    monkeypatch.setenv("no_proxy", "*")
    process = start_serve(site, PYTHONUNBUFFERED="1")
    assert process.stdout is not None
    url = folder = ""
    for line in process.stdout:
        if line.startswith("Serving "):
            # Serving <url> from <folder> (newsletter: …); Ctrl-C stops
            url, folder = line.split()[1], line.split()[3]
            break
    if not url:
        process.kill()
        pytest.fail(f"serve did not start: {process.communicate(timeout=30)}")
    served = Server(process, url, Path(folder), site)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def test_serve_builds_rebuilds_and_stops_cleanly(server: Server):
    """The index is served with local links; an edited title shows up over HTTP; a week's
    newsletter renders without writing or sending anything; Ctrl-C exits 0 without a
    traceback and removes the scratch folder."""
    status, index = server.get("/")
    assert (200, True) == (status, f'href="{server.url}rss.xml"' in index)
    assert (server.folder / "space" / "index.html").is_file()
    assert "Lunar lander touches down near the south pole" in server.get("/space/")[1]
    article = server.site / "_news" / "2024-03-01-lunar-lander-touches-down.md"
    text = article.read_text(encoding="utf-8")
    article.write_text(text.replace("Lunar lander touches down", "Lander lands"), encoding="utf-8")
    page = server.wait_for("/space/", lambda body: "Lander lands near the south pole" in body)
    assert "Lander lands near the south pole" in page
    rss = server.wait_for("/space/rss.xml", lambda body: "Lander lands" in body)
    assert "<title>Lander lands near the south pole</title>" in rss
    status, newsletter = server.get("/newsletter/?week=2024-W09")
    assert (200, True, True) == (
        status,
        "Lander lands near the south pole" in newsletter,
        "rendered now, not sent" in newsletter,
    )
    code, out, err = server.stop()
    assert (0, False) == (code, "Traceback" in out + err)
    assert {BROKEN_LINE, SLUG_WARNING} == set(err.splitlines(keepends=True))
    assert out.rstrip().endswith("Stopped.")
    assert (False, False) == (server.folder.exists(), (server.site / "newsletters").exists())
    assert {} == rows_left(server.site / "cache")


def rows_left(cache: Path) -> dict[str, int]:
    """The tables of the store holding rows of an output folder, or newsletters sent, with
    how many: nothing is left of a preview once it stops (what the articles say, by content
    folder in ``sources``, is kept for the next run)."""
    with sqlite3.connect(cache / "publisher.sqlite3") as store:
        tables = [
            name
            for (name,) in store.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name == "sends"
            or (
                name not in ("issues", "sources")
                and any(
                    column[1] == "folder" for column in store.execute(f"PRAGMA table_info({name})")
                )
            )
        ]
        counts = {
            table: store.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables
        }
    assert {"sends", "outputs", "archive_members", "archive_layouts"} <= counts.keys()
    return {table: count for table, count in counts.items() if count}


BROKEN_LINE = "_news/2024-03-06-broken.md: title: expected text, got a list\n"
"""The fixture's broken file, reported by every build."""
SLUG_WARNING = "warning: topics: 'C++' and 'C#' share the slug 'c'; 'C++' uses 'c-2'\n"


def test_problems_show_on_the_pages_and_the_server_carries_on(server: Server):
    """A bad article file and then a broken config file each show as a banner on the index
    page and a line in the terminal; fixing them clears the banner."""
    first = server.get("/")[1]
    assert 'role="alert"' in first and "2024-03-06-broken.md: title: expected text" in first
    (server.site / "_news" / "2024-03-06-broken.md").unlink()
    clean = server.wait_for("/", lambda body: 'role="alert"' not in body)
    assert 'role="alert"' not in clean
    config = server.site / "config.toml"
    config.write_text(CONFIG.replace("[site]", "[site]\nlimit = 3"), encoding="utf-8")
    broken = server.wait_for("/", lambda body: "site.limit: unknown key" in body)
    assert "site.limit: unknown key" in broken
    assert "Serve News" in broken  # the last good build is still served
    config.write_text(CONFIG, encoding="utf-8")
    fixed = server.wait_for("/", lambda body: 'role="alert"' not in body)
    assert 'role="alert"' not in fixed
    code, _, err = server.stop()
    assert (0, True, False) == (code, "site.limit: unknown key" in err, "Traceback" in err)


def test_newsletter_of_an_empty_or_bad_week(server: Server):
    """A week without articles is a 404 page that says so and links the weeks around it;
    a malformed week is a 400 page naming it."""
    status, empty = server.get("/newsletter/?week=2020-W01")
    assert (404, True, True) == (
        status,
        "No articles selected for 2020-W01" in empty,
        'href="/newsletter/?week=2020-W02"' in empty,
    )
    status, bad = server.get("/newsletter/?week=someday")
    assert (400, True) == (
        status,
        "not an ISO week like 2020-W47 or a day like 2020-11-20: &#x27;someday&#x27;" in bad,
    )
    assert 0 == server.stop()[0]


def test_port_in_use_is_one_line_and_exit_2(site: Path, monkeypatch: pytest.MonkeyPatch):
    """Another server on the port: one line naming --port, exit 2, nothing built."""
    monkeypatch.chdir(site)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)])
    assert (2, True) == (result.exit_code, result.stderr.startswith("publisher: error: --port: "))
    assert f"cannot listen on 127.0.0.1 port {port}: " in result.stderr
    assert 1 == len(result.stderr.splitlines())


def test_out_must_not_be_the_published_folder(site: Path, monkeypatch: pytest.MonkeyPatch):
    """Serving rewrites links to the local address: the published folder is refused."""
    monkeypatch.chdir(site)
    result = CliRunner().invoke(main, ["serve", "--out", "feeds"])
    assert (
        2,
        "publisher: error: --out: feeds is the published folder (out); choose another\n",
    ) == (
        result.exit_code,
        result.stderr,
    )


def run_serve(
    site: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``publisher serve`` with ``args`` in ``site``, as a process that must end on its own:
    a refused server exits; one that starts serving is a failure (killed after 30 s)."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "publisher", "serve", "--port", "0", *args],
            cwd=site,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"serve {args} started serving: {expired.stdout!r}")


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        ("/", "--out: must not be the root folder (/)"),
        ("cache", "--out: is the same folder as cache_dir"),
        ("feeds/preview", "--out: is inside the published folder (out)"),
        ("_news", "--out: is the same folder as content"),
    ],
)
def test_a_folder_build_would_refuse_is_never_served(site: Path, out: str, reason: str):
    """The root folder, the store's, the content's, or one inside the published folder: one
    line naming --out, exit 2, before anything listens or is built."""
    done = run_serve(site, "--out", out)
    assert (2, 1, "", True) == (
        done.returncode,
        len(done.stderr.splitlines()),
        done.stdout,
        done.stderr.startswith(f"publisher: error: command line: {reason}"),
    ), done.stderr
    assert not (site / "feeds").exists()


def test_an_empty_bind_address_is_refused(site: Path):
    """--bind '' would listen on every interface unasked: one line naming --bind, exit 2."""
    done = run_serve(site, "--bind", "")
    assert (2, True) == (
        done.returncode,
        done.stderr.startswith("publisher: error: --bind: give the address to listen on"),
    ), done.stderr


def test_weeks_at_the_ends_of_the_calendar_are_a_400(server: Server):
    """Weeks whose days or neighbours the calendar cannot name get a 400 page with one line;
    the server answers the next request as before."""
    weeks = ["9999-W51", "0001-W02", "0001-01-10", "9999-12-25", "x" * 5000]
    answers = [server.get(f"/newsletter/?week={week}") for week in weeks]
    assert [(400, True)] * len(weeks) == [
        (status, "<h1>Newsletter</h1>" in page) for status, page in answers
    ]
    assert 200 == server.get("/")[0]
    assert 0 == server.stop()[0]


def test_the_listen_backlog_holds_a_burst_of_requests(tmp_path: Path):
    """The server queues at least 128 connections waiting to be accepted (the default is 5)."""
    preview = Preview(Config, tmp_path, config_file=None, today=date, say=print, warn=print)
    server = listen("127.0.0.1", 0, preview)
    server.server_close()
    assert 128 <= server.request_queue_size


def test_without_templates_only_the_content_and_config_are_watched(
    site: Path, monkeypatch: pytest.MonkeyPatch
):
    """No digest.templates: the working folder (its cache, a log) is not watched, only the
    articles and the config file."""
    monkeypatch.chdir(site)
    (site / "cache").mkdir()
    (site / "cache" / "publisher.sqlite3").write_bytes(b"changes on every build")
    (site / "serve.log").write_text("a line per build")
    config = Config(content=str(site / "_news"))
    preview = Preview(
        lambda: config,
        tmp := site / "scratch",
        config_file=site / "config.toml",
        today=date,
        say=print,
        warn=print,
    )
    watched = {Path(name).parent for name in preview.snapshot()}
    assert ({site / "_news", site}, False) == (watched, tmp.exists())
    assert str(site / "serve.log") not in preview.snapshot()


@pytest.mark.parametrize("pause", [0.0, 0.05, 0.2])
def test_any_number_of_interrupts_leave_no_scratch_folder(site: Path, pause: float):
    """Ctrl-C after Ctrl-C from the first build until it has stopped: the scratch folder is
    removed all the same and the store keeps nothing of it."""
    scratch = site / "tmp"
    scratch.mkdir()
    process = start_serve(site, TMPDIR=str(scratch))
    deadline = time.monotonic() + WAIT
    while not list(scratch.glob("publisher-serve-*")) and time.monotonic() < deadline:
        time.sleep(0.005)
    while process.poll() is None and time.monotonic() < deadline:
        process.send_signal(signal.SIGINT)
        time.sleep(pause or 0.001)
    _, err = process.communicate(timeout=60)
    assert (0, [], False) == (process.returncode, list(scratch.rglob("*")), "Traceback" in err), err
    if (site / "cache" / "publisher.sqlite3").exists():
        assert {} == rows_left(site / "cache")
