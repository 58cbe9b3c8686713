"""A content folder can hold anything: every hostile file is one problem, the rest is published."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CORPUS, article_text
from helpers import load_folder

from publisher.cli import main
from publisher.content import scan
from publisher.content.parallel import parse_file
from publisher.content.scan import MAX_ARTICLE_BYTES, read_file, scan_folder
from publisher.errors import ArticleError, Problem, PublisherError, quote_path

WriteArticle = Callable[..., Path]
NOBODY = 65534


SITE_URL = "https://example.org/feeds/"


def publisher(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the command in a real process, with a timeout: a hang fails the test.

    Its output must be UTF-8: a file name that is not would show through as an encoding error.
    """
    if args[:1] == ("build",) and not (cwd / "config.toml").exists():
        # A site URL, so the only lines on stderr are the problems under test.
        args = (*args, "--site-url", SITE_URL)
    command = [sys.executable, "-m", "publisher", *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, encoding="utf-8", timeout=timeout, check=False
    )


def lines(text: str) -> list[str]:
    """The lines of an output, in order."""
    return text.splitlines()


def publisher_as_nobody(*args: str, cwd: Path) -> tuple[int, list[str]]:
    """Run the command as an unprivileged user: its exit status, then its stderr and stdout lines.

    The command runs once as root on a good article, so every module and codec it needs is
    loaded; then a forked child gives up root and runs it again: it needs no access to wherever
    Python, the project and its libraries are installed, which may be private to root.
    """
    with tempfile.TemporaryDirectory() as warm_up, pytest.MonkeyPatch.context() as patch:
        Path(warm_up, "_news").mkdir()
        Path(warm_up, "_news", "good.md").write_text(article_text())
        patch.chdir(warm_up)
        assert 0 == CliRunner().invoke(main, list(args)).exit_code
    outputs = [os.pipe(), os.pipe()]
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        status = 70
        try:
            os.chdir(cwd)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            sys.stdout = os.fdopen(outputs[0][1], "w", encoding="utf-8")
            sys.stderr = os.fdopen(outputs[1][1], "w", encoding="utf-8")
            main(list(args), prog_name="publisher")
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    for _, write_end in outputs:
        os.close(write_end)
    _, wait_status = os.waitpid(child, 0)
    texts = []
    for read_end, _ in outputs:
        with os.fdopen(read_end, encoding="utf-8") as stream:
            texts.append(stream.read())
    stdout, stderr = texts
    return os.waitstatus_to_exitcode(wait_status), lines(stderr) + lines(stdout)


# --- one line per problem, whatever the path holds ------------------------------------------


@pytest.mark.parametrize(
    "path", ["_news/2024-05-01-story.md", "_news/café 🚀.md", "_news/عربي.md", "a: b.md"]
)
def test_printable_paths_are_shown_as_they_are(path: str):
    """Names in any script, with spaces or colons, are shown unquoted."""
    assert path == quote_path(path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("_news/a\nb.md", r"'_news/a\nb.md'"),
        ("_news/a\rb\tc.md", r"'_news/a\rb\tc.md'"),
        ("_news/\x1b[31mred.md", r"'_news/\x1b[31mred.md'"),
        ("_news/bad\udcff\udce9.md", r"'_news/bad\xff\xe9.md'"),
        ("_news/evil\u202edm.txt", r"'_news/evil\u202edm.txt'"),
        ("_news/it's\n\\.md", r"'_news/it\'s\n\\.md'"),
    ],
)
def test_paths_with_controls_or_bytes_that_are_not_utf8_are_quoted(path: str, expected: str):
    """Control and bidi characters and undecodable bytes are escaped inside quotes."""
    assert expected == quote_path(path)


def test_a_problem_is_one_line_whatever_its_path_and_message():
    """A newline in a file name or a message cannot forge a second line of output."""
    problem = Problem("_news/x.md\n_news/y.md: title: missing", "title", "bad\nvalue")
    assert r"'_news/x.md\n_news/y.md: title: missing': title: bad\nvalue" == str(problem)


