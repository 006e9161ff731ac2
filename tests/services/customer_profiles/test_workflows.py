"""customer_profiles/workflows.py: integration workflows driven in process (build_runtime, no server)
over a Files source, on both backends: the steps of the batches run one at a time in order, each a
Backfill run over its window; completion starts ongoing sync and sets up the integration; failed
steps, deleted flows, a run still going, restarts taken over by `tick`; DeleteWorkflow of running,
complete and failed workflows; the refusals of CreateIntegrationWorkflow; listing and paging."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import Runtime
from openprofiles.context import RequestContext
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.appflow.executions import BACKFILL
from openprofiles.services.appflow.flows import flow_arn
from openprofiles.services.customer_profiles.flow_definitions import create_flow_request
from openprofiles.services.customer_profiles.integrations import integration_arn
from openprofiles.services.customer_profiles.workflows import (
    WORKFLOW_TYPE,
    Workflow,
    WorkflowRequest,
    describe,
    short,
)
from openprofiles.storage.flows import FlowRecord
from openprofiles.storage.workflows import WorkflowRecord
from tests.conftest import BACKENDS
from tests.services.appflow.runtimes import caller, destination, files_config, files_dir, runtime_for

ROLE = "arn:aws:iam::000000000000:role/cp"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FEB, MAR, APR = T0.replace(month=2), T0.replace(month=3), T0.replace(month=4)
#: Records modified in December (outside every batch), January (2), February (3) and March (1).
UPDATED = ["2025-12-20T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-20T00:00:00Z", "2026-02-01T00:00:00Z",
           "2026-02-10T00:00:00Z", "2026-02-28T23:59:59Z", "2026-03-15T00:00:00Z"]
BATCHES = [{"StartTime": T0, "EndTime": FEB}, {"StartTime": FEB, "EndTime": MAR}, {"StartTime": MAR, "EndTime": APR}]
INCREMENTAL = {"TriggerType": "Scheduled", "TriggerProperties": {"Scheduled": {
    "ScheduleExpression": "rate(1hours)", "DataPullMode": "Incremental"}}}


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A runtime per backend; its runs read two records a page, so a step may take several pages."""
    with runtime_for(request, tmp_path_factory.mktemp("workflows")) as built:
        yield built


@pytest.fixture
def ctx(runtime: Runtime) -> RequestContext:
    """A fresh account with a domain `d` (object type `crm`, keyed by `id`)."""
    ctx = caller("CreateIntegrationWorkflow")
    destination(runtime, ctx)
    return ctx


@pytest.fixture
def source(runtime: Runtime, ctx: RequestContext) -> Path:
    """The account's Files profile `files`: a directory holding people.jsonl, one record per UPDATED."""
    directory = files_dir(runtime)
    (directory / "people.jsonl").write_text("".join(
        json.dumps({"id": str(n), "email": f"{n}@x.com", "updated": updated}) + "\n"
        for n, updated in enumerate(UPDATED)))
    runtime.connector_profiles.create(ctx, "files", "CustomConnector", "Files", "Public", files_config(directory), None)
    return directory


def _definition(name: str = "people", trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "FlowName": name,
        "SourceFlowConfig": {"ConnectorType": "CustomConnector", "ConnectorProfileName": "files",
                             "IncrementalPullConfig": {"DatetimeTypeFieldName": "updated"},
                             "SourceConnectorProperties": {"CustomConnector": {"EntityName": "people.jsonl"}}},
        "Tasks": [{"TaskType": "Map_all", "SourceFields": [], "ConnectorOperator": {"CustomConnector": "NO_OP"}}],
        "TriggerConfig": trigger or INCREMENTAL,
    }


def _create(runtime: Runtime, ctx: RequestContext, batches: list[dict[str, datetime]] | None = BATCHES,
            name: str = "people", trigger: dict[str, Any] | None = None) -> str:
    request = WorkflowRequest(_definition(name, trigger), "crm", batches, ROLE, {"team": "crm"})
    return runtime.workflows.create(ctx, "d", request)


