"""kill -9 during a build with twins: after the next build no twin disagrees with its file."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from helpers import kill_group
from test_crash_safety import build, change_inputs, inodes, make_corpus, start, wait_for_writing
from test_twins import twin_problems

KILLS = 5


@pytest.mark.slow
def test_kill_9_while_writing_twins_leaves_none_disagreeing(tmp_path: Path):
    """SIGKILL at random moments of an update with gzip and brotli twins: the next build
    leaves every file with twins that decode to its exact bytes, and no twin without it."""
    content = make_corpus(500, tmp_path / "news")
    config = tmp_path / "site.toml"
    config.write_text(
        f'content = "{content}"\nout = "out"\ncache_dir = "cache"\n'
        '[site]\nurl = "https://example.org/feeds/"\n[archive]\npage_size = 50\n'
        '[output]\nprecompress = ["gzip", "brotli"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert 0 == build(config).returncode
    assert [] == twin_problems(out)
    rng = random.Random(5005)
    problems = []
    for attempt in range(KILLS):
        change_inputs(content, rng)
        before = inodes(out)
        process = start(config, "-q", "--force")
        if wait_for_writing(process, out, before):
            time.sleep(rng.uniform(0.0, 0.3))
        kill_group(process)
        rerun = build(config, "--force")
        assert 0 == rerun.returncode, rerun.stderr
        problems += [f"kill {attempt + 1}: {problem}" for problem in twin_problems(out)]
    assert [] == problems
