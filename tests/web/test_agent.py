"""The agent pages in headless Chromium against a live server, on SQLite and PostgreSQL: finding a
customer by a key name and value (normalised like SearchProfiles), results in pages, the whole
customer (profile fields, objects of every type, history), and clear errors for bad input; and
web/agent.py's AgentPages in process over the real services."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest

from openprofiles import errors
from openprofiles.app import build_runtime, create_app
from openprofiles.context import RequestContext
from openprofiles.settings import Settings
from openprofiles.web.agent import AgentPages, HistoryEntry
from tests.conftest import LiveServer
from tests.web.conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

CRM = {
    "Description": "CRM contacts",
    "AllowProfileCreation": True,
    "Fields": {
        "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
        "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
        "phone": {"Source": "_source.phone", "Target": "_profile.PhoneNumber", "ContentType": "PHONE_NUMBER"},
        "first": {"Source": "_source.first", "Target": "_profile.FirstName", "ContentType": "NAME"},
        "last": {"Source": "_source.last", "Target": "_profile.LastName", "ContentType": "NAME"},
        "city": {"Source": "_source.city", "Target": "_profile.Address.City"},
    },
    "Keys": {
        "crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
        "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
        "_phone": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["phone"]}],
    },
}
TICKETS = {
    "Description": "Support tickets",
    "Fields": {
        "ticket": {"Source": "_source.ticket", "Target": "_profile.Attributes.lastTicket"},
        "email": {"Source": "_source.requester", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
    },
    "Keys": {
        "ticketId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["ticket"]}],
        "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
    },
}
DANA = {"id": "C-1", "email": "Dana.Scully@FBI.gov", "phone": "+1 (202) 555-0143", "first": "Dana",
        "last": "Scully <script>alert(1)</script>", "city": "Washington"}
FOX = {"id": "C-2", "email": "fox@fbi.gov", "phone": "+1 202 555 0199", "first": "Fox", "last": "Mulder"}


def _customers(cp: Any, domain: str) -> str:
    """Two CRM customers and a ticket of Dana's; returns Dana's profile id (as SearchProfiles finds it)."""
    cp.create_domain(DomainName=domain, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=domain, ObjectTypeName="crm", **CRM)
    cp.put_profile_object_type(DomainName=domain, ObjectTypeName="tickets", **TICKETS)
    for person in (DANA, FOX):
        cp.put_profile_object(DomainName=domain, ObjectTypeName="crm", Object=json.dumps(person))
    cp.put_profile_object(DomainName=domain, ObjectTypeName="tickets",
                          Object=json.dumps({"ticket": "T-9", "requester": "dana.scully@fbi.gov", "subject": "Refund"}))
    [item] = cp.search_profiles(DomainName=domain, KeyName="crmId", Values=["C-1"])["Items"]
    return str(item["ProfileId"])


def _search(page: Page, key: str, value: str) -> None:
    page.fill("input[name=key]", key)
    page.fill("input[name=value]", value)
    page.click("form.search button[type=submit]")


def test_an_agent_finds_a_customer_and_sees_all_of_it(page: Page, live: LiveServer, cp: Any, unique: str) -> None:
    dana = _customers(cp, unique)
    sign_in(page, live.endpoint, live.creds.access_key_id, live.creds.secret_access_key)
    page.goto(f"{live.endpoint}/console/domains/{unique}")
    page.click("a.find")
    assert page.url == f"{live.endpoint}/console/domains/{unique}/profiles"
    assert page.input_value("input[name=key]") == "_email"
    options = page.locator("datalist#key-names option").evaluate_all("nodes => nodes.map(n => n.value)")
    assert {"_email", "_phone", "_account", "_fullName", "_profileId", "crmId", "ticketId"} <= set(options)

    _search(page, "_email", "  DANA.SCULLY@fbi.gov ")  # compared as stored: trimmed, lower-cased
    rows = page.locator("table.profiles tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-profile") == dana
    cells = rows.first.locator("td").all_inner_texts()
    assert cells == [dana, "Dana Scully <script>alert(1)</script>", "dana.scully@fbi.gov", "+12025550143", "C-1",
                     "_email: DANA.SCULLY@fbi.gov"]
    assert page.locator("script").count() == 0  # escaped, never run

    _search(page, "_phone", "+1 202-555-0143")  # compared as E.164
    assert page.locator("table.profiles tbody tr").first.get_attribute("data-profile") == dana
    _search(page, "ticketId", "T-9")  # a key of another object type
    assert page.locator("table.profiles tbody tr").first.get_attribute("data-profile") == dana
    _search(page, "_email", "nobody@fbi.gov")
    assert page.locator("table.profiles").count() == 0
    assert "No profile has _email nobody@fbi.gov" in page.locator("p.empty").inner_text()

    _search(page, "crmId", "C-1")
    page.click(f"table.profiles a:has-text('{dana}')")
    assert page.url == f"{live.endpoint}/console/domains/{unique}/profiles/{dana}"
    assert page.locator("h1").inner_text() == "Dana Scully <script>alert(1)</script>"
    assert page.locator("code.profile-id").inner_text() == dana
    fields = dict(zip(page.locator("table.fields th").all_inner_texts(),
                      page.locator("table.fields td").all_inner_texts(), strict=True))
    assert fields == {"AccountNumber": "C-1", "EmailAddress": "dana.scully@fbi.gov", "PhoneNumber": "+12025550143",
                      "FirstName": "Dana", "LastName": "Scully <script>alert(1)</script>",
                      "Address.City": "Washington", "Attributes.lastTicket": "T-9"}
    sections = page.locator("section.objects")
    assert sections.evaluate_all("nodes => nodes.map(n => n.dataset.objectType)") == ["crm", "tickets"]
    crm = json.loads(page.locator("section[data-object-type=crm] pre").inner_text())
    assert crm == DANA
    ticket = page.locator("section[data-object-type=tickets] pre").inner_text()
    assert json.loads(ticket)["subject"] == "Refund"
    assert "Mulder" not in page.locator("main").inner_text()
    history = [row.locator("td").all_inner_texts() for row in page.locator("table.history tbody tr").all()]
    types_changed = {(object_type, action) for _, object_type, action, _ in history}
    assert ("crm", "CREATED") in types_changed
    assert any(object_type == "tickets" for object_type, _ in types_changed)
    records = cp.list_profile_history_records(DomainName=unique, ProfileId=dana)["ProfileHistoryRecords"]
    oldest_first = [(r["ObjectTypeName"], r["ActionType"]) for r in records]
    assert [(object_type, action) for _, object_type, action, _ in history] == oldest_first[::-1]  # newest first
    assert page.locator("script").count() == 0


def test_results_come_in_pages(page: Page, live: LiveServer, cp: Any, unique: str) -> None:
    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    created = {cp.create_profile(DomainName=unique, FirstName="Pat", LastName="Lee",
                                 AccountNumber=f"A-{i}")["ProfileId"] for i in range(23)}
    sign_in(page, live.endpoint, live.creds.access_key_id, live.creds.secret_access_key)
    page.goto(f"{live.endpoint}/console/domains/{unique}/profiles?" + urlencode({"key": "_fullName", "value": "Pat Lee"}))
    first = page.locator("table.profiles tbody tr").evaluate_all("rows => rows.map(r => r.dataset.profile)")
    assert len(first) == 20 and first == sorted(first)
    page.click("a.next")
    second = page.locator("table.profiles tbody tr").evaluate_all("rows => rows.map(r => r.dataset.profile)")
    assert len(second) == 3 and second == sorted(second) and second[0] > first[-1]
    assert set(first) | set(second) == created
    assert page.locator("a.next").count() == 0
    assert page.input_value("input[name=value]") == "Pat Lee"
    # A profile made through CreateProfile alone: fields, no objects, its history.
    page.click(f"table.profiles a:has-text('{second[0]}')")
    assert page.locator("h1").inner_text() == "Pat Lee"
    assert "No profile objects." in page.locator("main").inner_text()
    assert page.locator("table.history tbody tr").count() == 1


def test_bad_input_gets_a_clear_answer(page: Page, live: LiveServer, cp: Any, unique: str) -> None:
    dana = _customers(cp, unique)
    profiles = f"{live.endpoint}/console/domains/{unique}/profiles"
    # Without a session, a profile page leads to sign-in and back.
    page.goto(f"{profiles}/{dana}")
    assert page.url.startswith(f"{live.endpoint}/console/signin?next=")
    page.fill("input[name=access_key_id]", live.creds.access_key_id)
    page.fill("input[name=secret_access_key]", live.creds.secret_access_key)
    page.click("button[type=submit]")
    assert page.url == f"{profiles}/{dana}"

    for query, message in (
        ({"key": "e mail", "value": "x"}, "The key name must be 1 to 64 letters, digits, '_' or '-'."),
        ({"key": "k" * 65, "value": "x"}, "The key name must be 1 to 64 letters, digits, '_' or '-'."),
        ({"key": "_email", "value": "x" * 256}, "The value must be at most 255 characters."),
        ({"key": "_email", "value": "fox@fbi.gov", "after": "../../etc"}, "That page of results does not exist"),
    ):
        response = page.goto(f"{profiles}?{urlencode(query)}")
        assert response is not None and response.status == 400, query
        assert message in page.locator("p.error").inner_text()
        assert page.locator("table.profiles").count() == 0
    response = page.goto(f"{profiles}?" + urlencode({"key": "noSuchKey", "value": "C-1"}))
    assert response is not None and response.status == 200  # a key no type defines finds nothing
    assert "No profile has noSuchKey C-1" in page.locator("p.empty").inner_text()

    response = page.goto(f"{profiles}/{'0' * 32}")
    assert response is not None and response.status == 404
    assert f"Profile {'0' * 32} does not exist in domain {unique}" in page.locator("p.error").inner_text()
    response = page.goto(f"{live.endpoint}/console/domains/no-such-domain-{unique}/profiles")
    assert response is not None and response.status == 404
    assert f"no-such-domain-{unique}" in page.locator("p.error").inner_text()

    cp.delete_profile(DomainName=unique, ProfileId=dana)
    response = page.goto(f"{profiles}/{dana}")
    assert response is not None and response.status == 404


def test_a_type_with_many_objects_shows_its_oldest(page: Page, live: LiveServer, cp: Any, unique: str) -> None:
    dana = _customers(cp, unique)
    for i in range(60):
        cp.put_profile_object(DomainName=unique, ObjectTypeName="tickets",
                              Object=json.dumps({"ticket": f"T-{100 + i}", "requester": "dana.scully@fbi.gov"}))
    sign_in(page, live.endpoint, live.creds.access_key_id, live.creds.secret_access_key)
    page.goto(f"{live.endpoint}/console/domains/{unique}/profiles/{dana}")
    tickets = page.locator("section[data-object-type=tickets]")
    assert tickets.locator("h3 small").inner_text() == "(50+, the newest shown)"
    shown = [json.loads(text)["ticket"] for text in tickets.locator("pre").all_text_contents()]
    assert shown == [f"T-{100 + i}" for i in range(59, 9, -1)]
    assert tickets.locator("details[open] pre").count() == 1
    assert json.loads(tickets.locator("details[open] pre").inner_text())["ticket"] == "T-159"
    assert page.locator("section[data-object-type=crm] h3 small").inner_text() == "(1)"
    assert page.locator("table.history tbody tr").count() == 50


# --- in process: AgentPages over the services, on SQLite and PostgreSQL --------------------------


@pytest.fixture
def agent(database_url: str, tmp_path: Path) -> Iterator[tuple[AgentPages, Any]]:
    """AgentPages over a fresh runtime's services, and its Customer Profiles provider (for wire-name setup)."""
    runtime = build_runtime(Settings(data_dir=tmp_path, database_url=database_url))
    try:
        provider = create_app(runtime).api.providers["customer-profiles"]
        yield AgentPages(runtime.domains, runtime.object_types, runtime.search, runtime.profiles), provider
    finally:
        runtime.close()


