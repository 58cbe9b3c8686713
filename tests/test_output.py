"""Writing the output folder: atomic, changed-only, pruning only what publisher wrote."""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher import output
from publisher.cli import main
from publisher.errors import OutputError
from publisher.output import (
    TEMP_SUFFIX,
    ForeignFiles,
    OutputStamp,
    WriteReport,
    write_outputs,
)

PLAN = {
    "rss.xml": b"<rss/>",
    "atom.xml": b"<feed/>",
    "space/rss.xml": b"<rss>space</rss>",
    "climate/rss.xml": b"<rss>climate</rss>",
}


RECORDS: dict[Path, dict[str, OutputStamp | None]] = {}
"""What each test's folder holds by publisher's record, as the state store keeps it."""


def write(
    out: Path, plan: dict[str, bytes], *, prune: bool = True, force: bool = False
) -> WriteReport:
    """``write_outputs`` with a record kept between calls, as the jobs keep it in the store."""
    record = RECORDS.setdefault(out, {})

    def claim(paths: list[str]) -> None:
        record.update({path: None for path in paths})

    report = write_outputs(out, plan, dict(record), claim=claim, prune=prune, force=force)
    kept = {} if prune else {path: stamp for path, stamp in record.items() if stamp}
    RECORDS[out] = kept | report.holds
    return report


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, as relative path → bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def listed(folder: Path) -> list[str]:
    """The files the record says publisher wrote."""
    return sorted(RECORDS.get(folder, {}))


def temps_in(folder: Path) -> list[Path]:
    """Temporary files left anywhere under ``folder``."""
    return [path for path in folder.rglob("*") if path.name.endswith(TEMP_SUFFIX)]


def test_first_write_creates_everything(tmp_path: Path):
    """A fresh folder gets every planned file and a manifest listing them."""
    report = write(tmp_path / "out", PLAN)
    assert PLAN == files_in(tmp_path / "out")
    assert sorted(PLAN) == sorted(report.written)
    assert sorted(PLAN) == listed(tmp_path / "out")


def test_unchanged_files_are_not_rewritten(tmp_path: Path):
    """A rerun with the same bytes touches nothing: mtimes and inodes stay."""
    out = tmp_path / "out"
    write(out, PLAN)
    old = 1_000_000_000
    for name in PLAN:
        os.utime(out / name, (old, old))
    inodes = {name: (out / name).stat().st_ino for name in PLAN}
    report = write(out, PLAN)
    assert ([], sorted(PLAN)) == (report.written, sorted(report.unchanged))
    assert {name: old for name in PLAN} == {name: (out / name).stat().st_mtime for name in PLAN}
    assert inodes == {name: (out / name).stat().st_ino for name in PLAN}


def test_only_changed_file_is_written(tmp_path: Path):
    """One changed file is rewritten, the others stay."""
    out = tmp_path / "out"
    write(out, PLAN)
    report = write(out, {**PLAN, "rss.xml": b"<rss>new</rss>"})
    assert ["rss.xml"] == report.written
    assert b"<rss>new</rss>" == (out / "rss.xml").read_bytes()


def test_removed_topic_files_are_deleted(tmp_path: Path):
    """A topic that no longer has a feed loses its files and its empty folder."""
    out = tmp_path / "out"
    write(out, PLAN)
    smaller = {name: data for name, data in PLAN.items() if not name.startswith("climate/")}
    report = write(out, smaller)
    assert ["climate/rss.xml"] == report.removed
    assert smaller == files_in(out)
    assert not (out / "climate").exists()
    assert sorted(smaller) == listed(out)


def test_files_publisher_did_not_write_are_never_touched(tmp_path: Path):
    """A user's file, even inside a topic folder being removed, stays as it is."""
    out = tmp_path / "out"
    write(out, PLAN)
    (out / "climate" / "notes.txt").write_text("mine")
    (out / "CNAME").write_text("news.example.org")
    write(out, {"rss.xml": b"<rss/>"})
    assert "mine" == (out / "climate" / "notes.txt").read_text()
    assert "news.example.org" == (out / "CNAME").read_text()
    assert not (out / "climate" / "rss.xml").exists()


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "", "a/../../outside.txt"])
def test_a_tampered_record_cannot_point_outside(tmp_path: Path, path: str):
    """A damaged or tampered record never makes publisher delete outside the output folder."""
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "outside.txt").write_text("keep")
    RECORDS[out] = {path: None}
    write(out, {"rss.xml": b"<rss/>"})
    assert "keep" == (tmp_path / "outside.txt").read_text()


