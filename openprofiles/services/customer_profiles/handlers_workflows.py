"""Integration workflow operations, in wire names (rules in services/customer_profiles/workflows.py)."""

from __future__ import annotations

from typing import Any

from openprofiles.context import RequestContext
from openprofiles.errors import Invalid
from openprofiles.services.customer_profiles.workflows import (
    WorkflowRequest,
    WorkflowService,
    describe,
    short,
)
from openprofiles.services.pagination import PageTokens
from openprofiles.storage.workflows import StepRecord

Params = dict[str, Any]

_STEP_MESSAGES = {"NOT_STARTED": "Waiting for the steps before it", "IN_PROGRESS": "Running"}


def step_body(flow_name: str, step: StepRecord) -> Params:
    """A WorkflowStepItem."""
    return {"AppflowIntegration": {
        "FlowName": flow_name,
        "Status": step.status,
        "ExecutionMessage": short(step.message or _STEP_MESSAGES.get(step.status, step.status)),
        "RecordsProcessed": step.records_processed,
        "BatchRecordsStartTime": step.batch_start.isoformat() if step.batch_start else None,
        "BatchRecordsEndTime": step.batch_end.isoformat() if step.batch_end else None,
        "CreatedAt": step.created_at,
        "LastUpdatedAt": step.last_updated_at,
    }}


class WorkflowHandlers:
    workflows: WorkflowService
    pages: PageTokens

    def create_integration_workflow(self, ctx: RequestContext, p: Params) -> Params:
        integration = (p.get("IntegrationConfig") or {}).get("AppflowIntegration")
        if integration is None:
            raise Invalid("IntegrationConfig.AppflowIntegration is required for WorkflowType APPFLOW_INTEGRATION")
        request = WorkflowRequest(
            flow_definition=integration["FlowDefinition"],
            object_type_name=p["ObjectTypeName"],
            batches=integration.get("Batches"),
            role_arn=p.get("RoleArn"),
            tags=p.get("Tags"),
        )
        workflow_id = self.workflows.create(ctx, p["DomainName"], request)
        return {"WorkflowId": workflow_id, "Message": "Workflow created: it backfills the batches, then keeps the "
                                                     "integration in sync (GetWorkflow shows its progress)"}

    def get_workflow(self, ctx: RequestContext, p: Params) -> Params:
        workflow = self.workflows.get(ctx, p["DomainName"], p["WorkflowId"])
        record = workflow.record
        return {
            "WorkflowId": record.workflow_id,
            "WorkflowType": record.workflow_type,
            "Status": record.status,
            "ErrorDescription": record.error_description,
            "StartDate": record.created_at,
            "LastUpdatedAt": record.last_updated_at,
            "Attributes": {"AppflowIntegration": {
                "SourceConnectorType": record.source_connector_type,
                "ConnectorProfileName": record.connector_profile_name,
                "RoleArn": record.role_arn,
            }},
            "Metrics": {"AppflowIntegration": {
                "RecordsProcessed": workflow.records_processed,
                "StepsCompleted": workflow.steps_completed,
                "TotalSteps": len(workflow.steps),
            }},
        }

    def get_workflow_steps(self, ctx: RequestContext, p: Params) -> Params:
        found: dict[str, Any] = {}

        def fetch(after: int | None, limit: int) -> list[StepRecord]:
            record, steps = self.workflows.steps(ctx, p["DomainName"], p["WorkflowId"], after, limit)
            found["record"] = record
            return steps

        items, token = self.pages.page(ctx.page_scope, p, fetch, lambda step: step.position)
        record = found["record"]
        return {"WorkflowId": record.workflow_id, "WorkflowType": record.workflow_type,
                "Items": [step_body(record.flow_name, step) for step in items], "NextToken": token}

    def list_workflows(self, ctx: RequestContext, p: Params) -> Params:
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: self.workflows.list(
                ctx, p["DomainName"], status=p.get("Status"), workflow_type=p.get("WorkflowType"),
                started_from=p.get("QueryStartDate"), started_to=p.get("QueryEndDate"), after=after, limit=limit),
            lambda record: record.id,
        )
        return {"Items": [{
            "WorkflowType": r.workflow_type,
            "WorkflowId": r.workflow_id,
            "Status": r.status,
            "StatusDescription": short(describe(r)),
            "CreatedAt": r.created_at,
            "LastUpdatedAt": r.last_updated_at,
        } for r in items], "NextToken": token}

    def delete_workflow(self, ctx: RequestContext, p: Params) -> Params:
        self.workflows.delete(ctx, p["DomainName"], p["WorkflowId"])
        return {}
