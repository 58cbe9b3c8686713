"""WebSub: every feed names the hub, and after each build a real local hub (stdlib http.server on
127.0.0.1) hears of exactly the feeds whose bytes changed; a hub that is down or slow is a
warning and exit code 8, never a reason to hold back the feeds."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import feedparser
import pytest
from click.testing import CliRunner, Result

from publisher import jobs
from publisher.cli import main
from publisher.config import Config, SiteConfig, WebSubConfig
from publisher.errors import OutputError
from publisher.jobs import build as build_job
from publisher.jobs import run_build

SITE = "https://example.org/feeds/"
SUBSCRIPTION_FILES = ("rss.xml", "atom.xml", "feed.json")
Validate = Callable[[Path, str | None], tuple[list[str], list[str]]]


@dataclass
class Hub:
    """A WebSub hub on 127.0.0.1 that records every publish notification it receives."""

    url: str = ""
    status: int = 204
    delay: float = 0.0
    body: bytes = b""
    location: str = "https://elsewhere.example/hub"
    reason: str | None = None
    trickle: float = 0.0
    """Seconds between the bytes of an answer that never ends; 0: answer at once."""
    stopped: threading.Event = field(default_factory=threading.Event)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pinged(self) -> list[str]:
        """The feed URLs announced, in the order they came."""
        return [url for request in self.requests for url in request["form"]["hub.url"]]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """A running local hub; answers 204 unless a test says otherwise."""
    monkeypatch.setenv("no_proxy", "*")
    state = Hub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode("ascii"), strict_parsing=True)
            state.requests.append(
                {"form": form, "type": self.headers.get("Content-Type"), "path": self.path}
            )
            time.sleep(state.delay)
            if state.trickle:
                self.trickle()
                return
            self.send_response(state.status, state.reason)
            if 300 <= state.status < 400:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def trickle(self) -> None:
            """A status line, then one header byte at a time until the client hangs up."""
            answer = b"HTTP/1.1 204 No Content\r\nX-Slow: "
            while not state.stopped.wait(state.trickle):
                try:
                    self.wfile.write(answer)
                    self.wfile.flush()
                except OSError:
                    return
                answer = b"x"

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that hung up early (the timeout test) is no failure of the hub

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hub"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopped.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port() -> str:
    """A hub URL on a loopback port where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub"


@pytest.fixture
def site(tmp_path: Path, write_article: Callable[..., Path]) -> Path:
    """Three good articles in two topics (Space, AI) in ``tmp_path/_news``: three feeds. Their
    files were last changed an hour ago, so a rerun with nothing changed stops after the scan."""
    for name, title, topics, day in (
        ("a.md", "Alpha", ("Space",), 1),
        ("b.md", "Beta", ("Space", "AI"), 2),
        ("c.md", "Gamma", ("AI",), 3),
    ):
        path = write_article(
            name,
            title=title,
            url=f"https://example.com/{name[0]}",
            topics=topics,
            date=f"2024-05-0{day}T12:00:00Z",
        )
        settle(path, 3600)
    return tmp_path


def settle(path: Path, seconds_ago: float) -> None:
    """Date a file's last change ``seconds_ago``: publisher re-reads files changed just now."""
    moment = time.time() - seconds_ago
    os.utime(path, (moment, moment))


def site_config(site: Path, hub: str, timeout: float = 5.0) -> Config:
    """Settings building ``site`` into ``site/feeds`` with ``hub``."""
    return Config(
        content=str(site / "_news"),
        out=str(site / "feeds"),
        cache_dir=str(site / "cache"),
        site=SiteConfig(title="Hub News", url=SITE),
        websub=WebSubConfig(hub=hub, timeout=timeout),
    )


def write_config(site: Path, hub: str, timeout: float = 5.0) -> Path:
    """The same settings as a config.toml."""
    path = site / "config.toml"
    path.write_text(
        'content = "_news"\nout = "feeds"\ncache_dir = "cache"\n'
        f'[site]\ntitle = "Hub News"\nurl = "{SITE}"\n'
        f'[websub]\nhub = "{hub}"\ntimeout = {timeout}\n',
        encoding="utf-8",
    )
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["build", *args], catch_exceptions=False)


def subscription_urls(paths: list[str]) -> list[str]:
    """The feed URLs of the subscription documents among written paths."""
    return sorted(SITE + path for path in paths if path.endswith(SUBSCRIPTION_FILES))


