"""``publisher digest``: a week's articles → the newsletter files, optionally sent."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from publisher.cli import common
from publisher.cli.common import (
    EXIT_USAGE,
    config_options,
    exit_code_of,
    for_each_site,
    json_option,
    read_settings,
    report_problems,
    site_option,
    wait_option,
)
from publisher.config import Config, address_problem
from publisher.digest.edition import edition_of
from publisher.digest.issue import Digest
from publisher.errors import PreviewError, PublisherError
from publisher.jobs import DigestOutcome, DigestRequest, run_digest
from publisher.preview import PREVIEW_WIDTH

EXIT_EMPTY_WEEK = 5
EXIT_SEND_FAILED = 6
EXIT_NO_BROWSER = 7


class Report:
    """What the command says: lines for people, or with ``--json`` exactly one JSON object on
    stdout whatever the exit, failures included (``{"error": ..., "exit": N, ...}``)."""

    def __init__(self, *, as_json: bool, quiet: bool) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.fields: dict[str, Any] = {}
        self.notes: dict[str, Any] = {}
        """Reported last: the files skipped and the warnings."""

    def say(self, line: str, *, err: bool = False) -> None:
        """A line for people, unless ``--json`` or ``-q``."""
        if not (self.as_json or self.quiet):
            click.echo(line, err=err)

    def fail(self, message: str, code: int) -> NoReturn:
        """One line on stderr (and the JSON object), then exit ``code``."""
        click.echo(f"publisher: error: {message}", err=True)
        self.finish(code, error=message)

    def finish(self, code: int = 0, *, error: str = "") -> NoReturn:
        if self.as_json:
            document = self.fields | self.notes | ({"error": error} if error else {})
            document["exit"] = code
            click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        sys.exit(code)


class DigestCommand(click.Command):
    """A usage error click reports itself still gets its JSON object with ``--json``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        as_json = "--json" in args  # before parsing: the parser consumes the list
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            if as_json:
                document = {"error": error.format_message(), "exit": error.exit_code}
                click.echo(json.dumps(document, ensure_ascii=False, indent=2))
            raise


