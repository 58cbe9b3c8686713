"""Write N realistic article files, seeded, by varying real articles.

Each generated file starts from one real article file (the corpus beside the project, read at run
time) and changes only what makes it a distinct story: a numbered title, a unique URL, a date in
2023-2024 and one to three of twelve topics. Line endings, field order and everything else are
kept, so sizes and the published/quality mix stay those of real data.

Usage: python bench/make_articles.py N TARGET_DIR [--seed 7] [--source DIR ...]
"""

from __future__ import annotations

import argparse
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_SOURCES = (
    SHARED / "corpus" / "microsoft-power-apps" / "_news",
    SHARED / "corpus" / "artificial-intelligence" / "_news",
)
TOPICS = {
    "Power Apps": 10, "AI": 8, "Canvas apps": 7, "Model-driven apps": 6, "Portals": 5,
    "AI Builder": 5, "Teams integration": 4, "Computer Vision": 4, "Machine Learning": 3,
    "Dataverse": 3, "Power Automate": 2, "Robotics": 2,
}  # fmt: skip
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 2 * 365 * 24 * 3600

TITLE = re.compile(r'^title: "(.*)"(\r?)$', re.MULTILINE)
URL = re.compile(r'^((?:web|source|original|amp|cdnAmp)(?:Web)?Url): "([^"]*)"(\r?)$', re.MULTILINE)
DATE = re.compile(r"^publishedDateTime: .*?(\r?)$", re.MULTILINE)
TOPIC_BLOCK = re.compile(r"^topics:(\r?)\n(?:  - .*\n)+", re.MULTILINE)


def make_article(template: str, number: int, rng: random.Random) -> str:
    """One new article from a real one."""
    text = TITLE.sub(lambda m: f'title: "{m[1]} #{number}"{m[2]}', template, count=1)
    text = URL.sub(lambda m: f'{m[1]}: "{_numbered(m[2], number)}"{m[3]}', text)
    when = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
    text = DATE.sub(lambda m: f"publishedDateTime: {when:%Y-%m-%dT%H:%M:%SZ}{m[1]}", text, count=1)
    chosen = _pick_topics(rng)
    return TOPIC_BLOCK.sub(
        lambda m: f"topics:{m[1]}\n" + "".join(f"  - {name}{m[1]}\n" for name in chosen),
        text,
        count=1,
    )


def _numbered(url: str, number: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}copy={number}"


def _pick_topics(rng: random.Random) -> list[str]:
    count = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
    chosen: list[str] = []
    while len(chosen) < count:
        name = rng.choices(list(TOPICS), weights=list(TOPICS.values()))[0]
        if name not in chosen:
            chosen.append(name)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("target", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", type=Path, action="append")
    args = parser.parse_args()
    sources = sorted(p for folder in args.source or DEFAULT_SOURCES for p in folder.glob("*.md"))
    templates = [path.read_bytes().decode("utf-8") for path in sources]
    rng = random.Random(args.seed)
    args.target.mkdir(parents=True, exist_ok=True)
    for number in range(args.count):
        article = make_article(templates[number % len(templates)], number, rng)
        name = f"{START:%Y}-{number:06d}-article.md"
        (args.target / name).write_bytes(article.encode("utf-8"))


if __name__ == "__main__":
    main()