def edit_title(site: Path, name: str, title: str) -> None:
    """Give one article a new title, as an editor would."""
    path = site / "_news" / name
    text = path.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.startswith("title:"))
    path.write_text(text.replace(old, f'title: "{title}"'), encoding="utf-8")
    settle(path, 60)


CHANGED_BY_ALPHA = sorted(
    f"{SITE}{folder}{name}" for folder in ("", "space/") for name in SUBSCRIPTION_FILES
)
"""What a new title for Alpha changes: the all-topics feed and the Space feed."""


# The hub link --------------------------------------------------------------------------------


def test_every_feed_names_the_hub_beside_its_self_link(site: Path):
    """RSS and Atom carry a rel="hub" link and JSON Feed a WebSub hub, next to the self link."""
    hub = "https://hub.example.org/"
    outputs = jobs.run_build(site_config(site, hub)).plan
    assert outputs is not None
    for path, data in outputs.outputs.items():
        if path.endswith(".xml"):
            links = feedparser.parse(data).feed.links
            assert [(SITE + path, "self"), (hub, "hub")] == [
                (link.href, link.rel) for link in links if link.rel in ("self", "hub")
            ], path
        elif path.endswith(".json"):
            document = json.loads(data)
            assert [{"type": "WebSub", "url": hub}] == document["hubs"], path


def test_rss_hub_link_follows_the_self_link(site: Path):
    """In RSS the hub is an atom:link right after the self link."""
    plan = jobs.run_build(site_config(site, "https://hub.example.org/")).plan
    assert plan is not None
    rss = plan.outputs["space/rss.xml"].decode("utf-8")
    self_link = f'<atom:link href="{SITE}space/rss.xml" rel="self" type="application/rss+xml"/>'
    assert f'{self_link}\n    <atom:link href="https://hub.example.org/" rel="hub"/>' in rss


def test_feeds_with_a_hub_validate(site: Path, validate: Validate):
    """The W3C validator takes the hub links: 0 errors, 0 warnings."""
    jobs.run_build(site_config(site, "https://hub.example.org/"))
    results = {
        path.relative_to(site / "feeds").as_posix(): validate(
            path, SITE + path.relative_to(site / "feeds").as_posix()
        )
        for path in sorted((site / "feeds").rglob("*.xml"))
    }
    assert 6 == len(results)
    assert {} == {name: result for name, result in results.items() if result != ([], [])}


def test_without_a_hub_feeds_name_none(site: Path):
    """No [websub] hub: no hub links, and nothing is sent anywhere."""
    plan = jobs.run_build(site_config(site, "")).plan
    assert plan is not None
    assert not any(b'rel="hub"' in data or b'"hubs"' in data for data in plan.outputs.values())


# Pings ---------------------------------------------------------------------------------------


def test_first_build_announces_every_feed_once(site: Path, hub: Hub):
    """A first build writes every feed: one form-encoded publish request per feed file."""
    outcome = run_build(site_config(site, hub.url))
    expected = subscription_urls(outcome.report.written)
    assert 9 == len(expected)
    assert expected == sorted(hub.pinged)
    assert [
        ({"hub.mode": ["publish"], "hub.url": [url]}, "application/x-www-form-urlencoded", "/hub")
        for url in hub.pinged
    ] == [(r["form"], r["type"], r["path"]) for r in hub.requests]
    assert outcome.pings is not None
    assert (sorted(hub.pinged), {}) == (sorted(outcome.pings.pinged), outcome.pings.failed)


def test_rerun_with_nothing_changed_announces_nothing(site: Path, hub: Hub):
    """Nothing changed, nothing announced: neither on the quick path nor on a full rebuild."""
    config = site_config(site, hub.url)
    run_build(config)
    hub.requests.clear()
    quick = run_build(config)
    full = run_build(config, use_cache=False)
    assert (True, None, None, []) == (quick.up_to_date, quick.pings, full.pings, hub.requests)


def test_an_edit_announces_exactly_the_feeds_it_changed(site: Path, hub: Hub):
    """A new title changes the all-topics and the Space feeds: their three files each, once."""
    config = site_config(site, hub.url)
    run_build(config)
    hub.requests.clear()
    edit_title(site, "a.md", "Alpha, again")
    outcome = run_build(config)
    assert CHANGED_BY_ALPHA == subscription_urls(outcome.report.written)
    assert CHANGED_BY_ALPHA == sorted(hub.pinged)