@click.command(cls=DigestCommand)
@config_options
@site_option
@click.option(
    "--week",
    is_flag=False,
    flag_value="",
    metavar="[YYYY-Www|YYYY-MM-DD]",
    help="The week starting in that ISO week, or containing that day "
    "[default, or --week alone: the last complete week].",
)
@click.option("--day", metavar="YYYY-MM-DD", help="The day of a daily edition.")
@click.option("--month", metavar="YYYY-MM", help="The month of a monthly edition.")
@click.option("--edition", default="", help="An [editions.NAME] table [default: [digest]].")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for the issue files.")
@click.option("--send", is_flag=True, help="Deliver the .eml over SMTP (digest.smtp).")
@click.option("--to", "recipients", multiple=True, help="Send here, not to the list address.")
@click.option("--resend", is_flag=True, help="Send to the list even if this week was sent.")
@click.option("--preview", type=click.Path(path_type=Path), help="Write a PNG screenshot too.")
@click.option("--force", is_flag=True, help="Replace issue files publisher did not write.")
@wait_option
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems and warnings.")
def digest(
    config_path: Path | None,
    site_names: tuple[str, ...],
    content: Path | None,
    week: str | None,
    day: str | None,
    month: str | None,
    edition: str,
    out: Path | None,
    send: bool,
    recipients: tuple[str, ...],
    resend: bool,
    preview: Path | None,
    force: bool,
    wait: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write a week's newsletter: HTML (CSS inlined), text, .eml, a Jekyll archive page, and
    the issues' Atom and JSON feeds.

    A week sent to the list is recorded in the state store; sending it again needs
    --resend, so rerunning the weekly job is safe. With --json, one JSON object on every
    exit, failures included; with -q, nothing but problems and warnings (for cron).

    Exit codes: 0 written (and sent), 2 bad config, option or template (or a record of
    sends lost with a damaged store: --resend once), 3 output not
    writable or holding a file publisher did not write (--force replaces it), 4 output
    locked, 5 no articles that week (nothing written, nothing sent), 6 sending failed (files
    are written), 7 --preview without Chromium.

    With several sites ([sites] in the config), each site's issue in turn, each on lines of its
    own (--json: one object per site); the exit code is the worst.

    Example: publisher digest --week 2020-W47 --content _news --send --to me@example.org
    """
    periods = {"--day": day, "--week": week, "--month": month}
    options = DigestOptions(
        config_path, content, periods, edition, out, send, recipients, resend, preview, force, wait
    )
    for_each_site(
        config_path,
        site_names,
        lambda base: _digest_site(base, options, Report(as_json=as_json, quiet=quiet)),
        as_json=as_json,
        overrides=(content, out, preview),
        on_error=Report(as_json=as_json, quiet=quiet).fail,
    )


@dataclass(frozen=True)
class DigestOptions:
    """The command line of one ``digest`` run, applied to each site."""

    config_path: Path | None
    content: Path | None
    periods: dict[str, str | None]
    """The period flags as given: ``--day``, ``--week``, ``--month``."""
    edition: str
    out: Path | None
    send: bool
    recipients: tuple[str, ...]
    resend: bool
    preview: Path | None
    force: bool
    wait: float


def _digest_site(base: Config | None, options: DigestOptions, report: Report) -> NoReturn:
    """One site's issue, written (and sent) and reported; always exits."""
    config_path, content, out = options.config_path, options.content, options.out
    send, recipients, resend, preview = (
        options.send,
        options.recipients,
        options.resend,
        options.preview,
    )
    try:
        config = read_settings(config_path, base=base, content=content, digest_out=out)
        chosen = edition_of(config, options.edition)
        if recipients and not send:
            report.fail("--to: only with --send", EXIT_USAGE)
        for recipient in recipients:
            if problem := address_problem(recipient):
                report.fail(f"--to: {problem}", EXIT_USAGE)
        smtp = chosen.config.digest.smtp
        password = os.environ.get(smtp.password_env)
        if send and smtp.user and password is None:
            report.fail(f"digest.smtp.password_env: {smtp.password_env} is not set", EXIT_USAGE)
        zone = chosen.config.digest.timezone
        period = chosen.period(options.periods, common.today(zone))
        report.fields |= {"edition": options.edition or None, "week": period.label}
        request = DigestRequest(
            period,
            send,
            recipients,
            resend,
            password,
            common.now(zone),
            preview,
            options.force,
            chosen,
        )
        outcome = run_digest(chosen.config, request, wait=options.wait)
    except PreviewError as error:
        report.fail(str(error), EXIT_NO_BROWSER)
    except PublisherError as error:
        report.fail(str(error), exit_code_of(error))
    _report_outcome(report, outcome, preview)


def _report_outcome(report: Report, outcome: DigestOutcome, preview: Path | None) -> NoReturn:
    report_problems(outcome.loaded.problems)
    if not report.as_json:
        for warning in outcome.warnings:
            click.echo(f"warning: {warning}", err=True)
    issue, rendered = outcome.issue, outcome.rendered
    week = issue.week
    report.fields |= {"start": week.first_day.isoformat(), "end": week.last_day.isoformat()}
    report.fields |= {"late": outcome.late, "too_late": outcome.too_late}
    report.notes = {
        "skipped": [{"path": p.path, "error": str(p)} for p in outcome.loaded.problems],
        "warnings": outcome.warnings,
    }
    if rendered is None:
        report.fields |= {"stories": 0, "files": [], "sent_to": []}
        empty = f"no articles selected for {issue.period}; nothing written"
        report.say(f"{week}: {empty}")
        report.finish(EXIT_EMPTY_WEEK, error=empty)
    report.fields |= _issue_fields(issue) | {
        "files": outcome.files,
        "html_bytes": len(rendered.html.encode("utf-8")),
        "sent_to": outcome.sent_to,
        "already_sent": outcome.already_sent.state if outcome.already_sent else None,
        "preview": str(preview) if preview and not outcome.preview_error else None,
    }
    if error := outcome.send_error:
        if error.possibly_sent:
            # Not sent again by the next run: a person should check the list first.
            report.fail(f"not confirmed: {error} (--resend to send again)", EXIT_SEND_FAILED)
        report.fail(f"not sent: {error}", EXIT_SEND_FAILED)
    if outcome.already_sent:
        # A rerun of the weekly job must not mail every subscriber again.
        state = "already sent" if outcome.already_sent.state == "sent" else "possibly sent"
        report.say(f"{week}: {state} to the list; not sent again (--resend to send anyway)")
    if outcome.preview_error:
        report.fail(outcome.preview_error, EXIT_NO_BROWSER)
    if preview:
        report.say(f"preview: {preview} ({PREVIEW_WIDTH} px wide)", err=True)
    sent = f"; sent to {', '.join(outcome.sent_to)}" if outcome.sent_to else ""
    report.say(f"{week}: {issue.summary}; wrote {', '.join(outcome.files)}{sent}")
    report.finish(0)


def _issue_fields(issue: Digest) -> dict[str, Any]:
    """The issue as --json reports it: links as the article files give them, no UTM tags."""
    lead = issue.lead
    return {
        "subject": issue.subject,
        "stories": len(issue.stories),
        "left_out": issue.left_out,
        "lead": {"title": lead.title, "url": lead.article_url, "topic": issue.lead_section}
        if lead
        else None,
        "sections": [
            {
                "topic": section.topic,
                "stories": [
                    {"title": story.title, "url": story.article_url} for story in section.stories
                ],
            }
            for section in issue.sections
        ],
    }
