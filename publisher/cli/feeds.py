"""``publisher build`` and ``publisher check``: articles → feeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from publisher.cli import common
from publisher.cli.common import (
    EXIT_PROBLEMS,
    EXIT_USAGE,
    ParseProgress,
    config_options,
    fail,
    for_each_site,
    job_errors,
    json_option,
    load_settings,
    report_problems,
    site_option,
    wait_option,
)
from publisher.config import Config
from publisher.jobs import BuildOutcome, ShrinkRefusal, StrictRefusal, run_build, run_check

EXIT_HUB_FAILED = 8


@click.command()
@config_options
@site_option
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [default: feeds].")
@click.option("--site-url", help="Public URL of the output folder, for self links.")
@click.option("--strict", is_flag=True, help="Treat a bad article file as fatal: write nothing.")
@wait_option
@json_option
@click.option(
    "--no-cache", is_flag=True, help="Parse and render everything again; ignore the caches."
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems and warnings.")
@click.option(
    "--force",
    is_flag=True,
    help="Publish even if far fewer articles are selected than last time, and replace files "
    "publisher did not write.",
)
def build(
    config_path: Path | None,
    site_names: tuple[str, ...],
    content: Path | None,
    out: Path | None,
    site_url: str | None,
    strict: bool,
    wait: float,
    as_json: bool,
    no_cache: bool,
    quiet: bool,
    force: bool,
) -> None:
    """Write RSS, Atom and JSON feeds for all topics and for each topic, and their pages.

    With a WebSub hub ([websub] hub), the hub is told of each feed that changed; exit code 8
    when it could not be (the feeds are written; the next build tries again).

    With several sites ([sites] in the config), each is built in turn and reports on lines of
    its own; the exit code is the worst.

    Example: publisher build --content _news --out public/feeds --site-url https://example.org/feeds/
    """

    def run(base: Config | None) -> None:
        config = load_settings(config_path, base=base, content=content, out=out, site_url=site_url)
        _build_site(config, wait, strict, as_json, no_cache, quiet, force)

    for_each_site(config_path, site_names, run, as_json=as_json, overrides=(content, out, site_url))


def _build_site(
    config: Config,
    wait: float,
    strict: bool,
    as_json: bool,
    no_cache: bool,
    quiet: bool,
    force: bool,
) -> None:
    """Build one site and report it; exits non-zero on failure."""
    with job_errors(), ParseProgress(not (quiet or as_json)) as progress:
        try:
            outcome = run_build(
                config,
                wait=wait,
                use_cache=not no_cache,
                strict=strict,
                progress=progress,
                force=force,
                today=common.today("UTC"),
            )
        except StrictRefusal as refusal:
            report_problems(refusal.loaded.problems)
            fail(str(refusal), EXIT_PROBLEMS)
        except ShrinkRefusal as refusal:
            # The bad files first: they are most often why so few articles are left.
            report_problems(refusal.loaded.problems)
            fail(str(refusal), EXIT_USAGE)
    if outcome.loaded:
        report_problems(outcome.loaded.problems)
    if not as_json:
        for warning in [*outcome.warnings, *_hub_warnings(outcome, config)]:
            click.echo(f"warning: {warning}", err=True)
    _report_build(outcome, config, as_json=as_json, quiet=quiet)
    if outcome.pings and outcome.pings.failed:
        sys.exit(EXIT_HUB_FAILED)


def _hub_warnings(outcome: BuildOutcome, config: Config) -> list[str]:
    """One line per reason the hub was not told of some feeds."""
    if not outcome.pings:
        return []
    by_reason: dict[str, list[str]] = {}
    for url, reason in outcome.pings.failed.items():
        by_reason.setdefault(reason, []).append(url)
    hub = config.websub.hub
    return [
        f"websub.hub: {hub}: {urls[0] if len(urls) == 1 else f'{len(urls)} feeds'} not told of"
        f" the change: {reason}; the next build tries again"
        for reason, urls in by_reason.items()
    ]


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
            "websub": None
            if outcome.pings is None
            else {
                "hub": config.websub.hub,
                "pinged": outcome.pings.pinged,
                "failed": [
                    {"url": url, "error": error} for url, error in outcome.pings.failed.items()
                ],
            },
        }
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif quiet:
        return
    elif plan is None:
        click.echo(f"{outcome.files} articles read; {config.out} is up to date{_pinged(outcome)}")
    else:
        click.echo(
            f"{outcome.files} articles read, {plan.selected} selected, {len(skipped)} skipped; "
            f"{len(plan.feeds)} feeds in {config.out}: {len(report.written)} files written, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed{_pinged(outcome)}"
        )


def _pinged(outcome: BuildOutcome) -> str:
    pinged = len(outcome.pings.pinged) if outcome.pings else 0
    return f"; hub told of {pinged} changed feed{'s' if pinged != 1 else ''}" if pinged else ""


@click.command()
@config_options
@site_option
@wait_option
@json_option
def check(
    config_path: Path | None,
    site_names: tuple[str, ...],
    content: Path | None,
    wait: float,
    as_json: bool,
) -> None:
    """Read every article file and report problems; write no feeds.

    What it parses is kept in the state store (cache_dir), so the next build is quicker.
    Exits 1 when any file has a problem; with several sites, the worst exit of any.
    Example: publisher check --content _news
    """

    def run(base: Config | None) -> None:
        _check_site(load_settings(config_path, base=base, content=content), wait, as_json)

    for_each_site(config_path, site_names, run, as_json=as_json, overrides=(content,))


def _check_site(config: Config, wait: float, as_json: bool) -> None:
    """Check one site's articles and report them; exits 1 when a file has a problem."""
    with job_errors(), ParseProgress(not as_json) as progress:
        loaded = run_check(config, wait=wait, progress=progress)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "articles": loaded.files,
                    "loaded": loaded.files - len(loaded.problems),
                    "skipped": [{"path": p.path, "error": str(p)} for p in loaded.problems],
                    "warnings": [str(warning) for warning in loaded.warnings],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        report_problems(loaded.problems)
        for warning in loaded.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(f"{loaded.files} articles read, {len(loaded.problems)} with problems")
    if loaded.problems:
        sys.exit(EXIT_PROBLEMS)
