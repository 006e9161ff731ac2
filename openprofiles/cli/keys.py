"""`openprofiles keys`: create, list and revoke access keys; rotate the master key."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from openprofiles.cli.common import DEFAULT_ACCOUNT, open_runtime, opened, print_table, settings_for, storage_options
from openprofiles.crypto.keyring import KeyringError
from openprofiles.crypto.rotation import rotate_master
from openprofiles.errors import ServiceError


@click.group()
def keys() -> None:
    """Access keys for SigV4-signed requests."""


@keys.command("create")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True, help="12-digit account id.")
@click.option("--json", "as_json", is_flag=True, help="Print {AccessKeyId, SecretAccessKey, AccountId}.")
@storage_options
def keys_create(account_id: str, as_json: bool, data_dir: Path, database_url: str | None) -> None:
    """Create an access key pair; the secret is printed this once."""
    with opened(data_dir, database_url) as runtime:
        try:
            key = runtime.access_keys.create(account_id)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    if as_json:
        click.echo(
            json.dumps(
                {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key, "AccountId": key.account_id}
            )
        )
    else:
        click.echo(f"AccessKeyId:     {key.access_key_id}\nSecretAccessKey: {key.secret_access_key}\nAccountId:       {key.account_id}")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@storage_options
def keys_list(as_json: bool, data_dir: Path, database_url: str | None) -> None:
    """List access keys (never their secrets)."""
    with opened(data_dir, database_url) as runtime:
        summaries = runtime.access_keys.list()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "AccessKeyId": s.access_key_id,
                        "AccountId": s.account_id,
                        "Status": "Active" if s.active else "Inactive",
                        "CreateDate": s.created_at.isoformat(),
                    }
                    for s in summaries
                ]
            )
        )
        return
    # The ids are what a user copies into `keys revoke`: never shortened, however narrow the output.
    table = Table("AccessKeyId", "AccountId", "Status", "Created", "Revoked")
    for column, width in ((table.columns[0], 20), (table.columns[1], 12)):
        column.no_wrap = True
        column.min_width = width
    for s in summaries:
        table.add_row(
            s.access_key_id,
            s.account_id,
            "Active" if s.active else "Revoked",
            s.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            s.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if s.revoked_at else "",
        )
    print_table(table, min_width=120)


@keys.command("revoke")
@click.argument("access_key_id")
@storage_options
def keys_revoke(access_key_id: str, data_dir: Path, database_url: str | None) -> None:
    """Revoke a key: requests signed with it fail at once."""
    with opened(data_dir, database_url) as runtime:
        try:
            runtime.access_keys.revoke(access_key_id)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    click.echo(f"Revoked {access_key_id}")


@keys.command("rotate-master")
@storage_options
def keys_rotate_master(data_dir: Path, database_url: str | None) -> None:
    """Make a new master key current and re-wrap the data keys with it, without downtime."""
    settings = settings_for(data_dir, database_url)
    runtime = open_runtime(settings)
    try:
        result = rotate_master(runtime.db, settings.data_dir, settings.master_key)
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    finally:
        runtime.close()
    previous = ", ".join(result.previous_key_ids) or "none"
    summary = (
        f"Master key rotated: {result.new_key_id} is now current (previous: {previous}).\n"
        f"Re-wrapped {result.rewrapped} data keys; {result.kms_wrapped} wrapped by AWS KMS keys were left as they are."
    )
    if result.still_on_previous:
        summary += (
            f"\n{result.still_on_previous} data keys are still wrapped by a previous key; they open while it stays "
            "configured. Run rotate-master again after every process has restarted."
        )
    if result.key_file is not None:
        click.echo(summary)
        click.echo(
            f"Wrote {result.key_file} (new key first, then the previous ones). Keep them all; running servers "
            "pick it up by themselves."
        )
        return
    click.echo(summary, err=True)
    click.echo(
        "master.key was not written (OPENPROFILES_MASTER_KEY is set). Set OPENPROFILES_MASTER_KEY to the value "
        "below in every process and restart them now: a process still on the old value cannot open data keys "
        "it has not loaded yet. Shown only once.",
        err=True,
    )
    click.echo(result.env_value)