def test_hub_down_warns_exits_8_and_writes_the_feeds(site: Path, closed_port: str):
    """Connection refused: the feeds are written all the same, one warning line, exit 8."""
    result = run("--config", str(write_config(site, closed_port)))
    feeds = sorted(
        path.relative_to(site / "feeds").as_posix() for path in (site / "feeds").rglob("*")
    )
    warnings = result.stderr.splitlines()
    assert (8, 1) == (result.exit_code, len(warnings)), result.stderr
    expected = f"warning: websub.hub: {closed_port}: 9 feeds not told of the change: "
    assert warnings[0].startswith(expected + "cannot reach the hub: ")
    assert warnings[0].endswith("; the next build tries again")
    assert "Traceback" not in result.output + result.stderr
    assert {"rss.xml", "index.html", "space/rss.xml", "space/index.html"} <= set(feeds)


def test_failed_pings_are_sent_by_the_next_build(site: Path, hub: Hub, closed_port: str):
    """What a down hub missed goes out with the next build, even one with nothing to write."""
    run("--config", str(write_config(site, closed_port)))
    result = run("--config", str(write_config(site, hub.url)), "--json")
    report = json.loads(result.stdout)
    assert (0, 9, 9) == (result.exit_code, len(hub.pinged), len(set(hub.pinged)))
    assert (sorted(hub.pinged), []) == (
        sorted(report["websub"]["pinged"]),
        report["websub"]["failed"],
    )
    hub.requests.clear()
    assert (0, []) == (run("--config", str(write_config(site, hub.url))).exit_code, hub.requests)


def test_a_rerun_with_nothing_to_write_retries_failed_pings(site: Path, hub: Hub):
    """After a hub error, a rerun that stops after the scan still retries: the queue is in the
    state store, not in the outputs."""
    config = site_config(site, hub.url)
    run_build(config)
    edit_title(site, "a.md", "Alpha, again")
    hub.status = 503
    failed = run_build(config)
    hub.status, hub.requests[:] = 204, []
    retried = run_build(config)
    assert failed.pings is not None and retried.pings is not None
    assert (6, 6, True) == (len(failed.pings.failed), len(retried.pings.pinged), retried.up_to_date)


def test_slow_hub_is_given_up_on_after_the_timeout(site: Path, hub: Hub):
    """A hub slower than websub.timeout: one request, then the rest wait; exit 8."""
    hub.delay = 2.0
    result = run("--config", str(write_config(site, hub.url, timeout=0.5)))
    assert (8, 1) == (result.exit_code, len(hub.requests))
    assert result.stderr == (
        f"warning: websub.hub: {hub.url}: 9 feeds not told of the change: no answer within"
        " 0.5 s; the next build tries again\n"
    )


def test_hub_refusal_names_its_answer(site: Path, hub: Hub):
    """A hub that answers 400 is asked once; the warning quotes its answer on one line, its
    control characters escaped."""
    hub.status, hub.body = 400, b"topic not allowed\n\x1b[31mhere"
    result = run("--config", str(write_config(site, hub.url)))
    assert (8, 1) == (result.exit_code, len(hub.requests))
    assert result.stderr == (
        f"warning: websub.hub: {hub.url}: 9 feeds not told of the change: the hub answered"
        " 400 Bad Request: topic not allowed \\x1b[31mhere; the next build tries again\n"
    )


def test_trickling_hub_cannot_hold_the_build(site: Path, hub: Hub):
    """A hub answering a byte every 0.2 s: websub.timeout (1 s) bounds the whole ping stage,
    the hub is asked once, the build exits 8 with every feed still queued for the next."""
    hub.trickle = 0.2
    write_config(site, hub.url, timeout=1)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "publisher", "build", "--json"],
            cwd=site,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "no_proxy": "*"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the build was still pinging the hub after 60 s")
    report = json.loads(done.stdout)
    failed = {entry["error"] for entry in report["websub"]["failed"]}
    assert (8, 1, 9, {"no answer within 1 s"}) == (
        done.returncode,
        len(hub.requests),
        len(report["websub"]["failed"]),
        failed,
    )
    assert report["timings"]["ping"] < 3


def test_failing_hub_is_asked_once_per_run(site: Path, hub: Hub):
    """A hub answering 500 after a pause is not asked again for the other feeds."""
    hub.status, hub.delay = 500, 0.3
    result = run("--config", str(write_config(site, hub.url)))
    assert (8, 1) == (result.exit_code, len(hub.requests))
    assert "9 feeds not told of the change: the hub answered 500" in result.stderr


