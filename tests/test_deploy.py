"""deploy/nginx.conf and deploy/Caddyfile under the real servers, on 127.0.0.1 only: content
types, gzip twins, revalidation and cache lifetimes, the same as the _headers file says."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_twins import build, make_site, parse_headers

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SUBSCRIPTIONS = {
    "/rss.xml": "application/rss+xml",
    "/atom.xml": "application/atom+xml",
    "/feed.json": "application/feed+json",
    "/feeds.opml": "text/x-opml",
    "/power-apps/rss.xml": "application/rss+xml",
}
ARCHIVE_PAGES = {
    "/archive/1.xml": "application/rss+xml",
    "/archive/1.atom.xml": "application/atom+xml",
    "/archive/1.json": "application/feed+json",
}


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the server accepts connections; fail with its log if it ends first."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server ended ({process.returncode}): {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    pytest.fail("the server did not start in 15 s")


def rewrite(text: str, replacements: dict[str, str]) -> str:
    """``text`` with each key replaced by its value, each key present exactly once."""
    for old, new in replacements.items():
        assert 1 == text.count(old), old
        text = text.replace(old, new)
    return text


@contextlib.contextmanager
def nginx(root: Path, work: Path) -> Iterator[int]:
    """nginx serving ``root`` with deploy/nginx.conf, ``listen`` and ``root`` rewritten."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else ""
    )
    if not binary:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    port = free_port()
    server = rewrite(
        (DEPLOY / "nginx.conf").read_text(encoding="utf-8"),
        {"listen 8080;": f"listen 127.0.0.1:{port};", "root /srv/feeds;": f"root {root};"},
    )
    (work / "feeds.conf").write_text(server, encoding="utf-8")
    temps = "".join(
        f"    {kind}_temp_path {work / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # One process, no master: it serves as the user running the tests, who can read root.
    (work / "nginx.conf").write_text(
        f"daemon off;\nmaster_process off;\npid {work / 'nginx.pid'};\n"
        f"error_log {work / 'error.log'};\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temps}    include {work / 'feeds.conf'};\n}}\n",
        encoding="utf-8",
    )
    log = work / "error.log"
    command = [binary, "-p", str(work), "-c", str(work / "nginx.conf"), "-e", str(log)]
    with server_process(command, work, port, log) as running:
        yield running


@contextlib.contextmanager
def caddy(root: Path, work: Path) -> Iterator[int]:
    """Caddy serving ``root`` with deploy/Caddyfile, its address and root rewritten."""
    binary = shutil.which("caddy")
    if not binary:
        pytest.skip("caddy is not installed (apt-get install caddy)")
    port = free_port()
    site = rewrite(
        (DEPLOY / "Caddyfile").read_text(encoding="utf-8"),
        {":8080 {": f"http://127.0.0.1:{port} {{\n\tbind 127.0.0.1", "/srv/feeds": str(root)},
    )
    # No admin endpoint, and its data kept in the test's folder.
    (work / "Caddyfile").write_text("{\n\tadmin off\n}\n" + site, encoding="utf-8")
    log = work / "caddy.log"
    command = [binary, "run", "--config", str(work / "Caddyfile"), "--adapter", "caddyfile"]
    with server_process(command, work, port, log) as running:
        yield running


@contextlib.contextmanager
def server_process(command: list[str], work: Path, port: int, log: Path) -> Iterator[int]:
    """Run ``command`` until the block ends, its output going to ``log``."""
    environment = {**os.environ, "HOME": str(work), "XDG_DATA_HOME": str(work)}
    environment["XDG_CONFIG_HOME"] = str(work)
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=output, env=environment, start_new_session=True
        )
    try:
        wait_for(port, process, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


SERVERS = {"nginx": nginx, "caddy": caddy}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Power Apps corpus built with archive pages, gzip twins and ``_headers``."""
    folder = tmp_path_factory.mktemp("served")
    config = make_site(folder, 'precompress = ["gzip"]\nheaders = true\n')
    build(config)
    # The server reads it as the user running the tests; nothing else is needed.
    return folder / "out"


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, site: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real server on a free 127.0.0.1 port serving the built site."""
    work = tmp_path_factory.mktemp(request.param)
    with SERVERS[request.param](site, work) as port:
        yield port


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path``: the status, the headers (lower-case names) and the body as sent."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def max_age(cache_control: str) -> int:
    """The max-age of a Cache-Control value."""
    found = re.search(r"max-age=(\d+)", cache_control)
    assert found, cache_control
    return int(found[1])


@pytest.mark.parametrize("path", sorted({**SUBSCRIPTIONS, **ARCHIVE_PAGES}))
def test_content_types(server: int, path: str):
    """Each feed format with its own media type, archive pages included."""
    status, headers, _ = get(server, path)
    assert (200, {**SUBSCRIPTIONS, **ARCHIVE_PAGES}[path]) == (
        status,
        headers["content-type"].split(";")[0],
    )


def test_gzip_clients_get_the_twin(server: int, site: Path):
    """With Accept-Encoding: gzip the body is the .gz twin's bytes, as they are on disk."""
    for path in SUBSCRIPTIONS:
        status, headers, body = get(server, path, **{"Accept-Encoding": "gzip"})
        twin = (site / f"{path.lstrip('/')}.gz").read_bytes()
        assert (200, "gzip", twin) == (status, headers.get("content-encoding"), body)
        plain = get(server, path)
        assert (site / path.lstrip("/")).read_bytes() == plain[2]
        assert "content-encoding" not in plain[1]


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_revalidation_answers_304(server: int, encoding: str):
    """A reader asking again with the ETag or the Last-Modified it was sent gets 304."""
    for path in [*SUBSCRIPTIONS, *ARCHIVE_PAGES]:
        _, headers, _ = get(server, path, **{"Accept-Encoding": encoding})
        by_etag = get(
            server, path, **{"Accept-Encoding": encoding, "If-None-Match": headers["etag"]}
        )
        by_date = get(
            server,
            path,
            **{"Accept-Encoding": encoding, "If-Modified-Since": headers["last-modified"]},
        )
        assert (304, 304) == (by_etag[0], by_date[0]), path


def test_cache_lifetimes(server: int):
    """Subscription documents at most an hour; archive pages at least a day."""
    short = {path: max_age(get(server, path)[1]["cache-control"]) for path in SUBSCRIPTIONS}
    long = {path: max_age(get(server, path)[1]["cache-control"]) for path in ARCHIVE_PAGES}
    assert all(seconds <= 3600 for seconds in short.values()), short
    assert all(seconds >= 86400 for seconds in long.values()), long
    assert all("immutable" in get(server, path)[1]["cache-control"] for path in ARCHIVE_PAGES)


def test_server_agrees_with_the_headers_file(server: int, site: Path):
    """Every rule of ``_headers`` is what the server sends for that URL."""
    rules = parse_headers((site / "_headers").read_text(encoding="utf-8"))
    sent = {}
    for url in rules:
        _, headers, _ = get(server, url)
        sent[url] = {
            "Content-Type": headers["content-type"],
            "Cache-Control": headers["cache-control"],
        }
    assert rules == sent


def test_headers_file_is_not_served(server: int):
    """The host's own ``_headers`` file stays private."""
    assert 404 == get(server, "/_headers")[0]
