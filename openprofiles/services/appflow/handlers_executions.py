"""Flow run operations, in wire names: StartFlow, StopFlow, CancelFlowExecutions,
DescribeFlowExecutionRecords."""

from __future__ import annotations

from typing import Any

from openprofiles.context import RequestContext
from openprofiles.services.appflow.executions import FlowRunner
from openprofiles.services.appflow.flows import flow_arn
from openprofiles.services.pagination import PageTokens
from openprofiles.storage.executions import ExecutionRecord

Params = dict[str, Any]


def execution_body(e: ExecutionRecord) -> Params:
    return {
        "executionId": e.execution_id,
        "executionStatus": e.status,
        "executionResult": {
            "errorInfo": {"putFailuresCount": e.put_failures, "executionMessage": e.message}
            if e.put_failures or e.status == "Error" else None,
            "bytesProcessed": e.bytes_processed,
            "bytesWritten": e.bytes_written,
            "recordsProcessed": e.records_processed,
            "numParallelProcesses": 1,
        },
        "startedAt": e.started_at,
        "lastUpdatedAt": e.last_updated_at,
        "dataPullStartTime": e.data_pull_start,
        "dataPullEndTime": e.data_pull_end,
    }


class ExecutionHandlers:
    runner: FlowRunner
    pages: PageTokens

    def start_flow(self, ctx: RequestContext, p: Params) -> Params:
        flow, execution_id = self.runner.start(ctx, p["flowName"])
        return {"flowArn": flow_arn(ctx.region, ctx.account_id, flow.name), "flowStatus": flow.status,
                "executionId": execution_id}

    def stop_flow(self, ctx: RequestContext, p: Params) -> Params:
        flow = self.runner.stop(ctx, p["flowName"])
        return {"flowArn": flow_arn(ctx.region, ctx.account_id, flow.name), "flowStatus": flow.status}

    def cancel_flow_executions(self, ctx: RequestContext, p: Params) -> Params:
        return {"invalidExecutions": self.runner.cancel(ctx, p["flowName"], p.get("executionIds"))}

    def describe_flow_execution_records(self, ctx: RequestContext, p: Params) -> Params:
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: self.runner.records(ctx, p["flowName"], after, limit),
            lambda e: e.id,
            token_member="nextToken", size_member="maxResults", default_size=20,
        )
        return {"flowExecutions": [execution_body(e) for e in items], "nextToken": token}
