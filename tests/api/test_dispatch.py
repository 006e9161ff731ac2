"""The dispatcher's error paths, in process: internal errors, unknown routes, not implemented."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import orjson
import pytest

from openprofiles.api.auth import Authenticator
from openprofiles.api.dispatch import ApiApp, HttpRequest
from openprofiles.api.router import Router
from openprofiles.clock import SystemClock
from openprofiles.services import errors
from openprofiles.services.context import RequestContext
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
