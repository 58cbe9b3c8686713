"""``publisher build`` and ``publisher check``: articles → feeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from publisher.cache import RenderCache, cache_file, input_fingerprint, is_racy
from publisher.cli.common import (
    EXIT_PROBLEMS,
    Timings,
    config_options,
    fail,
    json_option,
    load_content,
    load_settings,
    output_guard,
    report_problems,
    scan_content,
    wait_option,
)
from publisher.config import Config
from publisher.output import WriteReport, current_outputs, write_outputs


@click.command()
@config_options
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [default: feeds].")
@click.option("--site-url", help="Public URL of the output folder, for self links.")
@click.option("--strict", is_flag=True, help="Treat a bad article file as fatal: write nothing.")
@wait_option
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
    config = load_settings(config_path, content=content, out=out, site_url=site_url)
    # The lock covers the whole run, reading included: a slow run of older inputs must not
    # finish after, and overwrite, a newer run's feeds.
    with output_guard(Path(config.out), wait):
        _build(config, strict=strict, as_json=as_json, no_cache=no_cache, quiet=quiet)


def _build(config: Config, *, strict: bool, as_json: bool, no_cache: bool, quiet: bool) -> None:
    timings = Timings()
    out_dir = Path(config.out)
    with timings.stage("scan"):
        stamps = scan_content(config)
        inputs = input_fingerprint(config, Path(config.content), stamps)
        unchanged = None
        if not no_cache:
            settled = lambda written_ns: not is_racy(stamps, written_ns)  # noqa: E731
            unchanged = current_outputs(out_dir, inputs, settled)
    if unchanged is not None:
        # Same files, same settings, outputs untouched since: nothing to do.
        report = WriteReport(unchanged=unchanged)
        _report_build(as_json, quiet, config, report, timings, files=len(stamps))
        return
    from publisher.build import plan_feeds, render_feed_files, render_feeds
    from publisher.feeds import RENDERER_VERSION

    with timings.stage("load"):
        loaded = load_content(config, use_cache=not no_cache, quiet=quiet or as_json, stamps=stamps)
    report_problems(loaded)
    if strict and loaded.problems:
        fail(
            f"{len(loaded.problems)} bad article file(s); nothing written (--strict)", EXIT_PROBLEMS
        )
    with timings.stage("select"):
        feeds, slug_warnings = plan_feeds(config, loaded.articles)
    render_warnings: list[str] = []
    with timings.stage("render"):
        if no_cache:
            plan = render_feeds(config, feeds, slug_warnings)
        else:
            cache_path = cache_file(Path(config.cache_dir), out_dir, kind="feeds")
            rendered = RenderCache(cache_path, RENDERER_VERSION, render_feed_files)
            plan = render_feeds(config, feeds, slug_warnings, rendered)
            if warning := rendered.save():
                render_warnings.append(warning)
    warnings = [*loaded.warnings, *plan.warnings, *render_warnings]
    if not as_json:
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
    # A run with problems or warnings is never skipped next time: they are reported again.
    clean = not loaded.problems and not warnings
    with timings.stage("write"):
        report = write_outputs(out_dir, plan.outputs, inputs=inputs if clean else "")
    _report_build(
        as_json,
        quiet,
        config,
        report,
        timings,
        files=loaded.files,
        loaded=len(loaded.articles),
        selected=plan.selected,
        feeds=len(plan.feeds),
        cache_hits=loaded.cache_hits,
        skipped=[{"path": p.path, "error": str(p)} for p in loaded.problems],
        warnings=warnings,
    )


def _report_build(
    as_json: bool,
    quiet: bool,
    config: Config,
    report: WriteReport,
    timings: Timings,
    *,
    files: int,
    loaded: int | None = None,
    selected: int | None = None,
    feeds: int | None = None,
    cache_hits: int | None = None,
    skipped: list[dict[str, str]] | None = None,
    warnings: list[str] | None = None,
) -> None:
    """The summary: one line, or one JSON object with ``--json``."""
    if as_json:
        summary = {
            "articles": files,
            "loaded": loaded,
            "selected": selected,
            "feeds": feeds,
            "cache_hits": cache_hits,
            "up_to_date": loaded is None,
            "skipped": skipped or [],
            "warnings": warnings or [],
            "written": report.written,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "timings": timings.stages,
        }
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif quiet:
        return
    elif loaded is None:
        click.echo(f"{files} articles read; {config.out} is up to date")
    else:
        click.echo(
            f"{files} articles read, {selected} selected, {len(skipped or [])} skipped; "
            f"{feeds} feeds in {config.out}: {len(report.written)} files written, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
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