@pytest.mark.parametrize("bad", ["../escape.xml", "/abs.xml", ""])
def test_plan_cannot_write_outside(tmp_path: Path, bad: str):
    """A planned path outside the folder is refused before anything is written."""
    with pytest.raises(OutputError):
        write(tmp_path / "out", {"rss.xml": b"x", bad: b"y"})
    assert not (tmp_path / "out" / "rss.xml").exists()
    assert not (tmp_path / "escape.xml").exists()


def test_leftover_temp_files_are_cleaned(tmp_path: Path):
    """Temporary files a killed run left are removed; a user's dotfile is not."""
    out = tmp_path / "out"
    write(out, PLAN)
    (out / f".rss.xml.abc123{TEMP_SUFFIX}").write_bytes(b"half")
    (out / "space" / f".rss.xml.zz{TEMP_SUFFIX}").write_bytes(b"half")
    (out / ".htaccess").write_text("keep")
    write(out, PLAN)
    assert [] == temps_in(out)
    assert "keep" == (out / ".htaccess").read_text()


@pytest.mark.parametrize("syncfs", [None, lambda fd: -1], ids=["no syncfs", "syncfs fails"])
def test_full_disk_on_fsync_keeps_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs: Callable[[int], int] | None
):
    """ENOSPC while flushing, where each file is fsynced (no syncfs, or it failed): the old
    file is intact, no temp file is left, a one-line error names the file."""
    out = tmp_path / "out"
    write(out, PLAN)

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output, "_syncfs", lambda: syncfs)
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OutputError) as raised:
        write(out, {**PLAN, "rss.xml": b"<rss>changed</rss>"})
    assert PLAN == files_in(out)
    assert [] == temps_in(out)
    assert f"{out / 'rss.xml'}: cannot write: No space left on device" == str(raised.value)


def test_files_are_on_disk_before_they_replace_their_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Each batch is made durable before any of its files is renamed into place, and the files
    take their places in the order given; a batch ends at BATCH_FILES files."""
    out = tmp_path / "out"
    events: list[str] = []
    real_replace = Path.replace

    def durable(out_dir: Path, files: list[tuple[Path, Path]]) -> None:
        assert all(temp.exists() and not target.exists() for target, temp in files)
        events.append(f"sync {len(files)}")

    def replace(self: Path, target: Path) -> Path:
        events.append(Path(target).relative_to(out).as_posix())
        return real_replace(self, target)

    monkeypatch.setattr(output, "_make_durable", durable)
    monkeypatch.setattr(output, "BATCH_FILES", 3)
    monkeypatch.setattr(Path, "replace", replace)
    plan = {f"{name}.xml": name.encode() for name in "edcba"}
    report = write_outputs(out, plan, {}, claim=lambda paths: None, order=list(plan))
    assert ["sync 3", "e.xml", "d.xml", "c.xml", "sync 2", "b.xml", "a.xml"] == events
    assert (list(plan), plan) == (report.written, files_in(out))
    assert sorted(plan) == sorted(report.holds)


def test_the_output_file_system_is_synced_once_per_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Where syncfs works, the files of a batch are not fsynced one by one."""
    out = tmp_path / "out"
    synced: list[int] = []
    fsynced: list[int] = []
    monkeypatch.setattr(output, "_syncfs", lambda: lambda fd: synced.append(fd) or 0)
    monkeypatch.setattr(os, "fsync", fsynced.append)
    write(out, PLAN)
    assert (1, []) == (len(synced), fsynced)
    assert PLAN == files_in(out)


def test_full_disk_on_write_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """ENOSPC while writing the bytes: same guarantees, through write_outputs."""
    out = tmp_path / "out"
    write(out, PLAN)
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, handle: object) -> None:
            self.handle = handle

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()  # type: ignore[attr-defined]

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(OutputError):
        write(out, {**PLAN, "rss.xml": b"<rss>changed</rss>"})
    assert PLAN == files_in(out)
    assert [] == temps_in(out)


