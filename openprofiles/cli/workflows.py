"""`openprofiles workflows list|show`: a domain's integration workflows (historical backfills), a
workflow's metrics and its steps."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from openprofiles.cli.common import DEFAULT_ACCOUNT, cli_context, opened, print_table, storage_options
from openprofiles.errors import ServiceError
from openprofiles.services.customer_profiles.workflows import describe


@click.group()
def workflows() -> None:
    """Customer Profiles integration workflows (historical backfills)."""


@workflows.command("list")
@click.option("--domain", "domain_name", required=True, help="The domain whose workflows to list.")
@click.option("--status", default=None, help="Only workflows in this status (NOT_STARTED, IN_PROGRESS, COMPLETE, …).")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@storage_options
def workflows_list(domain_name: str, status: str | None, account_id: str, region: str, as_json: bool,
                   data_dir: Path, database_url: str | None) -> None:
    """List a domain's workflows, newest first."""
    ctx = cli_context(account_id, region, "ListWorkflows")
    with opened(data_dir, database_url) as runtime:
        try:
            records = runtime.workflows.list(ctx, domain_name, status=status, workflow_type=None, started_from=None,
                                             started_to=None, after=None, limit=1000)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    rows = [{"WorkflowId": r.workflow_id, "Status": r.status, "StatusDescription": describe(r),
             "FlowName": r.flow_name, "ObjectTypeName": r.object_type_name, "CreatedAt": r.created_at.isoformat(),
             "LastUpdatedAt": r.last_updated_at.isoformat()} for r in records]
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table("WorkflowId", "Status", "Flow", "ObjectType", "Created", "Description")
    table.columns[0].no_wrap = True
    for row in rows:
        table.add_row(row["WorkflowId"], row["Status"], row["FlowName"], row["ObjectTypeName"],
                      row["CreatedAt"][:19].replace("T", " "), row["StatusDescription"])
    print_table(table)


@workflows.command("show")
@click.argument("workflow_id")
@click.option("--domain", "domain_name", required=True, help="The workflow's domain.")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the workflow and its steps as JSON.")
@storage_options
def workflows_show(workflow_id: str, domain_name: str, account_id: str, region: str, as_json: bool,
                   data_dir: Path, database_url: str | None) -> None:
    """Show a workflow, its metrics and its steps (one per batch)."""
    ctx = cli_context(account_id, region, "GetWorkflow")
    with opened(data_dir, database_url) as runtime:
        try:
            workflow = runtime.workflows.get(ctx, domain_name, workflow_id)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    record = workflow.record
    steps = [{"Position": step.position, "Status": step.status, "RecordsProcessed": step.records_processed,
              "BatchStart": step.batch_start.isoformat() if step.batch_start else None,
              "BatchEnd": step.batch_end.isoformat() if step.batch_end else None,
              "Message": step.message} for step in workflow.steps]
    if as_json:
        click.echo(json.dumps({
            "WorkflowId": record.workflow_id, "Status": record.status, "ErrorDescription": record.error_description,
            "FlowName": record.flow_name, "ObjectTypeName": record.object_type_name,
            "RecordsProcessed": workflow.records_processed, "StepsCompleted": workflow.steps_completed,
            "TotalSteps": len(workflow.steps), "Steps": steps}))
        return
    click.echo(f"Workflow {record.workflow_id} ({record.status}), flow {record.flow_name} → {record.object_type_name}: "
               f"{workflow.steps_completed}/{len(workflow.steps)} steps, {workflow.records_processed} records")
    if record.error_description:
        click.echo(f"Error: {record.error_description}")
    table = Table("Step", "Status", "Records", "From", "Until", "Message")
    for step in steps:
        table.add_row(str(step["Position"]), str(step["Status"]), str(step["RecordsProcessed"]),
                      str(step["BatchStart"] or "(start)"), str(step["BatchEnd"] or ""), str(step["Message"] or ""))
    print_table(table)
