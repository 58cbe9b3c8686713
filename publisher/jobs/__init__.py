"""Each job from start to finish, under its lock: ``run_build``, ``run_check``, ``run_digest``.

The only package that composes the others: it scans the content folder, brings the state
store up to date, selects, renders, writes, sends and records. Nothing here talks to the
terminal; the time of day comes in as a parameter. One module per job (:mod:`.build`,
:mod:`.check`, :mod:`.digest`) over what they share (:mod:`.prelude`).
"""

from publisher.jobs.build import (
    BuildOutcome,
    ShrinkRefusal,
    StrictRefusal,
    forget_output_folder,
    run_build,
)
from publisher.jobs.check import run_check
from publisher.jobs.digest import (
    SEARCHED_PERIODS,
    DigestOutcome,
    DigestRequest,
    latest_preview,
    preview_digest,
    run_digest,
)
from publisher.jobs.prelude import RACY_NS, input_fingerprint, refresh_articles

__all__ = [
    "RACY_NS",
    "SEARCHED_PERIODS",
    "BuildOutcome",
    "DigestOutcome",
    "DigestRequest",
    "ShrinkRefusal",
    "StrictRefusal",
    "forget_output_folder",
    "input_fingerprint",
    "latest_preview",
    "preview_digest",
    "refresh_articles",
    "run_build",
    "run_check",
    "run_digest",
]