def _in_order(workflow: Workflow) -> None:
    """At most one step runs, every step before it is COMPLETE and none after it has started."""
    statuses = [s.status for s in workflow.steps]
    if "IN_PROGRESS" in statuses:
        running = statuses.index("IN_PROGRESS")
        assert statuses[:running] == ["COMPLETE"] * running, statuses
        assert set(statuses[running + 1:]) <= {"NOT_STARTED"}, statuses


def _wait_for_runs(runtime: Runtime, workflow: Workflow) -> None:
    for step in workflow.steps:
        if step.execution_id:
            assert runtime.runner.wait(step.execution_id, timeout=30) is not None


def _drive(runtime: Runtime, ctx: RequestContext, workflow_id: str) -> Workflow:
    """Wait for the running step's run, then advance, until the workflow ends (what `tick` does)."""
    for _ in range(10):
        workflow = runtime.workflows.get(ctx, "d", workflow_id)
        _in_order(workflow)
        if workflow.record.status not in ("NOT_STARTED", "IN_PROGRESS"):
            return workflow
        _wait_for_runs(runtime, workflow)
        runtime.workflows.advance(workflow_id)
    raise AssertionError(f"workflow {workflow_id} did not end")


def _flow(runtime: Runtime, ctx: RequestContext, name: str = "people") -> FlowRecord | None:
    with runtime.store.read() as uow:
        return uow.flows.get(ctx.account_id, ctx.region, name)


def _record(runtime: Runtime, workflow_id: str) -> WorkflowRecord | None:
    """The workflow's row, deleted or not."""
    with runtime.store.read() as uow:
        return uow.workflows.get(workflow_id)


def _stored(runtime: Runtime, ctx: RequestContext, windows: list[tuple[datetime | None, datetime | None]],
            flow: str | None = "people") -> str:
    """A workflow written straight to storage (as a process that stopped after writing it leaves it),
    for the flow `flow` (created here, OnDemand) or for a flow `gone` that does not exist."""
    if flow is not None:
        runtime.flows.create(ctx, create_flow_request(_definition(flow, {"TriggerType": "OnDemand"}), "d", "crm"))
    workflow_id = secrets.token_hex(16)
    with runtime.store.write() as uow:
        uow.workflows.add(workflow_id, runtime.domains.record(ctx, "d").id, workflow_type=WORKFLOW_TYPE,
                          flow_name=flow or "gone", object_type_name="crm", role_arn=None, tags={},
                          source_connector_type="CustomConnector", connector_profile_name="files",
                          batches=windows, now=ctx.now)
    return workflow_id


def _started_elsewhere(runtime: Runtime, ctx: RequestContext, workflow_id: str) -> str:
    """Start the workflow's first step as another process would, without running it; its execution id."""
    record = _record(runtime, workflow_id)
    flow = _flow(runtime, ctx)
    assert record is not None and flow is not None
    execution_id = secrets.token_hex(16)
    with runtime.store.write() as uow:
        step = uow.workflows.steps(record.id)[0]
        assert uow.workflows.start_step(step.id, execution_id, ctx.now)
        uow.workflows.set_status(record.id, "IN_PROGRESS", ctx.now, expected=["NOT_STARTED"])
        uow.executions.add(flow.id, execution_id, BACKFILL, ctx.now, step.batch_start, step.batch_end)
    return execution_id


# The parts without storage


def test_short_cuts_to_the_255_characters_the_api_allows() -> None:
    assert short("x" * 255) == "x" * 255
    cut = short("x" * 256)
    assert len(cut) == 255 and cut == "x" * 254 + "…"


