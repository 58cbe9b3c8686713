"""What every command shares: options, config loading, exit codes and one-line failures."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import click

from publisher.config import (
    DEFAULT_CONFIG_NAME,
    Config,
    check_config,
    check_folders,
    load_config,
    url_problem,
)
from publisher.errors import ConfigError, LockTimeout, OutputError, Problem, PublisherError

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_OUTPUT = 3
EXIT_LOCKED = 4

F = TypeVar("F", bound=Callable[..., Any])


def now(zone: str) -> datetime:
    """The time in ``zone``: the only reading of the clock; tests replace it."""
    return datetime.now(ZoneInfo(zone))


def today(zone: str) -> date:
    """The date in ``zone``."""
    return now(zone).date()


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


def _finite_seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    # FloatRange lets nan and inf through; neither is a number of seconds to wait.
    if not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds (0 or more, finite)")
    return value


def wait_option(command: F) -> F:
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        callback=_finite_seconds,
        default=60.0,
        show_default=True,
        help="Seconds to wait for another run's lock on the output folder.",
    )(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(
        command
    )


def load_settings(
    config_path: Path | None,
    *,
    site_url: str | None = None,
    digest_out: Path | None = None,
    **paths: Path | None,
) -> Config:
    """config.toml with the command line's values over it, every setting checked; a problem is
    one line naming the key (or the option) and exit 2."""
    try:
        return read_settings(config_path, site_url=site_url, digest_out=digest_out, **paths)
    except PublisherError as error:
        fail(str(error), EXIT_USAGE)


def read_settings(
    config_path: Path | None,
    *,
    site_url: str | None = None,
    digest_out: Path | None = None,
    **paths: Path | None,
) -> Config:
    """config.toml with the command line's options over it; :class:`PublisherError` if bad."""
    config = load_config(config_path)
    given = {key: str(value) for key, value in paths.items() if value}
    config = config.with_overrides(**given)
    labels = {key: f"{key} (--{key})" for key in given}
    if digest_out:
        config = replace(config, digest=replace(config.digest, out=str(digest_out)))
        labels["digest.out"] = "digest.out (--out)"
    if site_url:
        if problem := url_problem(site_url):
            raise ConfigError(problem, field="--site-url")
        config = replace(config, site=replace(config.site, url=site_url))
        labels["site.url"] = "site.url (--site-url)"
    if labels:
        source = "command line"
    elif config_path or Path(DEFAULT_CONFIG_NAME).is_file():
        source = str(config_path or DEFAULT_CONFIG_NAME)
    else:
        source = ""
    check_config(config, source=source)
    # After the overrides: `digest --out` must not land in the feeds folder, say.
    check_folders(config, source=source, labels=labels)
    return config


class ParseProgress:
    """A progress bar on stderr, shown once a parse is long enough to be worth one."""

    MIN_FILES = 2000

    def __init__(self, wanted: bool) -> None:
        self.enabled = wanted and sys.stderr.isatty()
        self.bar: Any = None

    def __enter__(self) -> ParseProgress:
        return self

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < self.MIN_FILES:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="Parsing articles", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def report_problems(problems: Iterable[Problem]) -> None:
    """Each bad file on one line of stderr: ``path: field: message``."""
    for problem in problems:
        click.echo(str(problem), err=True)


@contextmanager
def job_errors() -> Iterator[None]:
    """A job's failures as one line and the documented exit code."""
    try:
        yield
    except PublisherError as error:
        fail(str(error), exit_code_of(error))


def exit_code_of(error: PublisherError) -> int:
    """The documented exit code of a job's failure."""
    if isinstance(error, LockTimeout):
        return EXIT_LOCKED
    if isinstance(error, OutputError):
        return EXIT_OUTPUT
    return EXIT_USAGE


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"publisher: error: {message}", err=True)
    sys.exit(code)
