"""VendorApi against a local server: retries on 429/5xx honouring Retry-After, error mapping, token refresh;
the egress policy with real sockets on loopback (refused addresses are never connected to)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from openprofiles.connectors.base import ConnectorAuthError, ConnectorError, NotGranted
from openprofiles.connectors.grants import Grants
from openprofiles.connectors.http import (
    EGRESS_SETTING,
    EgressPolicy,
    EgressRefused,
    RefreshingBearer,
    VendorApi,
    check_egress,
    is_public,
    retry_after,
)
from tests.connectors.helpers import FAKE_VENDOR_GRANTS
from tests.fakes.server import Listener, banner_service, free_port, serving

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


async def long_error(request: Request) -> Response:
    return PlainTextResponse("x" * 5000, 400)


DEEP = b"[" * 5000 + b"]" * 5000


async def deep_error(request: Request) -> Response:
    return Response(DEEP, 400, media_type="application/json")


async def deep_answer(request: Request) -> Response:
    return Response(DEEP, 200, media_type="application/json")


async def host_header(request: Request) -> Response:
    return JSONResponse({"host": request.headers["host"]})


async def hop(request: Request) -> Response:
    """A redirect to `?to=` (another host), or to /host-header on this one."""
    return RedirectResponse(request.query_params.get("to", "/host-header"), 302)


app = Starlette(routes=[
    Route("/flaky", flaky), Route("/busy", always_busy), Route("/far", far_future), Route("/missing", not_found),
    Route("/denied", forbidden), Route("/secured", secured), Route("/quota", over_quota),
    Route("/quota-busy", always_busy), Route("/long-error", long_error), Route("/host-header", host_header),
    Route("/hop", hop), Route("/deep-error", deep_error), Route("/deep", deep_answer),
])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(app) as url:
        yield url


def api(base_url: str, waits: list[float], **kwargs: object) -> VendorApi:
    kwargs.setdefault("egress", FAKE_VENDOR_GRANTS)
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


def test_json_nested_past_any_limit_is_an_error_not_a_crash(base_url: str) -> None:
    """Python's json recurses and raises RecursionError (no ValueError) 1,000 levels down; a vendor's
    answer is decoded without recursion, so a deep body is just an answer that is not JSON."""
    with pytest.raises(ConnectorError, match="HTTP 400") as raised:
        api(base_url, []).get_json("/deep-error")
    assert len(raised.value.message) < 300
    with pytest.raises(ConnectorError, match="the answer is not JSON"):
        api(base_url, []).get_json("/deep")


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
        api("http://127.0.0.1:9", [], max_attempts=2).get_json("/x")
    assert raised.value.transient
    assert raised.value.message == ("Vendor GET /x: could not reach 127.0.0.1:9: connection failed "
                                    "(gave up after 2 attempts)")


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": later}), lambda: now) == 30.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None


def test_instance_url_is_required() -> None:
    with pytest.raises(ConnectorError, match="instanceUrl"):
        VendorApi("Vendor", "", egress=Grants())
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:25/", "127.0.0.1:80", "http://"):
        with pytest.raises(NotGranted, match="is not an http:// or https:// URL"):
            VendorApi("Vendor", url, egress=Grants())


# Egress.

@pytest.mark.parametrize("text", [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.1", "198.18.0.1",
    "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "::ffff:10.0.0.1", "2002:7f00:1::1", "2002:a00:1::1", "64:ff9b::a9fe:a9fe",
])
def test_non_public_addresses(text: str) -> None:
    assert not is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                  "64:ff9b::808:808"])
def test_public_addresses(text: str) -> None:
    assert is_public(ipaddress.ip_address(text))


NOTHING = Grants()


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


def refused(url: str, egress: Grants | EgressPolicy = NOTHING, path: str = "/x") -> str:
    """The refusal's message for GET `url` + `path`, which must come at once."""
    start = time.monotonic()
    with pytest.raises(EgressRefused) as raised:
        VendorApi("Vendor", url, egress=egress, timeout=0.5, sleep=lambda _: None).get_json(path)
    assert time.monotonic() - start < 0.5
    assert EGRESS_SETTING in raised.value.message and not raised.value.transient
    return raised.value.message


def test_private_addresses_are_refused_before_any_connection(listener: Listener) -> None:
    message = refused(f"http://127.0.0.1:{listener.port}")
    assert message.startswith("Vendor: 127.0.0.1 is not a public address")
    assert not listener.contacted()
    for url in ("http://10.0.0.1", "https://169.254.169.254", "http://[::1]:80", "http://192.168.0.1:8080",
                "http://[fe80::1]", "http://0.0.0.0:22", "http://[::ffff:127.0.0.1]:80", "http://100.64.0.1"):
        refused(url)


