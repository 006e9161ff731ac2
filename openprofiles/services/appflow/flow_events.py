"""Event-triggered flows: each push of records to an Active Event flow becomes one execution.

The records go through the flow's tasks and the batch ingest service like a connector's pages
(pushed_records.py); the push returns as soon as the execution is recorded, and the run follows
on the runner's workers. docs/flows.md ("Event triggers") describes the HTTP endpoint.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from openprofiles.context import RequestContext
from openprofiles.crypto.envelope import Envelope
from openprofiles.errors import Conflict, Invalid, NotFound
from openprofiles.services.appflow.executions import FlowRunner
from openprofiles.services.appflow.flows import FlowService, flow_arn, trigger_type
from openprofiles.services.appflow.pushed_records import EVENT, EventBatches, parse_records
from openprofiles.storage.integrity import MissingReference
from openprofiles.storage.store import Store


@dataclass(frozen=True)
class Pushed:
    flow_arn: str
    execution_id: str
    record_count: int


class FlowEvents:
    def __init__(self, store: Store, envelope: Envelope, flows: FlowService, runner: FlowRunner) -> None:
        self.store = store
        self.flows = flows
        self.runner = runner
        self.batches = EventBatches(store, envelope)

    def push(self, ctx: RequestContext, name: str, body: bytes) -> Pushed:
        """Record a run of the flow over the body's records and hand it to the runner.

        NotFound for an unknown flow, Invalid when the flow is not Event-triggered or the body holds
        no records, Conflict when the flow is not Active or its records have no object type to go to.
        """
        flow = self.flows.get(ctx, name).record
        trigger = trigger_type(flow.definition)
        if trigger != EVENT:
            raise Invalid(f"Flow {name} is triggered {trigger}; only flows with triggerType Event accept events")
        if flow.status != "Active":
            raise Conflict(f"Flow {name} is {flow.status}; StartFlow activates it to accept events")
        self.runner.check_destination(ctx, flow)
        records = parse_records(body)
        execution_id = secrets.token_hex(16)
        sealed = self.batches.seal(execution_id, records)
        try:
            with self.store.write() as uow:
                uow.executions.add(flow.id, execution_id, EVENT, ctx.now, None, None)
                self.batches.add(uow, execution_id, len(records), sealed, ctx.now)
        except MissingReference:
            raise NotFound(f"Flow {name} does not exist") from None  # deleted meanwhile
        self.runner.submit(execution_id)
        return Pushed(flow_arn(ctx.region, ctx.account_id, name), execution_id, len(records))
