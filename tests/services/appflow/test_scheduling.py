"""Scheduled flows with an injected clock: the scheduler fires due runs once, incremental pulls
fetch only what changed since the last run, and repeated failures suspend the flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from openprofiles.app import Runtime, build_runtime
from openprofiles.clock import FixedClock
from openprofiles.context import RequestContext
from openprofiles.services.appflow.scheduling import Scheduler
from openprofiles.settings import Settings

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}
HEADER = "id,email,updated\n"


def _setup(database_url: str, tmp_path: Path, threshold: int | None = None) -> tuple[Runtime, FixedClock, RequestContext]:
    clock = FixedClock(START)
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url,
                                     files_roots=(tmp_path / "source",)), clock=clock)
    ctx = RequestContext("000000000000", "us-east-1", "test", "r", START)
    runtime.domains.create(ctx, "d", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    domain = runtime.domains.record(ctx, "d")
    runtime.object_types.put(domain, "crm", {"Description": "x", "AllowProfileCreation": True, "Fields": FIELDS,
                                             "Keys": KEYS}, START)
    source = tmp_path / "source"
    source.mkdir()
    runtime.connector_profiles.create(ctx, "files", "CustomConnector", "Files", "Public", {
        "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"path": str(source)}}}}, None)
    scheduled: dict[str, object] = {"scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental",
                                    "scheduleStartTime": START}
    if threshold:
        scheduled["flowErrorDeactivationThreshold"] = threshold
    runtime.flows.create(ctx, {
        "flowName": "hourly",
        "triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": scheduled}},
        "sourceFlowConfig": {"connectorType": "CustomConnector", "connectorProfileName": "files",
                             "sourceConnectorProperties": {"CustomConnector": {"entityName": "people.csv"}},
                             "incrementalPullConfig": {"datetimeTypeFieldName": "updated"}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": "d", "objectTypeName": "crm"}}}],
        "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"CustomConnector": "NO_OP"}}],
    })
    return runtime, clock, ctx


def _run_due(runtime: Runtime, scheduler: Scheduler) -> list[str]:
    started = scheduler.tick()
    for execution_id in started:
        runtime.runner.wait(execution_id, timeout=60)
    return started


def test_incremental_runs_on_schedule(database_url: str, tmp_path: Path) -> None:
    runtime, clock, ctx = _setup(database_url, tmp_path)
    (tmp_path / "source" / "people.csv").write_text(
        HEADER + "1,a@x.com,2026-01-01T00:00:00Z\n2,b@x.com,2026-01-02T00:00:00Z\n")
    scheduler = runtime.scheduler
    assert scheduler.tick() == []  # Draft until StartFlow
    runtime.runner.start(ctx, "hourly")
    assert scheduler.tick() == []  # not due yet
    clock.advance(timedelta(hours=1))
    (first,) = _run_due(runtime, scheduler)
    assert _run_due(runtime, scheduler) == []  # fired once
    records = {e.execution_id: e for e in runtime.runner.records(ctx, "hourly", None, 10)}
    assert records[first].status == "Successful" and records[first].records_processed == 2

    with (tmp_path / "source" / "people.csv").open("a") as handle:
        handle.write("3,c@x.com,2026-02-01T00:00:00Z\n")
    clock.advance(timedelta(hours=1))
    (second,) = _run_due(runtime, scheduler)
    records = {e.execution_id: e for e in runtime.runner.records(ctx, "hourly", None, 10)}
    # Only records changed at or after the previous run's high-water mark (2026-01-02) are pulled.
    assert records[second].status == "Successful" and records[second].records_processed == 2
    domain = runtime.domains.record(ctx, "d")
    assert runtime.domains.get(ctx, "d").counts is not None
    with runtime.store.read() as uow:
        assert uow.profiles.count(domain.id) == 3
    runtime.close()


def test_consecutive_failures_suspend_the_flow(database_url: str, tmp_path: Path) -> None:
    runtime, clock, ctx = _setup(database_url, tmp_path, threshold=2)  # people.csv is missing: runs fail
    runtime.runner.start(ctx, "hourly")
    for _ in range(2):
        clock.advance(timedelta(hours=1))
        (execution_id,) = _run_due(runtime, runtime.scheduler)
        record = {e.execution_id: e for e in runtime.runner.records(ctx, "hourly", None, 10)}[execution_id]
        assert record.status == "Error" and record.message
    flow = runtime.flows.get(ctx, "hourly").record
    assert flow.status == "Suspended" and "2 consecutive" in (flow.status_message or "")
    clock.advance(timedelta(hours=1))
    assert runtime.scheduler.tick() == []
    runtime.close()


def test_flows_run_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    from tests.harness import cli

    runtime, _, ctx = _setup(database_url, tmp_path)
    (tmp_path / "source" / "people.csv").write_text(HEADER + "1,a@x.com,2026-01-01T00:00:00Z\n")
    definition = runtime.flows.get(ctx, "hourly").record.definition
    runtime.flows.create(ctx, {**definition, "flowName": "now", "triggerConfig": {"triggerType": "OnDemand"}})
    runtime.close()
    out = cli("flows", "run", "now", "--data-dir", str(tmp_path / "data"), "--database-url", database_url,
              "--files-root", str(tmp_path / "source"))
    assert "Successful: 1 records processed, 0 failed" in out.stdout
    missing = cli("flows", "run", "nope", "--data-dir", str(tmp_path / "data"), "--database-url", database_url,
                  check=False)
    assert missing.returncode != 0 and "nope" in missing.stderr


def test_a_schedule_without_an_object_type_is_not_run(database_url: str, tmp_path: Path) -> None:
    """A flow that runs with its integration's mapping: once the integration is gone its fire times
    pass without a run, flowStatusMessage saying what to add, until it is put again."""
    from openprofiles.services.customer_profiles.integrations import IntegrationRequest

    runtime, clock, ctx = _setup(database_url, tmp_path)
    (tmp_path / "source" / "people.csv").write_text(HEADER + "1,a@x.com,2026-01-01T00:00:00Z\n")
    definition = runtime.flows.get(ctx, "hourly").record.definition
    definition["destinationFlowConfigList"][0]["destinationConnectorProperties"]["CustomerProfiles"].pop(
        "objectTypeName")
    runtime.flows.update(ctx, definition)
    arn = runtime.flows.get(ctx, "hourly").arn
    runtime.integrations.put(ctx, "d", IntegrationRequest(uri=arn, object_type_name="crm"))
    runtime.runner.start(ctx, "hourly")
    runtime.integrations.delete(ctx, "d", arn)

    clock.advance(timedelta(hours=1))
    assert runtime.scheduler.tick() == []
    flow = runtime.flows.get(ctx, "hourly").record
    assert flow.status == "Active" and "no integration" in (flow.status_message or "")
    assert flow.next_run_at == START + timedelta(hours=2)  # this fire time has passed
    assert runtime.runner.records(ctx, "hourly", None, 10) == []

    runtime.integrations.put(ctx, "d", IntegrationRequest(uri=arn, object_type_name="crm"))
    clock.advance(timedelta(hours=1))
    (execution_id,) = _run_due(runtime, runtime.scheduler)
    (record,) = runtime.runner.records(ctx, "hourly", None, 10)
    assert (record.execution_id, record.status) == (execution_id, "Successful")
    assert runtime.flows.get(ctx, "hourly").record.status_message is None
    runtime.close()