def test_describe_says_what_a_status_means() -> None:
    def record(status: str, error: str | None = None) -> WorkflowRecord:
        return WorkflowRecord(1, "w", 1, "d", "1", "r", WORKFLOW_TYPE, status, error, "f", "crm", None, {},
                              "S3", None, None, T0, T0)

    assert describe(record("FAILED", "Step 2 failed: boom")) == "Step 2 failed: boom"
    assert describe(record("FAILED")) == "A backfill step failed"
    assert describe(record("NOT_STARTED")) == "Waiting to start the historical backfill"
    assert describe(record("IN_PROGRESS")).startswith("Backfilling historical records")
    assert describe(record("COMPLETE")).startswith("Backfill complete")
    assert describe(record("CANCELLED")) == "Cancelled by DeleteWorkflow"


# Running


def test_create_writes_the_workflow_and_starts_its_first_step_only(runtime: Runtime, ctx: RequestContext,
                                                                   source: Path) -> None:
    workflow_id = _create(runtime, ctx)
    assert len(workflow_id) == 32 and int(workflow_id, 16) >= 0
    workflow = runtime.workflows.get(ctx, "d", workflow_id)
    record = workflow.record
    assert (record.status, record.workflow_type, record.flow_name, record.object_type_name) == (
        "IN_PROGRESS", WORKFLOW_TYPE, "people", "crm")
    assert (record.role_arn, record.tags, record.source_connector_type, record.connector_profile_name) == (
        ROLE, {"team": "crm"}, "CustomConnector", "files")
    assert record.created_at == ctx.now
    assert [s.status for s in workflow.steps] == ["IN_PROGRESS", "NOT_STARTED", "NOT_STARTED"]
    assert [(s.batch_start, s.batch_end) for s in workflow.steps] == [(b["StartTime"], b["EndTime"]) for b in BATCHES]
    first = workflow.steps[0]
    assert first.execution_id is not None and [s.execution_id for s in workflow.steps[1:]] == [None, None]
    with runtime.store.read() as uow:
        execution = uow.executions.get(first.execution_id)
    assert execution is not None
    assert (execution.trigger, execution.data_pull_start, execution.data_pull_end) == (BACKFILL, T0, FEB)
    flow = _flow(runtime, ctx)
    assert flow is not None and flow.status == "Draft"  # started for ongoing sync only once complete
    assert flow.definition["destinationFlowConfigList"][0]["destinationConnectorProperties"] == {
        "CustomerProfiles": {"domainName": "d", "objectTypeName": "crm"}}
    _drive(runtime, ctx, workflow_id)


def test_batches_are_backfilled_in_order_then_the_flow_syncs(runtime: Runtime, ctx: RequestContext,
                                                              source: Path) -> None:
    workflow_id = _create(runtime, ctx)
    workflow = _drive(runtime, ctx, workflow_id)
    assert workflow.record.status == "COMPLETE" and workflow.record.error_description is None
    assert [(s.status, s.records_processed, s.message) for s in workflow.steps] == [
        ("COMPLETE", 2, "Processed 2 records"), ("COMPLETE", 3, "Processed 3 records"),
        ("COMPLETE", 1, "Processed 1 records")]
    assert (workflow.records_processed, workflow.steps_completed) == (6, 3)
    with runtime.store.read() as uow:
        runs = [uow.executions.get(str(s.execution_id)) for s in workflow.steps]
        profiles = uow.profiles.count(runtime.domains.record(ctx, "d").id)
    assert [(r.trigger, r.status, r.data_pull_start, r.data_pull_end) for r in runs if r is not None] == [
        (BACKFILL, "Successful", b["StartTime"], b["EndTime"]) for b in BATCHES]
    assert profiles == 6  # December's record is in no batch

    flow = _flow(runtime, ctx)
    assert flow is not None and flow.status == "Active"
    assert flow.cursor == {"high_water": APR.isoformat()}  # the first scheduled run goes on from the last EndTime
    assert flow.next_run_at is not None and flow.next_run_at > ctx.now
    integration = runtime.integrations.get(ctx, "d", flow_arn(ctx.region, ctx.account_id, "people"))
    assert (integration.record.workflow_id, integration.record.object_type_name, integration.record.role_arn) == (
        workflow_id, "crm", ROLE)
    assert integration.record.flow_created and integration.tags == {"team": "crm"}
    with runtime.store.read() as uow:
        assert uow.tags.get(integration_arn(ctx.region, ctx.account_id, "d", "people")) == {"team": "crm"}

    runtime.workflows.advance(workflow_id)  # complete: nothing more happens
    assert _flow(runtime, ctx) == flow
    with runtime.store.read() as uow:
        assert len(uow.integrations.list(runtime.domains.record(ctx, "d").id, None, 10)) == 1


