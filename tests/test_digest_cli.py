"""``publisher digest`` from the shell, and the issue in a real browser (headless Chromium)."""

from __future__ import annotations

import html
import json
import shutil
import socket
import struct
import subprocess
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import HEADLESS

from publisher.cli import common, main
from publisher.cli.digest import EXIT_EMPTY_WEEK, EXIT_NO_BROWSER
from publisher.lock import job_lock

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS_NEWS = SHARED / "corpus" / "microsoft-power-apps" / "_news"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SAMPLE_FILES = [
    "2026-W47.eml",
    "2026-W47.html",
    "2026-W47.txt",
    "feed.json",
    "feed.xml",
    "index.html",
    "latest.html",
]
ARCHIVE_NAME = "2026-11-23-publisher-sample-news-2026-w47.html"

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def write_config(folder: Path, *, smtp: str = "") -> Path:
    """A config.toml like the repository's, writing into ``folder``."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('content = "content/_news"', f"content = {str(ROOT / 'content/_news')!r}")
    text = text.replace('templates = "templates/email"\n', "")
    if smtp:
        text = text.split("[digest.smtp]")[0] + smtp
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["digest", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))


def test_writes_the_three_files_and_the_archive_page(tmp_path: Path) -> None:
    """--week 2026-W47: .html, .txt, .eml and the feeds under digest.out and a page under
    digest.archive."""
    code, out, err = run("--config", str(write_config(tmp_path)), "--week", "2026-W47")
    expected = (0, "", SAMPLE_FILES, [ARCHIVE_NAME])
    assert expected == (
        code,
        err,
        listing(tmp_path / "newsletters"),
        listing(tmp_path / "_newsletters"),
    )
    assert out.startswith("2026-W47: 15 stories in 5 sections; wrote ")


def test_rerun_is_byte_identical(tmp_path: Path) -> None:
    """Two runs into two folders give the same bytes."""
    first, second = tmp_path / "one", tmp_path / "two"
    config = str(write_config(tmp_path))
    run("--config", config, "--week", "2026-W47", "--out", str(first))
    run("--config", config, "--week", "2026-W47", "--out", str(second))
    expected = [(first / name).read_bytes() for name in SAMPLE_FILES]
    assert expected == [(second / name).read_bytes() for name in SAMPLE_FILES]


def test_corpus_week(tmp_path: Path) -> None:
    """The real corpus's 2020-W47 gives an issue too."""
    if not CORPUS_NEWS.is_dir():
        pytest.skip("../shared/corpus/microsoft-power-apps/_news is absent")
    config = str(write_config(tmp_path))
    code, _, err = run("--config", config, "--week", "2020-W47", "--content", str(CORPUS_NEWS))
    names = ["2020-W47.eml", "2020-W47.html", "2020-W47.txt", "feed.json", "feed.xml"]
    expected = (0, "", [*names, "index.html", "latest.html"])
    assert expected == (code, err, listing(tmp_path / "newsletters"))


def test_empty_week_writes_nothing(tmp_path: Path) -> None:
    """No articles that week: one line, exit 5, no file written, nothing sent."""
    config = str(write_config(tmp_path))
    code, out, err = run("--config", config, "--week", "2026-W10", "--send")
    expected = (
        EXIT_EMPTY_WEEK,
        "2026-W10: no articles selected for 2\N{EN DASH}8 March 2026; nothing written\n",
    )
    assert expected == (code, out)
    nothing = ("", False, False)
    assert nothing == (
        err,
        (tmp_path / "newsletters").exists(),
        (tmp_path / "_newsletters").exists(),
    )


@pytest.mark.parametrize("week", ["2026-47", "2026-W54", "9999-W52", "2026-02-30"])
def test_bad_week_is_a_usage_error(tmp_path: Path, week: str) -> None:
    """A malformed week is one line on stderr and exit 2."""
    code, _, err = run("--config", str(write_config(tmp_path)), "--week", week)
    expected = (2, 1)
    assert expected == (code, len(err.splitlines()))
    assert err.startswith("publisher: error: --week: ")


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 25), (0, "2026-W47")),
        (date(2026, 11, 29), (0, "2026-W47")),
        (date(2026, 12, 2), (EXIT_EMPTY_WEEK, "2026-W48")),
    ],
)
def test_week_alone_means_the_last_complete_week(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, today: date, expected: tuple[int, str]
) -> None:
    """--week with no value means the last Monday-to-Sunday week before the (injected) day."""
    monkeypatch.setattr(common, "today", lambda zone: today)
    code, out, err = run("--config", str(write_config(tmp_path)), "--week", "--json")
    assert expected == (code, json.loads(out)["week"]), err


