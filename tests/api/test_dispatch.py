"""The dispatcher in process: internal errors, unknown routes, not implemented, where requests run."""

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
from openprofiles.api.dispatch import ApiApp, HttpRequest, new_request_id
from openprofiles.api.router import Router
from openprofiles.clock import SystemClock
from openprofiles.context import RequestContext
from openprofiles.services.appflow.provider import AppFlowProvider
from openprofiles.services.customer_profiles.provider import CustomerProfilesProvider
from openprofiles.services.provider import Provider


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


async def _asgi_call(app: ApiApp, method: str, path: str) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
               "headers": [(b"host", b"localhost")]}, receive, send)
    return int(sent[0]["status"])


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
