"""The web console in headless Chromium (Playwright, Debian's /usr/bin/chromium) against a live
server: sign-in and sessions, domains, a domain's integrations going from PENDING to ACTIVE with
their flow's first successful run, flows, the 404 page, and open mode."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.harness import Server, cli
from tests.web.conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

SQLITE = pytest.mark.parametrize("live", ["sqlite"], indirect=True)
PEOPLE = {
    "Description": "People",
    "AllowProfileCreation": True,
    "Fields": {"id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
               "name": {"Source": "_source.name", "Target": "_profile.FirstName"}},
    "Keys": {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]},
}


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the module's server lets Files connectors read (`--files-root`)."""
    return tmp_path_factory.mktemp("files-root")


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         files_root: Path) -> Iterator[LiveServer]:
    """The shared `live` server, with Files connectors allowed to read `files_root`."""
    with live_server(request, tmp_path_factory.mktemp(f"live-{request.param}"),
                     args=(*FAKE_VENDOR_HOSTS, "--files-root", str(files_root))) as server:
        yield server


def integrated_flow(cp: Any, appflow: Any, name: str, folder: Path) -> None:
    """A domain `name` with an object type, a Files connector profile, an OnDemand flow from a CSV
    into the domain, and an integration on the flow's ARN."""
    (folder / "people.csv").write_text("id,name\n1,Ann\n2,Bob\n")
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=name, ObjectTypeName="people", **PEOPLE)
    appflow.create_connector_profile(
        connectorProfileName=name, connectorType="CustomConnector", connectorLabel="Files", connectionMode="Public",
        connectorProfileConfig={"connectorProfileProperties": {"CustomConnector": {
            "profileProperties": {"path": str(folder)}}}})
    arn = appflow.create_flow(
        flowName=name, triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": name,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": "people.csv"}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": name, "objectTypeName": "people"}}}],
        tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"CustomConnector": "NO_OP"}}],
    )["flowArn"]
    cp.put_integration(DomainName=name, Uri=arn, ObjectTypeName="people")


