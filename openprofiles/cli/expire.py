"""`openprofiles expire`: one retention sweep now (serve runs one every hour)."""

from __future__ import annotations

from pathlib import Path

import click

from openprofiles.cli.common import opened, storage_options


@click.command()
@storage_options
def expire(data_dir: Path, database_url: str | None) -> None:
    """Remove expired profiles and objects now (serve does this every hour)."""
    with opened(data_dir, database_url) as runtime:
        result = runtime.expiry.sweep()
    click.echo(f"Removed {result.profiles} profiles and {result.objects} objects")