def test_a_name_resolving_to_loopback_is_refused(listener: Listener) -> None:
    assert refused(f"http://localhost:{listener.port}").startswith("Vendor: localhost is not a public address")
    assert refused(f"http://LOCALHOST.:{listener.port}").startswith("Vendor: localhost is not")
    assert not listener.contacted()


def test_a_host_with_one_private_address_among_public_ones_is_refused(listener: Listener) -> None:
    policy = EgressPolicy(resolve=lambda host, port: ["93.184.216.34", "127.0.0.1"])
    refused(f"http://vendor.test:{listener.port}", policy)
    assert not listener.contacted()


def test_the_operator_allows_hosts_addresses_and_networks(base_url: str) -> None:
    port = base_url.rsplit(":", 1)[1]
    for hosts in (("127.0.0.1",), ("127.0.0.0/8",), ("localhost",)):
        egress = Grants(connector_hosts=hosts)
        url = base_url if hosts != ("localhost",) else f"http://localhost:{port}"
        assert VendorApi("Vendor", url, egress=egress).get_json("/host-header")["host"] == url.split("//")[1]
    refused(base_url, Grants(connector_hosts=("10.0.0.0/8", "127.0.0.2", "vendor.test")))
    for malformed in ("10.0.0.0/33", "a b", "http://x", "", "a,b", "-x.example", "*.example.com"):
        with pytest.raises(ValueError, match="--allow-connector-host"):
            EgressPolicy.of(Grants(connector_hosts=(malformed,)))


def test_connections_go_to_the_address_checked_with_the_host_name_kept(base_url: str) -> None:
    """The policy resolves once per connection and connects to that answer: a resolver that would
    answer a refused address the next time (DNS rebinding) is never asked again."""
    port = int(base_url.rsplit(":", 1)[1])
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    asked: list[tuple[str, int]] = []

    def resolve(host: str, at: int) -> list[str]:
        asked.append((host, at))
        return next(answers)

    policy = EgressPolicy.of(Grants(connector_hosts=("127.0.0.1",)), resolve)
    client = VendorApi("Vendor", f"http://vendor.test:{port}", egress=policy)
    assert client.get_json("/host-header") == {"host": f"vendor.test:{port}"}
    assert client.get_json("/host-header") == {"host": f"vendor.test:{port}"}
    assert asked == [("vendor.test", port)]


def test_redirects_to_refused_hosts_are_not_followed(base_url: str) -> None:
    elsewhere = Listener("127.0.0.2")
    try:
        message = refused(base_url, FAKE_VENDOR_GRANTS, f"/hop?to=http://127.0.0.2:{elsewhere.port}/")
        assert message.startswith("Vendor: 127.0.0.2 is not a public address")
        assert not elsewhere.contacted()
        refused(base_url, FAKE_VENDOR_GRANTS, "/hop?to=http://169.254.169.254/latest/meta-data/")
    finally:
        elsewhere.close()
    assert api(base_url, []).get_json("/hop") == {"host": base_url.split("//")[1]}  # same host: followed


def test_closed_and_open_ports_fail_alike() -> None:
    messages = []
    with banner_service() as open_port:
        for port in (open_port, free_port()):
            with pytest.raises(ConnectorError) as raised:
                api(f"http://127.0.0.1:{port}", [], max_attempts=2).get_json("/x")
            messages.append(raised.value.message.replace(str(port), "PORT"))
    assert messages[0] == messages[1] == ("Vendor GET /x: could not reach 127.0.0.1:PORT: connection failed "
                                          "(gave up after 2 attempts)")


def test_vendor_error_texts_are_cut_short(base_url: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        api(base_url, []).get_json("/long-error")
    assert raised.value.message == "Vendor GET /long-error: HTTP 400: " + "x" * 199 + "…"


def test_check_egress_for_other_clients(listener: Listener) -> None:
    assert check_egress(f"http://127.0.0.1:{listener.port}/q", FAKE_VENDOR_GRANTS) == ["127.0.0.1"]
    with pytest.raises(EgressRefused, match="--allow-connector-host"):
        check_egress("https://sqs.internal.test/123/q", EgressPolicy(resolve=lambda host, port: ["10.1.2.3"]))
    with pytest.raises(NotGranted, match="not an http"):
        check_egress("file:///etc/passwd", Grants())
    with pytest.raises(ConnectorError, match=r"could not reach nowhere\.invalid: connection failed"):
        check_egress("https://nowhere.invalid/", Grants())
    assert not listener.contacted()
