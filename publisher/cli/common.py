"""What every command shares: options, config loading, exit codes and one-line failures."""

from __future__ import annotations

import contextlib
import io
import json
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
from publisher.sites import NO_SITES, load_sites

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


def site_option(command: F) -> F:
    return click.option(
        "--site",
        "site_names",
        multiple=True,
        metavar="NAME",
        help="Only this site of the config's [sites] (repeatable) [default: every site].",
    )(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(
        command
    )


def choose_sites(
    config_path: Path | None,
    names: Iterable[str],
    on_error: Callable[[str, int], NoReturn] | None = None,
) -> dict[str, Config]:
    """The sites to act on: every site of the config file, or the ``--site`` ones; a bad
    config or an unknown name is one line and exit 2. A file without ``[sites]`` is one site
    named ``""``."""
    stop = on_error or fail
    try:
        sites = load_sites(config_path)
    except PublisherError as error:
        stop(str(error), EXIT_USAGE)
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        if name not in sites:
            known = ", ".join(sites) if NO_SITES not in sites else "the config has no [sites]"
            stop(f"--site: no site named {name!r} ({known})", EXIT_USAGE)
    return {name: sites[name] for name in wanted} if wanted else sites


def for_each_site(
    config_path: Path | None,
    names: Iterable[str],
    run: Callable[[Config | None], object],
    *,
    as_json: bool,
    overrides: Iterable[object] = (),
    on_error: Callable[[str, int], NoReturn] | None = None,
) -> None:
    """``run`` each chosen site, one after the other, whatever happened to the one before.

    Without ``[sites]``, ``run(None)`` once, exactly as a single site always ran. Otherwise
    every line a site's run prints is prefixed with the site's name (``--json``: one object
    per site, by name, with its exit code), and the exit code is the worst (highest).
    ``on_error`` reports a bad config or ``--site`` (``digest --json`` reports them as JSON).
    """
    sites = choose_sites(config_path, names, on_error)
    if NO_SITES in sites:
        run(None)
        return
    if len(sites) > 1 and any(overrides):
        fail("options naming folders or URLs apply to one site: name it with --site", EXIT_USAGE)
    worst, documents = 0, {}
    for name, config in sites.items():
        code, out, err = _captured(run, config)
        for line in err.splitlines():
            click.echo(f"{name}: {line}", err=True)
        if as_json:
            documents[name] = _json_document(out, err, code)
        else:
            for line in out.splitlines():
                click.echo(f"{name}: {line}")
        worst = max(worst, code)
    if as_json:
        click.echo(json.dumps(documents, ensure_ascii=False, indent=2))
    if worst:
        sys.exit(worst)


def _captured(run: Callable[[Config | None], object], config: Config) -> tuple[int, str, str]:
    """Run one site: its exit code and what it printed on stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run(config)
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else EXIT_USAGE
    return code, out.getvalue(), err.getvalue()


def _json_document(out: str, err: str, code: int) -> dict[str, Any]:
    """A site's ``--json`` object with its exit code, or its error line when it printed none."""
    document: dict[str, Any] = json.loads(out) if out.strip() else {}
    if not document and code:
        errors = [line for line in err.splitlines() if line.startswith("publisher: error: ")]
        document["error"] = errors[-1].removeprefix("publisher: error: ") if errors else ""
    return document | {"exit": code}


def load_settings(
    config_path: Path | None,
    *,
    base: Config | None = None,
    site_url: str | None = None,
    digest_out: Path | None = None,
    **paths: Path | None,
) -> Config:
    """config.toml with the command line's values over it, every setting checked; a problem is
    one line naming the key (or the option) and exit 2."""
    try:
        return read_settings(
            config_path, base=base, site_url=site_url, digest_out=digest_out, **paths
        )
    except PublisherError as error:
        fail(str(error), EXIT_USAGE)


def read_settings(
    config_path: Path | None,
    *,
    base: Config | None = None,
    site_url: str | None = None,
    digest_out: Path | None = None,
    **paths: Path | None,
) -> Config:
    """config.toml (or ``base``, one of its sites) with the command line's options over it;
    :class:`PublisherError` if bad."""
    config = load_config(config_path) if base is None else base
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
    """One line on stderr, then exit ``code``."""
    click.echo(f"publisher: error: {message}", err=True)
    sys.exit(code)