def test_the_cursor_is_the_latest_end_whatever_the_order_of_the_batches(runtime: Runtime, ctx: RequestContext,
                                                                       source: Path) -> None:
    batches = [{"StartTime": FEB, "EndTime": MAR}, {"StartTime": T0, "EndTime": FEB}]
    workflow = _drive(runtime, ctx, _create(runtime, ctx, batches))
    assert [(s.batch_start, s.records_processed) for s in workflow.steps] == [(FEB, 3), (T0, 2)]
    flow = _flow(runtime, ctx)
    assert flow is not None and flow.cursor == {"high_water": MAR.isoformat()}


@pytest.mark.parametrize(("trigger", "scheduled"), [
    ({"TriggerType": "Scheduled", "TriggerProperties": {"Scheduled": {"ScheduleExpression": "rate(1hours)",
                                                                      "DataPullMode": "Complete"}}}, True),
    ({"TriggerType": "OnDemand"}, False),
], ids=["scheduled-complete", "on-demand"])
def test_without_incremental_pulls_the_flow_gets_no_cursor(runtime: Runtime, ctx: RequestContext, source: Path,
                                                           trigger: dict[str, Any], scheduled: bool) -> None:
    workflow = _drive(runtime, ctx, _create(runtime, ctx, trigger=trigger))
    assert workflow.record.status == "COMPLETE"
    flow = _flow(runtime, ctx)
    assert flow is not None and flow.status == "Active" and flow.cursor is None
    assert (flow.next_run_at is not None) is scheduled
    with runtime.store.read() as uow:
        assert len(uow.executions.page(flow.id, None, 10)) == 3  # the steps' runs, and no other


def test_without_batches_one_step_reads_everything_modified_before_the_request(runtime: Runtime, ctx: RequestContext,
                                                                              source: Path) -> None:
    with (source / "people.jsonl").open("a") as file:
        file.write(json.dumps({"id": "later", "updated": "2999-01-01T00:00:00Z"}) + "\n")
    workflow = _drive(runtime, ctx, _create(runtime, ctx, batches=None))
    (step,) = workflow.steps
    assert (step.batch_start, step.batch_end, step.status, step.records_processed) == (None, ctx.now, "COMPLETE", 7)
    flow = _flow(runtime, ctx)
    assert flow is not None and flow.cursor == {"high_water": ctx.now.isoformat()}


def test_a_failed_step_fails_the_workflow_and_cancels_the_rest(runtime: Runtime, ctx: RequestContext,
                                                               source: Path) -> None:
    workflow_id = _create(runtime, ctx)
    _wait_for_runs(runtime, runtime.workflows.get(ctx, "d", workflow_id))
    (source / "people.jsonl").unlink()
    runtime.workflows.advance(workflow_id)  # the first step ends, the second starts and cannot read
    workflow = _drive(runtime, ctx, workflow_id)
    record = workflow.record
    assert record.status == "FAILED"
    assert [s.status for s in workflow.steps] == ["COMPLETE", "FAILED", "CANCELLED"]
    failed = workflow.steps[1]
    assert failed.execution_status == "Error" and failed.execution_message
    assert failed.message == short(failed.execution_message)
    assert record.error_description == short(f"Step 2 failed: {failed.execution_message}")
    assert describe(record) == record.error_description
    assert workflow.steps_completed == 1
    with runtime.store.read() as uow:
        assert uow.integrations.list(runtime.domains.record(ctx, "d").id, None, 10) == []
    flow = _flow(runtime, ctx)
    assert flow is not None and flow.status == "Draft"  # the flow stays, not started
    runtime.workflows.advance(workflow_id)
    assert runtime.workflows.get(ctx, "d", workflow_id).record == record


