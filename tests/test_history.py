"""Archives laid out again from what changed are the archives laid out from every story.

Each build carries the last layout forward, reading only the subscription documents' stories,
the stories changed since and the pages that hold them. A second site, built from the same
files with ``--no-cache``, lays every feed out from all its stories; after every random edit
both must hold the same bytes.
"""

from __future__ import annotations

import os
import random
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import article_text

from publisher import build as build_module
from publisher.archives import update_history
from publisher.config import ArchiveConfig, Config, SelectionConfig, SiteConfig
from publisher.jobs import run_build

SITE = "https://example.org/feeds/"
TOPICS = ("Space", "Oceans", "Energy")
START = 1_700_000_000


def story_text(story: dict[str, Any]) -> str:
    text = article_text(
        title=story["title"],
        date=f"2024-03-{story['day']:02d}T{story['hour']:02d}:00:00Z",
        url=story["url"],
        quality=story["quality"],
        topics=story["topics"],
    )
    if not story["published"]:
        text = text.replace("type: article\n", "type: article\npublished: false\n")
    return text


def new_story(chance: random.Random, number: int, urls: list[str]) -> dict[str, Any]:
    """A story; now and then another copy of a known one (same story, URL spelt otherwise)."""
    if urls and chance.random() < 0.2:
        url = chance.choice(urls).replace("https://", "http://").rstrip("/") + "/"
    else:
        url = f"https://example.com/story-{number}"
    return {
        "title": f"Story {number}",
        "day": chance.randint(1, 28),
        "hour": chance.randint(0, 23),
        "url": url,
        "quality": chance.choice([40, 60, 70, 80]),
        "topics": tuple(sorted(chance.sample(TOPICS, chance.randint(1, 2)))),
        "published": True,
    }


def mutate(chance: random.Random, stories: dict[str, dict[str, Any]], step: int) -> None:
    """One edit an editor might make: a new story, a change to one, or a file removed."""
    urls = [story["url"] for story in stories.values()]
    name = chance.choice(sorted(stories))
    story = stories[name]
    change = chance.choice(
        ["add", "add", "title", "date", "quality", "publish", "url", "topics", "remove"]
    )
    if change == "add":
        stories[f"new-{step}.md"] = new_story(chance, 1000 + step, urls)
    elif change == "title":
        story["title"] = f"{story['title']} (edited {step})"
    elif change == "date":
        story["day"], story["hour"] = chance.randint(1, 28), chance.randint(0, 23)
    elif change == "quality":
        story["quality"] = chance.choice([40, 60, 90])
    elif change == "publish":
        story["published"] = not story["published"]
    elif change == "url":
        story["url"] = f"https://example.com/moved-{step}"
    elif change == "topics":
        story["topics"] = tuple(sorted(chance.sample(TOPICS, chance.randint(1, 2))))
    elif len(stories) > 1:
        del stories[name]


def write_folder(folder: Path, stories: dict[str, dict[str, Any]], step: int) -> None:
    """The folder as ``stories`` say; each file written again only when its text changed."""
    for path in folder.glob("*.md"):
        if path.name not in stories:
            path.unlink()
    for name, story in stories.items():
        path, text = folder / name, story_text(story)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            # Stamped in the past, as an edit made before the run is.
            os.utime(path, (START + step, START + step))


def tree(out: Path) -> dict[str, bytes]:
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def vandalise(chance: random.Random, out: Path) -> None:
    """Now and then an archive file is removed or changed behind publisher's back."""
    pages = sorted(out.rglob("archive/*"))
    if pages and chance.random() < 0.2:
        page = chance.choice(pages)
        if chance.random() < 0.5:
            page.unlink()
        else:
            page.write_text("changed by hand", encoding="utf-8")


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow), 3])
def test_archives_carried_forward_match_archives_made_from_every_story(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
):
    carried: list[str] = []

    def spied(*args: Any) -> Any:
        split = update_history(*args)
        untouched = args[-1].unchanged is not None and not args[-1].stale
        carried.append("none" if split is None else "untouched" if untouched else "changed")
        return split

    monkeypatch.setattr(build_module, "update_history", spied)
    chance = random.Random(seed)
    folder = tmp_path / "_news"
    folder.mkdir()
    incremental = Config(
        content=str(folder),
        out=str(tmp_path / "carried"),
        cache_dir=str(tmp_path / "carried-cache"),
        site=SiteConfig(url=SITE),
        selection=SelectionConfig(limit=3),
        archive=ArchiveConfig(page_size=2),
    )
    every_story = replace(
        incremental, out=str(tmp_path / "full"), cache_dir=str(tmp_path / "full-cache")
    )
    stories: dict[str, dict[str, Any]] = {}
    for number in range(30):
        stories[f"story-{number}.md"] = new_story(
            chance, number, [s["url"] for s in stories.values()]
        )
    for step in range(40):
        write_folder(folder, stories, step)
        run_build(incremental)
        run_build(every_story, use_cache=False)
        assert tree(Path(every_story.out)) == tree(Path(incremental.out)), f"step {step}"
        mutate(chance, stories, step)
        vandalise(chance, Path(incremental.out))
    # The layouts were carried forward, not made again from every story each time, and the
    # feeds no changed article carries were not read at all.
    assert carried.count("changed") > 40
    assert carried.count("untouched") > 20
    # The log of changes holds nothing the layouts no longer need.
    with sqlite3.connect(tmp_path / "carried-cache" / "publisher.sqlite3") as store:
        assert [(0,)] == store.execute("SELECT count(*) FROM article_changes").fetchall()
