"""Several sites in one config: each built, checked and reported on its own, never the others."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner, Result

from publisher.cli import main
from publisher.config import load_config
from publisher.sites import load_sites, merged_tables

Validate = Callable[[Path, str | None], tuple[list[str], list[str]]]


def sites_config(tmp_path: Path, corpus: Path, *, ai_content: str | None = None) -> Path:
    """A config with the Power Apps and AI corpora as two sites; returns its path."""
    powerapps = corpus / "microsoft-power-apps" / "_news"
    ai = ai_content or str(corpus / "artificial-intelligence" / "_news")
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[site]
title = "Family News"
description = "One engine, several sites"

[selection]
min_quality = 0
max_drop = 1.0

[sites.powerapps]
content = "{powerapps}"
out = "public/powerapps"
[sites.powerapps.site]
title = "Power Apps News"
url = "https://example.org/powerapps/"
[sites.powerapps.digest]
out = "newsletters/powerapps"
archive = "archive/powerapps"

[sites.ai]
content = "{ai}"
out = "public/ai"
[sites.ai.site]
url = "https://example.org/ai/"
[sites.ai.digest]
out = "newsletters/ai"
archive = "archive/ai"
""",
        encoding="utf-8",
    )
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def mtimes(folder: Path) -> dict[str, int]:
    return {str(path): path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


def test_sites_take_defaults_and_merge_tables(tmp_path: Path, corpus: Path) -> None:
    """A site's table replaces the defaults key by key; paths resolve against the config file."""
    sites = load_sites(sites_config(tmp_path, corpus))
    powerapps, ai = sites["powerapps"], sites["ai"]
    expected = (
        ["powerapps", "ai"],
        ("Power Apps News", "One engine, several sites"),
        ("Family News", 0),
        str(tmp_path / "public" / "ai"),
        str(tmp_path / ".publisher-cache" / "ai"),
    )
    assert expected == (
        list(sites),
        (powerapps.site.title, powerapps.site.description),
        (ai.site.title, ai.selection.min_quality),
        ai.out,
        ai.cache_dir,
    )


def test_merged_tables_keep_other_keys() -> None:
    """Tables merge recursively; any other value is replaced."""
    defaults = {"out": "feeds", "site": {"title": "A", "language": "en"}}
    assert {"out": "x", "site": {"title": "B", "language": "en"}} == merged_tables(
        defaults, {"out": "x", "site": {"title": "B"}}
    )


def test_config_without_sites_is_one_site(tmp_path: Path) -> None:
    """A config without [sites] is one unnamed site, exactly as load_config reads it."""
    path = tmp_path / "config.toml"
    path.write_text('out = "public"\n', encoding="utf-8")
    assert {"": load_config(path)} == load_sites(path)


def test_build_every_site(tmp_path: Path, corpus: Path, validate: Validate) -> None:
    """`build` builds both real corpora; each feed parses and passes the W3C validator."""
    config = sites_config(tmp_path, corpus)
    result = run("build", "--config", str(config))
    assert 0 == result.exit_code, result.output + result.stderr
    assert ["ai", "powerapps"] == sorted(line.split(":")[0] for line in result.stdout.splitlines())
    for name in ("powerapps", "ai"):
        out = tmp_path / "public" / name
        parsed = feedparser.parse((out / "rss.xml").read_bytes())
        assert not parsed.bozo and parsed.entries, name
        for feed in ("rss.xml", "atom.xml"):
            errors, _ = validate(out / feed, f"https://example.org/{name}/{feed}")
            assert [] == errors, (name, feed)


def test_build_one_site_leaves_the_other_alone(tmp_path: Path, corpus: Path) -> None:
    """`build --site ai` touches no file of the Power Apps site, nor its store."""
    config = sites_config(tmp_path, corpus)
    assert 0 == run("build", "--config", str(config)).exit_code
    before = mtimes(tmp_path / "public" / "powerapps") | mtimes(
        tmp_path / ".publisher-cache" / "powerapps"
    )
    (tmp_path / "public" / "ai" / "rss.xml").unlink()
    result = run("build", "--config", str(config), "--site", "ai")
    after = mtimes(tmp_path / "public" / "powerapps") | mtimes(
        tmp_path / ".publisher-cache" / "powerapps"
    )
    assert (0, before) == (result.exit_code, after)
    assert (tmp_path / "public" / "ai" / "rss.xml").is_file()
    assert result.stdout.startswith("ai: ") and "powerapps" not in result.output


def test_broken_site_does_not_stop_the_others(tmp_path: Path, corpus: Path) -> None:
    """A site whose content folder is missing reports its own line; the other still builds."""
    config = sites_config(tmp_path, corpus, ai_content=str(tmp_path / "missing"))
    result = run("build", "--config", str(config))
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert 1 == len(errors) and errors[0].startswith("ai: publisher: error: ")
    assert 2 <= result.exit_code
    assert (tmp_path / "public" / "powerapps" / "rss.xml").is_file()
    assert any(line.startswith("powerapps: ") for line in result.stdout.splitlines())


def test_json_is_one_object_per_site(tmp_path: Path, corpus: Path) -> None:
    """`--json` prints one object, a report by site name, each with its exit code."""
    config = sites_config(tmp_path, corpus, ai_content=str(tmp_path / "missing"))
    result = run("check", "--config", str(config), "--json")
    document = json.loads(result.stdout)
    assert ["powerapps", "ai"] == list(document)
    assert 0 == document["powerapps"]["exit"] and document["powerapps"]["articles"] > 0
    assert document["ai"]["exit"] == result.exit_code != 0 and document["ai"]["error"]


def test_unknown_site_is_a_usage_error(tmp_path: Path, corpus: Path) -> None:
    """`--site` with a name the config lacks: one line, exit 2, nothing built."""
    result = run("build", "--config", str(sites_config(tmp_path, corpus)), "--site", "nope")
    assert (2, 1) == (result.exit_code, len(result.stderr.splitlines()))
    assert "nope" in result.stderr and not (tmp_path / "public").exists()


def test_sites_may_not_share_an_output_folder(tmp_path: Path, corpus: Path) -> None:
    """Two sites writing one folder would undo each other: exit 2 naming the key."""
    config = sites_config(tmp_path, corpus)
    text = config.read_text(encoding="utf-8").replace('"public/ai"', '"public/powerapps"')
    config.write_text(text, encoding="utf-8")
    result = run("build", "--config", str(config))
    assert 2 == result.exit_code
    assert "sites.powerapps.out: overlaps sites.ai.out" in result.stderr


@pytest.mark.parametrize("command", ["serve"])
def test_serve_needs_a_site_when_there_are_several(
    tmp_path: Path, corpus: Path, command: str
) -> None:
    """`serve` previews one site: with several, --site must name it."""
    result = run(command, "--config", str(sites_config(tmp_path, corpus)))
    assert 2 == result.exit_code and "--site" in result.stderr
