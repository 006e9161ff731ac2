"""The root `openprofiles` group: the version option, every command group registered on it, and a
bare `openprofiles` run as `openprofiles serve`."""

from __future__ import annotations

import click

from openprofiles import __version__
from openprofiles.cli.dead_letters import dead_letters
from openprofiles.cli.expire import expire
from openprofiles.cli.flows import flows
from openprofiles.cli.integrations import integrations
from openprofiles.cli.keys import keys
from openprofiles.cli.serve import serve
from openprofiles.cli.worker import worker
from openprofiles.cli.workflows import workflows


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="openprofiles")
@click.pass_context
def main(ctx: click.Context) -> None:
    """OpenProfiles: self-hosted Amazon Connect Customer Profiles and AppFlow."""
    if ctx.invoked_subcommand is None:
        # As `openprofiles serve` with no arguments, so OPENPROFILES_* variables apply.
        ctx.exit(serve.main(args=[], prog_name="openprofiles serve", standalone_mode=False) or 0)


for _command in (serve, worker, expire, keys, dead_letters, flows, integrations, workflows):
    main.add_command(_command)
