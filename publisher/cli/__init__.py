"""The ``publisher`` command: click at the edge, the work in the library."""

import click

from publisher import __version__
from publisher.cli.digest import digest
from publisher.cli.feeds import build, check


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="publisher")
def main() -> None:
    """Publish a folder of curated news articles as feeds and a weekly newsletter."""


main.add_command(build)
main.add_command(check)
main.add_command(digest)

__all__ = ["main"]
