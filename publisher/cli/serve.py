"""``publisher serve``: preview the site on a local port, built again on every change."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import click

from publisher.cli import common
from publisher.cli.common import (
    EXIT_USAGE,
    choose_sites,
    config_options,
    fail,
    job_errors,
    load_settings,
)
from publisher.config import DEFAULT_CONFIG_NAME, Config, check_config, check_folders
from publisher.errors import PublisherError
from publisher.jobs import forget_output_folder
from publisher.serve import Preview, hold_interrupts, listen, serve, stopping
from publisher.sites import NO_SITES, load_sites


@click.command("serve")
@config_options
@click.option("--site", "site_name", metavar="NAME", help="The site of [sites] to preview.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Build here [default: a temporary folder]; never the published folder.",
)
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
def serve_command(
    config_path: Path | None,
    site_name: str | None,
    content: Path | None,
    out: Path | None,
    bind: str,
    port: int,
) -> None:
    """Preview the site: build it, serve it, and build it again when a file changes.

    Articles, the config file and the newsletter templates (digest.templates) are watched.
    The current week's newsletter is at /newsletter/ (another week:
    /newsletter/?week=2026-W47), rendered on each request: nothing is sent or recorded.
    Problems show here and on the pages; the server keeps going. Ctrl-C stops it.

    With several sites ([sites] in the config), --site names the one to preview.

    Example: publisher serve --port 8001
    """
    sites = choose_sites(config_path, [site_name] if site_name else [])
    if len(sites) > 1:
        fail(f"--site: name one of the config's sites ({', '.join(sites)})", EXIT_USAGE)
    name, base = next(iter(sites.items()))
    config = load_settings(config_path, base=None if name == NO_SITES else base, content=content)
    if out and os.path.realpath(out) == os.path.realpath(config.out):
        fail(f"--out: {out} is the published folder (out); choose another", EXIT_USAGE)

    def settings() -> Config:
        """The settings as they are now: the config file is read again on every build."""
        current = load_sites(config_path)[name].with_overrides(
            content=str(content) if content else None
        )
        check_config(current)
        return current

    default = Path(DEFAULT_CONFIG_NAME)
    watched = config_path or (default if default.is_file() else None)
    with (
        contextlib.suppress(KeyboardInterrupt),
        stopping() as allow_stop,
        job_errors(),
        ExitStack() as cleanup,
    ):
        folder = out
        if folder is None:
            scratch = tempfile.TemporaryDirectory(prefix="publisher-serve-")
            folder = Path(cleanup.enter_context(scratch))
            forget = Config(out=str(folder), cache_dir=config.cache_dir)
            # The store forgets the scratch folder; it is deleted just after.
            cleanup.callback(suppressed, lambda: forget_output_folder(forget, wait=5))
        # Once on the way out, no Ctrl-C cuts the tidying short.
        cleanup.callback(hold_interrupts)
        allow_stop()
        check_served_folder(config, folder, given=out is not None)
        preview = Preview(
            settings,
            folder,
            config_file=watched,
            today=common.today,
            say=click.echo,
            warn=lambda line: click.echo(line, err=True),
        )
        serve(preview, listen(bind, port, preview))
    click.echo("Stopped.")


def check_served_folder(config: Config, folder: Path, *, given: bool) -> None:
    """The folder built into and served must be one ``build`` would write: never the root
    or home folder, the content, the cache, the newsletters, nor in or around the published
    folder (the preview's links point at the local server)."""
    label = "--out" if given else "the scratch folder"
    check_folders(
        replace(config, out=str(folder)),
        source="command line" if given else "",
        labels={"out": label},
        taken={"the published folder (out)": config.out},
    )


def suppressed(action: Callable[[], None]) -> None:
    """Tidying up on the way out: a failure there is not worth a failing exit."""
    with contextlib.suppress(PublisherError):
        action()