def test_hub_text_reaches_the_terminal_as_one_short_line(site: Path, hub: Hub):
    """A 60 KB reason phrase is cut to 200 characters; the warning stays one line."""
    hub.status, hub.reason = 400, "Bad\x1b]0;owned\x07" + "x" * 60_000
    result = run("--config", str(write_config(site, hub.url)))
    reason = result.stderr.split("the hub answered 400 ", 1)[1].split("; the next build")[0]
    assert (8, 1, 200, True) == (
        result.exit_code,
        len(result.stderr.splitlines()),
        len(reason),
        reason.startswith("Bad\\x1b]0;owned\\x07xxx"),
    )


def test_redirect_address_is_escaped_and_cut(site: Path, hub: Hub):
    """A Location with terminal escapes is quoted escaped, and no longer than 200 characters."""
    hub.status, hub.location = 302, "https://elsewhere.example/\x1b[2J" + "a" * 500
    result = run("--config", str(write_config(site, hub.url)))
    where = result.stderr.split("the hub redirected (302) to ", 1)[1].split("; the next")[0]
    assert (8, 200, "https://elsewhere.example/\\x1b[2Jaaa") == (
        result.exit_code,
        len(where),
        where[:36],
    )


def test_not_modified_is_not_called_a_redirect(site: Path, hub: Hub):
    """A 304 is reported as the answer it is, not as "redirected (304) to ?"."""
    hub.status = 304
    result = run("--config", str(write_config(site, hub.url)))
    assert (8, True, False) == (
        result.exit_code,
        "the hub answered 304 Not Modified;" in result.stderr,
        "redirected" in result.stderr,
    )


def test_hub_redirect_is_a_failure_naming_the_new_address(site: Path, hub: Hub):
    """A redirected POST would arrive as a GET: it is reported, with where the hub went."""
    hub.status = 301
    result = run("--config", str(write_config(site, hub.url)))
    assert 8 == result.exit_code
    assert "the hub redirected (301) to https://elsewhere.example/hub" in result.stderr


def test_a_run_killed_after_writing_still_announces(
    site: Path, hub: Hub, monkeypatch: pytest.MonkeyPatch
):
    """Feeds written by a run that died before telling the hub are announced by the next run,
    though their bytes no longer change."""
    config = site_config(site, hub.url)
    run_build(config)
    hub.requests.clear()
    edit_title(site, "a.md", "Alpha, again")
    real_write = build_job.write_outputs

    def write_then_die(*args: Any, **kwargs: Any) -> Any:
        real_write(*args, **kwargs)
        raise OutputError("disk full, just after the feeds")

    with monkeypatch.context() as patch:
        patch.setattr(build_job, "write_outputs", write_then_die)
        with pytest.raises(OutputError):
            run_build(config)
    assert [] == hub.requests
    outcome = run_build(config)
    assert ([], CHANGED_BY_ALPHA) == (outcome.report.written, sorted(hub.pinged))


def test_a_lost_store_announces_nothing_unchanged(site: Path, hub: Hub):
    """With the state store deleted, a rebuild of identical feeds tells the hub nothing."""
    config = site_config(site, hub.url)
    run_build(config)
    hub.requests.clear()
    shutil.rmtree(site / "cache")
    outcome = run_build(config)
    assert ([], None, []) == (outcome.report.written, outcome.pings, hub.requests)


@pytest.mark.parametrize(
    ("table", "ending"),
    [
        ('hub = "hub.example.org"', "websub.hub: must be an absolute http(s) URL with a host"),
        (
            'hub = "ftp://hub.example.org/"',
            "websub.hub: must be an absolute http(s) URL with a host",
        ),
        ("timeout = 0", "websub.timeout: must be more than 0 and at most 300 seconds"),
        ("timeout = nan", "websub.timeout: expected a finite number, got nan"),
        ('timeout = "5"', "websub.timeout: expected a number, got '5'"),
    ],
)
def test_bad_websub_settings_exit_2_naming_the_key(site: Path, table: str, ending: str):
    """A bad [websub] value is one line naming the key, exit 2, nothing written."""
    config = site / "config.toml"
    config.write_text(f'content = "_news"\n[websub]\n{table}\n', encoding="utf-8")
    result = run("--config", str(config))
    assert (2, True, False) == (
        result.exit_code,
        ending in result.stderr.strip(),
        (site / "feeds").exists(),
    ), result.stderr
