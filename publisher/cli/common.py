"""What every command shares: options, config loading, exit codes and one-line failures."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import click

from publisher.config import Config, check_config, load_config
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


def wait_option(command: F) -> F:
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        help="Seconds to wait for another run's lock on the output folder.",
    )(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(
        command
    )


def load_settings(
    config_path: Path | None, *, site_url: str | None = None, **paths: Path | None
) -> Config:
    """The settings, or one line and exit 2."""
    try:
        return read_settings(config_path, site_url=site_url, **paths)
    except PublisherError as error:
        fail(str(error), EXIT_USAGE)


def read_settings(
    config_path: Path | None, *, site_url: str | None = None, **paths: Path | None
) -> Config:
    """config.toml with the command line's options over it; :class:`PublisherError` if bad."""
    config = load_config(config_path)
    config = config.with_overrides(**{key: str(value) for key, value in paths.items() if value})
    if site_url:
        if not site_url.startswith(("http://", "https://")):
            raise ConfigError("must be an absolute http(s) URL", field="--site-url")
        config = replace(config, site=replace(config.site, url=site_url))
    check_config(config, source="command line" if site_url or any(paths.values()) else "")
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
