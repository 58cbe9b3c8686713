"""The only keeper of memory between runs: one SQLite file in the cache folder.

It holds every article file's parse (by name, with its size and mtime, the light columns
selection queries and the full record by field name), what each output folder holds, rendered
feeds and inlined newsletters by the hash of what went in, the topic folders and when each
topic was last seen, which archive page each story sits on, and the newsletters sent. The
schema is created and migrated in :mod:`~publisher.state.schema` and nowhere else. A file that
is damaged, foreign or from a newer version is moved aside and rebuilt with a warning; the
record of sends is carried over from it, or marked lost when it cannot be read.

One module per table group, all on one connection (:mod:`~publisher.state.connection`):
``articles``, ``outputs``, ``archives``, ``newsletter``, and ``builds``, which reads and writes
what a build needs of the others at once; ``records`` holds the record codec and the plain
record types, without SQLite. :class:`Store` is all of them together.
"""

from publisher.state.connection import DamagedStore
from publisher.state.newsletter import SendsLost
from publisher.state.records import (
    RECORD_VERSION,
    ArchiveLayout,
    ArchiveUpdate,
    ArticleRow,
    BuildRecord,
    BuildUpdate,
    Changes,
    FolderRecord,
    IssueRecord,
    SendRecord,
    article_row,
    decode_article,
    encode_candidates,
    retirement_due,
    stamp_key,
)
from publisher.state.schema import (
    APPLICATION_ID,
    DB_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    Store,
    open_store,
    set_aside,
)

__all__ = [
    "APPLICATION_ID",
    "DB_NAME",
    "MIGRATIONS",
    "RECORD_VERSION",
    "SCHEMA_VERSION",
    "ArchiveLayout",
    "ArchiveUpdate",
    "ArticleRow",
    "BuildRecord",
    "BuildUpdate",
    "Changes",
    "DamagedStore",
    "FolderRecord",
    "IssueRecord",
    "SendRecord",
    "SendsLost",
    "Store",
    "article_row",
    "decode_article",
    "encode_candidates",
    "open_store",
    "retirement_due",
    "set_aside",
    "stamp_key",
]
