"""`openprofiles flows`: run a flow now, or push records to an Event-triggered flow, and wait for the run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from openprofiles import logs
from openprofiles.cli.common import (
    DEFAULT_ACCOUNT,
    cli_context,
    grant_options,
    grant_settings,
    open_runtime,
    run_options,
    run_settings,
    settings_for,
    storage_options,
)
from openprofiles.errors import ServiceError
from openprofiles.storage.executions import ExecutionRecord


@click.group()
def flows() -> None:
    """AppFlow flows."""


@flows.command("run")
@click.argument("name")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@grant_options
@run_options(parallel=False)
@storage_options
def flows_run(name: str, account_id: str, region: str, data_dir: Path, database_url: str | None, **runs: Any) -> None:
    """Run a flow now and wait for it, showing its progress."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    logs.configure("warning")
    runtime = open_runtime(settings_for(data_dir, database_url, **run_settings(runs), **grant_settings(runs)))
    ctx = cli_context(account_id, region, "StartFlow")
    try:
        _, execution_id = runtime.runner.start(ctx, name)
        if execution_id is None:
            click.echo(f"Flow {name} is scheduled or event-triggered: it is now Active")
            return
        with Progress(SpinnerColumn(), TextColumn("{task.description}")) as progress:
            task = progress.add_task(f"{name}: starting")
            while True:
                (record,) = [e for e in runtime.runner.records(ctx, name, None, 20) if e.execution_id == execution_id]
                progress.update(task, description=(
                    f"{name}: {record.status}, {record.records_processed:,} records, "
                    f"{record.put_failures:,} failed"))
                if record.status not in ("InProgress", "CancelStarted"):
                    break
                time.sleep(0.5)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    finally:
        runtime.close()
    report_run(record)


@flows.command("push")
@click.argument("name")
@click.argument("file", type=click.File("rb"))
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@grant_options
@storage_options
def flows_push(name: str, file: Any, account_id: str, region: str, data_dir: Path, database_url: str | None,
               **grants: Any) -> None:
    """Push FILE's records (a JSON object, a JSON array or JSON Lines; - for stdin) to an Active
    Event-triggered flow as one run, and wait for it."""
    runtime = open_runtime(settings_for(data_dir, database_url, **grant_settings(grants)))
    ctx = cli_context(account_id, region, "PushFlowEvents")
    try:
        pushed = runtime.events.push(ctx, name, file.read())
        click.echo(f"Pushed {pushed.record_count} records as execution {pushed.execution_id}")
        while True:
            (record,) = [e for e in runtime.runner.records(ctx, name, None, 100)
                         if e.execution_id == pushed.execution_id]
            if record.status not in ("InProgress", "CancelStarted"):
                break
            time.sleep(0.2)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    finally:
        runtime.close()
    report_run(record)


def report_run(record: ExecutionRecord) -> None:
    """Print how a run ended (an execution record); exit 1 unless it succeeded."""
    click.echo(f"{record.status}: {record.records_processed} records processed, {record.put_failures} failed"
               + (f" ({record.message})" if record.message else ""))
    if record.status != "Successful":
        raise SystemExit(1)
