"""Precompressed twins, the _headers file and file times: what a server needs from a build."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import brotli
import pytest

from publisher.config import load_config
from publisher.errors import ConfigError
from publisher.jobs import run_build
from publisher.output import TEMP_SUFFIX

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "microsoft-power-apps" / "_news"
SETTLED_NS = 1_700_000_000 * 10**9
"""A fixed file time long before any test runs."""
DECODERS = {".gz": gzip.decompress, ".br": brotli.decompress}


def make_site(folder: Path, output: str = "", page_size: int = 10) -> Path:
    """A config over a copy of the Power Apps corpus, with small archive pages and ``output``
    as its ``[output]`` table."""
    content = folder / "news"
    if not content.exists():
        shutil.copytree(CORPUS, content)
    config = folder / "site.toml"
    config.write_text(
        f'content = "news"\nout = "out"\ncache_dir = "cache"\n'
        f'[site]\nurl = "https://example.org/feeds/"\n'
        f"[archive]\npage_size = {page_size}\n[output]\n{output}",
        encoding="utf-8",
    )
    return config


def build(config: Path) -> None:
    """One build, which must report no problems."""
    outcome = run_build(load_config(config))
    assert outcome.loaded is None or () == outcome.loaded.problems


def published(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` by relative path."""
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def twin_problems(out: Path, suffixes: tuple[str, ...] = (".gz", ".br")) -> list[str]:
    """Files without their twins, twins without their file, and twins that do not decode to
    their file's exact bytes."""
    files = published(out)
    problems = []
    for path, data in files.items():
        if path.endswith(TEMP_SUFFIX):
            problems.append(f"{path}: temporary file left")
        elif suffix := next((s for s in DECODERS if path.endswith(s)), None):
            source = files.get(path[: -len(suffix)])
            if source is None:
                problems.append(f"{path}: twin without its file")
            elif DECODERS[suffix](data) != source:
                problems.append(f"{path}: twin disagrees with its file")
        elif path != "_headers":
            problems += [f"{path}: no {s} twin" for s in suffixes if f"{path}{s}" not in files]
    return problems


def edit_one_remove_another(content: Path) -> None:
    """Change one article's title and remove another article."""
    first, second = sorted(content.glob("*.md"))[:2]
    text = first.read_text(encoding="utf-8")
    first.write_text(text.replace('title: "', 'title: "Edited ', 1), encoding="utf-8")
    second.unlink()


def test_every_file_has_twins_that_decode_to_its_bytes(tmp_path: Path):
    """gzip and brotli twins beside every published file, each its file's exact bytes."""
    config = make_site(tmp_path, 'precompress = ["gzip", "brotli"]\nheaders = true\n')
    build(config)
    files = published(tmp_path / "out")
    assert any("/archive/" in path or path.startswith("archive/") for path in files)
    assert [] == twin_problems(tmp_path / "out")
    assert "_headers.gz" not in files


def test_twins_follow_an_edited_and_a_removed_article(tmp_path: Path):
    """After an edit and a removal, every twin still decodes to its file's new bytes."""
    config = make_site(tmp_path, 'precompress = ["gzip", "brotli"]\n')
    build(config)
    before = published(tmp_path / "out")
    edit_one_remove_another(tmp_path / "news")
    build(config)
    after = published(tmp_path / "out")
    assert before != after
    assert [] == twin_problems(tmp_path / "out")


def test_twins_are_deterministic_and_nameless(tmp_path: Path):
    """A gzip twin has no time and no file name in its header: rebuilt, the same bytes."""
    config = make_site(tmp_path, 'precompress = ["gzip"]\n')
    build(config)
    twin = (tmp_path / "out" / "rss.xml.gz").read_bytes()
    flags, mtime = twin[3], twin[4:8]
    assert (0, b"\0\0\0\0") == (flags, mtime)
    first = published(tmp_path / "out")
    shutil.rmtree(tmp_path / "out")
    shutil.rmtree(tmp_path / "cache")
    build(config)
    assert first == published(tmp_path / "out")


def test_precompress_off_writes_the_same_bytes_as_before(tmp_path: Path):
    """Without precompress no twin is written, and the files are those a build with twins
    writes beside them."""
    plain = make_site(tmp_path / "plain")
    build(plain)
    twinned = make_site(tmp_path / "twinned", 'precompress = ["gzip"]\n')
    build(twinned)
    files = published(tmp_path / "plain" / "out")
    assert not any(path.endswith((".gz", ".br")) for path in files)
    with_twins = published(tmp_path / "twinned" / "out")
    assert files == {path: data for path, data in with_twins.items() if path in files}
    assert set(with_twins) == {*files, *(f"{path}.gz" for path in files)}