def test_missing_unsubscribe_setting_is_a_config_error(tmp_path: Path) -> None:
    """Without an unsubscribe link there is no issue: exit 2 and the key named."""
    path = write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    for key in ("unsubscribe_url", "unsubscribe_mailto"):
        text = "\n".join(line for line in text.splitlines() if not line.startswith(key))
    path.write_text(text, encoding="utf-8")
    code, _, err = run("--config", str(path), "--week", "2026-W47")
    expected = (
        2,
        "publisher: error: digest: set unsubscribe_url or unsubscribe_mailto:"
        " every issue needs an unsubscribe link\n",
    )
    assert expected == (code, err)


def test_json_report(tmp_path: Path) -> None:
    """--json prints the week, counts and the files written."""
    code, out, _ = run("--config", str(write_config(tmp_path)), "--week", "2026-W47", "--json")
    report = json.loads(out)
    expected = (0, "2026-W47", 15, 8, [])
    assert expected == (
        code,
        report["week"],
        report["stories"],
        len(report["files"]),
        report["sent_to"],
    )


def test_json_report_names_the_window_lead_and_sections(tmp_path: Path) -> None:
    """--json on a real week: its first and last day, the lead with the section it was filed
    under, and each section's stories in order, links as the article files give them."""
    if not CORPUS_NEWS.is_dir():
        pytest.skip("../shared/corpus/microsoft-power-apps/_news is absent")
    config = str(write_config(tmp_path))
    code, out, _ = run(
        "--config", config, "--week", "2020-W39", "--content", str(CORPUS_NEWS), "--json"
    )
    report = json.loads(out)
    lead = report["lead"]
    shown = [lead["url"]] + [s["url"] for section in report["sections"] for s in section["stories"]]
    expected = (
        0,
        ("2020-09-21", "2020-09-27"),
        "Teams integration",
        ["Common Data Service", "Model-driven apps", "Teams integration", "More news"],
        [],
        report["stories"],
    )
    assert expected == (
        code,
        (report["start"], report["end"]),
        lead["topic"],
        [section["topic"] for section in report["sections"]],
        [url for url in shown if "utm_" in url],
        len(set(shown)),
    )
    assert lead["title"].startswith("As \N{LEFT SINGLE QUOTATION MARK}low-code")


def test_quiet_prints_nothing_but_problems(tmp_path: Path) -> None:
    """-q: a written issue and an empty week print nothing; the exit code tells them apart."""
    config = str(write_config(tmp_path))
    written = run("--config", config, "--week", "2026-W47", "-q")
    empty = run("--config", config, "--week", "2026-W10", "-q")
    assert ((0, "", ""), (EXIT_EMPTY_WEEK, "", "")) == (written, empty)


