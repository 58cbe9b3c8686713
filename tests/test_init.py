"""`publisher init`: a new site that builds at once, and never a file overwritten."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from publisher.cli import main
from publisher.config import Config, DigestConfig
from publisher.scaffold import CONFIG, EXAMPLE_WEEK

Validate = Callable[[Path, str | None], tuple[list[str], list[str]]]


@pytest.fixture
def inside(tmp_path: Path) -> Iterator[Path]:
    """Run in a fresh empty folder, as a new user would."""
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_then_build_writes_valid_feeds(inside: Path, validate: Validate) -> None:
    """`init && build` in an empty folder writes feeds the W3C validator accepts."""
    made = run("init")
    built = run("build")
    assert (0, 0) == (made.exit_code, built.exit_code), made.output + built.output
    for name in ("rss.xml", "atom.xml"):
        errors, _ = validate(inside / "feeds" / name, f"https://example.org/feeds/{name}")
        assert [] == errors, name


def test_init_then_digest_writes_the_example_week(inside: Path) -> None:
    """The example articles fall in EXAMPLE_WEEK: its issue is written at once."""
    assert 0 == run("init", "site").exit_code
    os.chdir(inside / "site")
    result = run("digest", "--week", EXAMPLE_WEEK)
    assert 0 == result.exit_code, result.output
    assert (inside / "site" / "newsletters" / f"{EXAMPLE_WEEK}.html").is_file()


def test_init_on_an_existing_site_changes_nothing(inside: Path) -> None:
    """A second `init` names each file it left, exits 2 and changes none of them."""
    assert 0 == run("init").exit_code
    (inside / "config.toml").write_text("# mine\n", encoding="utf-8")
    before = {path: path.read_bytes() for path in inside.rglob("*") if path.is_file()}
    result = run("init")
    after = {path: path.read_bytes() for path in inside.rglob("*") if path.is_file()}
    assert (2, before, 4) == (result.exit_code, after, len(result.stderr.splitlines()))
    assert "config.toml: exists" in result.stderr


NAMED_TABLES = ("topics", "editions")
"""Tables of tables named by the user: checked on their own."""


def _keys(cls: Any, prefix: str = "") -> set[str]:
    keys = set()
    for item in fields(cls):
        default = getattr(cls(), item.name)
        if is_dataclass(default):
            keys |= _keys(type(default), f"{prefix}{item.name}.")
        elif item.name not in NAMED_TABLES:
            keys.add(f"{prefix}{item.name}")
    return keys


def _written(table: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        if isinstance(value, dict) and key not in NAMED_TABLES:
            keys |= _written(value, f"{prefix}{key}.")
        elif key not in NAMED_TABLES:
            keys.add(f"{prefix}{key}")
    return keys


def test_init_config_names_every_key() -> None:
    """The starter config.toml holds every setting publisher knows, so none is a secret."""
    document = tomllib.loads(CONFIG)
    assert _keys(Config) == _written(document)
    assert document["topics"]
    edition_keys = {"cadence", "topics", "late_days"} | {f.name for f in fields(DigestConfig)}
    assert all(set(table) <= edition_keys for table in document["editions"].values())
    assert {"cadence", "topics", "late_days"} <= set(document["editions"]["daily"])
