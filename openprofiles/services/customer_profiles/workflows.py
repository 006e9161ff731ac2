"""Integration workflows (CreateIntegrationWorkflow): a historical backfill, then ongoing sync.

A workflow creates an AppFlow flow from its FlowDefinition (the rules of PutIntegration with
FlowDefinition) and runs it once per batch, in the order given: each step is one flow execution
over the batch's window [StartTime, EndTime) of record modification times. When every step has
succeeded the workflow is COMPLETE: the flow is started for ongoing sync as StartFlow would
(an incremental schedule continues from the last batch's EndTime) and the domain gets an
integration for it, carrying the workflow's id. A failed step makes the workflow FAILED.

`advance` moves one workflow on by what its storage says (start the next step, record the end of
the running one, complete), with compare-and-set updates, so any process may call it at any time:
`tick` calls it for every unfinished workflow, which is how serve and worker drive them (and take
them over after a restart). docs/integrations.md ("Workflows") states these rules in prose.
"""

from __future__ import annotations

import builtins
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openprofiles.clock import Clock
from openprofiles.context import RequestContext
from openprofiles.errors import AlreadyExists, Invalid, NotFound
from openprofiles.services.appflow.executions import BACKFILL, FlowRunner
from openprofiles.services.appflow.flows import FlowService, flow_arn, next_run_at, trigger_type
from openprofiles.services.customer_profiles.domains import DomainService
from openprofiles.services.customer_profiles.flow_definitions import checked, create_flow_request
from openprofiles.services.customer_profiles.integrations import integration_arn
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.storage.store import Store, UnitOfWork
from openprofiles.storage.workflows import StepRecord, WorkflowRecord

log = logging.getLogger(__name__)

WORKFLOW_TYPE = "APPFLOW_INTEGRATION"
#: Statuses of a workflow that has not ended.
RUNNING = ["NOT_STARTED", "IN_PROGRESS"]
#: Statuses of a flow execution that has not ended.
RUN_ACTIVE = ("InProgress", "CancelStarted")
#: Seconds between passes over the unfinished workflows in serve and worker.
TICK_SECONDS = 1.0
#: Where the FlowDefinition sits in a CreateIntegrationWorkflow request (for messages).
MEMBER = "IntegrationConfig.AppflowIntegration"
_LIMIT = 255  # ErrorDescription, StatusDescription and ExecutionMessage are 1–255 characters

_DESCRIPTIONS = {
    "NOT_STARTED": "Waiting to start the historical backfill",
    "IN_PROGRESS": "Backfilling historical records, one batch at a time",
    "COMPLETE": "Backfill complete; the integration's flow keeps the domain in sync",
    "CANCELLED": "Cancelled by DeleteWorkflow",
}


def short(text: str) -> str:
    """`text` cut to the 255 characters the API allows."""
    return text if len(text) <= _LIMIT else text[: _LIMIT - 1] + "…"


@dataclass(frozen=True)
class WorkflowRequest:
    """What CreateIntegrationWorkflow asks for."""

    flow_definition: Mapping[str, Any]
    object_type_name: str
    batches: Sequence[Mapping[str, datetime]] | None = None
    role_arn: str | None = None
    tags: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Workflow:
    record: WorkflowRecord
    steps: list[StepRecord]

    @property
    def records_processed(self) -> int:
        return sum(step.records_processed for step in self.steps)

    @property
    def steps_completed(self) -> int:
        return sum(1 for step in self.steps if step.status == "COMPLETE")


def describe(record: WorkflowRecord) -> str:
    """ListWorkflows' StatusDescription."""
    if record.status == "FAILED":
        return record.error_description or "A backfill step failed"
    return _DESCRIPTIONS[record.status]


def _windows(batches: Sequence[Mapping[str, datetime]] | None, now: datetime) -> list[tuple[datetime | None,
                                                                                               datetime | None]]:
    """The steps' windows: one per batch, or everything modified before now without batches."""
    if not batches:
        return [(None, now)]
    windows: list[tuple[datetime | None, datetime | None]] = []
    for position, batch in enumerate(batches, 1):
        start, end = batch["StartTime"], batch["EndTime"]
        if start >= end:
            raise Invalid(f"{MEMBER}.Batches.{position}: StartTime ({start.isoformat()}) must be before "
                          f"EndTime ({end.isoformat()})")
        windows.append((start, end))
    return windows


