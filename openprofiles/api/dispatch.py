"""The AWS API as an ASGI application: authenticate, route, parse, validate, call, serialize.

The work for one request happens in a worker thread (storage is synchronous), except a provider's
quick reads on the embedded database: they run on the event loop, because on this kind of
machine the hop to a worker thread and back costs more than the read itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from random import getrandbits
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
import orjson
from starlette.types import Receive, Scope, Send

from openprofiles.api.auth import Authenticator, parse_authorization
from openprofiles.api.errors import ApiError, AuthFailed, NotImplementedOperation, ValidationFailed
from openprofiles.api.parser import parse_request
from openprofiles.api.router import Router
from openprofiles.api.serializer import serialize_response
from openprofiles.api.spec import ServiceSpec
from openprofiles.api.validator import validate
from openprofiles.clock import Clock
from openprofiles.services.context import RequestContext
from openprofiles.services.errors import ServiceError
from openprofiles.services.provider import Provider

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024 * 1024


def new_request_id() -> str:
    """A random (version 4) UUID in its text form, as x-amzn-RequestId carries it; without
    uuid.UUID, whose construction costs more than the rest of a cheap request's bookkeeping. The
    bits come from `random` (seeded from the OS, reseeded in a forked child): a request id must be
    unique, not secret, and the OS's generator is a system call per request."""
    h = f"{getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    too_large: bool = False


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class ApiApp:
    """Serves both services' operations through their providers."""

    def __init__(
        self,
        router: Router,
        authenticator: Authenticator,
        providers: Mapping[str, Provider],
        clock: Clock,
        quick_reads_inline: bool = False,
    ) -> None:
        self.router = router
        self.authenticator = authenticator
        self.providers = providers
        self.clock = clock
        self.quick_reads_inline = quick_reads_inline
        self.default_service = router.services["customer-profiles"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY:
                chunks.append(chunk)
            more = message.get("more_body", False)
        request = HttpRequest(
            method=scope["method"],
            raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?", 1)[0],
            raw_query=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
            body=b"".join(chunks) if size <= MAX_BODY else b"",
            too_large=size > MAX_BODY,
        )
        if self._runs_inline(request):
            response = self.handle(request)
        else:
            response = await anyio.to_thread.run_sync(self.handle, request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode(), v.encode("latin-1")) for k, v in response.headers.items()]
                + [(b"content-length", str(len(response.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    def _runs_inline(self, request: HttpRequest) -> bool:
        """Whether this request names only quick reads (`Provider.quick_reads`) and they may run on
        the event loop (`quick_reads_inline`: an embedded database, whose reads never wait on a lock
        or a network). Only where the request runs depends on this, never what it does."""
        if not self.quick_reads_inline:
            return False
        ops = self.router.operations_at(request.method, request.raw_path)
        return bool(ops) and all(op.name in self.providers[op.service.name].quick_reads for op in ops)

    def handle(self, request: HttpRequest) -> HttpResponse:
        """One request, start to finish; never raises."""
        request_id = new_request_id()
        service = self.default_service
        try:
            header_map = dict(request.headers)
            scope = parse_authorization(header_map.get("authorization"))
            found = self.router.by_signing_name.get(scope.service) if scope else None
            if scope is not None and found is None:
                raise AuthFailed(
                    f"Credential should be scoped to a valid service: 'profile' or 'appflow', not '{scope.service}'"
                )
            if found is None:
                found = self.router.service_for_path(request.method, request.raw_path)
            if found is not None:
                service = found
            if request.too_large:
                raise ValidationFailed(f"The request body is larger than {MAX_BODY // (1024 * 1024)} MiB")
            caller = self.authenticator.authenticate(
                scope, request.method, request.raw_path, request.raw_query, request.headers, request.body
            )
            if found is None:
                raise ApiError(
                    "UnknownOperationException",
                    f"No operation of either service matches {request.method} {request.raw_path}",
                    404,
                )
            match = self.router.match(service.name, request.method, request.raw_path)
            if match is None:
                raise ApiError(
                    "UnknownOperationException",
                    f"No {service.model.service_name} operation matches {request.method} {request.raw_path}",
                    404,
                )
            op, labels = match
            query = parse_qsl(request.raw_query, keep_blank_values=True) if request.raw_query else []
            params = parse_request(op, labels, query, header_map, request.body)
            validate(op.model.input_shape, params)
            provider = self.providers[service.name]
            handler = getattr(provider, op.handler_name, None)
            if handler is None:
                raise NotImplementedOperation(op.name)
            ctx = RequestContext(
                account_id=caller.account_id,
                region=caller.region,
                operation=op.name,
                request_id=request_id,
                now=self.clock.now(),
            )
            try:
                result = handler(ctx, params)
            except ServiceError as error:
                raise ApiError(provider.error_code(error), error.message) from error
            status, headers, body = serialize_response(op, result)
            headers["x-amzn-RequestId"] = request_id
            headers.setdefault("Content-Type", "application/json")
            return HttpResponse(status, headers, body)
        except ApiError as error:
            return self._error(service, error, request_id)
        except Exception:
            log.exception("internal error, request id %s", request_id)
            return self._error(
                service,
                ApiError("InternalServerException", f"Internal server error (request id {request_id})", 500),
                request_id,
            )

    def _error(self, service: ServiceSpec, error: ApiError, request_id: str) -> HttpResponse:
        code = service.validation_error if isinstance(error, ValidationFailed) else error.code
        status = error.status or service.error_status.get(code, 400)
        body: dict[str, Any] = {service.message_member: error.message}
        headers = {
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": code,
            "Content-Type": "application/json",
        }
        return HttpResponse(status, headers, orjson.dumps(body))
