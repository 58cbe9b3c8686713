"""``publisher build`` and ``publisher check``: articles → feeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from publisher.cli import common
from publisher.cli.common import (
    EXIT_PROBLEMS,
    ParseProgress,
    config_options,
    fail,
    job_errors,
    json_option,
    load_settings,
    report_problems,
    wait_option,
)
from publisher.config import Config
from publisher.jobs import BuildOutcome, StrictRefusal, run_build, run_check


@click.command()
@config_options
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [default: feeds].")
@click.option("--site-url", help="Public URL of the output folder, for self links.")
@click.option("--strict", is_flag=True, help="Treat a bad article file as fatal: write nothing.")
@wait_option
@json_option
@click.option(
    "--no-cache", is_flag=True, help="Parse and render everything again; ignore the caches."
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems and warnings.")
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
    config = load_settings(config_path, content=content, out=out, site_url=site_url)
    with job_errors(), ParseProgress(not (quiet or as_json)) as progress:
        try:
            outcome = run_build(
                config,
                wait=wait,
                use_cache=not no_cache,
                strict=strict,
                progress=progress,
                today=common.today("UTC"),
            )
        except StrictRefusal as refusal:
            report_problems(refusal.loaded.problems)
            fail(str(refusal), EXIT_PROBLEMS)
    if outcome.loaded:
        report_problems(outcome.loaded.problems)
    if not as_json:
        for warning in outcome.warnings:
            click.echo(f"warning: {warning}", err=True)
    _report_build(outcome, config, as_json=as_json, quiet=quiet)


def _report_build(outcome: BuildOutcome, config: Config, *, as_json: bool, quiet: bool) -> None:
    """The summary: one line, or one JSON object with ``--json``."""
    loaded, plan, report = outcome.loaded, outcome.plan, outcome.report
    skipped = [{"path": p.path, "error": str(p)} for p in loaded.problems] if loaded else []
    if as_json:
        summary = {
            "articles": outcome.files,
            "loaded": loaded.files - len(loaded.problems) if loaded else None,
            "selected": plan.selected if plan else None,
            "feeds": len(plan.feeds) if plan else None,
            "cache_hits": loaded.cache_hits if loaded else None,
            "up_to_date": outcome.up_to_date,
            "skipped": skipped,
            "warnings": outcome.warnings,
            "written": report.written,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "timings": outcome.timings.stages,
        }
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif quiet:
        return
    elif plan is None:
        click.echo(f"{outcome.files} articles read; {config.out} is up to date")
    else:
        click.echo(
            f"{outcome.files} articles read, {plan.selected} selected, {len(skipped)} skipped; "
            f"{len(plan.feeds)} feeds in {config.out}: {len(report.written)} files written, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
        )


@click.command()
@config_options
@wait_option
@json_option
def check(config_path: Path | None, content: Path | None, wait: float, as_json: bool) -> None:
    """Read every article file and report problems; write no feeds.

    What it parses is kept in the state store (cache_dir), so the next build is quicker.
    Exits 1 when any file has a problem. Example: publisher check --content _news
    """
    config = load_settings(config_path, content=content)
    with job_errors(), ParseProgress(not as_json) as progress:
        loaded = run_check(config, wait=wait, progress=progress)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "articles": loaded.files,
                    "loaded": loaded.files - len(loaded.problems),
                    "skipped": [{"path": p.path, "error": str(p)} for p in loaded.problems],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        report_problems(loaded.problems)
        click.echo(f"{loaded.files} articles read, {len(loaded.problems)} with problems")
    if loaded.problems:
        sys.exit(EXIT_PROBLEMS)
