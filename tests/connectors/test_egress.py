"""Outbound HTTP from connectors, through boto3 on a live server (issue 17, SSRF).

A server started without --allow-connector-host refuses, with a ValidationException naming the
setting, every HTTP connector profile whose instanceUrl is (or resolves to) a non-public address,
and never connects there. A server that allows the fake vendor on 127.0.0.1 refuses a redirect to
another loopback address, reports closed and open ports alike and cuts vendor error bodies short.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.conftest import LiveServer, live_server
from tests.fakes.server import Listener, banner_service, free_port, serving
from tests.harness import cli
from tests.live_flows import create_profile

#: Each HTTP connector type with credentials that pass the API's validation.
CONNECTORS: dict[str, dict[str, Any]] = {
    "Salesforce": {"accessToken": "t", "oAuth2GrantType": "AUTHORIZATION_CODE"},
    "Zendesk": {"clientId": "c", "clientSecret": "s", "accessToken": "t"},
    "Servicenow": {"username": "u", "password": "p"},
    "Slack": {"clientId": "c", "clientSecret": "s", "accessToken": "t"},
    "Marketo": {"clientId": "c", "clientSecret": "s"},
}
SETTING = "--allow-connector-host / OPENPROFILES_ALLOW_CONNECTOR_HOSTS"


@pytest.fixture(scope="module", params=["sqlite"])
def bare(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose operator allowed no private connector host."""
    with live_server(request, tmp_path_factory.mktemp("egress-bare"), args=()) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite"])
