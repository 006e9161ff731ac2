"""The AWS API as an ASGI application: authenticate, route, parse, validate, call, serialize.

OpenProfiles' own operations (a provider's `own_operations`, under `/_openprofiles/`) take the same
path but for the model: their handler gets the path labels and the raw body, and answers JSON.

The work for one request happens in a worker thread (storage is synchronous), except a provider's
quick reads on the embedded database: they run on the event loop, because on this kind of
machine the hop to a worker thread and back costs more than the read itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from random import getrandbits
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import anyio.to_thread
import orjson
from starlette.types import Receive, Scope, Send

from openprofiles.api.auth import Authenticator, BodyCheck, Caller, SignedHead, parse_authorization
from openprofiles.api.auth import Scope as AuthScope
from openprofiles.api.errors import ApiError, AuthFailed, NotImplementedOperation, ValidationFailed
from openprofiles.api.parser import parse_request
from openprofiles.api.ports import ServiceProvider
from openprofiles.api.router import OwnRoute, OwnRoutes, Router
from openprofiles.api.serializer import serialize_response
from openprofiles.api.spec import Operation, ServiceSpec
from openprofiles.api.validator import validate
from openprofiles.clock import Clock
from openprofiles.context import RequestContext
from openprofiles.errors import ServiceError

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024 * 1024
#: A body declared this long or shorter is read whole before its access key is looked up: that much
#: is what the HTTP protocol reads ahead of the application anyway (uvicorn's read high-water mark).
READ_AHEAD = 64 * 1024
T = TypeVar("T")


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
    body: bytes = b""

    @classmethod
    def head_of(cls, scope: Scope) -> HttpRequest:
        """An ASGI request's head (its body still unread)."""
        return cls(
            method=scope["method"],
            raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?", 1)[0],
            raw_query=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
        )

    def declared_length(self) -> int | None:
        """The body's length as the head declares it: Content-Length, None when the body is chunked,
        0 when there is none."""
        chunked = False
        for name, value in self.headers:
            if name == "content-length":
                return int(value) if value.isdigit() else None
            chunked = chunked or name == "transfer-encoding"
        return None if chunked else 0


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class BodyTooLarge(Exception):
    """The request's body is over MAX_BODY."""


class ClientGone(Exception):
    """The client closed the connection (or the server cut it) before its body was complete."""


async def read_body(receive: Receive, check: BodyCheck | None = None) -> bytes:
    """The request's body, each chunk fed to `check` as it arrives; BodyTooLarge as soon as it
    passes MAX_BODY (the rest is left unread)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > MAX_BODY:
                raise BodyTooLarge
            if check is not None:
                check.update(chunk)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_large_message() -> str:
    return f"The request body is larger than {MAX_BODY // (1024 * 1024)} MiB"


@dataclass
class Head:
    """What a request's head settles: whose request it is and how far it is authenticated."""

    service: ServiceSpec
    found: ServiceSpec | None = None
    signed: SignedHead | Caller | None = None
    #: The own operation the path names, with its path labels.
    own: tuple[OwnRoute, dict[str, str]] | None = None