def test_a_step_whose_flow_was_deleted_fails(runtime: Runtime, ctx: RequestContext, source: Path) -> None:
    workflow_id = _create(runtime, ctx)
    _wait_for_runs(runtime, runtime.workflows.get(ctx, "d", workflow_id))
    runtime.flows.delete(ctx, "people", force=True)
    runtime.workflows.advance(workflow_id)
    workflow = runtime.workflows.get(ctx, "d", workflow_id)
    reason = "the run of flow people no longer exists (was the flow deleted?)"
    assert workflow.record.status == "FAILED" and workflow.record.error_description == f"Step 1 failed: {reason}"
    assert [(s.status, s.message) for s in workflow.steps] == [
        ("FAILED", reason), ("CANCELLED", "Cancelled"), ("CANCELLED", "Cancelled")]


def test_a_workflow_whose_flow_is_gone_before_a_step_fails(runtime: Runtime, ctx: RequestContext) -> None:
    workflow_id = _stored(runtime, ctx, [(T0, FEB), (FEB, MAR)], flow=None)
    runtime.workflows.advance(workflow_id)
    workflow = runtime.workflows.get(ctx, "d", workflow_id)
    assert (workflow.record.status, workflow.record.error_description) == ("FAILED", "The flow gone was deleted")
    assert [s.status for s in workflow.steps] == ["CANCELLED", "CANCELLED"]


def test_a_workflow_whose_flow_is_gone_when_its_steps_are_done_fails(runtime: Runtime, ctx: RequestContext,
                                                                     source: Path) -> None:
    workflow_id = _stored(runtime, ctx, [(T0, FEB)])
    _started_elsewhere(runtime, ctx, workflow_id)
    with runtime.store.write() as uow:  # another process recorded the step's end, then the flow went
        (step,) = uow.workflows.steps(runtime.workflows.get(ctx, "d", workflow_id).record.id)
        assert uow.workflows.end_step(step.id, "COMPLETE", 2, "Processed 2 records", ctx.now)
    runtime.flows.delete(ctx, "people", force=True)
    runtime.workflows.advance(workflow_id)
    workflow = runtime.workflows.get(ctx, "d", workflow_id)
    assert (workflow.record.status, workflow.record.error_description) == ("FAILED", "The flow people was deleted")
    assert [s.status for s in workflow.steps] == ["COMPLETE"]
    with runtime.store.read() as uow:
        assert uow.integrations.list(runtime.domains.record(ctx, "d").id, None, 10) == []


def test_advance_waits_for_a_run_in_progress_and_tick_takes_a_workflow_over(runtime: Runtime, ctx: RequestContext,
                                                                           source: Path) -> None:
    workflow_id = _stored(runtime, ctx, [(T0, FEB), (FEB, MAR)])
    execution_id = _started_elsewhere(runtime, ctx, workflow_id)
    before = runtime.workflows.get(ctx, "d", workflow_id)
    runtime.workflows.advance(workflow_id)
    assert runtime.workflows.get(ctx, "d", workflow_id) == before  # its run is still InProgress
    assert [s.status for s in before.steps] == ["IN_PROGRESS", "NOT_STARTED"]

    assert runtime.runner.submit(execution_id)  # the run is taken over here
    assert runtime.runner.wait(execution_id, timeout=30) is not None
    runtime.workflows.tick()
    moved = runtime.workflows.get(ctx, "d", workflow_id)
    assert [(s.status, s.records_processed) for s in moved.steps[:1]] == [("COMPLETE", 2)]
    assert moved.steps[1].status == "IN_PROGRESS"
    assert _drive(runtime, ctx, workflow_id).record.status == "COMPLETE"


