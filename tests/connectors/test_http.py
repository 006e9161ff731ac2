"""VendorApi against a local server: retries on 429/5xx honouring Retry-After, error mapping, token refresh."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openprofiles.connectors.base import ConnectorAuthError, ConnectorError
from openprofiles.connectors.http import RefreshingBearer, VendorApi, retry_after
from tests.fakes.server import serving

calls: dict[str, int] = {}


def _count(name: str) -> int:
    calls[name] = calls.get(name, 0) + 1
    return calls[name]


async def flaky(request: Request) -> Response:
    """429 with Retry-After: 2, then 503, then the answer."""
    n = _count(request.url.path)
    if n == 1:
        return JSONResponse({"message": "slow down"}, 429, headers={"Retry-After": "2"})
    if n == 2:
        return JSONResponse({"message": "busy"}, 503)
    return JSONResponse({"ok": True})


async def always_busy(request: Request) -> Response:
    return JSONResponse({"error": "overloaded"}, 503)


async def far_future(request: Request) -> Response:
    return JSONResponse({"message": "quota"}, 429, headers={"Retry-After": "86400"})


async def not_found(request: Request) -> Response:
    return JSONResponse([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], 404)


async def forbidden(request: Request) -> Response:
    return JSONResponse({"error": "invalid_auth"}, 401)


async def over_quota(request: Request) -> Response:
    _count(request.url.path)
    return JSONResponse([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}], 403)


async def secured(request: Request) -> Response:
    if request.headers.get("Authorization") != "Bearer fresh":
        return JSONResponse({"message": "Session expired or invalid"}, 401)
    return JSONResponse({"who": "me"})


app = Starlette(routes=[
    Route("/flaky", flaky), Route("/busy", always_busy), Route("/far", far_future), Route("/missing", not_found),
    Route("/denied", forbidden), Route("/secured", secured), Route("/quota", over_quota),
    Route("/quota-busy", always_busy),
])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(app) as url:
        yield url


def api(base_url: str, waits: list[float], **kwargs: object) -> VendorApi:
    return VendorApi("Vendor", base_url, sleep=waits.append, **kwargs)  # type: ignore[arg-type]


def test_retries_429_and_5xx_honouring_retry_after(base_url: str) -> None:
    waits: list[float] = []
    assert api(base_url, waits).get_json("/flaky") == {"ok": True}
    assert waits[0] == 2.0 and 0 < waits[1] <= 2.0


def test_gives_up_after_the_attempts_as_a_transient_error(base_url: str) -> None:
    waits: list[float] = []
    with pytest.raises(ConnectorError) as raised:
        api(base_url, waits, max_attempts=3).get_json("/busy")
    assert raised.value.transient and "HTTP 503: overloaded" in raised.value.message
    assert "gave up after 3 attempts" in raised.value.message and len(waits) == 2


def test_a_retry_after_beyond_max_wait_fails_at_once(base_url: str) -> None:
    waits: list[float] = []
    with pytest.raises(ConnectorError) as raised:
        api(base_url, waits, max_wait=60).get_json("/far")
    assert raised.value.transient and "86400" in raised.value.message and waits == []


def test_4xx_is_terminal_with_the_vendors_message(base_url: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        api(base_url, []).get_json("/missing")
    assert not raised.value.transient
    assert raised.value.message == "Vendor GET /missing: HTTP 404: The requested resource does not exist"


def test_401_is_an_auth_error(base_url: str) -> None:
    with pytest.raises(ConnectorAuthError, match="invalid_auth"):
        api(base_url, []).get_json("/denied")


def quota_is_transient(response: httpx.Response, text: str) -> ConnectorError | None:
    """A vendor's reading: 403 with REQUEST_LIMIT_EXCEEDED, or a 503 on /quota-busy, is a used-up quota."""
    if (response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text) or response.url.path == "/quota-busy":
        return ConnectorError(f"quota: {text}", transient=True)
    return None


def test_403_is_an_auth_error_unless_the_connector_classifies_it(base_url: str) -> None:
    with pytest.raises(ConnectorAuthError, match=r"HTTP 403: TotalRequests Limit exceeded\."):
        api(base_url, []).get_json("/quota")
    with pytest.raises(ConnectorAuthError, match="invalid_auth"):  # what the hook does not claim keeps its mapping
        api(base_url, [], classify=quota_is_transient).get_json("/denied")
    calls.clear()
    waits: list[float] = []
    with pytest.raises(ConnectorError) as raised:
        api(base_url, waits, classify=quota_is_transient).get_json("/quota")
    assert type(raised.value) is ConnectorError and raised.value.transient
    assert raised.value.message == "quota: Vendor GET /quota: HTTP 403: TotalRequests Limit exceeded."
    with pytest.raises(ConnectorError, match=r"^quota: Vendor GET /quota-busy: HTTP 503: overloaded$"):
        api(base_url, waits, classify=quota_is_transient).get_json("/quota-busy")
    assert calls == {"/quota": 1} and waits == []  # a classified error is raised at once, even for a 503


def test_bearer_refreshes_once_on_401(base_url: str) -> None:
    refreshed: list[str] = []

    def refresh() -> str:
        refreshed.append("x")
        return "fresh"

    client = api(base_url, [], auth=RefreshingBearer("stale", refresh))
    assert client.get_json("/secured") == {"who": "me"}
    assert client.get_json("/secured") == {"who": "me"}
    assert refreshed == ["x"]
    with pytest.raises(ConnectorAuthError, match="Session expired"):
        api(base_url, [], auth=RefreshingBearer("stale")).get_json("/secured")


def test_network_failures_are_transient() -> None:
    with pytest.raises(ConnectorError) as raised:
        VendorApi("Vendor", "http://127.0.0.1:9", max_attempts=2, sleep=lambda _: None).get_json("/x")
    assert raised.value.transient and "ConnectError" in raised.value.message


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": later}), lambda: now) == 30.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None


def test_instance_url_is_required() -> None:
    with pytest.raises(ConnectorError, match="instanceUrl"):
        VendorApi("Vendor", "")