def _put(provider: Any, operation: str, **params: Any) -> Any:
    return getattr(provider, operation)(_ctx(operation), params)


def _ctx(operation: str) -> RequestContext:
    return RequestContext("000000000000", "us-east-1", operation, "r", datetime.now(UTC))


def _in_process_customers(provider: Any) -> None:
    _put(provider, "create_domain", DomainName="d", DefaultExpirationDays=30)
    _put(provider, "put_profile_object_type", DomainName="d", ObjectTypeName="crm", **CRM)
    for person in (DANA, FOX):
        _put(provider, "put_profile_object", DomainName="d", ObjectTypeName="crm", Object=json.dumps(person))


def test_agent_search_in_process(agent: tuple[AgentPages, Any]) -> None:
    pages, provider = agent
    _in_process_customers(provider)
    ctx = _ctx("Console")
    idle = pages.search(ctx, "d", "_email", "", None)
    assert not idle.searched and idle.rows == [] and {"_email", "crmId", "_phone"} <= set(idle.key_names)

    found = pages.search(ctx, "d", "_email", "dana.scully@fbi.gov", None)
    (row,) = found.rows
    assert (row.name, row.email, row.account, row.found_by) == (
        "Dana Scully <script>alert(1)</script>", "dana.scully@fbi.gov", "C-1", ["_email: dana.scully@fbi.gov"])
    assert found.searched and found.error is None and found.next_after is None