def test_a_second_process_acting_on_what_it_read_before_changes_nothing(runtime: Runtime, ctx: RequestContext,
                                                                         source: Path) -> None:
    """Two processes may advance one workflow: the one whose compare-and-set loses starts no second
    run of a step, and does not complete the workflow again."""
    workflow_id = _stored(runtime, ctx, [(T0, FEB)])
    stale = runtime.workflows.get(ctx, "d", workflow_id)
    runtime.workflows.advance(workflow_id)
    runtime.workflows._start_step(stale.record, stale.steps[0])  # the other process, a moment late
    started = runtime.workflows.get(ctx, "d", workflow_id)
    flow = _flow(runtime, ctx)
    assert flow is not None
    with runtime.store.read() as uow:
        assert [e.execution_id for e in uow.executions.page(flow.id, None, 10)] == [started.steps[0].execution_id]

    _drive(runtime, ctx, workflow_id)

    scheduled = _create(runtime, ctx, [BATCHES[0]], name="scheduled")
    running = runtime.workflows.get(ctx, "d", scheduled)
    _wait_for_runs(runtime, running)
    runtime.workflows.advance(scheduled)
    done = runtime.workflows.get(ctx, "d", scheduled)
    assert done.record.status == "COMPLETE"
    completed = _flow(runtime, ctx, "scheduled")
    runtime.workflows._complete(running.record, done.steps)  # read while IN_PROGRESS, acting after the end
    assert _flow(runtime, ctx, "scheduled") == completed
    with runtime.store.read() as uow:
        assert len(uow.integrations.list(runtime.domains.record(ctx, "d").id, None, 10)) == 2