def run_flow(appflow: Any, name: str, timeout: float = 60) -> dict[str, Any]:
    """StartFlow, and the run's execution record once it has ended."""
    execution_id = appflow.start_flow(flowName=name)["executionId"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in appflow.describe_flow_execution_records(flowName=name)["flowExecutions"]:
            if record["executionId"] == execution_id and record["executionStatus"] not in ("InProgress", "CancelStarted"):
                return dict(record)
        time.sleep(0.2)
    raise AssertionError(f"run {execution_id} of flow {name} did not end within {timeout:.0f} s")


@SQLITE
def test_page_without_session_goes_to_sign_in(page: Page, live: LiveServer) -> None:
    response = page.goto(live.endpoint + "/console/flows")
    assert response is not None and response.ok
    assert page.url == live.endpoint + "/console/signin?next=%2Fconsole%2Fflows"
    assert page.locator("h1").inner_text() == "Sign in"
    assert page.locator("header nav").count() == 0
    # A forged cookie is no session either.
    page.context.add_cookies([{"name": "openprofiles_console", "value": "eyJrIjoiQUtJQSJ9.forged.sig",
                               "url": live.endpoint + "/console/"}])
    page.goto(live.endpoint + "/console/")
    assert page.url.startswith(live.endpoint + "/console/signin")


@SQLITE
def test_wrong_secret_is_refused(page: Page, live: LiveServer) -> None:
    sign_in(page, live.endpoint, live.creds.access_key_id, live.creds.secret_access_key[:-1] + "x")
    assert page.url.startswith(live.endpoint + "/console/signin")
    assert "not valid" in page.locator(".error").inner_text()
    assert page.input_value("input[name=access_key_id]") == live.creds.access_key_id
    assert page.input_value("input[name=secret_access_key]") == ""
    assert [c["name"] for c in page.context.cookies()] == ["openprofiles_signin"]  # the form's, no session
    sign_in(page, live.endpoint, "AKIANOSUCHKEY0000000", live.creds.secret_access_key)
    assert "not valid" in page.locator(".error").inner_text()


@SQLITE
def test_integration_goes_from_pending_to_active(page: Page, live: LiveServer, cp: Any, appflow: Any, unique: str,
                                                 files_root: Path) -> None:
    folder = files_root / unique
    folder.mkdir()
    integrated_flow(cp, appflow, unique, folder)

    sign_in(page, live.endpoint, live.creds.access_key_id, live.creds.secret_access_key)
    assert page.url == live.endpoint + "/console/"
    assert "000000000000" in page.locator("header .who").inner_text()
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert 0 < cookie["expires"] - datetime.now(UTC).timestamp() <= 8 * 3600 + 60

    page.click(f"a:text-is('{unique}')")
    assert page.url == f"{live.endpoint}/console/domains/{unique}"
    row = page.locator(f"table.integrations tr[data-flow='{unique}']")
    assert row.locator(".badge").inner_text() == "PENDING"
    assert "pending" in (row.locator(".badge").get_attribute("class") or "")
    assert f"arn:aws:appflow:us-east-1:000000000000:flow/{unique}" in row.inner_text()
    assert "people" in row.inner_text()
    assert "Active" in row.inner_text()  # an OnDemand flow's flowStatus
    assert "never run" in row.inner_text()

    assert run_flow(appflow, unique)["executionStatus"] == "Successful"
    page.reload()
    row = page.locator(f"table.integrations tr[data-flow='{unique}']")
    assert row.locator(".badge").inner_text() == "ACTIVE"
    assert "Successful" in row.inner_text()
    assert "never run" not in row.inner_text()

    page.click("header nav a:text-is('Flows')")
    flow = page.locator(f"table.flows tr[data-flow='{unique}']")
    cells = flow.locator("td").all_inner_texts()
    assert cells[:5] == [unique, "Files", unique, "OnDemand", "Active"]
    assert cells[5].startswith("Successful")

    page.click("header button:text-is('Sign out')")
    assert page.url == live.endpoint + "/console/signin"
    assert "openprofiles_console" not in [c["name"] for c in page.context.cookies()]
    page.goto(f"{live.endpoint}/console/domains/{unique}")
    assert page.url.startswith(live.endpoint + "/console/signin")


@SQLITE
def test_sign_in_returns_to_the_page_asked_for(page: Page, live: LiveServer, cp: Any, unique: str) -> None:
    cp.create_domain(DomainName=unique, DefaultExpirationDays=7)
    page.goto(f"{live.endpoint}/console/domains/{unique}")
    page.fill("input[name=access_key_id]", live.creds.access_key_id)
    page.fill("input[name=secret_access_key]", live.creds.secret_access_key)
    page.click("button[type=submit]")
    assert page.url == f"{live.endpoint}/console/domains/{unique}"
    assert "No integrations" in page.locator("main").inner_text()


@SQLITE
def test_unknown_domain_is_a_404_page_and_text_is_escaped(page: Page, live: LiveServer) -> None:
    sign_in(page, live.endpoint, live.creds.access_key_id, live.creds.secret_access_key)
    response = page.goto(live.endpoint + "/console/domains/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert "<script>alert(1)</script>" in page.locator(".error").inner_text()
    assert page.locator("script").count() == 0
    response = page.goto(live.endpoint + "/console/no/such/page")
    assert response is not None and response.status == 404


@SQLITE
def test_a_revoked_key_ends_its_sessions(page: Page, live: LiveServer) -> None:
    other = live.server.create_key()
    sign_in(page, live.endpoint, other.access_key_id, other.secret_access_key)
    assert page.url == live.endpoint + "/console/"
    cli("keys", "revoke", other.access_key_id, *live.server.storage_args())
    page.reload()
    assert page.url.startswith(live.endpoint + "/console/signin")
    sign_in(page, live.endpoint, other.access_key_id, other.secret_access_key)
    assert "not valid" in page.locator(".error").inner_text()


@SQLITE
def test_a_post_from_another_site_is_refused(live: LiveServer) -> None:
    with httpx.Client(base_url=live.endpoint) as client:
        found = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/signin").text)
        assert found
        form = {"csrf": found.group(1), "access_key_id": live.creds.access_key_id,
                "secret_access_key": live.creds.secret_access_key}
        refused = client.post("/console/signin", data=form, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        accepted = client.post("/console/signin", data=form, headers={"Origin": live.endpoint})
        assert accepted.status_code == 303 and "openprofiles_console=" in accepted.headers["set-cookie"]


def test_open_mode_needs_no_sign_in(page: Page, tmp_path: Path) -> None:
    server = Server(tmp_path, None, auth="open")
    server.start()
    try:
        httpx.post(server.endpoint + "/domains/open-one", json={"DefaultExpirationDays": 3}).raise_for_status()
        page.goto(server.endpoint + "/console/signin")
        assert page.url == server.endpoint + "/console/"
        assert "--auth open" in page.locator(".banner").inner_text()
        assert page.locator("a:text-is('open-one')").count() == 1
        assert page.locator("header button").count() == 0  # nothing to sign out of
    finally:
        server.stop()