class ApiApp:
    """Serves both services' operations through their providers.

    A request's head is checked before its body is read (`check_head`: the service, the signature's
    form, scope and time, the declared length). A body of at most READ_AHEAD bytes is then read
    whole and the rest happens in one go (`handle`); a longer or chunked body is read only once
    its access key is known good (`Authenticator.begin`), hashed as it streams in."""

    def __init__(
        self,
        router: Router,
        authenticator: Authenticator,
        providers: Mapping[str, ServiceProvider],
        clock: Clock,
        quick_reads_inline: bool = False,
    ) -> None:
        self.router = router
        self.authenticator = authenticator
        self.providers = providers
        self.clock = clock
        self.quick_reads_inline = quick_reads_inline
        self.default_service = router.services["customer-profiles"]
        self.own_routes = OwnRoutes(router.services, {name: p.own_operations for name, p in providers.items()})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        request = HttpRequest.head_of(scope)
        head = Head(self.default_service)
        caller: Caller | None = None
        try:
            self.check_head(request, head)
            length = request.declared_length()
            if length is not None and length <= READ_AHEAD:
                body = await read_body(receive)
            else:
                assert head.signed is not None
                check = await self._run(self.quick_reads_inline, self.authenticator.begin, head.signed,
                                        request.method, request.raw_path, request.raw_query, request.headers)
                body = await read_body(receive, check)
                caller = check.finish()
        except ClientGone:
            return
        except BodyTooLarge:
            response = self._error(head.service, self._too_large(head), new_request_id())
        except ApiError as error:
            response = self._error(head.service, error, new_request_id())
        except Exception:
            response = self._internal_error(head.service, new_request_id())
        else:
            request = replace(request, body=body)
            response = await self._run(self._runs_inline(request), self.handle, request, head, caller)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode(), v.encode("latin-1")) for k, v in response.headers.items()]
                + [(b"content-length", str(len(response.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    @staticmethod
    async def _run(inline: bool, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` here on the event loop, or in a worker thread."""
        if inline:
            return function(*args)
        return await anyio.to_thread.run_sync(function, *args)

    def _runs_inline(self, request: HttpRequest) -> bool:
        """Whether this request names only quick reads (`Provider.quick_reads`) and they may run on
        the event loop (`quick_reads_inline`: an embedded database, whose reads never wait on a lock
        or a network). Only where the request runs depends on this, never what it does."""
        if not self.quick_reads_inline:
            return False
        ops = self.router.operations_at(request.method, request.raw_path)
        return bool(ops) and all(op.name in self.providers[op.service.name].quick_reads for op in ops)

    def check_head(self, request: HttpRequest, head: Head) -> None:
        """Fill in `head` from the request's head alone: the service (an own operation's, else the
        credential scope's, else the path's), the declared body length, and the signature's checks
        that need no key. Raises ApiError, to be answered as `head.service`'s."""
        scope = parse_authorization(next((v for k, v in request.headers if k == "authorization"), None))
        head.own = self.own_routes.match(request.raw_path)
        if head.own is not None:
            route = head.own[0]
            head.service = head.found = route.service
            self._check_own(route, request.method, scope)
        else:
            found = self.router.by_signing_name.get(scope.service) if scope else None
            if scope is not None and found is None:
                raise AuthFailed(
                    f"Credential should be scoped to a valid service: 'profile' or 'appflow', not '{scope.service}'"
                )
            if found is None:
                found = self.router.service_for_path(request.method, request.raw_path)
            if found is not None:
                head.service = found
            head.found = found
        length = request.declared_length()
        if length is not None and length > MAX_BODY:
            raise self._too_large(head)
        head.signed = self.authenticator.check_head(scope, request.headers)

    @staticmethod
    def _check_own(route: OwnRoute, method: str, scope: AuthScope | None) -> None:
        """An own operation's path has one method and one service: 405 for another method, 403 for a
        credential scoped to another service."""
        if method != route.method:
            raise ApiError("UnknownOperationException", f"{route.name} accepts only {route.method}", 405)
        signing_name = route.service.signing_name
        if scope is not None and scope.service != signing_name:
            raise AuthFailed(f"Credential should be scoped to the service '{signing_name}', not '{scope.service}'")

    @staticmethod
    def _too_large(head: Head) -> ApiError:
        """A body over MAX_BODY: the service's validation error, 400 on a modeled operation (as AWS
        answers), 413 on an own operation."""
        error = ValidationFailed(too_large_message())
        if head.own is not None:
            error.status = 413
        return error

    def handle(self, request: HttpRequest, head: Head | None = None, caller: Caller | None = None) -> HttpResponse:
        """One request, start to finish (or from what `check_head` settled, and its caller when its
        body was authenticated as it streamed in); never raises."""
        request_id = new_request_id()
        if head is None:
            head = Head(self.default_service)
        try:
            if head.signed is None:
                self.check_head(request, head)
            if caller is None:
                assert head.signed is not None
                check = self.authenticator.begin(
                    head.signed, request.method, request.raw_path, request.raw_query, request.headers
                )
                check.update(request.body)
                caller = check.finish()
            if head.own is not None:
                route, labels = head.own
                result = self._call(route.service, route.name, route.handler_name, {**labels, "body": request.body},
                                    caller, request_id)
                headers: dict[str, str] = {}
                status, body = route.status, orjson.dumps(result)
            else:
                op, params = self._parse(request, head)
                result = self._call(head.service, op.name, op.handler_name, params, caller, request_id)
                status, headers, body = serialize_response(op, result)
            headers["x-amzn-RequestId"] = request_id
            headers.setdefault("Content-Type", "application/json")
            return HttpResponse(status, headers, body)
        except ApiError as error:
            return self._error(head.service, error, request_id)
        except Exception:
            return self._internal_error(head.service, request_id)

    def _parse(self, request: HttpRequest, head: Head) -> tuple[Operation, dict[str, Any]]:
        """The modeled operation a request names and its parameters, validated."""
        service = head.service
        if head.found is None:
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
        params = parse_request(op, labels, query, dict(request.headers), request.body)
        validate(op.model.input_shape, params)
        return op, params

    def _call(self, service: ServiceSpec, operation: str, handler_name: str, params: dict[str, Any], caller: Caller,
              request_id: str) -> Any:
        """The handler's result; NotImplementedOperation when the provider has none, a domain error
        as the provider's modeled exception."""
        provider = self.providers[service.name]
        handler = provider.handler(handler_name)
        if handler is None:
            raise NotImplementedOperation(operation)
        ctx = RequestContext(caller.account_id, caller.region, operation, request_id, self.clock.now())
        try:
            return handler(ctx, params)
        except ServiceError as error:
            raise ApiError(provider.error_code(error), error.message) from error

    def _internal_error(self, service: ServiceSpec, request_id: str) -> HttpResponse:
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
