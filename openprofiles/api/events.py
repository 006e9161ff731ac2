"""`POST /_openprofiles/flows/{flowName}/events`: records pushed to an Event-triggered flow.

Not an AWS operation (AppFlow's Event flows listen to their source; here a source, or anyone
holding an access key, pushes the change events). It sits under `/_openprofiles/`, outside every
AWS API path, and is authenticated like the AWS API: SigV4 with an access key, credential scope
service `appflow` (or anything in `--auth open` mode). Errors are AppFlow's, with `message`.
docs/flows.md ("Event triggers") documents it.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openprofiles.api.auth import parse_authorization
from openprofiles.api.dispatch import MAX_BODY, ApiApp, new_request_id
from openprofiles.api.errors import ApiError, AuthFailed
from openprofiles.services.appflow.flow_events import FlowEvents
from openprofiles.services.context import RequestContext
from openprofiles.services.errors import ServiceError

#: Paths under this prefix are OpenProfiles' own, never an AWS operation.
PREFIX = "/_openprofiles/"
PATH = "/_openprofiles/flows/{flowName}/events"
SERVICE = "appflow"

log = logging.getLogger(__name__)


class FlowEventsEndpoint:
    """Authenticates a push and hands it to FlowEvents; 202 with the execution id."""

    def __init__(self, api: ApiApp, events: FlowEvents) -> None:
        self.api = api
        self.events = events
        self.provider = api.providers[SERVICE]
        self.spec = api.router.services[SERVICE]

    def route(self) -> Route:
        return Route(PATH, self.endpoint, methods=["POST"])

    async def endpoint(self, request: Request) -> Response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size <= MAX_BODY:
                chunks.append(chunk)
        scope = request.scope
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        raw_path = scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        status, body, error_code, request_id = await anyio.to_thread.run_sync(
            self.handle, request.method, raw_path, scope.get("query_string", b"").decode("latin-1"), headers,
            b"".join(chunks), size > MAX_BODY, request.path_params["flowName"],
        )
        response_headers = {"x-amzn-RequestId": request_id}
        if error_code:
            response_headers["x-amzn-ErrorType"] = error_code
        return JSONResponse(body, status, response_headers)

    def handle(self, method: str, raw_path: str, raw_query: str, headers: list[tuple[str, str]], body: bytes,
               too_large: bool, name: str) -> tuple[int, dict[str, Any], str | None, str]:
        """(status, JSON body, error code or None, request id); never raises."""
        request_id = new_request_id()
        try:
            if too_large:
                raise ApiError("ValidationException", f"The request body is larger than {MAX_BODY // 2**20} MiB", 413)
            scope = parse_authorization(dict(headers).get("authorization"))
            if scope is not None and scope.service != SERVICE:
                raise AuthFailed(f"Credential should be scoped to the service '{SERVICE}', not '{scope.service}'")
            caller = self.api.authenticator.authenticate(scope, method, raw_path, raw_query, headers, body)
            ctx = RequestContext(caller.account_id, caller.region, "PushFlowEvents", request_id, self.api.clock.now())
            pushed = self.events.push(ctx, name, body)
        except ApiError as error:
            return error.status or 400, {"message": error.message}, error.code, request_id
        except ServiceError as error:
            code = self.provider.error_code(error)
            return self.spec.error_status.get(code, 400), {"message": error.message}, code, request_id
        except Exception:
            log.exception("internal error, request id %s", request_id)
            message = f"Internal server error (request id {request_id})"
            return 500, {"message": message}, "InternalServerException", request_id
        return 202, {"flowArn": pushed.flow_arn, "executionId": pushed.execution_id,
                     "recordCount": pushed.record_count}, None, request_id