def test_errors_that_carry_a_path_quote_it():
    """A folder error names the folder on one line too."""
    error = PublisherError("content folder not found", path="/srv/news\n/_news")
    assert r"'/srv/news\n/_news': content folder not found" == str(error)


# --- only regular files are articles ----------------------------------------------------------


def folder_problems(folder: Path) -> dict[str, str]:
    """Each bad file of ``folder`` by name, with its problem line minus the folder."""
    return {
        Path(problem.path).name: str(problem).removeprefix(f"{folder}{os.sep}")
        for problem in load_folder(folder).problems
    }


def test_a_fifo_is_a_problem_and_never_blocks(tmp_path: Path, write_article: WriteArticle):
    """A FIFO named like an article is refused at once; a plain open would wait for a writer."""
    write_article("good.md")
    os.mkfifo(tmp_path / "_news" / "pipe.md")
    completed = publisher("check", "--content", "_news", cwd=tmp_path, timeout=30)
    expected = (1, ["_news/pipe.md: not a regular file (a FIFO)"])
    assert expected == (completed.returncode, lines(completed.stderr))


def test_a_device_in_the_folder_is_a_problem(tmp_path: Path, write_article: WriteArticle):
    """A device node (here, one like /dev/zero) is never read, let alone read without end."""
    write_article("good.md")
    try:
        os.mknod(tmp_path / "_news" / "zero.md", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("only root may make a device node")
    completed = publisher("check", "--content", "_news", cwd=tmp_path, timeout=30)
    expected = (1, ["_news/zero.md: not a regular file (a device)"])
    assert expected == (completed.returncode, lines(completed.stderr))


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom"])
def test_a_link_to_an_endless_device_is_a_problem(
    tmp_path: Path, write_article: WriteArticle, target: str
):
    """A link to /dev/zero leaves the folder: it is not followed, so nothing is read."""
    write_article("good.md")
    (tmp_path / "_news" / "endless.md").symlink_to(target)
    completed = publisher("check", "--content", "_news", cwd=tmp_path, timeout=30)
    expected = (1, ["_news/endless.md: links outside the content folder"])
    assert expected == (completed.returncode, lines(completed.stderr))


def test_a_file_over_the_size_limit_is_a_problem(write_article: WriteArticle):
    """A file larger than 1 MiB is refused without parsing; one at the limit is an article."""
    text = article_text()
    at_limit = write_article("at-limit.md", text + "x" * (MAX_ARTICLE_BYTES - len(text)))
    write_article("over.md", text + "x" * (MAX_ARTICLE_BYTES + 1 - len(text)))
    assert MAX_ARTICLE_BYTES == at_limit.stat().st_size
    assert {"over.md": "over.md: larger than 1 MiB, the most an article file may be"} == (
        folder_problems(at_limit.parent)
    )
    assert ["A story"] == [article.title for article in load_folder(at_limit.parent).articles]


def test_read_file_stops_at_the_limit_whatever_the_size_says():
    """A file that claims size 0 but goes on (/proc/kallsyms, megabytes) is read to the limit."""
    endless = Path("/proc/kallsyms")
    if not os.access(endless, os.R_OK) or endless.stat().st_size != 0:
        pytest.skip("needs a readable /proc/kallsyms")
    if len(endless.read_bytes()) <= MAX_ARTICLE_BYTES:
        pytest.skip("/proc/kallsyms is smaller than the limit here")
    with pytest.raises(ArticleError) as raised:
        read_file(endless)
    assert "/proc/kallsyms: larger than 1 MiB, the most an article file may be" == str(raised.value)


# --- links ------------------------------------------------------------------------------------


def test_links_that_loop_dangle_or_leave_the_folder_are_problems(
    tmp_path: Path, write_article: WriteArticle
):
    """Each bad link is one problem naming it; the scan itself never fails on one."""
    folder = write_article("good.md").parent
    outside = tmp_path / "elsewhere.md"
    outside.write_text(article_text(title="Secret title from elsewhere"))
    (folder / "loop.md").symlink_to("loop.md")
    (folder / "ping.md").symlink_to("pong.md")
    (folder / "pong.md").symlink_to("ping.md")
    (folder / "dangling.md").symlink_to("missing.md")
    (folder / "outside.md").symlink_to(outside)
    (folder / "relative-outside.md").symlink_to("../elsewhere.md")
    loop = "cannot read: Too many levels of symbolic links"
    expected = {
        "dangling.md": "dangling.md: cannot read: No such file or directory",
        "loop.md": f"loop.md: {loop}",
        "outside.md": "outside.md: links outside the content folder",
        "ping.md": f"ping.md: {loop}",
        "pong.md": f"pong.md: {loop}",
        "relative-outside.md": "relative-outside.md: links outside the content folder",
    }
    assert expected == folder_problems(folder)
    assert ["A story"] == [article.title for article in load_folder(folder).articles]


def test_a_link_inside_the_folder_is_followed(tmp_path: Path, write_article: WriteArticle):
    """A link to another file of the folder (or of a folder in it) is read as that file."""
    folder = write_article("a.md", title="Alpha").parent
    (folder / "drafts").mkdir()
    (folder / "drafts" / "b.txt").write_text(article_text(title="Beta"))
    (folder / "latest.md").symlink_to("a.md")
    (folder / "beta.md").symlink_to("drafts/b.txt")
    result = load_folder(folder)
    assert ((), ["Alpha", "Beta", "Alpha"]) == (
        result.problems,
        [article.title for article in result.articles],
    )


def test_a_content_folder_reached_through_a_link_keeps_its_own_links(
    tmp_path: Path, write_article: WriteArticle
):
    """Inside means inside the folder's real path, however the folder itself is named."""
    real = write_article("a.md", title="Alpha").parent
    (real / "latest.md").symlink_to(real / "a.md")
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    result = load_folder(alias)
    assert ((), ["Alpha", "Alpha"]) == (result.problems, [a.title for a in result.articles])


def test_a_problem_never_quotes_a_file_outside_the_folder(
    tmp_path: Path, write_article: WriteArticle
):
    """A link outside is not opened, so no value of that file shows in any message."""
    folder = write_article("good.md").parent
    secret = tmp_path / "secret.md"
    secret.write_text("---\ntitle: [SECRET-VALUE]\n---\n")
    (folder / "leak.md").symlink_to(secret)
    problem = parse_file(folder, "leak.md")
    assert isinstance(problem, Problem)
    assert "SECRET" not in str(problem)
    assert f"{folder}/leak.md: links outside the content folder" == str(problem)


def test_the_scan_keeps_every_odd_entry_with_a_stamp(tmp_path: Path, write_article: WriteArticle):
    """Loops, dangling links, FIFOs and folders are listed (so reading reports them)."""
    folder = write_article("good.md").parent
    (folder / "loop.md").symlink_to("loop.md")
    (folder / "dangling.md").symlink_to("missing.md")
    (folder / "zero.md").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.md")
    (folder / "dir.md").mkdir()
    names = ["dangling.md", "dir.md", "good.md", "loop.md", "pipe.md", "zero.md"]
    assert names == sorted(scan_folder(folder))


@pytest.mark.parametrize("by_descriptor", [True, False], ids=["descriptor", "path"])
def test_the_scan_stamps_files_and_links_alike_through_a_descriptor_or_a_path(
    tmp_path: Path,
    write_article: WriteArticle,
    monkeypatch: pytest.MonkeyPatch,
    by_descriptor: bool,
):
    """A link inside the folder carries its target's stamp; one leading out, or nowhere, its
    own; a file its own: whether the folder is read through one descriptor or by path."""
    folder = write_article("good.md").parent
    outside = tmp_path / "outside.md"
    outside.write_text("x" * 7)
    (folder / "inside.md").symlink_to("good.md")
    (folder / "outside.md").symlink_to(outside)
    (folder / "dangling.md").symlink_to("missing.md")
    monkeypatch.setattr(scan, "_BY_DESCRIPTOR", by_descriptor)
    stamps = scan_folder(folder)
    good = (folder / "good.md").stat()
    assert stamps["good.md"] == stamps["inside.md"] == (good.st_size, good.st_mtime_ns)
    for name in ("outside.md", "dangling.md"):
        own = (folder / name).lstat()
        assert stamps[name] == (own.st_size, own.st_mtime_ns)
    # In the folder's own order, as reading it lists the names.
    assert list(stamps) == [path.name for path in folder.iterdir() if path.suffix == ".md"]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder another user may enter (pytest's own temporary folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="publisher-test-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        for path in folder.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def test_a_link_into_a_folder_that_cannot_be_searched_is_one_problem(shared_tmp: Path):
    """A link into a folder the user may not enter is one bad file, not a failed run."""
    folder = shared_tmp / "_news"
    (folder / "private").mkdir(parents=True)
    (folder / "good.md").write_text(article_text())
    (folder / "private" / "x.md").write_text(article_text(title="Private"))
    (folder / "private.md").symlink_to("private/x.md")
    (shared_tmp / "barred").mkdir()
    (shared_tmp / "barred" / "y.md").write_text(article_text(title="Barred"))
    (folder / "barred.md").symlink_to("../barred/y.md")
    (folder / "private").chmod(0)
    (shared_tmp / "barred").chmod(0)
    expected = [
        "_news/barred.md: links outside the content folder",
        "_news/private.md: cannot read: Permission denied",
        "3 articles read, 2 with problems",
    ]
    if os.geteuid() == 0:  # root may enter every folder: run as someone who may not
        assert (1, expected) == publisher_as_nobody("check", "--content", "_news", cwd=shared_tmp)
    else:
        completed = publisher("check", "--content", "_news", cwd=shared_tmp, timeout=30)
        assert (1, expected) == (
            completed.returncode,
            lines(completed.stderr) + lines(completed.stdout),
        )


# --- names ------------------------------------------------------------------------------------


def test_a_name_that_is_not_utf8_is_one_problem_and_the_rest_is_published(tmp_path: Path):
    """An undecodable name is reported (quoted) and refused; it never crashes a run."""
    folder = tmp_path / "_news"
    folder.mkdir()
    (folder / "good.md").write_text(article_text())
    write_bytes(folder, b"caf\xe9.md", article_text(url="https://e.com/c").encode())
    check = publisher("check", "--content", "_news", cwd=tmp_path)
    problem = r"'_news/caf\xe9.md': the file name is not UTF-8; rename the file"
    assert (1, [problem]) == (check.returncode, lines(check.stderr))
    build = publisher("build", "--content", "_news", "--out", "out", cwd=tmp_path)
    assert (0, [problem]) == (build.returncode, lines(build.stderr))
    assert ["https://example.com/a-story"] == feed_links(tmp_path / "out" / "feed.json")


def test_a_new_bad_name_is_reported_after_a_clean_build(tmp_path: Path):
    """A clean build is skipped when nothing changed; a bad name appearing is a change."""
    folder = tmp_path / "_news"
    folder.mkdir()
    (folder / "good.md").write_text(article_text())
    first = publisher("build", "--content", "_news", "--out", "out", cwd=tmp_path)
    assert (0, "") == (first.returncode, first.stderr)
    write_bytes(folder, b"\xff.md", b"")
    second = publisher("build", "--content", "_news", "--out", "out", cwd=tmp_path)
    expected = [r"'_news/\xff.md': the file name is not UTF-8; rename the file"]
    assert (0, expected) == (second.returncode, lines(second.stderr))


def test_a_newline_in_a_name_cannot_forge_a_line(tmp_path: Path):
    """A bad file whose name holds a newline and a fake problem is still one quoted line."""
    folder = tmp_path / "_news"
    folder.mkdir()
    (folder / "good.md").write_text(article_text())
    (folder / "forged.md: title: missing\nz.md").write_text("no front matter")
    (folder / "ok\n.md").write_text(article_text(url="https://example.com/nl"))
    completed = publisher("check", "--content", "_news", cwd=tmp_path)
    expected = [
        r"'_news/forged.md: title: missing\nz.md': the file does not start with a '---' line",
        "3 articles read, 1 with problems",
    ]
    assert (1, expected) == (completed.returncode, lines(completed.stderr + completed.stdout))


def write_bytes(folder: Path, name: bytes, data: bytes) -> None:
    """Write a file whose name is raw bytes (Path cannot spell a name that is not UTF-8)."""
    with open(os.path.join(os.fsencode(folder), name), "wb") as file:  # noqa: PTH118, PTH123
        file.write(data)


def feed_links(path: Path) -> list[str]:
    """The item URLs of a JSON feed, sorted."""
    return sorted(item["url"] for item in json.loads(path.read_text())["items"])


# --- topics -----------------------------------------------------------------------------------


def test_an_article_with_a_thousand_topics_is_published_with_fifty_and_a_warning(
    tmp_path: Path, write_article: WriteArticle
):
    """The warning names the file, on every run (as problems are); the feeds stay few."""
    write_article("good.md", url="https://example.com/good", topics=("Space",))
    write_article("cloud.md", url="https://example.com/cloud", topics=tuple(map(str, range(1000))))
    warning = "warning: _news/cloud.md: topics: 1,000 topics; only the first 50 are used"
    args = ("build", "--content", "_news", "--out", "out", "--site-url", "https://e.org/")
    first = publisher(*args, cwd=tmp_path)
    again = publisher(*args, cwd=tmp_path)
    check = publisher("check", "--content", "_news", cwd=tmp_path)
    assert (0, [warning]) == (first.returncode, lines(first.stderr))
    assert (0, [warning]) == (again.returncode, lines(again.stderr))
    assert (0, [warning]) == (check.returncode, lines(check.stderr))
    topic_folders = sorted(path.name for path in (tmp_path / "out").iterdir() if path.is_dir())
    assert sorted([*map(str, range(50)), "space"]) == topic_folders


def test_a_topic_name_too_long_for_a_file_name_gets_a_feed(
    tmp_path: Path, write_article: WriteArticle
):
    """A 300-character topic (longer than a file name may be) is published under a short slug."""
    long_name = "Very long topic " * 18 + "end"
    write_article("a.md", topics=(long_name,))
    build = publisher("build", "--content", "_news", "--out", "out", cwd=tmp_path)
    folders = [path for path in (tmp_path / "out").iterdir() if path.is_dir()]
    assert (0, "", 1) == (build.returncode, build.stderr, len(folders))
    assert (80, True) == (len(folders[0].name), (folders[0] / "feed.json").is_file())
    assert long_name == json.loads((folders[0] / "feed.json").read_text())["items"][0]["tags"][0]


# --- a hostile folder -------------------------------------------------------------------------

CORPUS_NEWS = CORPUS / "artificial-intelligence" / "_news"
SITE_CONFIG = """\
content = "_news"
out = "out"
[site]
url = "https://news.example.org/feeds/"
[selection]
limit = 500
[digest]
sender = "News <news@example.org>"
list_address = "readers@example.org"
unsubscribe_url = "https://news.example.org/unsubscribe"
postal_address = "1 Example Street, Springfield"
"""
HOSTILE_PROBLEMS = [
    "_news/barred.md: links outside the content folder",
    "_news/big.md: larger than 1 MiB, the most an article file may be",
    r"'_news/caf\xe9.md': the file name is not UTF-8; rename the file",
    "_news/dangling.md: cannot read: No such file or directory",
    r"'_news/forged.md: title: missing\nx.md': the file does not start with a '---' line",
    "_news/loop.md: cannot read: Too many levels of symbolic links",
    "_news/outside.md: links outside the content folder",
    "_news/pipe.md: not a regular file (a FIFO)",
    "_news/quadratic.md: invalid YAML: did not find expected key (line 18)",
    "_news/year1.md: publishedDateTime: out of range (years 1900 to 2200):"
    " 0001-01-01T00:00:00+00:00",
    "_news/year9999.md: publishedDateTime: out of range (years 1900 to 2200):"
    " 9999-12-31T23:59:59+00:00",
    "_news/zero.md: links outside the content folder",
]
HOSTILE_WARNING = "warning: _news/many-topics.md: topics: 1,000 topics; only the first 50 are used"


def write_odd_but_good_articles(folder: Path) -> None:
    """Articles that are strange but fine: they are published, trimmed where they overreach."""
    folder.mkdir(parents=True)
    for path in sorted(CORPUS_NEWS.glob("*.md"))[:50]:
        shutil.copy(path, folder / path.name)
    odd = {
        "many-topics.md": article_text(url="https://e.com/1", topics=tuple(map(str, range(1000)))),
        "long-topic.md": article_text(url="https://e.com/2", topics=("Topic " * 50 + "end",)),
        "bidi.md": article_text(url="https://e.com/3", title="Invoice \u202egnp.exe"),
        "script.md": article_text(url="https://e.com/4", title="]]><script>alert(1)</script>"),
        "huge-image.md": article_text(url="https://e.com/5")
        .replace("width: 800", "width: 1" + "0" * 400)
        .replace("height: 450", 'height: "' + "9" * 5000 + '"'),
    }
    for name, text in odd.items():
        (folder / name).write_text(text, encoding="utf-8")


def write_hostile_files(site: Path, folder: Path) -> None:
    """Every kind of file that must be one problem line, never a hang, crash or leak."""
    os.mkfifo(folder / "pipe.md")
    (folder / "loop.md").symlink_to("loop.md")
    (folder / "dangling.md").symlink_to("missing.md")
    (folder / "zero.md").symlink_to("/dev/zero")
    (site / "outside.md").write_text(article_text(title="From outside"))
    (folder / "outside.md").symlink_to("../outside.md")
    (site / "barred").mkdir()
    (site / "barred" / "x.md").write_text(article_text(title="Barred"))
    (site / "barred").chmod(0)
    (folder / "barred.md").symlink_to(site / "barred" / "x.md")
    write_bytes(folder, b"caf\xe9.md", article_text(url="https://e.com/latin-1").encode())
    (folder / "forged.md: title: missing\nx.md").write_text("no front matter")
    quadratic = article_text().replace("\n---\nBody", "\n- " + " " * 100_000 + "\t\n---\nBody")
    (folder / "quadratic.md").write_text(quadratic)
    (folder / "year1.md").write_text(article_text(date="0001-01-01T00:00:00Z"))
    (folder / "year9999.md").write_text(article_text(date="9999-12-31T23:59:59Z"))
    (folder / "big.md").write_text(article_text() + "x" * 2_000_000)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two sites: the good and odd articles alone, and the same with every hostile file."""
    if not CORPUS_NEWS.is_dir():
        pytest.skip("../shared/corpus is absent")
    sites = {name: tmp_path_factory.mktemp(name) for name in ("good", "hostile")}
    for site in sites.values():
        (site / "config.toml").write_text(SITE_CONFIG)
        write_odd_but_good_articles(site / "_news")
    write_hostile_files(sites["hostile"], sites["hostile"] / "_news")
    yield sites
    (sites["hostile"] / "barred").chmod(0o755)


def test_a_hostile_folder_builds_and_reports_each_bad_file_on_one_line(hostile: dict[str, Path]):
    """Exit 0 within the timeout; stderr is exactly one line per problem, no traceback."""
    good = publisher("build", cwd=hostile["good"])
    bad = publisher("build", cwd=hostile["hostile"])
    assert (0, [HOSTILE_WARNING]) == (good.returncode, lines(good.stderr))
    assert (0, sorted([*HOSTILE_PROBLEMS, HOSTILE_WARNING])) == (
        bad.returncode,
        sorted(lines(bad.stderr)),
    )


def test_a_hostile_folder_publishes_what_its_good_articles_alone_publish(
    hostile: dict[str, Path],
):
    """Every output file of the hostile build is byte for byte the good build's."""
    for site in hostile.values():
        assert 0 == publisher("build", cwd=site).returncode
    trees = {
        name: {
            str(path.relative_to(site / "out")): path.read_bytes()
            for path in sorted((site / "out").rglob("*"))
            if path.is_file()
        }
        for name, site in hostile.items()
    }
    assert 55 + 51 < len(trees["good"])  # the corpus's topics and the odd ones have feeds
    assert trees["good"] == trees["hostile"]
    all_items = json.loads(trees["hostile"]["feed.json"])["items"]
    titles = {item["title"] for item in all_items}
    assert {"Invoice gnp.exe", "]]>"} <= titles  # the script element is markup, not words


def test_check_on_a_hostile_folder_exits_1_and_lists_every_problem(hostile: dict[str, Path]):
    """check reports what build reports, and says so with exit 1."""
    completed = publisher("check", cwd=hostile["hostile"])
    summary = f"67 articles read, {len(HOSTILE_PROBLEMS)} with problems"
    assert (1, sorted([*HOSTILE_PROBLEMS, HOSTILE_WARNING]), [summary]) == (
        completed.returncode,
        sorted(lines(completed.stderr)),
        lines(completed.stdout),
    )


def test_a_hostile_folder_still_makes_the_newsletter(hostile: dict[str, Path]):
    """The week of the odd articles (a 400-digit image width among them) renders; exit 0."""
    completed = publisher("digest", "--week", "2024-W18", cwd=hostile["hostile"])
    assert (0, sorted([*HOSTILE_PROBLEMS, HOSTILE_WARNING])) == (
        completed.returncode,
        sorted(lines(completed.stderr)),
    )
    html = (hostile["hostile"] / "newsletters" / "2024-W18.html").read_text(encoding="utf-8")
    assert "https://cdn.example.com/a-story.jpg" in html


def test_check_on_an_empty_folder_exits_2_like_build(tmp_path: Path):
    """A folder with no articles is refused by check as by build: likely a sync caught half-way."""
    (tmp_path / "_news").mkdir()
    (tmp_path / "_news" / "notes.txt").write_text("not an article")
    expected = "publisher: error: _news: no article files (*.md)"
    check = publisher("check", "--content", "_news", cwd=tmp_path)
    build = publisher("build", "--content", "_news", cwd=tmp_path)
    assert (2, [expected]) == (check.returncode, lines(check.stderr))
    assert (2, [expected + "; nothing published"]) == (build.returncode, lines(build.stderr))


def test_every_feed_of_a_hostile_folder_passes_the_w3c_validator(
    hostile: dict[str, Path], validate: Callable[[Path, str | None], tuple[list[str], list[str]]]
):
    """RSS and Atom of every topic, odd articles included, have 0 validator errors."""
    site = hostile["hostile"]
    assert 0 == publisher("build", cwd=site).returncode
    feeds = sorted((site / "out").rglob("*.xml"))
    errors = {
        str(path.relative_to(site / "out")): validate(
            path, "https://news.example.org/feeds/" + path.relative_to(site / "out").as_posix()
        )[0]
        for path in feeds
    }
    assert 100 < len(feeds)
    assert {} == {name: found for name, found in errors.items() if found}
