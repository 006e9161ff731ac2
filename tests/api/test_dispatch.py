"""The dispatcher in process: internal errors, unknown routes, not implemented, where requests run,
and OpenProfiles' own operations through the same request path."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, ClassVar

import anyio
import orjson
import pytest

from openprofiles import errors
from openprofiles.api.auth import Authenticator
from openprofiles.api.dispatch import MAX_BODY, ApiApp, HttpRequest, new_request_id
from openprofiles.api.router import Router
from openprofiles.clock import SystemClock
from openprofiles.context import RequestContext
from openprofiles.services.appflow.provider import AppFlowProvider
from openprofiles.services.customer_profiles.provider import CustomerProfilesProvider
from openprofiles.services.provider import OwnOperation, Provider


class ExplodingProvider(Provider):
    """A provider whose handlers fail the ways real code can."""

    error_codes: ClassVar[dict[type[errors.ServiceError], str]] = {
        errors.NotFound: "ResourceNotFoundException",
        errors.ServiceError: "BadRequestException",
    }

    def get_domain(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("a bug")

    def delete_domain(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        raise errors.NotFound(f"Domain {p['DomainName']} does not exist")


@pytest.fixture
def app() -> ApiApp:
    return ApiApp(
        router=Router(),
        authenticator=Authenticator("open", lambda _: None, SystemClock()),
        providers={"customer-profiles": ExplodingProvider(), "appflow": ExplodingProvider()},
        clock=SystemClock(),
    )


def call(app: ApiApp, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], dict[str, Any]]:
    response = app.handle(HttpRequest(method, path, "", [("host", "localhost")], body))
    return response.status, response.headers, orjson.loads(response.body)


def test_internal_error_is_500_with_request_id_and_logged(app: ApiApp, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        status, headers, body = call(app, "GET", "/domains/d1")
    assert status == 500
    assert headers["x-amzn-ErrorType"] == "InternalServerException"
    assert headers["x-amzn-RequestId"] in body["Message"]
    assert headers["x-amzn-RequestId"] in caplog.text
    assert "KeyError" in caplog.text


def test_domain_error_maps_to_modeled_exception(app: ApiApp) -> None:
    status, headers, body = call(app, "DELETE", "/domains/d1")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "ResourceNotFoundException")
    assert body == {"Message": "Domain d1 does not exist"}


def test_unknown_path_and_method(app: ApiApp) -> None:
    status, headers, _ = call(app, "GET", "/no/such/thing")
    assert status == 404 and headers["x-amzn-ErrorType"] == "UnknownOperationException"
    status, _, _ = call(app, "PATCH", "/domains/d1")
    assert status == 404


def test_not_implemented_names_the_operation(app: ApiApp) -> None:
    status, headers, body = call(app, "POST", "/create-flow", b'{}')
    # Validation comes first: an empty CreateFlow is a 400 ValidationException on AppFlow.
    assert status == 400 and headers["x-amzn-ErrorType"] == "ValidationException"
    assert "flowName" in body["message"]
    status, headers, body = call(app, "GET", "/domains/d1/calculated-attributes")
    assert status == 501
    assert "ListCalculatedAttributeDefinitions" in body["Message"]


class ThreadRecordingProvider(Provider):
    """Records the thread each handler ran in."""

    error_codes: ClassVar[dict[type[errors.ServiceError], str]] = {errors.ServiceError: "BadRequestException"}
    quick_reads: ClassVar[frozenset[str]] = frozenset({"GetDomain"})

    def __init__(self) -> None:
        self.threads: dict[str, int] = {}

    def get_domain(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        self.threads[ctx.operation] = threading.get_ident()
        return {"DomainName": p["DomainName"], "DefaultExpirationDays": 1}

    def delete_domain(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        self.threads[ctx.operation] = threading.get_ident()
        return {"Message": "deleted"}


async def _asgi_call(app: ApiApp, method: str, path: str, chunks: tuple[bytes, ...] = (b"",),
                     headers: tuple[tuple[bytes, bytes], ...] = ()) -> int:
    sent: list[dict[str, Any]] = []
    messages = iter(chunks)

    async def receive() -> dict[str, Any]:
        chunk = next(messages, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": chunk is not chunks[-1]}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
               "headers": [(b"host", b"localhost"), *headers]}, receive, send)
    return int(sent[0]["status"]) if sent else 0


@pytest.mark.parametrize("inline", [True, False])
def test_quick_reads_run_on_the_event_loop_only_when_allowed(inline: bool) -> None:
    provider = ThreadRecordingProvider()
    app = ApiApp(router=Router(), authenticator=Authenticator("open", lambda _: None, SystemClock()),
                 providers={"customer-profiles": provider, "appflow": ThreadRecordingProvider()},
                 clock=SystemClock(), quick_reads_inline=inline)

    async def main() -> int:
        assert await _asgi_call(app, "GET", "/domains/d1") == 200
        assert await _asgi_call(app, "DELETE", "/domains/d1") == 200
        return threading.get_ident()

    loop_thread = anyio.run(main)
    assert (provider.threads["GetDomain"] == loop_thread) is inline
    assert provider.threads["DeleteDomain"] != loop_thread  # a write always runs in a worker thread


@pytest.mark.parametrize("provider", [CustomerProfilesProvider, AppFlowProvider])
def test_quick_reads_name_implemented_read_operations(provider: type[Provider]) -> None:
    """A misspelt name would silently keep its operation off the event loop; a write must never be on it."""
    service = {CustomerProfilesProvider: "customer-profiles", AppFlowProvider: "appflow"}[provider]
    operations = Router().services[service].operations
    assert provider.quick_reads
    for name in provider.quick_reads:
        assert name in operations, name
        assert hasattr(provider, operations[name].handler_name), name
        assert name.startswith(("Get", "Describe", "Search", "BatchGet")), name


def test_request_ids_are_distinct_version_4_uuids() -> None:
    ids = [new_request_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2_000]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


# --- OpenProfiles' own operations ------------------------------------------------------------------

OWN_PATH = "/_openprofiles/things/{name}/push"


class OwnProvider(Provider):
    """An AppFlow-like provider with one own operation, PushThing."""

    error_codes: ClassVar[dict[type[errors.ServiceError], str]] = {
        errors.NotFound: "ResourceNotFoundException",
        errors.ServiceError: "ValidationException",
    }
    own_operations: ClassVar[dict[str, OwnOperation]] = {"PushThing": OwnOperation("POST", OWN_PATH, 202)}

    def push_thing(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        if p["name"] == "missing":
            raise errors.NotFound("No thing called missing")
        if p["name"] == "bug":
            raise KeyError("a bug")
        return {"name": p["name"], "body": p["body"].decode(), "operation": ctx.operation, "account": ctx.account_id}


@pytest.fixture
def own_app() -> ApiApp:
    return ApiApp(router=Router(), authenticator=Authenticator("open", lambda _: None, SystemClock()),
                  providers={"customer-profiles": ExplodingProvider(), "appflow": OwnProvider()}, clock=SystemClock())


def _scoped(service: str) -> tuple[str, str]:
    return ("authorization", f"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/{service}/aws4_request, "
                             "SignedHeaders=host, Signature=abc")


def own_call(app: ApiApp, method: str, path: str, body: bytes = b"",
             headers: tuple[tuple[str, str], ...] = ()) -> tuple[int, dict[str, str], dict[str, Any]]:
    response = app.handle(HttpRequest(method, path, "", [("host", "localhost"), *headers], body))
    return response.status, response.headers, orjson.loads(response.body)


def test_an_own_operation_gets_its_labels_and_the_raw_body(own_app: ApiApp) -> None:
    status, headers, body = own_call(own_app, "POST", "/_openprofiles/things/a%20b/push", b'[{"x": 1}]',
                                     (_scoped("appflow"),))
    assert (status, headers["Content-Type"]) == (202, "application/json")
    assert body == {"name": "a b", "body": '[{"x": 1}]', "operation": "PushThing", "account": "000000000000"}
    assert headers["x-amzn-RequestId"] and "x-amzn-ErrorType" not in headers


def test_an_own_operations_errors_are_its_services(own_app: ApiApp, caplog: pytest.LogCaptureFixture) -> None:
    status, headers, body = own_call(own_app, "POST", "/_openprofiles/things/missing/push")
    assert (status, headers["x-amzn-ErrorType"], body) == (404, "ResourceNotFoundException",
                                                           {"message": "No thing called missing"})
    with caplog.at_level(logging.ERROR):
        status, headers, body = own_call(own_app, "POST", "/_openprofiles/things/bug/push")
    assert (status, headers["x-amzn-ErrorType"]) == (500, "InternalServerException")
    assert headers["x-amzn-RequestId"] in body["message"] and "KeyError" in caplog.text


def test_an_own_path_belongs_to_one_method_and_one_service(own_app: ApiApp) -> None:
    status, headers, _ = own_call(own_app, "GET", "/_openprofiles/things/t/push")
    assert (status, headers["x-amzn-ErrorType"]) == (405, "UnknownOperationException")
    status, headers, body = own_call(own_app, "POST", "/_openprofiles/things/t/push", headers=(_scoped("profile"),))
    assert (status, headers["x-amzn-ErrorType"]) == (403, "AccessDeniedException")
    assert body == {"message": "Credential should be scoped to the service 'appflow', not 'profile'"}
    status, headers, _ = own_call(own_app, "POST", "/_openprofiles/other")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")


def test_a_body_over_the_limit_is_413_on_an_own_path_and_400_on_an_aws_one(own_app: ApiApp) -> None:
    too_long = (("content-length", str(MAX_BODY + 1)),)
    status, headers, body = own_call(own_app, "POST", "/_openprofiles/things/t/push", headers=too_long)
    assert (status, headers["x-amzn-ErrorType"]) == (413, "ValidationException") and "8 MiB" in body["message"]
    status, headers, body = own_call(own_app, "POST", "/domains/d1", headers=too_long)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "BadRequestException") and "8 MiB" in body["Message"]

    # A chunked body, refused as it passes the limit while streaming in.
    chunk = b"x" * (MAX_BODY // 2)
    chunked = ((b"transfer-encoding", b"chunked"),)

    async def main() -> tuple[int, int, int]:
        return (await _asgi_call(own_app, "POST", "/_openprofiles/things/t/push", (chunk, chunk, b"x"), chunked),
                await _asgi_call(own_app, "POST", "/_openprofiles/things/t/push", (chunk, b"x"), chunked),
                await _asgi_call(own_app, "POST", "/_openprofiles/things/t/push", (chunk,), chunked))

    assert anyio.run(main) == (413, 202, 202)


def test_an_own_operation_must_live_under_the_own_prefix() -> None:
    class Shadowing(OwnProvider):
        own_operations: ClassVar[dict[str, OwnOperation]] = {"PushThing": OwnOperation("POST", "/domains/{name}", 200)}

    with pytest.raises(ValueError, match="must start with /_openprofiles/"):
        ApiApp(router=Router(), authenticator=Authenticator("open", lambda _: None, SystemClock()),
               providers={"customer-profiles": ExplodingProvider(), "appflow": Shadowing()}, clock=SystemClock())
