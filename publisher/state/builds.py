"""A build's record of an output folder: read at once before it plans, claimed before it
writes, and written at once after."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from publisher.state.archives import ArchiveRecords
from publisher.state.outputs import OutputRecords
from publisher.state.records import BuildRecord, BuildUpdate, FolderRecord


class BuildRecords(ArchiveRecords, OutputRecords):
    """Output folders as a build sees them: three transactions a build."""

    def folder_record(self, folder: str) -> FolderRecord:
        """What says whether a build into ``folder`` has anything to do, read at once."""
        with self.snapshot():
            return FolderRecord(
                self.outputs(folder), self.last_build(folder), self.topic_sightings(folder)
            )

    def build_record(self, folder: str) -> BuildRecord:
        """Everything a build into ``folder`` plans from, read in one read transaction: a
        consistent view, taken once the content folder is loaded (so :attr:`BuildRecord.seq`
        counts every change the build's stories include)."""
        with self.snapshot():
            return BuildRecord(
                outputs=self.outputs(folder),
                last_build=self.last_build(folder),
                sightings=self.topic_sightings(folder),
                topic_slugs=self.topic_slugs(folder),
                page_keys=self.page_keys(folder),
                layouts=self.archive_layouts(folder),
                seq=self.change_seq(),
                last_selected=self.last_selected(folder),
            )

    def claim_build(
        self,
        folder: str,
        paths: Iterable[str],
        *,
        published: Collection[str] | None = None,
        changing: Iterable[str] = (),
    ) -> set[str]:
        """Before a build writes anything: claim the ``paths`` it is about to write (see
        :meth:`claim_outputs`) and, with a hub (``published``: every feed URL the build
        publishes), queue a ping for each feed ``changing`` and forget the waiting pings of
        feeds no longer published; the feed URLs newly queued.

        A transaction of its own, apart from :meth:`record_build`, because it must be
        committed before the first file is replaced: a run killed half-way then still knows
        every file it may have left (the next run prunes those no longer planned), no longer
        passes for the clean build it was replacing, and still pings the hub of feeds it may
        have changed.
        """
        with self.combined():
            self.claim_outputs(folder, paths)
            if published is None:
                return set()
            self.forget_pings(folder, set(self.pending_pings(folder)) - set(published))
            return self.queue_pings(folder, changing)

    def record_build(self, folder: str, before: BuildRecord, update: BuildUpdate) -> None:
        """Record everything a build into ``folder`` learned, in one transaction once its
        files are written: what the folder holds and the fingerprint of a clean build, what
        was selected, the topics' folders and sightings, the archives (in place of what
        ``before`` read of them), the renders to keep and the pings no longer waiting."""
        with self.combined():
            self.forget_pings(folder, update.pinged)
            self.finish_outputs(folder, update.outputs, update.inputs, update.written_ns)
            self.set_selected(folder, update.selected, update.rules)
            self.set_topic_slugs(folder, update.topic_slugs)
            self.record_archives(
                folder, update.archives, before.layouts, before.page_keys, update.page_keys
            )
            if update.sightings is not None:
                self.set_topic_sightings(folder, update.sightings)
            self.keep_rendered(folder, update.rendered, set(update.used_renders))