def test_cannot_create_temp_file_is_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A folder refusing new files (as a read-only one does) gives OutputError, not a trace."""

    real_open = os.open

    def denied(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(OutputError) as raised:
        write(tmp_path / "out", PLAN)
    assert "Permission denied" in str(raised.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_output_folder_is_output_error(tmp_path: Path):
    """A real read-only folder gives OutputError."""
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(OutputError):
            write(out, PLAN)
    finally:
        out.chmod(0o755)


def test_output_path_is_a_file(tmp_path: Path):
    """--out naming a file is an OutputError, not a crash."""
    (tmp_path / "out").write_text("a file")
    with pytest.raises(OutputError) as raised:
        write(tmp_path / "out", PLAN)
    assert str(raised.value).startswith(f"{tmp_path / 'out'}: cannot create folder: ")


def test_written_files_follow_umask(tmp_path: Path):
    """Outputs are world-readable like any file the user writes, not a temporary file's 0600."""
    write(tmp_path / "out", PLAN)
    mode = (tmp_path / "out" / "rss.xml").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert 0o666 & ~umask == mode


def test_recorded_stamps_are_the_written_files(tmp_path: Path):
    """What a write reports each file holds (size, mtime, digest) is what the disk says after:
    the next run finds its files untouched."""
    out = tmp_path / "out"
    report = write(out, PLAN)
    assert sorted(PLAN) == sorted(report.written) == sorted(report.holds)
    for relative, (size, mtime_ns, digest) in report.holds.items():
        status = (out / relative).stat()
        assert (status.st_size, status.st_mtime_ns) == (size, mtime_ns)
        assert output._digest(PLAN[relative]) == digest
    assert output.unchanged_since(out, report.holds)


def test_a_temporary_file_left_under_the_same_name_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A killed run of a process with this one's number may have left a file under the name a
    temporary file would take: the next name is taken, the other file is not touched."""
    monkeypatch.setattr(output, "_SERIALS", itertools.count(7))
    left = tmp_path / f".rss.xml.{os.getpid()}-7{TEMP_SUFFIX}"
    left.write_bytes(b"left")
    temp, stamp = output.write_temporary(tmp_path / "rss.xml", b"<rss/>")
    assert (temp.name, temp.read_bytes()) == (f".rss.xml.{os.getpid()}-8{TEMP_SUFFIX}", b"<rss/>")
    assert (b"left", (6, temp.stat().st_mtime_ns)) == (left.read_bytes(), stamp)


def test_new_paths_are_claimed_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A run killed after writing a new file still has it on record, so it can be pruned."""
    out = tmp_path / "out"
    write(out, {"rss.xml": b"<rss/>"})
    real = output.write_temporary
    calls: list[str] = []

    def dies_on_second_output(target: Path, data: bytes) -> tuple[Path, tuple[int, int]]:
        calls.append(target.name)
        if len(calls) > 1:
            raise OutputError("killed", path=str(target))
        return real(target, data)

    monkeypatch.setattr(output, "write_temporary", dies_on_second_output)
    with pytest.raises(OutputError):
        write(out, {"rss.xml": b"<rss/>", "a/rss.xml": b"a", "b/rss.xml": b"b"})
    assert {"rss.xml", "a/rss.xml", "b/rss.xml"} <= set(listed(out))


def test_a_file_publisher_did_not_write_is_never_replaced(tmp_path: Path):
    """A planned path holding someone else's file: ForeignFiles naming every such path, before
    anything is written, claimed or created."""
    out = tmp_path / "out"
    (out / "space").mkdir(parents=True)
    (out / "space" / "rss.xml").write_bytes(b"hand made")
    (out / "atom.xml").write_bytes(b"also hand made")
    with pytest.raises(ForeignFiles) as raised:
        write(out, PLAN)
    assert (["atom.xml", "space/rss.xml"], str(out / "atom.xml") + " (and 1 more files)") == (
        raised.value.paths,
        raised.value.path,
    )
    assert {"atom.xml": b"also hand made", "space/rss.xml": b"hand made"} == files_in(out)
    assert [] == listed(out)


def test_force_replaces_a_file_publisher_did_not_write(tmp_path: Path):
    """With force the planned bytes win, and the file is on record from then on."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "rss.xml").write_bytes(b"hand made")
    report = write(out, PLAN, force=True)
    assert (PLAN, sorted(PLAN)) == (files_in(out), sorted(report.written))
    assert sorted(PLAN) == listed(out)


def test_a_file_already_holding_the_planned_bytes_is_taken_as_ours(tmp_path: Path):
    """No record (cache_dir deleted) but the very bytes planned: left alone and recorded."""
    out = tmp_path / "out"
    write(out, PLAN)
    RECORDS[out] = {}
    report = write(out, PLAN)
    assert ([], sorted(PLAN), sorted(PLAN)) == (
        report.written,
        sorted(report.unchanged),
        listed(out),
    )


def test_a_changed_file_on_record_is_still_ours(tmp_path: Path):
    """A file publisher wrote and someone edited is put back, not refused: the path is ours."""
    out = tmp_path / "out"
    write(out, PLAN)
    (out / "rss.xml").write_bytes(b"edited")
    assert ["rss.xml"] == write(out, PLAN).written


@pytest.mark.parametrize("kind", ["folder", "dangling symlink"])
def test_something_else_at_a_planned_path_is_refused(tmp_path: Path, kind: str):
    """A folder or a dangling symlink where a file goes is not publisher's either."""
    out = tmp_path / "out"
    out.mkdir()
    if kind == "folder":
        (out / "rss.xml").mkdir()
    else:
        (out / "rss.xml").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ForeignFiles):
        write(out, PLAN)
    assert ["rss.xml"] == sorted(path.name for path in out.iterdir())