@pytest.mark.parametrize(("key", "value", "after", "words"), [
    ("bad key!", "x", None, "The key name must be"),
    ("_email", "x" * 256, None, "at most 255 characters"),
    ("_email", "x", "not-a-profile-id", "That page of results does not exist"),
])
def test_agent_search_refuses_what_search_profiles_would(agent: tuple[AgentPages, Any], key: str, value: str,
                                                         after: str | None, words: str) -> None:
    pages, provider = agent
    _put(provider, "create_domain", DomainName="d", DefaultExpirationDays=30)
    page = pages.search(_ctx("Console"), "d", key, value, after)
    assert not page.searched and page.error is not None and words in page.error


def test_agent_profile_in_process(agent: tuple[AgentPages, Any]) -> None:
    pages, provider = agent
    _in_process_customers(provider)
    ctx = _ctx("Console")
    (row,) = pages.search(ctx, "d", "crmId", "C-1", None).rows
    view = pages.profile(ctx, "d", row.profile_id)
    assert view.name == "Dana Scully <script>alert(1)</script>"
    assert ("Address.City", "Washington") in view.fields
    (group,) = view.objects
    assert group.object_type_name == "crm" and not group.more and '"id": "C-1"' in group.objects[0][1]
    assert view.history and all(isinstance(entry, HistoryEntry) for entry in view.history)
    assert {(entry.object_type_name, entry.action_type) for entry in view.history} >= {("crm", "INGESTED")}
    with pytest.raises(errors.NotFound):
        pages.profile(ctx, "nope", row.profile_id)
