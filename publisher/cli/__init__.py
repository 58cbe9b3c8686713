"""The ``publisher`` command: click at the edge, the work in the library."""

from __future__ import annotations

import importlib

import click

from publisher import __version__

COMMANDS = {
    "build": "publisher.cli.feeds:build",
    "check": "publisher.cli.feeds:check",
    "digest": "publisher.cli.digest:digest",
    "init": "publisher.cli.init:init",
    "serve": "publisher.cli.serve:serve_command",
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs.

    Cron runs ``build`` every few minutes; it should not pay for importing the
    newsletter's libraries (premailer, cssutils, jinja2) it never uses.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="publisher")
def main() -> None:
    """Publish a folder of curated news articles as feeds and a weekly newsletter."""


__all__ = ["main"]
