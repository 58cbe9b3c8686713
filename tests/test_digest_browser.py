"""The issue in a real browser with images blocked: headless Chromium at 600 and 375 px, every
image answered with a 404 by a local server, as a mail client that blocks images shows it."""

from __future__ import annotations

import html
import http.server
import json
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import HEADLESS, list_config, load_folder

from publisher.digest.issue import IssueWeek
from publisher.digest.render import make_digest

SHARED = Path(__file__).resolve().parents[2] / "shared"
POWER_APPS = SHARED / "corpus" / "microsoft-power-apps" / "_news"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

MEASURE = """
<script>
window.addEventListener("load", () => {
  const view = window.innerWidth;
  const overflowing = [...document.body.querySelectorAll("*")]
    .filter((el) => { const r = el.getBoundingClientRect();
      return r.width > 0 && (r.left < -0.5 || r.right > view + 0.5); })
    .map((el) => el.tagName + "." + el.className);
  const images = [...document.images].map((img) => {
    const link = img.closest("a");
    const box = img.closest("td");
    return {
      failed: img.complete && img.naturalWidth === 0,
      width: img.getBoundingClientRect().width,
      in_paragraph: img.closest("p") !== null,
      underlined: [img, link].some((el) => el &&
        getComputedStyle(el).textDecorationLine.includes("underline")),
      box_colour: getComputedStyle(box).backgroundColor,
    };
  });
  parent.document.title = JSON.stringify({view: view,
    scroll: document.documentElement.scrollWidth, overflowing: overflowing, images: images});
});
</script>
"""


class NotFound(http.server.BaseHTTPRequestHandler):
    """Every image request gets a 404, quickly: images blocked, not a slow network."""

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def blocked_images() -> Iterator[str]:
    """The base URL of a local server that answers every request with 404."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def issue(blocked_images: str) -> str:
    """The real corpus's 2020-W47 issue (Wednesday weeks), its images pointed at the 404s."""
    if not POWER_APPS.is_dir():
        pytest.skip("../shared/corpus/microsoft-power-apps/_news is absent")
    config = list_config(week_starts="wednesday")
    rendered = make_digest(config, load_folder(POWER_APPS).articles, IssueWeek(2020, 47, 3))
    assert len(re.findall(r"<img ", rendered.html)) == len(rendered.digest.stories)
    return re.sub(
        r'(<img [^>]*src=")https://[^"]*', rf"\1{blocked_images}/image.jpg", rendered.html
    )


def chromium(page: Path, scratch: Path, *flags: str) -> str:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        *HEADLESS,
        f"--user-data-dir={scratch / 'profile'}",
        "--virtual-time-budget=5000",
        *flags,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def framed(issue: str, width: int, scratch: Path, script: str = "") -> Path:
    """The issue in a ``width`` px frame (a headless window is never narrower than 500 px)."""
    source = html.escape(issue.replace("</body>", f"{script}</body>"), quote=True)
    page = scratch / f"issue-{width}.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>not measured</title></head>"
        f'<body style="margin:0"><iframe style="border:0;width:{width}px;height:4000px" '
        f'srcdoc="{source}"></iframe></body></html>',
        encoding="utf-8",
    )
    return page


@pytest.mark.parametrize("width", [600, 375])
def test_blocked_images_leave_a_calm_layout(issue: str, width: int, tmp_path: Path) -> None:
    """Every image fails, yet nothing overflows the screen, no alt text is underlined or sits
    in a paragraph, and every picture's box is tinted rather than empty."""
    dom = chromium(framed(issue, width, tmp_path, MEASURE), tmp_path, "--dump-dom")
    figures = json.loads(html.unescape(dom.split("<title>", 1)[1].split("</title>", 1)[0]))
    images = figures["images"]
    expected = (width, width, [], len(images), [], [])
    assert expected == (
        figures["view"],
        figures["scroll"],
        figures["overflowing"],
        sum(image["failed"] for image in images),
        [image for image in images if image["underlined"] or image["in_paragraph"]],
        [image for image in images if image["box_colour"] in ("rgba(0, 0, 0, 0)", "")],
    )
    assert issue.count("<img ") == len(images)


@pytest.mark.parametrize("width", [600, 375])
def test_blocked_images_screenshot(issue: str, width: int, tmp_path: Path) -> None:
    """A screenshot of the framed issue is taken at each width (kept for a person to look at
    with --basetemp)."""
    shot = tmp_path / f"blocked-{width}.png"
    chromium(
        framed(issue, width, tmp_path), tmp_path, "--window-size=800,2600", f"--screenshot={shot}"
    )
    header = shot.read_bytes()[:24]
    assert (b"\x89PNG", (800, 2600)) == (header[:4], struct.unpack(">II", header[16:24]))