def test_turning_twins_off_removes_them_and_on_adds_them_to_kept_pages(tmp_path: Path):
    """Twins go when precompress is turned off; turned on again, every file gets them, the
    archive pages a build keeps as they are included."""
    config = make_site(tmp_path)
    build(config)
    make_site(tmp_path, 'precompress = ["gzip"]\n')
    build(config)
    assert [] == twin_problems(tmp_path / "out", (".gz",))
    make_site(tmp_path)
    build(config)
    assert not any(path.endswith(".gz") for path in published(tmp_path / "out"))
    make_site(tmp_path, 'precompress = ["gzip"]\n')
    build(config)
    assert [] == twin_problems(tmp_path / "out", (".gz",))


def test_unchanged_files_and_their_twins_keep_their_modification_time(tmp_path: Path):
    """A build after an edit rewrites only files whose bytes change: the others, twins
    included, keep their modification times, so Last-Modified stays true."""
    config = make_site(tmp_path, 'precompress = ["gzip"]\n')
    build(config)
    out = tmp_path / "out"
    before = published(out)
    for path in before:
        os.utime(out / path, ns=(SETTLED_NS, SETTLED_NS))
    edit_one_remove_another(tmp_path / "news")
    build(config)
    after = published(out)
    same = [path for path, data in after.items() if before.get(path) == data]
    changed = [path for path in after if path not in same]
    assert same and changed
    assert {path: SETTLED_NS for path in same} == {
        path: (out / path).stat().st_mtime_ns for path in same
    }
    assert all((out / path).stat().st_mtime_ns != SETTLED_NS for path in changed)


def test_headers_file_names_types_and_cache_lifetimes(tmp_path: Path):
    """``_headers`` gives each published file its type; archive pages a long, immutable life."""
    config = make_site(tmp_path, "headers = true\nmax_age = 600\n")
    build(config)
    rules = parse_headers((tmp_path / "out" / "_headers").read_text(encoding="utf-8"))
    expected = {
        "/rss.xml": ("application/rss+xml", "public, max-age=600"),
        "/atom.xml": ("application/atom+xml", "public, max-age=600"),
        "/feed.json": ("application/feed+json", "public, max-age=600"),
        "/feeds.opml": ("text/x-opml", "public, max-age=600"),
        "/index.html": ("text/html; charset=utf-8", "public, max-age=600"),
        "/": ("text/html; charset=utf-8", "public, max-age=600"),
        "/archive/1.xml": ("application/rss+xml", "public, max-age=604800, immutable"),
        "/archive/1.atom.xml": ("application/atom+xml", "public, max-age=604800, immutable"),
        "/archive/1.json": ("application/feed+json", "public, max-age=604800, immutable"),
    }
    assert expected == {
        url: (rules[url]["Content-Type"], rules[url]["Cache-Control"]) for url in expected
    }
    files = {f"/{path}" for path in published(tmp_path / "out") if path != "_headers"}
    assert files <= set(rules)


def test_headers_file_is_pruned_when_turned_off(tmp_path: Path):
    """``_headers`` is one of publisher's files: turned off, it is removed."""
    config = make_site(tmp_path, "headers = true\n")
    build(config)
    assert (tmp_path / "out" / "_headers").is_file()
    make_site(tmp_path)
    build(config)
    assert not (tmp_path / "out" / "_headers").exists()


def parse_headers(text: str) -> dict[str, dict[str, str]]:
    """A ``_headers`` file as {URL: {header: value}}; a URL given twice fails the test."""
    rules: dict[str, dict[str, str]] = {}
    url = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith(" "):
            assert line not in rules
            url, rules[line] = line, {}
            continue
        name, _, value = line.strip().partition(": ")
        assert name not in rules[url]
        rules[url][name] = value
    return rules


@pytest.mark.parametrize(
    ("table", "field", "reason"),
    [
        ('precompress = ["zstd"]', "output.precompress", "unknown encoding 'zstd'"),
        ("max_age = 0", "output.max_age", "must be 1 to 3600 seconds"),
        ("max_age = 3601", "output.max_age", "must be 1 to 3600 seconds"),
        ('headers = "yes"', "output.headers", "expected true or false"),
    ],
)
def test_output_settings_are_checked(tmp_path: Path, table: str, field: str, reason: str):
    """A bad ``[output]`` value is one config error naming its key."""
    config = make_site(tmp_path, f"{table}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert field in str(raised.value)
    assert reason in str(raised.value)


def test_output_defaults(tmp_path: Path):
    """No ``[output]`` table: no twins, no ``_headers``, 15 minutes."""
    config = load_config(make_site(tmp_path))
    assert ((), False, 900) == (
        config.output.precompress,
        config.output.headers,
        config.output.max_age,
    )
    assert json.dumps(list(config.output.precompress)) == "[]"
