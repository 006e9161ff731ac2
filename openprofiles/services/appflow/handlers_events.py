"""PushFlowEvents, OpenProfiles' own AppFlow operation: records pushed to an Event-triggered flow.

Not an AWS operation (AppFlow's Event flows listen to their source; here a source, or anyone
holding an access key, pushes the change events): `POST /_openprofiles/flows/{flowName}/events`,
outside every AWS API path. ApiApp authenticates, bounds and answers it like the AppFlow API
(SigV4 scoped to `appflow`, errors with `message`); its handler gets the raw body.
docs/flows.md ("Event triggers") documents it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from openprofiles.context import RequestContext
from openprofiles.services.appflow.flow_events import FlowEvents
from openprofiles.services.provider import OwnOperation

PATH = "/_openprofiles/flows/{flowName}/events"


class EventHandlers:
    events: FlowEvents
    own_operations: ClassVar[Mapping[str, OwnOperation]] = {"PushFlowEvents": OwnOperation("POST", PATH, 202)}

    def push_flow_events(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """202 with the new execution's id, once it is recorded (FlowEvents.push)."""
        pushed = self.events.push(ctx, p["flowName"], p["body"])
        return {"flowArn": pushed.flow_arn, "executionId": pushed.execution_id, "recordCount": pushed.record_count}