def test_output_folder_is_created_only_when_writing(tmp_path: Path):
    """A refused write leaves no folder behind."""
    out = tmp_path / "deep" / "out"
    with pytest.raises(OutputError):
        write(out, {"rss.xml": b"x", "../escape.xml": b"y"})
    assert not (tmp_path / "deep").exists()


def test_a_linked_topic_folder_is_never_written_through(tmp_path: Path):
    """A topic folder that is a link to elsewhere is in the way: ForeignFiles naming it,
    nothing lands where it leads, nothing is written."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "space").symlink_to(elsewhere)
    with pytest.raises(ForeignFiles) as raised:
        write(out, PLAN)
    assert (["space"], {}, {}) == (raised.value.paths, files_in(elsewhere), files_in(out))
    assert str(raised.value).startswith(f"{out / 'space'}: is a link publisher did not make")


def test_a_folder_on_record_that_became_a_link_is_refused(tmp_path: Path):
    """Files publisher wrote before do not make a link put in their folder's place its own."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    write(out, PLAN)
    elsewhere.mkdir()
    (elsewhere / "rss.xml").write_bytes(b"theirs")
    (out / "space" / "rss.xml").unlink()
    (out / "space").rmdir()
    (out / "space").symlink_to(elsewhere)
    with pytest.raises(ForeignFiles):
        write(out, {**PLAN, "space/rss.xml": b"<rss>new</rss>"})
    assert {"rss.xml": b"theirs"} == files_in(elsewhere)


def test_force_replaces_a_linked_folder_by_a_real_one(tmp_path: Path):
    """With force the link goes (not what it leads to) and a real folder holds the files."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "rss.xml").write_bytes(b"theirs")
    out.mkdir()
    (out / "space").symlink_to(elsewhere)
    write(out, PLAN, force=True)
    assert (False, PLAN, {"rss.xml": b"theirs"}) == (
        (out / "space").is_symlink(),
        files_in(out),
        files_in(elsewhere),
    )


def test_pruning_never_follows_a_link(tmp_path: Path):
    """A retired topic whose folder became a link: its files on record are not removed from
    where the link leads."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    write(out, PLAN)
    elsewhere.mkdir()
    (elsewhere / "rss.xml").write_bytes(b"theirs")
    (elsewhere / f".rss.xml.x{TEMP_SUFFIX}").write_bytes(b"theirs too")
    for path in (out / "space").iterdir():
        path.unlink()
    (out / "space").rmdir()
    (out / "space").symlink_to(elsewhere)
    report = write(out, {path: data for path, data in PLAN.items() if "space" not in path})
    assert ([], 2) == (report.removed, len(files_in(elsewhere)))


def test_build_into_a_linked_topic_folder_exits_3_and_force_replaces_it(
    tmp_path: Path, write_article: Callable[..., Path]
):
    """`build` with a topic folder linked elsewhere: exit 3 naming the link, nothing lands
    where it leads; with --force, a real folder in its place."""
    write_article("a.md", title="Alpha", url="https://example.com/a", topics=("Space",))
    out, elsewhere = tmp_path / "feeds", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "space").symlink_to(elsewhere)
    args = ["build", "--content", str(tmp_path / "_news"), "--out", str(out)]
    refused = CliRunner().invoke(main, args)
    assert (3, [], True) == (
        refused.exit_code,
        list(elsewhere.iterdir()),
        refused.stderr.startswith(f"publisher: error: {out / 'space'}: is a link"),
    ), refused.stderr
    forced = CliRunner().invoke(main, [*args, "--force"])
    assert (0, [], False, True) == (
        forced.exit_code,
        list(elsewhere.iterdir()),
        (out / "space").is_symlink(),
        (out / "space" / "rss.xml").is_file(),
    ), forced.stderr
