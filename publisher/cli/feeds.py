"""``publisher build`` and ``publisher check``: articles → feeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from publisher.build import plan_feeds, render_feeds
from publisher.cli.common import (
    EXIT_LOCKED,
    EXIT_OUTPUT,
    EXIT_PROBLEMS,
    Timings,
    config_options,
    fail,
    json_option,
    load_content,
    load_settings,
    report_problems,
)
from publisher.errors import LockTimeout, OutputError
from publisher.output import WriteReport, locked, write_outputs


@click.command()
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
@click.option("--no-cache", is_flag=True, help="Parse every file again; ignore the parse cache.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems.")
def build(
    config_path: Path | None,
    content: Path | None,
    out: Path | None,
    site_url: str | None,
    strict: bool,
    wait: float,
    as_json: bool,
    no_cache: bool,
    quiet: bool,
) -> None:
    """Write RSS, Atom and JSON feeds for all topics and for each topic.

    Example: publisher build --content _news --out public/feeds --site-url https://example.org/feeds/
    """
    timings = Timings()
    config = load_settings(config_path, content=content, out=out, site_url=site_url)
    with timings.stage("load"):
        loaded = load_content(config, use_cache=not no_cache, quiet=quiet or as_json)
    report_problems(loaded)
    if strict and loaded.problems:
        fail(
            f"{len(loaded.problems)} bad article file(s); nothing written (--strict)", EXIT_PROBLEMS
        )
    with timings.stage("select"):
        feeds, slug_warnings = plan_feeds(config, loaded.articles)
    with timings.stage("render"):
        plan = render_feeds(config, feeds, slug_warnings)
    warnings = [*loaded.warnings, *plan.warnings]
    if not as_json:
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
    with timings.stage("write"):
        report = _write(Path(config.out), plan.outputs, wait)
    if as_json:
        summary = {
            "articles": loaded.files,
            "loaded": len(loaded.articles),
            "selected": plan.selected,
            "feeds": len(plan.feeds),
            "cache_hits": loaded.cache_hits,
            "skipped": [{"path": p.path, "error": str(p)} for p in loaded.problems],
            "warnings": warnings,
            "written": report.written,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "timings": timings.stages,
        }
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not quiet:
        click.echo(
            f"{loaded.files} articles read, {plan.selected} selected, "
            f"{len(loaded.problems)} skipped; {len(plan.feeds)} feeds in {config.out}: "
            f"{len(report.written)} files written, {len(report.unchanged)} unchanged, "
            f"{len(report.removed)} removed"
        )


@click.command()
@config_options
@json_option
def check(config_path: Path | None, content: Path | None, as_json: bool) -> None:
    """Read every article file and report problems; write nothing.

    Exits 1 when any file has a problem. Example: publisher check --content _news
    """
    config = load_settings(config_path, content=content)
    loaded = load_content(config)
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
        report_problems(loaded)
        click.echo(f"{loaded.files} articles read, {len(loaded.problems)} with problems")
    if loaded.problems:
        sys.exit(EXIT_PROBLEMS)


def _write(out_dir: Path, outputs: dict[str, bytes], wait: float) -> WriteReport:
    try:
        with locked(out_dir, wait):
            return write_outputs(out_dir, outputs)
    except LockTimeout as error:
        fail(str(error), EXIT_LOCKED)
    except OutputError as error:
        fail(str(error), EXIT_OUTPUT)
