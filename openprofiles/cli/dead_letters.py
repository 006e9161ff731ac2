"""`openprofiles dead-letters`: list, show, redrive and flush objects that could not be ingested."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from openprofiles.app import Runtime
from openprofiles.cli.common import (
    DEFAULT_ACCOUNT,
    grant_options,
    grant_settings,
    open_runtime,
    opened,
    settings_for,
    storage_options,
)
from openprofiles.errors import ServiceError


@click.group("dead-letters")
def dead_letters() -> None:
    """Objects that could not be ingested, with the reason."""


def domain_id(runtime: Runtime, account_id: str, region: str, name: str | None) -> int | None:
    """The id of the named domain (None for no name); a ClickException when it does not exist."""
    if name is None:
        return None
    with runtime.store.read() as uow:
        domain = uow.domains.get(account_id, region, name)
    if domain is None:
        raise click.ClickException(f"Domain {name} does not exist for account {account_id} in {region}")
    return domain.id


@dead_letters.command("list")
@click.option("--domain", "domain_name", default=None, help="Only this domain's letters.")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--after", type=int, default=None, help="Only letters with a larger id (paging).")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@storage_options
def dead_letters_list(domain_name: str | None, account_id: str, region: str, after: int | None, limit: int,
                      as_json: bool, data_dir: Path, database_url: str | None) -> None:
    """List dead letters (without their payloads)."""
    with opened(data_dir, database_url) as runtime:
        letters = runtime.dead_letters.page(domain_id(runtime, account_id, region, domain_name), after, limit)
    if as_json:
        click.echo(json.dumps([letter_json(letter) for letter in letters]))
        return
    table = Table("Id", "ObjectType", "Source", "Reason", "Queue", "Created", "Redriven")
    for letter in letters:
        table.add_row(str(letter.id), letter.object_type_name, letter.source, letter.reason, letter.queue_state,
                      letter.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      letter.redriven_at.strftime("%Y-%m-%d %H:%M:%S") if letter.redriven_at else "")
    Console().print(table)


def letter_json(letter: Any) -> dict[str, Any]:
    """A dead letter as the JSON the commands print; its object only when it was loaded."""
    out = {
        "Id": letter.id,
        "ObjectTypeName": letter.object_type_name,
        "Source": letter.source,
        "Reason": letter.reason,
        "QueueState": letter.queue_state,
        "QueueAttempts": letter.queue_attempts,
        "QueueError": letter.queue_error,
        "CreatedAt": letter.created_at.isoformat(),
        "RedrivenAt": letter.redriven_at.isoformat() if letter.redriven_at else None,
    }
    if letter.payload is not None:
        out["Object"] = letter.payload
    return out


@dead_letters.command("show")
@click.argument("letter_id", type=int)
@storage_options
def dead_letters_show(letter_id: int, data_dir: Path, database_url: str | None) -> None:
    """Show one dead letter with its (decrypted) object."""
    with opened(data_dir, database_url) as runtime:
        try:
            letter = runtime.dead_letters.get(letter_id)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    click.echo(json.dumps(letter_json(letter), indent=2))


@dead_letters.command("redrive")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@grant_options
@storage_options
def dead_letters_redrive(letter_ids: tuple[int, ...], data_dir: Path, database_url: str | None,
                         **grants: Any) -> None:
    """Ingest letters' objects again with the current object types (after fixing the mapping)."""
    runtime = open_runtime(settings_for(data_dir, database_url, **grant_settings(grants)))
    failed = 0
    try:
        for letter_id in letter_ids:
            try:
                result = runtime.dead_letters.redrive(letter_id, runtime.ingest, runtime.object_types)
            except ServiceError as error:
                click.echo(f"{letter_id}: {error.message}", err=True)
                failed += 1
                continue
            if result.rejected:
                click.echo(f"{letter_id}: rejected again: {result.rejected}", err=True)
                failed += 1
            else:
                click.echo(f"{letter_id}: ingested as {result.object_key} (profile {result.profile_id})")
    finally:
        runtime.close()
    if failed:
        raise SystemExit(1)


@dead_letters.command("flush")
@grant_options
@storage_options
def dead_letters_flush(data_dir: Path, database_url: str | None, **grants: Any) -> None:
    """Send letters still pending to their domains' SQS queues now."""
    runtime = open_runtime(settings_for(data_dir, database_url, **grant_settings(grants)))
    try:
        sent = runtime.dead_letters.flush()
    finally:
        runtime.close()
    click.echo(f"Sent {sent} dead letters")
