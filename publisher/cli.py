"""The command line: parse options, run load → build → write, report, pick the exit code."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from publisher import __version__
from publisher.build import build as build_feeds
from publisher.config import Config, load_config
from publisher.content import LoadResult, load_articles
from publisher.errors import LockTimeout, OutputError, PublisherError
from publisher.output import WriteReport, locked, write_outputs

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_OUTPUT = 3
EXIT_LOCKED = 4

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Timings:
    """Seconds spent in each stage, for ``--json``."""

    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(time.perf_counter() - start, 4)


def config_options(command: F) -> F:
    """The options every command shares; they override config.toml."""
    command = click.option(
        "--content", type=click.Path(path_type=Path), help="Folder of article files (*.md)."
    )(command)
    command = click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        help="Config file [default: ./config.toml when present].",
    )(command)
    return command


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(
        command
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="publisher")
def main() -> None:
    """Publish a folder of curated news articles as feeds and a weekly newsletter."""


@main.command()
@config_options
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [default: feeds].")
@click.option("--site-url", help="Public URL of the output folder, for self links.")
@click.option("--strict", is_flag=True, help="Treat a bad article file as fatal: write nothing.")
@click.option(
    "--wait",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds to wait for another run's lock.",
)
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems.")
def build(
    config_path: Path | None,
    content: Path | None,
    out: Path | None,
    site_url: str | None,
    strict: bool,
    wait: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write RSS, Atom and JSON feeds for all topics and for each topic.

    Example: publisher build --content _news --out public/feeds --site-url https://example.org/feeds/
    """
    timings = Timings()
    config = _config(config_path, content=content, out=out, site_url=site_url)
    with timings.stage("load"):
        loaded = _load(config)
    _report_problems(loaded, quiet=False)
    if strict and loaded.problems:
        _fail(
            f"{len(loaded.problems)} bad article file(s); nothing written (--strict)", EXIT_PROBLEMS
        )
    with timings.stage("render"):
        plan = build_feeds(config, loaded.articles)
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    with timings.stage("write"):
        report = _write(Path(config.out), plan.outputs, wait)
    summary = {
        "articles": loaded.files,
        "loaded": len(loaded.articles),
        "selected": plan.selected,
        "feeds": len(plan.feeds),
        "skipped": [{"path": p.path, "error": str(p)} for p in loaded.problems],
        "warnings": list(plan.warnings),
        "written": report.written,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "timings": timings.stages,
    }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not quiet:
        click.echo(
            f"{loaded.files} articles read, {plan.selected} selected, "
            f"{len(loaded.problems)} skipped; {len(plan.feeds)} feeds in {config.out}: "
            f"{len(report.written)} files written, {len(report.unchanged)} unchanged, "
            f"{len(report.removed)} removed"
        )


@main.command()
@config_options
@json_option
def check(config_path: Path | None, content: Path | None, as_json: bool) -> None:
    """Read every article file and report problems; write nothing.

    Exits 1 when any file has a problem. Example: publisher check --content _news
    """
    config = _config(config_path, content=content)
    loaded = _load(config)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "articles": loaded.files,
                    "loaded": len(loaded.articles),
                    "skipped": [{"path": p.path, "error": str(p)} for p in loaded.problems],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        _report_problems(loaded, quiet=False)
        click.echo(f"{loaded.files} articles read, {len(loaded.problems)} with problems")
    if loaded.problems:
        sys.exit(EXIT_PROBLEMS)


def _config(
    config_path: Path | None, *, site_url: str | None = None, **paths: Path | None
) -> Config:
    try:
        config = load_config(config_path)
    except PublisherError as error:
        _fail(str(error), EXIT_USAGE)
    config = config.with_overrides(**{key: str(value) for key, value in paths.items() if value})
    if site_url:
        if not site_url.startswith(("http://", "https://")):
            _fail("--site-url: must be an absolute http(s) URL", EXIT_USAGE)
        config = replace(config, site=replace(config.site, url=site_url))
    return config


def _load(config: Config) -> LoadResult:
    try:
        return load_articles(Path(config.content))
    except PublisherError as error:
        _fail(str(error), EXIT_USAGE)


def _write(out_dir: Path, outputs: dict[str, bytes], wait: float) -> WriteReport:
    try:
        with locked(out_dir, wait):
            return write_outputs(out_dir, outputs)
    except LockTimeout as error:
        _fail(str(error), EXIT_LOCKED)
    except OutputError as error:
        _fail(str(error), EXIT_OUTPUT)


def _report_problems(loaded: LoadResult, *, quiet: bool) -> None:
    if quiet:
        return
    for problem in loaded.problems:
        click.echo(str(problem), err=True)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"publisher: error: {message}", err=True)
    sys.exit(code)
