"""``publisher digest``: a week's articles → the newsletter files, optionally sent."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import click

from publisher.cli import common
from publisher.cli.common import (
    EXIT_USAGE,
    config_options,
    fail,
    job_errors,
    json_option,
    load_settings,
    report_problems,
    wait_option,
)
from publisher.digest.issue import IssueWeek, weekday_number
from publisher.errors import PreviewError, SendError
from publisher.jobs import DigestRequest, run_digest
from publisher.preview import PREVIEW_WIDTH

EXIT_EMPTY_WEEK = 5
EXIT_SEND_FAILED = 6
EXIT_NO_BROWSER = 7


@click.command()
@config_options
@click.option(
    "--week",
    is_flag=False,
    flag_value="",
    metavar="[YYYY-Www|YYYY-MM-DD]",
    help="The week starting in that ISO week, or containing that day "
    "[default, or --week alone: the last complete week].",
)
@click.option("--out", type=click.Path(path_type=Path), help="Folder for the issue files.")
@click.option("--send", is_flag=True, help="Deliver the .eml over SMTP (digest.smtp).")
@click.option("--to", "recipients", multiple=True, help="Send here, not to the list address.")
@click.option("--resend", is_flag=True, help="Send to the list even if this week was sent.")
@click.option("--preview", type=click.Path(path_type=Path), help="Write a PNG screenshot too.")
@wait_option
@json_option
def digest(
    config_path: Path | None,
    content: Path | None,
    week: str | None,
    out: Path | None,
    send: bool,
    recipients: tuple[str, ...],
    resend: bool,
    preview: Path | None,
    wait: float,
    as_json: bool,
) -> None:
    """Write a week's newsletter: HTML (CSS inlined), text, .eml and a Jekyll archive page.

    A week sent to the list is recorded in the state store; sending it again needs
    --resend, so rerunning the weekly job is safe.

    Exit codes: 0 written (and sent), 2 bad config, option or template, 3 output not
    writable, 4 output locked, 5 no articles that week (nothing written, nothing sent),
    6 sending failed (files are written), 7 --preview without Chromium.

    Example: publisher digest --week 2020-W47 --content _news --send --to me@example.org
    """
    config = load_settings(config_path, content=content)
    if out:
        config = replace(config, digest=replace(config.digest, out=str(out)))
    if recipients and not send:
        fail("--to: only with --send", EXIT_USAGE)
    smtp = config.digest.smtp
    password = os.environ.get(smtp.password_env)
    if send and smtp.user and password is None:
        fail(f"digest.smtp.password_env: {smtp.password_env} is not set", EXIT_USAGE)
    zone = config.digest.timezone
    with job_errors():
        starts = weekday_number(config.digest.week_starts)
        chosen = (
            IssueWeek.parse(week, starts)
            if week
            else IssueWeek.last_complete(common.today(zone), starts)
        )
        request = DigestRequest(
            chosen, send, recipients, resend, password, common.now(zone), preview
        )
        try:
            outcome = run_digest(config, request, wait=wait)
        except SendError as error:
            if error.possibly_sent:
                # Not sent again by the next run: a person should check the list first.
                fail(f"not confirmed: {error} (--resend to send again)", EXIT_SEND_FAILED)
            fail(f"not sent: {error}", EXIT_SEND_FAILED)
        except PreviewError as error:
            fail(str(error), EXIT_NO_BROWSER)
    report_problems(outcome.loaded.problems)
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    issue, rendered = outcome.issue, outcome.rendered
    if rendered is None:
        nothing = {"week": chosen.label, "stories": 0, "files": [], "sent_to": []}
        empty = f"{chosen}: no articles selected for {issue.period}; nothing written"
        click.echo(json.dumps(nothing) if as_json else empty)
        sys.exit(EXIT_EMPTY_WEEK)
    if outcome.already_sent:
        # A rerun of the weekly job must not mail every subscriber again.
        state = "already sent" if outcome.already_sent.state == "sent" else "possibly sent"
        click.echo(f"{chosen}: {state} to the list; not sent again (--resend to send anyway)")
    if outcome.preview_error:
        fail(outcome.preview_error, EXIT_NO_BROWSER)
    if preview:
        click.echo(f"preview: {preview} ({PREVIEW_WIDTH} px wide)", err=True)
    summary = {
        "week": chosen.label,
        "stories": len(issue.stories),
        "sections": [section.topic for section in issue.sections],
        "files": outcome.files,
        "html_bytes": len(rendered.html.encode("utf-8")),
        "sent_to": outcome.sent_to,
        "preview": str(preview) if preview else None,
    }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        sent = f"; sent to {', '.join(outcome.sent_to)}" if outcome.sent_to else ""
        click.echo(
            f"{chosen}: {len(issue.stories)} stories in {len(issue.sections)} topics; "
            f"wrote {', '.join(outcome.files)}{sent}"
        )
