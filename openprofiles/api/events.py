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

from openprofiles.api.auth import Caller, parse_authorization
from openprofiles.api.dispatch import (
    MAX_BODY,
    ApiApp,
    BodyTooLarge,
    ClientGone,
    HttpRequest,
    new_request_id,
    read_body,
    too_large_message,
)
from openprofiles.api.errors import ApiError, AuthFailed
from openprofiles.context import RequestContext
from openprofiles.errors import ServiceError
from openprofiles.services.appflow.flow_events import FlowEvents

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
        """The push: its head checked, then its key, before its body is read and hashed as it
        streams in (as `ApiApp`); the push itself in a worker thread."""
        request_id = new_request_id()
        http = HttpRequest.head_of(request.scope)
        auth = self.api.authenticator
        payload: dict[str, Any]
        error_code: str | None
        try:
            scope = parse_authorization(next((v for k, v in http.headers if k == "authorization"), None))
            if scope is not None and scope.service != SERVICE:
                raise AuthFailed(f"Credential should be scoped to the service '{SERVICE}', not '{scope.service}'")
            length = http.declared_length()
            if length is not None and length > MAX_BODY:
                raise BodyTooLarge
            signed = auth.check_head(scope, http.headers)
            check = await anyio.to_thread.run_sync(auth.begin, signed, http.method, http.raw_path, http.raw_query,
                                                   http.headers)
            body = await read_body(request.receive, check)
            caller = check.finish()
        except ClientGone:
            return Response(status_code=400)  # nobody is listening
        except BodyTooLarge:
            status, payload, error_code = 413, {"message": too_large_message()}, "ValidationException"
        except ApiError as error:
            status, payload, error_code = error.status or 400, {"message": error.message}, error.code
        except Exception:
            status, payload, error_code = self._internal_error(request_id)
        else:
            status, payload, error_code = await anyio.to_thread.run_sync(
                self.handle, caller, body, request.path_params["flowName"], request_id
            )
        response_headers = {"x-amzn-RequestId": request_id}
        if error_code:
            response_headers["x-amzn-ErrorType"] = error_code
        return JSONResponse(payload, status, response_headers)

    def handle(self, caller: Caller, body: bytes, name: str,
               request_id: str) -> tuple[int, dict[str, Any], str | None]:
        """(status, JSON body, error code or None) of an authenticated push; never raises."""
        try:
            ctx = RequestContext(caller.account_id, caller.region, "PushFlowEvents", request_id, self.api.clock.now())
            pushed = self.events.push(ctx, name, body)
        except ApiError as error:
            return error.status or 400, {"message": error.message}, error.code
        except ServiceError as error:
            code = self.provider.error_code(error)
            return self.spec.error_status.get(code, 400), {"message": error.message}, code
        except Exception:
            return self._internal_error(request_id)
        return 202, {"flowArn": pushed.flow_arn, "executionId": pushed.execution_id,
                     "recordCount": pushed.record_count}, None

    @staticmethod
    def _internal_error(request_id: str) -> tuple[int, dict[str, Any], str]:
        log.exception("internal error, request id %s", request_id)
        return 500, {"message": f"Internal server error (request id {request_id})"}, "InternalServerException"
