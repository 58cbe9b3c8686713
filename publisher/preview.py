"""The only door to Chromium: a screenshot of the newsletter as a browser shows it."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from publisher.errors import PreviewError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PREVIEW_WIDTH = 600
"""The email's container width: the screenshot shows the issue as a desktop client does."""


def find_browser() -> str:
    """The first Chromium on ``PATH``; raises :class:`PreviewError` when there is none."""
    found = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if found is None:
        raise PreviewError(f"--preview needs Chromium; none of {', '.join(BROWSERS)} is on PATH")
    return found


def screenshot(browser: str, html: str, target: Path) -> None:
    """Write a PNG of ``html`` to ``target``, :data:`PREVIEW_WIDTH` wide and as tall as the page.

    Two headless runs: one measures the page height, one shoots the whole page.
    """
    probe = "<script>document.title='height:'+document.documentElement.scrollHeight</script>"
    with tempfile.TemporaryDirectory(prefix="publisher-preview-") as scratch:
        page = Path(scratch) / "issue.html"
        page.write_text(html.replace("</body>", f"{probe}</body>"), encoding="utf-8")
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-sync",
            "--disable-component-update",
            f"--user-data-dir={scratch}/profile",
        ]
        try:
            dom = _run([browser, *flags, "--window-size=600,800", "--dump-dom", page.as_uri()])
            found = re.search(r"<title>height:(\d+)</title>", dom)
            height = min(int(found[1]), 16_000) if found else 3_000
            target.parent.mkdir(parents=True, exist_ok=True)
            size = f"--window-size={PREVIEW_WIDTH},{height}"
            _run([browser, *flags, size, f"--screenshot={target.resolve()}", page.as_uri()])
        except (OSError, subprocess.SubprocessError) as error:
            raise PreviewError(f"Chromium failed: {error}", field="--preview") from None
    if not target.is_file():
        raise PreviewError(f"Chromium wrote no screenshot at {target}", field="--preview")


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout
