"""The README's configuration examples are valid, checked, and need no network."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import ROOT

from publisher.cli import main

BLOCKS = re.findall(r"^```toml\n(.*?)^```", (ROOT / "README.md").read_text("utf-8"), re.M | re.S)


def _contents(document: dict[str, Any]) -> list[str]:
    """Every content folder the document names, the default's included."""
    tables = [document, *document.get("sites", {}).values()]
    return [table.get("content", document.get("content", "content/_news")) for table in tables]


def test_readme_has_toml_examples() -> None:
    """The README shows its configuration as TOML blocks (the test below checks each)."""
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{n}" for n in range(len(BLOCKS))])
def test_readme_config_example_checks(block: str, tmp_path: Path) -> None:
    """Each block parses, passes `publisher check` in a folder of its own, turns on no public
    WebSub hub and names no templates folder the reader does not have."""
    document = tomllib.loads(block)
    (tmp_path / "config.toml").write_text(block, encoding="utf-8")
    for folder in _contents(document):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(next((ROOT / "content" / "_news").glob("*.md")), tmp_path / folder)
    result = CliRunner().invoke(main, ["check", "--config", str(tmp_path / "config.toml")])
    assert 0 == result.exit_code, result.output + result.stderr
    assert "" == document.get("websub", {}).get("hub", "")
    assert "" == document.get("digest", {}).get("templates", "")
