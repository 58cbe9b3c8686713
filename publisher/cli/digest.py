"""``publisher digest``: a week's articles → the newsletter files, optionally sent."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import click

from publisher.cache import InlineCache
from publisher.cli import common
from publisher.cli.common import (
    EXIT_USAGE,
    config_options,
    fail,
    json_option,
    load_content,
    load_settings,
    output_guard,
    report_problems,
    wait_option,
)
from publisher.digest.issue import IsoWeek, plan_digest
from publisher.digest.message import message_id
from publisher.digest.render import inline_css, render_digest
from publisher.errors import PreviewError, PublisherError, SendError
from publisher.mail import envelope_address, send_message
from publisher.output import write_outputs
from publisher.preview import PREVIEW_WIDTH, find_browser, screenshot

EXIT_EMPTY_WEEK = 5
EXIT_SEND_FAILED = 6
EXIT_NO_BROWSER = 7


@click.command()
@config_options
@click.option(
    "--week",
    is_flag=False,
    flag_value="",
    metavar="[YYYY-Www]",
    help="ISO week to publish [default, or --week alone: the last complete week].",
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

    A week sent to the list is recorded (newsletters/<week>.sent); sending it again needs
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
    try:
        browser = find_browser() if preview else None
    except PreviewError as error:
        fail(str(error), EXIT_NO_BROWSER)
    try:
        chosen = (
            IsoWeek.parse(week)
            if week
            else IsoWeek.last_complete(common.today(config.digest.timezone))
        )
        loaded = load_content(config)
        report_problems(loaded)
        issue = plan_digest(config, loaded.articles, chosen)
        if issue.is_empty:
            nothing = {"week": chosen.label, "stories": 0, "files": [], "sent_to": []}
            empty = f"{chosen}: no articles selected for {issue.period}; nothing written"
            click.echo(json.dumps(nothing) if as_json else empty)
            sys.exit(EXIT_EMPTY_WEEK)
        rendered = render_digest(config, issue, InlineCache(Path(config.cache_dir), inline_css))
    except PublisherError as error:
        fail(str(error), EXIT_USAGE)
    for warning in rendered.warnings:
        click.echo(f"warning: {warning}", err=True)
    written = _write(Path(config.digest.out), rendered.files, wait)
    written += _write(
        Path(config.digest.archive), {rendered.archive_name: rendered.archive_page}, wait
    )
    sent_to = list(recipients) or [envelope_address(config.digest.list_address)]
    marker = f"{chosen.label}.sent"
    to_list = send and not recipients
    if to_list and not resend and (Path(config.digest.out) / marker).exists():
        # A rerun of the weekly job must not mail every subscriber again.
        click.echo(f"{chosen}: already sent to the list; not sent again (--resend to send anyway)")
        send = False
    if send:
        try:
            send_message(
                smtp,
                rendered.message,
                sender=envelope_address(config.digest.sender),
                recipients=sent_to,
                password=password,
            )
        except SendError as error:
            fail(f"not sent: {error}", EXIT_SEND_FAILED)
        if to_list:
            _write(
                Path(config.digest.out), {marker: f"{message_id(rendered.digest)}\n".encode()}, wait
            )
    # After sending: a preview that fails must not hold the issue back.
    if preview and browser:
        try:
            screenshot(browser, rendered.html, preview)
        except PreviewError as error:
            fail(str(error), EXIT_NO_BROWSER)
        click.echo(f"preview: {preview} ({PREVIEW_WIDTH} px wide)", err=True)
    summary = {
        "week": chosen.label,
        "stories": len(issue.stories),
        "sections": [section.topic for section in issue.sections],
        "files": written,
        "html_bytes": len(rendered.html.encode("utf-8")),
        "sent_to": sent_to if send else [],
        "preview": str(preview) if preview else None,
    }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        sent = f"; sent to {', '.join(sent_to)}" if send else ""
        click.echo(
            f"{chosen}: {len(issue.stories)} stories in {len(issue.sections)} topics; "
            f"wrote {', '.join(written)}{sent}"
        )


def _write(folder: Path, files: dict[str, bytes], wait: float) -> list[str]:
    with output_guard(folder, wait):
        write_outputs(folder, files, prune=False)
    return [str(folder / name) for name in sorted(files)]
