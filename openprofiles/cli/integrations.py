"""`openprofiles integrations list`: Customer Profiles integrations with their PENDING/ACTIVE state and
their flow's status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from openprofiles.app import Runtime
from openprofiles.cli.common import DEFAULT_ACCOUNT, cli_context, opened, print_table, storage_options
from openprofiles.context import RequestContext
from openprofiles.errors import ServiceError


@click.group()
def integrations() -> None:
    """Customer Profiles integrations."""


def all_domains(runtime: Runtime, ctx: RequestContext) -> list[str]:
    """The names of every domain of the context's account and region, page by page."""
    names: list[str] = []
    while True:
        page = runtime.domains.list(ctx, names[-1] if names else None, 100)
        names += [domain.name for domain in page]
        if len(page) < 100:
            return names


@integrations.command("list")
@click.option("--domain", "domain_name", default=None, help="Only this domain's integrations (default: every domain).")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@storage_options
def integrations_list(domain_name: str | None, account_id: str, region: str, as_json: bool, data_dir: Path,
                      database_url: str | None) -> None:
    """List integrations: PENDING until their flow has run successfully once, ACTIVE after."""
    ctx = cli_context(account_id, region, "ListIntegrations")
    with opened(data_dir, database_url) as runtime:
        try:
            names = [domain_name] if domain_name else all_domains(runtime, ctx)
            states = [state for name in names for state in runtime.integrations.states(ctx, name)]
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    rows: list[dict[str, Any]] = [{
        "DomainName": state.integration.record.domain_name,
        "Uri": state.integration.record.uri,
        "ObjectTypeName": state.integration.record.object_type_name,
        "ObjectTypeNames": state.integration.record.object_type_names,
        "Status": state.status,
        "FlowName": state.integration.record.uri.rsplit("/", 1)[-1],
        "FlowStatus": state.flow_status,
        "WorkflowId": state.integration.record.workflow_id,
        "CreatedAt": state.integration.record.created_at.isoformat(),
    } for state in states]
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table("Domain", "Flow", "ObjectType", "Status", "FlowStatus", "Workflow", "Created")
    for row in rows:
        mapping = row["ObjectTypeName"] or ", ".join(f"{k}={v}" for k, v in (row["ObjectTypeNames"] or {}).items())
        table.add_row(row["DomainName"], row["FlowName"], mapping, row["Status"], row["FlowStatus"] or "(deleted)",
                      row["WorkflowId"] or "", row["CreatedAt"][:19].replace("T", " "))
    print_table(table)