def allowed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose operator allowed 127.0.0.1 (and nothing else) for connectors."""
    with live_server(request, tmp_path_factory.mktemp("egress-allowed")) as server:
        yield server


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Listener]:
    """A loopback address the operator did not allow (127.0.0.2)."""
    found = Listener("127.0.0.2")
    yield found
    found.close()


@pytest.fixture(scope="module")
def vendor(elsewhere: Listener) -> Iterator[str]:
    """A fake vendor on 127.0.0.1: `ok` everywhere, a redirect to 127.0.0.2 under /hop, a long error under /long."""

    async def answer(request: Request) -> Response:
        path = request.url.path
        if path.startswith("/hop/"):
            return RedirectResponse(f"http://127.0.0.2:{elsewhere.port}{path[4:]}", 307)
        if path.startswith("/long/"):
            return PlainTextResponse("secret internal page " * 200, 400)
        return JSONResponse({"ok": True, "success": True, "user": {"id": 1}, "access_token": "t",
                             "result": [], "sobjects": []})

    with serving(Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])) as url:
        yield url


def refusal(appflow: Any, name: str, connector_type: str, url: str) -> str:
    with pytest.raises(appflow.exceptions.ValidationException) as raised:
        create_profile(appflow, name, connector_type, {"instanceUrl": url}, CONNECTORS[connector_type])
    return str(raised.value.response["Error"]["Message"])


@pytest.mark.parametrize("connector_type", CONNECTORS)
def test_private_instance_urls_are_refused_and_never_contacted(bare: LiveServer, listener: Listener, unique: str,
                                                                connector_type: str) -> None:
    appflow = bare.client("appflow")
    urls = {
        f"http://127.0.0.1:{listener.port}": "127.0.0.1", f"http://localhost:{listener.port}": "localhost",
        f"http://[::1]:{listener.port}": "::1", "http://10.0.0.1": "10.0.0.1",
        "http://169.254.169.254/latest/meta-data": "169.254.169.254", "https://192.168.1.10": "192.168.1.10",
        "http://100.64.0.1:8080": "100.64.0.1", "http://[::ffff:127.0.0.1]:80": "::ffff:127.0.0.1",
    }
    for url, host in urls.items():
        message = refusal(appflow, unique, connector_type, url)
        assert f"{host} is not a public address" in message and SETTING in message, message
    assert not listener.contacted()
    names = [p["connectorProfileName"] for p in appflow.describe_connector_profiles()["connectorProfileDetails"]]
    assert unique not in names


def test_an_update_to_a_private_url_is_refused(allowed: LiveServer, vendor: str, elsewhere: Listener,
                                               unique: str) -> None:
    appflow = allowed.client("appflow")
    create_profile(appflow, unique, "Zendesk", {"instanceUrl": vendor}, CONNECTORS["Zendesk"])
    for url in (f"http://127.0.0.2:{elsewhere.port}", "http://169.254.169.254"):
        with pytest.raises(appflow.exceptions.ValidationException, match="--allow-connector-host"):
            appflow.update_connector_profile(
                connectorProfileName=unique, connectionMode="Public", connectorProfileConfig={
                    "connectorProfileProperties": {"Zendesk": {"instanceUrl": url}},
                    "connectorProfileCredentials": {"Zendesk": CONNECTORS["Zendesk"]}})
    assert not elsewhere.contacted()
    (profile,) = appflow.describe_connector_profiles(connectorProfileNames=[unique])["connectorProfileDetails"]
    assert profile["connectorProfileProperties"]["Zendesk"]["instanceUrl"] == vendor


@pytest.mark.parametrize("connector_type", CONNECTORS)
def test_a_redirect_to_a_refused_host_is_not_followed(allowed: LiveServer, vendor: str, elsewhere: Listener,
                                                      unique: str, connector_type: str) -> None:
    message = refusal(allowed.client("appflow"), unique, connector_type, f"{vendor}/hop")
    assert "127.0.0.2 is not a public address" in message and SETTING in message, message
    assert not elsewhere.contacted()


def test_closed_and_open_ports_look_alike(allowed: LiveServer, unique: str) -> None:
    appflow = allowed.client("appflow")
    messages = []
    with banner_service() as open_port:
        for n, port in enumerate((open_port, free_port())):
            with pytest.raises(appflow.exceptions.ConnectorServerException) as raised:
                create_profile(appflow, f"{unique}{n}", "Zendesk", {"instanceUrl": f"http://127.0.0.1:{port}"},
                               CONNECTORS["Zendesk"])
            messages.append(str(raised.value.response["Error"]["Message"]).replace(str(port), "PORT"))
    assert messages[0] == messages[1], messages
    assert messages[0].endswith("could not reach 127.0.0.1:PORT: connection failed (gave up after 5 attempts)")


def test_vendor_error_bodies_come_back_short(allowed: LiveServer, vendor: str, unique: str) -> None:
    appflow = allowed.client("appflow")
    with pytest.raises(appflow.exceptions.ConnectorServerException) as raised:
        create_profile(appflow, unique, "Zendesk", {"instanceUrl": f"{vendor}/long"}, CONNECTORS["Zendesk"])
    message = str(raised.value.response["Error"]["Message"])
    assert "HTTP 400: secret internal page" in message and message.endswith("…")
    assert message.count("secret internal page") < 12 and len(message) < 300


@pytest.fixture(scope="module", params=["sqlite"])
def cidr(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose operator allowed the network 127.0.0.0/30 through the environment."""
    env = {"OPENPROFILES_ALLOW_CONNECTOR_HOSTS": "127.0.0.0/30"}
    with live_server(request, tmp_path_factory.mktemp("egress-cidr"), env, args=()) as server:
        yield server


def test_the_allow_list_is_the_operators(cidr: LiveServer, vendor: str, unique: str) -> None:
    """A network (CIDR) in OPENPROFILES_ALLOW_CONNECTOR_HOSTS lets connectors reach the fake vendor; the
    loopback addresses outside it stay refused."""
    appflow = cidr.client("appflow")
    create_profile(appflow, unique, "Slack", {"instanceUrl": vendor}, CONNECTORS["Slack"])
    assert "127.0.0.9 is not a public address" in refusal(appflow, f"{unique}x", "Slack", "http://127.0.0.9:1")


def test_a_malformed_allow_list_entry_stops_the_server(tmp_path: Path) -> None:
    out = cli("serve", "--data-dir", str(tmp_path), "--allow-connector-host", "10.0.0.0/33", check=False)
    assert out.returncode != 0 and "--allow-connector-host '10.0.0.0/33': not a host name" in out.stderr
