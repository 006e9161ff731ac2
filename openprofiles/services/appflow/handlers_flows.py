"""Flow operations (CreateFlow, UpdateFlow, DeleteFlow, DescribeFlow, ListFlows), in wire names."""

from __future__ import annotations

from typing import Any

from openprofiles.context import RequestContext
from openprofiles.services.appflow.flows import Flow, FlowService, trigger_type
from openprofiles.services.pagination import PageTokens

Params = dict[str, Any]

#: The members of a definition DescribeFlow hands back as they were sent.
_ECHOED = ("description", "kmsArn", "sourceFlowConfig", "destinationFlowConfigList", "triggerConfig", "tasks",
           "metadataCatalogConfig")


def _last_run(flow: Flow) -> Params | None:
    run = flow.last_run
    if run is None:
        return None
    return {
        "mostRecentExecutionMessage": run.message,
        "mostRecentExecutionTime": run.started_at,
        "mostRecentExecutionStatus": run.status,
    }


def describe_body(flow: Flow) -> Params:
    record = flow.record
    definition = flow.definition
    body: Params = {k: definition[k] for k in _ECHOED if k in definition}
    body.update(
        flowArn=flow.arn,
        flowName=record.name,
        flowStatus=record.status,
        flowStatusMessage=record.status_message,
        createdAt=record.created_at,
        lastUpdatedAt=record.last_updated_at,
        createdBy=record.created_by,
        lastUpdatedBy=record.created_by,  # callers are known by account only; only it can update
        tags=flow.tags,
        lastRunExecutionDetails=_last_run(flow),
    )
    return body


def list_item(flow: Flow) -> Params:
    record = flow.record
    definition = record.definition
    source = definition.get("sourceFlowConfig") or {}
    destination = (definition.get("destinationFlowConfigList") or [{}])[0]
    return {
        "flowArn": flow.arn,
        "description": definition.get("description"),
        "flowName": record.name,
        "flowStatus": record.status,
        "sourceConnectorType": source.get("connectorType"),
        "sourceConnectorLabel": flow.label_of(source),
        "destinationConnectorType": destination.get("connectorType"),
        "destinationConnectorLabel": flow.label_of(destination),
        "triggerType": trigger_type(definition),
        "createdAt": record.created_at,
        "lastUpdatedAt": record.last_updated_at,
        "createdBy": record.created_by,
        "lastUpdatedBy": record.created_by,
        "tags": flow.tags,
        "lastRunExecutionDetails": _last_run(flow),
    }


class FlowHandlers:
    flows: FlowService
    pages: PageTokens

    def create_flow(self, ctx: RequestContext, p: Params) -> Params:
        flow = self.flows.create(ctx, p)
        return {"flowArn": flow.arn, "flowStatus": flow.status}

    def update_flow(self, ctx: RequestContext, p: Params) -> Params:
        return {"flowStatus": self.flows.update(ctx, p).status}

    def delete_flow(self, ctx: RequestContext, p: Params) -> Params:
        self.flows.delete(ctx, p["flowName"], bool(p.get("forceDelete")))
        return {}

    def describe_flow(self, ctx: RequestContext, p: Params) -> Params:
        return describe_body(self.flows.get(ctx, p["flowName"]))

    def list_flows(self, ctx: RequestContext, p: Params) -> Params:
        items, token = self.pages.page(
            ctx.page_scope,
            p,
            lambda after, limit: self.flows.list(ctx, after, limit),
            lambda flow: flow.name,
            token_member="nextToken",
            size_member="maxResults",
        )
        return {"flows": [list_item(flow) for flow in items], "nextToken": token}