def test_tick_moves_every_unfinished_workflow_on_when_one_cannot(runtime: Runtime, ctx: RequestContext,
                                                                 source: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    stuck, moving = _stored(runtime, ctx, [(T0, FEB)]), _stored(runtime, ctx, [(T0, FEB)], flow="other")
    advance = runtime.workflows.advance

    def refuse(workflow_id: str) -> None:
        if workflow_id == stuck:
            raise RuntimeError("database away")
        advance(workflow_id)

    monkeypatch.setattr(runtime.workflows, "advance", refuse)
    with caplog.at_level(logging.ERROR, "openprofiles.services.customer_profiles.workflows"):
        runtime.workflows.tick()
    assert f"workflow {stuck} could not advance" in caplog.text
    assert runtime.workflows.get(ctx, "d", stuck).record.status == "NOT_STARTED"
    assert runtime.workflows.get(ctx, "d", moving).steps[0].status == "IN_PROGRESS"
    monkeypatch.undo()
    runtime.workflows.tick()  # the next tick retries it
    assert runtime.workflows.get(ctx, "d", stuck).steps[0].status == "IN_PROGRESS"
    assert _drive(runtime, ctx, stuck).record.status == _drive(runtime, ctx, moving).record.status == "COMPLETE"


# DeleteWorkflow


def test_deleting_a_running_workflow_cancels_it_and_removes_it_once_its_run_stopped(runtime: Runtime,
                                                                                   ctx: RequestContext,
                                                                                   source: Path) -> None:
    workflow_id = _stored(runtime, ctx, [(T0, FEB), (FEB, MAR)])
    execution_id = _started_elsewhere(runtime, ctx, workflow_id)
    runtime.workflows.delete(ctx, "d", workflow_id)
    with pytest.raises(NotFound, match=f"Workflow {workflow_id} does not exist in domain d"):
        runtime.workflows.get(ctx, "d", workflow_id)
    record = _record(runtime, workflow_id)
    assert record is not None and record.status == "CANCELLED" and record.deleted_at == ctx.now
    with runtime.store.read() as uow:
        assert [s.status for s in uow.workflows.steps(record.id)] == ["CANCELLED", "CANCELLED"]
        execution = uow.executions.get(execution_id)
    assert execution is not None and execution.status == "CancelStarted"
    runtime.workflows.advance(workflow_id)
    assert _record(runtime, workflow_id) is not None  # its run has not stopped yet

    assert runtime.runner.submit(execution_id)
    assert runtime.runner.wait(execution_id, timeout=30) is not None
    runtime.workflows.advance(workflow_id)
    assert _record(runtime, workflow_id) is None
    assert _flow(runtime, ctx) is None


def test_deleting_a_complete_workflow_keeps_its_integration_and_flow(runtime: Runtime, ctx: RequestContext,
                                                                     source: Path) -> None:
    workflow_id = _create(runtime, ctx)
    _drive(runtime, ctx, workflow_id)
    runtime.workflows.delete(ctx, "d", workflow_id)
    assert _record(runtime, workflow_id) is None
    flow = _flow(runtime, ctx)
    assert flow is not None and flow.status == "Active"
    integration = runtime.integrations.get(ctx, "d", flow_arn(ctx.region, ctx.account_id, "people"))
    assert integration.record.workflow_id == workflow_id


def test_deleting_a_failed_workflow_deletes_its_flow(runtime: Runtime, ctx: RequestContext, source: Path) -> None:
    (source / "people.jsonl").unlink()
    workflow_id = _create(runtime, ctx)
    assert _drive(runtime, ctx, workflow_id).record.status == "FAILED"
    runtime.workflows.delete(ctx, "d", workflow_id)
    assert _record(runtime, workflow_id) is None and _flow(runtime, ctx) is None


def test_an_unknown_or_deleted_workflow_or_one_of_another_domain_does_not_exist(runtime: Runtime,
                                                                               ctx: RequestContext,
                                                                               source: Path) -> None:
    runtime.domains.create(ctx, "other", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    workflow_id = _create(runtime, ctx, batches=None)
    _drive(runtime, ctx, workflow_id)
    for domain, wanted in (("other", workflow_id), ("d", "0" * 32)):
        for call in (runtime.workflows.get, runtime.workflows.delete,
                     lambda c, d, w: runtime.workflows.steps(c, d, w, None, 10)):
            with pytest.raises(NotFound, match=f"^Workflow {wanted} does not exist in domain {domain}$"):
                call(ctx, domain, wanted)
    with pytest.raises(NotFound):
        runtime.workflows.get(caller(), "d", workflow_id)  # another account has no domain d
    runtime.workflows.delete(ctx, "d", workflow_id)
    with pytest.raises(NotFound):
        runtime.workflows.delete(ctx, "d", workflow_id)


# CreateIntegrationWorkflow's refusals


def test_create_refuses_an_object_type_the_domain_lacks(runtime: Runtime, ctx: RequestContext, source: Path) -> None:
    request = WorkflowRequest(_definition(), "nope", BATCHES)
    with pytest.raises(Invalid, match=r"^ObjectTypeName: object type nope does not exist in domain d$"):
        runtime.workflows.create(ctx, "d", request)
    with pytest.raises(NotFound):
        runtime.workflows.create(ctx, "missing", WorkflowRequest(_definition(), "crm"))
    assert _flow(runtime, ctx) is None


@pytest.mark.parametrize("end", [T0, T0 - timedelta(seconds=1)], ids=["empty", "backwards"])
def test_create_refuses_a_batch_that_does_not_end_after_it_starts(runtime: Runtime, ctx: RequestContext,
                                                                  source: Path, end: datetime) -> None:
    batches = [BATCHES[1], {"StartTime": T0, "EndTime": end}]
    with pytest.raises(Invalid) as refused:
        _create(runtime, ctx, batches)
    assert refused.value.message == (f"IntegrationConfig.AppflowIntegration.Batches.2: StartTime ({T0.isoformat()}) "
                                     f"must be before EndTime ({end.isoformat()})")
    assert _flow(runtime, ctx) is None


def test_create_refuses_a_flow_definition_naming_its_member(runtime: Runtime, ctx: RequestContext,
                                                            source: Path) -> None:
    with pytest.raises(Invalid) as refused:
        _create(runtime, ctx, trigger={"TriggerType": "Scheduled"})
    assert refused.value.message == ("IntegrationConfig.AppflowIntegration.FlowDefinition.TriggerConfig."
                                     "TriggerProperties.Scheduled is required for TriggerType Scheduled")
    assert _flow(runtime, ctx) is None


def test_create_refuses_a_flow_name_in_use(runtime: Runtime, ctx: RequestContext, source: Path) -> None:
    _stored(runtime, ctx, [(T0, FEB)], flow="taken")
    taken = _flow(runtime, ctx, "taken")
    with pytest.raises(Invalid, match=r"^IntegrationConfig\.AppflowIntegration\.FlowDefinition\.FlowName: flow taken "
                                      r"already exists; choose another FlowName$"):
        _create(runtime, ctx, name="taken")
    assert _flow(runtime, ctx, "taken") == taken
    domain = runtime.domains.record(ctx, "d")
    with runtime.store.read() as uow:
        assert len(uow.workflows.list(domain.id, status=None, workflow_type=None, started_from=None,
                                      started_to=None, after=None, limit=10)) == 1


# ListWorkflows and GetWorkflowSteps


def test_list_is_newest_first_filtered_and_paged(runtime: Runtime, ctx: RequestContext, source: Path) -> None:
    ids = []
    for days in (2, 1, 0):  # created two days ago, yesterday and now
        at = caller("CreateIntegrationWorkflow", ctx.now - timedelta(days=days), ctx.account_id)
        ids.append(_create(runtime, at, batches=None, name=f"people{days}", trigger={"TriggerType": "OnDemand"}))
        _drive(runtime, ctx, ids[-1])  # one run at a time: the runner has two slots, and no take-over loop here
    runtime.workflows.delete(ctx, "d", _stored(runtime, ctx, [(T0, FEB)], flow=None))  # deleted: never listed

    def listed(**given: Any) -> list[str]:
        options: dict[str, Any] = {"status": None, "workflow_type": None, "started_from": None, "started_to": None,
                                   "after": None, "limit": 10, **given}
        return [r.workflow_id for r in runtime.workflows.list(ctx, "d", **options)]

    newest = ids[::-1]
    assert listed() == newest
    assert listed(status="COMPLETE", workflow_type=WORKFLOW_TYPE) == newest
    assert listed(status="FAILED") == [] and listed(workflow_type="OTHER") == []
    assert listed(started_from=ctx.now - timedelta(days=1)) == newest[:2]
    assert listed(started_to=ctx.now - timedelta(days=1)) == newest[1:]
    first = runtime.workflows.list(ctx, "d", status=None, workflow_type=None, started_from=None, started_to=None,
                                   after=None, limit=2)
    assert [r.workflow_id for r in first] == newest[:2]
    assert listed(after=first[-1].id) == newest[2:]


def test_steps_page_by_position(runtime: Runtime, ctx: RequestContext, source: Path) -> None:
    workflow_id = _create(runtime, ctx)
    _drive(runtime, ctx, workflow_id)
    record, first = runtime.workflows.steps(ctx, "d", workflow_id, None, 2)
    assert record.workflow_id == workflow_id
    assert [s.position for s in first] == [1, 2]
    _, rest = runtime.workflows.steps(ctx, "d", workflow_id, first[-1].position, 2)
    assert [(s.position, s.batch_start) for s in rest] == [(3, MAR)]
