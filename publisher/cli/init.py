"""``publisher init``: a new site, ready to build."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from publisher.cli.common import EXIT_USAGE, job_errors
from publisher.scaffold import EXAMPLE_WEEK, write_starter


@click.command("init")
@click.argument("folder", default=".", type=click.Path(path_type=Path, file_okay=False))
def init(folder: Path) -> None:
    """Start a site in FOLDER (default: here): a config.toml with every key, commented, and
    a content folder with example articles, so that build and digest work at once.

    Never overwrites a file: each one already there is named, and the exit code is 2.

    Example: publisher init my-news && cd my-news && publisher build
    """
    with job_errors():
        made, left = write_starter(folder)
    for name in left:
        click.echo(f"publisher: {folder / name}: exists; left as it is", err=True)
    for name in made:
        click.echo(f"made {folder / name}")
    if made:
        click.echo(
            f"next: cd {folder} && publisher build && publisher digest --week {EXAMPLE_WEEK}"
        )
    if left:
        sys.exit(EXIT_USAGE)
