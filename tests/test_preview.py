"""The Chromium door: a missing or failing browser is one PreviewError, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.errors import PreviewError
from publisher.preview import find_browser, screenshot

PAGE = "<html><body><p>x</p></body></html>"


def fake_browser(folder: Path, script: str, name: str = "fake-chromium") -> str:
    """An executable that stands in for Chromium and runs ``script``."""
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def test_no_browser_on_path_is_a_preview_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty PATH: the error names every browser looked for."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PreviewError, match="none of chromium, chromium-browser, google-chrome"):
        find_browser()


def test_browser_found_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Of the known names on PATH, the first in BROWSERS is the browser."""
    monkeypatch.setenv("PATH", str(tmp_path))
    fake_browser(tmp_path, "exit 0", name="google-chrome")
    expected = fake_browser(tmp_path, "exit 0", name="chromium-browser")
    assert expected == find_browser()


def test_failing_browser_is_a_preview_error(tmp_path: Path) -> None:
    """A browser that exits non-zero: one line naming --preview."""
    browser = fake_browser(tmp_path, "exit 3")
    with pytest.raises(PreviewError, match=r"^--preview: Chromium failed: "):
        screenshot(browser, PAGE, tmp_path / "shot.png")


def test_browser_writing_nothing_is_a_preview_error(tmp_path: Path) -> None:
    """A browser that succeeds without writing the PNG is not a preview."""
    browser = fake_browser(tmp_path, "exit 0")
    target = tmp_path / "shot.png"
    with pytest.raises(PreviewError) as raised:
        screenshot(browser, PAGE, target)
    assert f"--preview: Chromium wrote no screenshot at {target}" == str(raised.value)