def failing(tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Set up one way for `digest` to fail; the arguments that make it fail."""
    config = write_config(tmp_path)
    args = ["--config", str(config), "--week", "2026-W47", "--json"]
    text = config.read_text(encoding="utf-8")
    if case == "unknown key":
        config.write_text(text.replace("[digest]\n", "[digest]\nper_topik = 3\n"))
    elif case == "templates":
        config.write_text(text.replace("[digest]\n", '[digest]\ntemplates = "templatez"\n'))
    elif case == "bad week":
        args[3] = "2026-W60"
    elif case == "usage":
        args += ["--wait", "soon"]
    elif case == "empty week":
        args[3] = "2026-W10"
    elif case == "not writable":
        (tmp_path / "newsletters").write_text("a file where a folder should be")
    elif case == "send":
        smtp = f'[digest.smtp]\nhost = "127.0.0.1"\nport = {closed_port()}\ntls = "none"\n'
        config.write_text(text.split("[digest.smtp]")[0] + smtp)
        args += ["--send"]
    elif case == "preview":
        browser = tmp_path / "bin" / "chromium"
        browser.parent.mkdir()
        browser.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
        browser.chmod(0o755)
        monkeypatch.setenv("PATH", str(browser.parent))
        args += ["--preview", str(tmp_path / "p.png")]
    return args


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("case", "code", "error"),
    [
        ("unknown key", 2, "digest.per_topik: unknown key"),
        ("templates", 2, "digest.templates: no such folder: "),
        ("bad week", 2, "--week: 2026 has no week 60"),
        ("usage", 2, "Invalid value for '--wait'"),
        ("empty week", 5, "no articles selected for "),
        ("not writable", 3, ""),
        ("send", 6, "not sent: 127.0.0.1:"),
        ("preview", 7, "--preview: Chromium failed: "),
    ],
)
def test_json_on_every_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, code: int, error: str
) -> None:
    """--json prints exactly one JSON object whatever goes wrong: the error and the exit code
    (and the week and files written, once known); the one-line error still goes to stderr."""
    args = failing(tmp_path, case, monkeypatch)
    result = CliRunner().invoke(main, ["digest", *args])
    report = json.loads(result.stdout)
    assert (code, code) == (result.exit_code, report["exit"]), result.stderr
    assert error in report["error"], report["error"]
    if code in (6, 7):
        assert f"{tmp_path}/newsletters/2026-W47.eml" in report["files"]
    if code != 5:
        assert error in result.stderr


def test_json_when_the_lock_is_held(tmp_path: Path) -> None:
    """Another run holding the folder's lock past --wait: exit 4, and still one JSON object."""
    config = str(write_config(tmp_path))
    with job_lock(tmp_path / ".publisher-cache", tmp_path / "newsletters", 0):
        code, out, _ = run("--config", config, "--week", "2026-W47", "--json", "--wait", "0")
    report = json.loads(out)
    assert (4, 4, "2026-W47") == (code, report["exit"], report["week"])


def test_help_documents_exit_codes() -> None:
    """--help lists every exit code the command uses."""
    result = CliRunner().invoke(main, ["digest", "--help"])
    for code in ("0 written", "2 bad config", "3 output", "4 output locked", "5 no articles",
                 "6 sending failed", "7 --preview"):  # fmt: skip
        assert code in " ".join(result.output.split()), code


def test_preview_without_chromium_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--preview with no Chromium on PATH: one line, exit 7, nothing written."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    config = str(write_config(tmp_path))
    code, _, err = run("--config", config, "--week", "2026-W47", "--preview", "p.png")
    expected = (EXIT_NO_BROWSER, 1, False)
    assert expected == (code, len(err.splitlines()), (tmp_path / "newsletters").exists())
    assert "Chromium" in err


def test_preview_failing_after_writing_exits_7(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chromium failing comes after the issue is written: one line, exit 7, files kept."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    (bin_folder / "chromium").write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    (bin_folder / "chromium").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_folder))
    config = str(write_config(tmp_path))
    code, _, err = run("--config", config, "--week", "2026-W47", "--preview", "p.png")
    expected = (EXIT_NO_BROWSER, 1, SAMPLE_FILES)
    assert expected == (code, len(err.splitlines()), listing(tmp_path / "newsletters"))
    assert err.startswith("publisher: error: --preview: Chromium failed: ")


@needs_chromium
def test_preview_writes_a_600px_screenshot(tmp_path: Path) -> None:
    """--preview writes a PNG 600 px wide, as tall as the issue."""
    shot = tmp_path / "preview.png"
    code, _, err = run(
        "--config", str(write_config(tmp_path)), "--week", "2026-W47", "--preview", str(shot)
    )
    header = shot.read_bytes()[:24]
    width, height = struct.unpack(">II", header[16:24])
    expected = (0, b"\x89PNG", 600)
    assert expected == (code, header[:4], width), err
    assert height > 1500


# A real browser --------------------------------------------------------------------------------

MEASURE = """
<script>
window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {text: el.textContent.trim().slice(0, 40), left: r.left, right: r.right,
            width: r.width, height: r.height}; };
  const parts = [...document.querySelectorAll("h1, h2, h3, .footer, .masthead")].map(box);
  parent.document.title = JSON.stringify({scrollWidth: document.documentElement.scrollWidth,
    viewport: window.innerWidth, parts: parts});
});
</script>
"""


def measure(issue: str, width: int, scratch: Path) -> dict[str, object]:
    """Show ``issue`` in a ``width`` px frame in headless Chromium; return the layout figures.

    A frame, because a headless window is never narrower than 500 px; srcdoc keeps the frame
    same-origin, so its script can hand the figures to the page that --dump-dom prints.
    """
    assert CHROMIUM is not None
    framed = html.escape(issue.replace("</body>", MEASURE + "</body>"), quote=True)
    page = scratch / f"measure-{width}.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>not measured</title></head>"
        f'<body style="margin:0"><iframe style="border:0;width:{width}px;height:3000px" '
        f'srcdoc="{framed}"></iframe></body></html>',
        encoding="utf-8",
    )
    command = [
        CHROMIUM,
        *HEADLESS,
        f"--user-data-dir={scratch / f'profile-{width}'}",
        "--window-size=800,3000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    figures: dict[str, object] = json.loads(html.unescape(title))
    return figures


@needs_chromium
@pytest.mark.parametrize("width", [600, 375])
def test_issue_fits_the_screen_in_chromium(tmp_path: Path, width: int) -> None:
    """At 600 and 375 px: no horizontal scrolling, every heading and the footer on screen."""
    run("--config", str(write_config(tmp_path)), "--week", "2026-W47")
    issue = (tmp_path / "newsletters" / "2026-W47.html").read_text(encoding="utf-8")
    figures = measure(issue, width, tmp_path)
    viewport = figures["viewport"]
    assert width == viewport
    parts = figures["parts"]
    assert isinstance(parts, list)
    off_screen = [
        part
        for part in parts
        if part["width"] <= 0 or part["height"] <= 0 or part["left"] < 0
        or part["right"] > viewport
    ]  # fmt: skip
    expected = (viewport, [], 1 + 5 + 15 + 1)  # masthead, topics, stories, footer
    assert expected == (figures["scrollWidth"], off_screen, len(parts))
