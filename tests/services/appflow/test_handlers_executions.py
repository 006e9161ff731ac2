"""services/appflow/handlers_executions.py: StartFlow, StopFlow, CancelFlowExecutions and
DescribeFlowExecutionRecords in wire names, called on the AppFlow provider as ApiApp calls them, and a
FlowExecution's body; in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from openprofiles.app import Runtime
from openprofiles.errors import Invalid, NotFound, Unsupported
from openprofiles.services.appflow.flows import flow_arn
from openprofiles.services.appflow.handlers_executions import execution_body
from openprofiles.storage.executions import ExecutionRecord
from tests.conftest import BACKENDS
from tests.services.appflow.runtimes import appflow_provider, as_operation, caller, files_flow, runtime_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RECORD = ExecutionRecord(
    id=1, flow_id=1, execution_id="e1", trigger="OnDemand", status="Successful", message=None,
    records_processed=10, bytes_processed=100, bytes_written=90, put_failures=0, checkpoint=None,
    sealed_checkpoint=b"sealed", worker="w", heartbeat_at=NOW, data_pull_start=None, data_pull_end=None,
    started_at=NOW, last_updated_at=NOW,
)


def test_execution_body() -> None:
    assert execution_body(RECORD) == {
        "executionId": "e1",
        "executionStatus": "Successful",
        "executionResult": {"errorInfo": None, "bytesProcessed": 100, "bytesWritten": 90, "recordsProcessed": 10,
                            "numParallelProcesses": 1},
        "startedAt": NOW,
        "lastUpdatedAt": NOW,
        "dataPullStartTime": None,
        "dataPullEndTime": None,
    }
    failed = execution_body(dataclasses.replace(RECORD, put_failures=2, message="2 records dropped"))
    assert failed["executionResult"]["errorInfo"] == {"putFailuresCount": 2, "executionMessage": "2 records dropped"}
    error = execution_body(dataclasses.replace(RECORD, status="Error", message="boom"))
    assert error["executionResult"]["errorInfo"] == {"putFailuresCount": 0, "executionMessage": "boom"}


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("handlers-executions")) as rt:
        yield rt


@pytest.fixture
def provider(runtime: Runtime) -> Any:
    return appflow_provider(runtime)


def _ended(runtime: Runtime, execution_id: str) -> None:
    outcome = runtime.runner.wait(execution_id, timeout=60)
    assert outcome is not None, execution_id


def test_start_runs_an_on_demand_flow_and_records_page_newest_first(runtime: Runtime, provider: Any) -> None:
    ctx = caller("StartFlow")
    files_flow(runtime, ctx, "now", [{"id": str(i), "email": f"p{i}@x.com"} for i in range(3)])
    ids = []
    for _ in range(3):
        started = provider.start_flow(ctx, {"flowName": "now"})
        assert started["flowArn"] == flow_arn(ctx.region, ctx.account_id, "now") and started["flowStatus"] == "Active"
        ids.append(started["executionId"])
        _ended(runtime, started["executionId"])

    listing = as_operation(ctx, "DescribeFlowExecutionRecords")
    first = provider.describe_flow_execution_records(listing, {"flowName": "now", "maxResults": 2})
    rest = provider.describe_flow_execution_records(listing, {"flowName": "now", "maxResults": 2,
                                                              "nextToken": first["nextToken"]})
    assert [e["executionId"] for e in first["flowExecutions"] + rest["flowExecutions"]] == ids[::-1]
    assert rest["nextToken"] is None
    newest = first["flowExecutions"][0]
    assert newest["executionStatus"] == "Successful" and newest["executionResult"]["recordsProcessed"] == 3
    with pytest.raises(NotFound):
        provider.describe_flow_execution_records(listing, {"flowName": "nope"})


def test_stop_suspends_a_triggered_flow_only(runtime: Runtime, provider: Any) -> None:
    ctx = caller("StartFlow")
    files_flow(runtime, ctx, "events", [], trigger="Event")
    assert provider.start_flow(ctx, {"flowName": "events"}) == {
        "flowArn": flow_arn(ctx.region, ctx.account_id, "events"), "flowStatus": "Active", "executionId": None}
    assert provider.stop_flow(ctx, {"flowName": "events"}) == {
        "flowArn": flow_arn(ctx.region, ctx.account_id, "events"), "flowStatus": "Suspended"}
    definition = runtime.flows.get(ctx, "events").record.definition
    runtime.flows.create(ctx, {**definition, "flowName": "now", "triggerConfig": {"triggerType": "OnDemand"}})
    with pytest.raises(Unsupported, match="runs on demand"):
        provider.stop_flow(ctx, {"flowName": "now"})
    with pytest.raises(NotFound):
        provider.start_flow(ctx, {"flowName": "nope"})


def test_cancel_names_the_executions_it_could_not_cancel(runtime: Runtime, provider: Any) -> None:
    ctx = caller("StartFlow")
    files_flow(runtime, ctx, "now", [{"id": "1", "email": "a@x.com"}])
    done = provider.start_flow(ctx, {"flowName": "now"})["executionId"]
    _ended(runtime, done)
    flow = runtime.flows.get(ctx, "now").record
    with runtime.store.write() as uow:  # a run waiting for a slot: recorded, nobody executing it
        uow.executions.add(flow.id, "waiting", "OnDemand", ctx.now, None, None)
    with pytest.raises(Invalid, match="already has a run in progress"):
        provider.start_flow(ctx, {"flowName": "now"})

    answer = provider.cancel_flow_executions(ctx, {"flowName": "now", "executionIds": [done, "waiting", "nope"]})
    assert answer == {"invalidExecutions": [done, "nope"]}
    with runtime.store.read() as uow:
        assert uow.executions.get("waiting").status == "CancelStarted"  # type: ignore[union-attr]
    assert provider.cancel_flow_executions(ctx, {"flowName": "now"}) == {"invalidExecutions": []}