class WorkflowService:
    def __init__(self, store: Store, domains: DomainService, object_types: ObjectTypeService, flows: FlowService,
                 runner: FlowRunner, clock: Clock) -> None:
        self.store = store
        self.domains = domains
        self.object_types = object_types
        self.flows = flows
        self.runner = runner
        self.clock = clock

    # Operations

    def create(self, ctx: RequestContext, domain_name: str, request: WorkflowRequest) -> str:
        """Create the flow and the workflow, start its first step; the workflow's id."""
        domain = self.domains.record(ctx, domain_name)
        try:
            self.object_types.resolve(domain, request.object_type_name)
        except NotFound:
            raise Invalid(f"ObjectTypeName: object type {request.object_type_name} does not exist in domain "
                          f"{domain.name}") from None
        windows = _windows(request.batches, ctx.now)
        flow_request = create_flow_request(request.flow_definition, domain.name, request.object_type_name)
        checked(self.flows, ctx, flow_request, f"{MEMBER}.FlowDefinition")
        name = str(flow_request["flowName"])
        try:
            self.flows.create(ctx, flow_request)
        except AlreadyExists:
            raise Invalid(f"{MEMBER}.FlowDefinition.FlowName: flow {name} already exists; choose another FlowName")\
                from None
        workflow_id = secrets.token_hex(16)
        source = flow_request["sourceFlowConfig"]
        try:
            with self.store.write() as uow:
                uow.workflows.add(
                    workflow_id, domain.id, workflow_type=WORKFLOW_TYPE, flow_name=name,
                    object_type_name=request.object_type_name, role_arn=request.role_arn,
                    tags=dict(request.tags or {}), source_connector_type=str(source["connectorType"]),
                    connector_profile_name=source.get("connectorProfileName"), batches=windows, now=ctx.now,
                )
        except Exception:
            self.flows.delete(ctx, name, force=True)
            raise
        self.advance(workflow_id)
        return workflow_id

    def _get(self, uow: UnitOfWork, ctx: RequestContext, domain_name: str, workflow_id: str) -> WorkflowRecord:
        domain = self.domains.record(ctx, domain_name)
        record = uow.workflows.get(workflow_id)
        if record is None or record.domain_id != domain.id or record.deleted_at is not None:
            raise NotFound(f"Workflow {workflow_id} does not exist in domain {domain_name}")
        return record

    def get(self, ctx: RequestContext, domain_name: str, workflow_id: str) -> Workflow:
        with self.store.read() as uow:
            record = self._get(uow, ctx, domain_name, workflow_id)
            return Workflow(record, uow.workflows.steps(record.id))

    def steps(self, ctx: RequestContext, domain_name: str, workflow_id: str, after: int | None,
              limit: int) -> tuple[WorkflowRecord, list[StepRecord]]:
        """The workflow and its steps after position `after`."""
        with self.store.read() as uow:
            record = self._get(uow, ctx, domain_name, workflow_id)
            return record, uow.workflows.steps(record.id, after, limit)

    def list(self, ctx: RequestContext, domain_name: str, *, status: str | None, workflow_type: str | None,
             started_from: datetime | None, started_to: datetime | None, after: int | None,
             limit: int) -> list[WorkflowRecord]:
        domain = self.domains.record(ctx, domain_name)
        with self.store.read() as uow:
            return uow.workflows.list(domain.id, status=status, workflow_type=workflow_type,
                                      started_from=started_from, started_to=started_to, after=after, limit=limit)

    def delete(self, ctx: RequestContext, domain_name: str, workflow_id: str) -> None:
        """DeleteWorkflow: cancel a running workflow (its running step's execution is cancelled),
        then remove it, with its flow unless an integration uses that flow."""
        with self.store.write() as uow:
            record = self._get(uow, ctx, domain_name, workflow_id)
            uow.workflows.mark_deleted(record.id, ctx.now)
            if uow.workflows.set_status(record.id, "CANCELLED", ctx.now, expected=RUNNING):
                for step in uow.workflows.steps(record.id):
                    if step.status == "IN_PROGRESS" and step.execution_id:
                        uow.executions.set_status(step.execution_id, "CancelStarted", ctx.now, "Cancel requested",
                                                  expected=["InProgress"])
                uow.workflows.cancel_steps(record.id, ctx.now)
        self.advance(workflow_id)

    # Driving

    def tick(self) -> None:
        """Move every unfinished workflow on (serve and worker call this every TICK_SECONDS)."""
        with self.store.read() as uow:
            pending = [w.workflow_id for w in uow.workflows.unfinished()]
        for workflow_id in pending:
            try:
                self.advance(workflow_id)
            except Exception:
                log.exception("workflow %s could not advance; retrying at the next tick", workflow_id)

    def advance(self, workflow_id: str) -> None:
        with self.store.read() as uow:
            record = uow.workflows.get(workflow_id)
            steps = uow.workflows.steps(record.id) if record is not None else []
        if record is None:
            return
        if record.deleted_at is not None:
            self._purge(record)
            return
        if record.status not in RUNNING:
            return
        running = next((s for s in steps if s.status == "IN_PROGRESS"), None)
        if running is not None and (running.execution_status in RUN_ACTIVE or not self._end_step(record, running)):
            return  # still running, or it failed
        waiting = next((s for s in steps if s.status == "NOT_STARTED"), None)
        if waiting is not None:
            self._start_step(record, waiting)
        else:
            self._complete(record, steps)

    def _end_step(self, record: WorkflowRecord, step: StepRecord) -> bool:
        """Record the end of a step whose execution ended; whether the workflow goes on."""
        now = self.clock.now()
        if step.execution_status == "Successful":
            with self.store.write() as uow:
                uow.workflows.end_step(step.id, "COMPLETE", step.records_processed,
                                       f"Processed {step.records_processed} records", now)
            return True
        if step.execution_status is None:
            reason = f"the run of flow {record.flow_name} no longer exists (was the flow deleted?)"
        else:
            reason = step.execution_message or f"the flow run ended {step.execution_status}"
        with self.store.write() as uow:
            if uow.workflows.end_step(step.id, "FAILED", step.records_processed, short(reason), now):
                uow.workflows.set_status(record.id, "FAILED", now, expected=RUNNING,
                                         error=short(f"Step {step.position} failed: {reason}"))
                uow.workflows.cancel_steps(record.id, now)
        return False

    def _start_step(self, record: WorkflowRecord, step: StepRecord) -> None:
        now = self.clock.now()
        execution_id = secrets.token_hex(16)
        with self.store.write() as uow:
            flow = uow.flows.get(record.account_id, record.region, record.flow_name)
            if flow is None:
                if uow.workflows.set_status(record.id, "FAILED", now, expected=RUNNING,
                                            error=short(f"The flow {record.flow_name} was deleted")):
                    uow.workflows.cancel_steps(record.id, now)
                return
            if not uow.workflows.start_step(step.id, execution_id, now):
                return  # another process started it
            uow.workflows.set_status(record.id, "IN_PROGRESS", now, expected=["NOT_STARTED"])
            uow.executions.add(flow.id, execution_id, BACKFILL, now, step.batch_start, step.batch_end)
        self.runner.submit(execution_id)

    def _complete(self, record: WorkflowRecord, steps: builtins.list[StepRecord]) -> None:
        """Every step succeeded: start the flow for ongoing sync and set up the integration."""
        now = self.clock.now()
        with self.store.write() as uow:
            flow = uow.flows.get(record.account_id, record.region, record.flow_name)
            if flow is None:
                uow.workflows.set_status(record.id, "FAILED", now, expected=RUNNING,
                                         error=short(f"The flow {record.flow_name} was deleted"))
                return
            if not uow.workflows.set_status(record.id, "COMPLETE", now, expected=RUNNING):
                return  # another process completed it
            definition = flow.definition
            values: dict[str, Any] = {}
            if trigger_type(definition) != "OnDemand":
                values.update(status="Active", status_message=None, consecutive_failures=0,
                              next_run_at=next_run_at(definition, now))
            scheduled = (definition.get("triggerConfig") or {}).get("triggerProperties", {}).get("Scheduled") or {}
            ends = [s.batch_end for s in steps if s.batch_end is not None]
            if scheduled.get("dataPullMode") == "Incremental" and ends:
                values["cursor"] = {"high_water": max(ends).isoformat()}
            if values:
                uow.flows.update(flow.id, now, **values)
            uri = flow_arn(record.region, record.account_id, record.flow_name)
            if uow.integrations.get(record.domain_id, uri) is None:
                uow.integrations.add(record.domain_id, uri, object_type_name=record.object_type_name,
                                     object_type_names=None, role_arn=record.role_arn, event_trigger_names=None,
                                     now=now, workflow_id=record.workflow_id, flow_created=True)
                if record.tags:
                    uow.tags.put(integration_arn(record.region, record.account_id, record.domain_name,
                                                 record.flow_name), record.tags)

    def _purge(self, record: WorkflowRecord) -> None:
        """Remove a deleted workflow once its flow has no run in progress, with the flow unless an
        integration uses it."""
        with self.store.write() as uow:
            flow = uow.flows.get(record.account_id, record.region, record.flow_name)
            if flow is not None:
                if uow.executions.in_status(list(RUN_ACTIVE), flow.id):
                    return  # wait for the cancelled run to stop
                uri = flow_arn(record.region, record.account_id, record.flow_name)
                if uow.integrations.get(record.domain_id, uri) is None:
                    uow.flows.delete(flow.id)
                    uow.tags.delete_resource(uri)
            uow.workflows.delete(record.id)
