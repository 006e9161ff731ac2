"""The Marketo connector against the fake Marketo REST API (tests/fakes/marketo.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from openprofiles.connectors.base import (
    Connection,
    ConnectorAuthError,
    ConnectorError,
    ExtractRequest,
    RecordFilter,
)
from openprofiles.connectors.marketo import MarketoConnector, flatten_activity
from tests.connectors.helpers import FAKE_VENDOR_GRANTS, assert_resumes, peak_memory_of_extraction, records
from tests.fakes.marketo import (
    CLIENT_ID,
    CLIENT_SECRET,
    FILL_OUT_FORM,
    START,
    VISIT_WEBPAGE,
    FakeMarketo,
    iso,
    make_app,
)
from tests.fakes.server import serving
from tests.live_flows import (
    ScheduledFlow,
    create_domain,
    create_profile,
    entity_names,
    field_types,
    processed,
)


@pytest.fixture
def marketo() -> Iterator[tuple[FakeMarketo, str]]:
    """An instance with 20 leads (created START+1s … START+20s) and some web activity."""
    fake, app = make_app(20)
    for n in range(1, 8):
        fake.add_activity(n, VISIT_WEBPAGE, START + timedelta(minutes=n), 100 + n,
                          attributes=[{"name": "Webpage URL", "value": f"/p/{n}"}])
    fake.add_activity(3, FILL_OUT_FORM, START + timedelta(minutes=9), 7)
    with serving(app) as url:
        yield fake, url


def connector(url: str, secret: str = CLIENT_SECRET, **credentials: Any) -> MarketoConnector:
    made = MarketoConnector(Connection("mkto", "Marketo", {"instanceUrl": url},
                                       {"clientId": CLIENT_ID, "clientSecret": secret, **credentials},
                                       grants=FAKE_VENDOR_GRANTS))
    made.api.sleep = made.identity.sleep = lambda _: None
    return made


def ids(pages: list[Any]) -> list[int]:
    return [r["id"] for r in records(pages)]


def test_check_gets_a_token_and_bad_credentials_are_auth_errors(marketo: tuple[FakeMarketo, str]) -> None:
    fake, url = marketo
    connector(url).check()
    assert [c[0] for c in fake.calls] == ["identity", "leads/describe.json"]
    with pytest.raises(ConnectorAuthError, match="HTTP 401: Bad client credentials"):
        connector(url, "wrong").check()
    with pytest.raises(ConnectorAuthError, match="needs clientId and clientSecret"):
        MarketoConnector(Connection("m", "Marketo", {"instanceUrl": url}, {}, grants=FAKE_VENDOR_GRANTS)).check()


def test_a_stale_access_token_is_replaced_once(marketo: tuple[FakeMarketo, str]) -> None:
    fake, url = marketo
    marketo_connector = connector(url, accessToken="not-a-token")  # 601, then a new token
    marketo_connector.check()
    assert [c[0] for c in fake.calls] == ["leads/describe.json", "identity", "leads/describe.json"]
    fake.expire_tokens()  # 602 on the next call: renewed again
    assert len(marketo_connector.entities("activities")) == 4
    assert [c[0] for c in fake.calls][-3:] == ["activities/types.json", "identity", "activities/types.json"]


def test_tokens_are_renewed_before_they_expire(marketo: tuple[FakeMarketo, str]) -> None:
    fake, url = marketo
    now = [0.0]
    marketo_connector = MarketoConnector(
        Connection("m", "Marketo", {"instanceUrl": url}, {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET},
                   grants=FAKE_VENDOR_GRANTS),
        clock=lambda: now[0])
    marketo_connector.check()
    now[0] = 3600 - 30  # within a minute of expires_in
    marketo_connector.check()
    assert [c[0] for c in fake.calls] == ["identity", "leads/describe.json", "identity", "leads/describe.json"]


def test_entities_and_describe(marketo: tuple[FakeMarketo, str]) -> None:
    _, url = marketo
    marketo_connector = connector(url)
    assert [(e.name, e.has_nested_entities) for e in marketo_connector.entities()] == [
        ("leads", False), ("activities", True)]
    assert [(e.name, e.label) for e in marketo_connector.entities("activities")] == [
        ("activities/1", "Visit Webpage"), ("activities/2", "Fill Out Form"), ("activities/12", "New Lead"),
        ("activities/13", "Change Data Value")]
    leads = {f.name: f.data_type for f in marketo_connector.describe("leads")}
    assert leads["email"] == "string" and leads["leadScore"] == "integer" and leads["annualRevenue"] == "double"
    assert leads["updatedAt"] == "datetime" and leads["dateOfBirth"] == "date" and leads["unsubscribed"] == "boolean"
    visits = {f.name: f.data_type for f in marketo_connector.describe("activities/1")}
    assert visits["activityDate"] == "datetime" and visits["attributes.Webpage URL"] == "string"
    assert "attributes.Webpage URL" not in {f.name for f in marketo_connector.describe("activities")}
    with pytest.raises(ConnectorError, match="no entity 'people'"):
        marketo_connector.describe("people")
    with pytest.raises(ConnectorError, match="no activity type 99"):
        marketo_connector.describe("activities/99")


def test_leads_page_to_the_end_through_the_change_feed(marketo: tuple[FakeMarketo, str]) -> None:
    fake, url = marketo
    pages = list(connector(url).extract(ExtractRequest(entity="leads", page_size=8)))
    assert ids(pages) == list(range(1, 21))
    assert [len(p.records) for p in pages] == [8, 8, 4]
    assert records(pages)[0]["email"] == "lead1@example.com" and records(pages)[0]["leadScore"] == 1
    assert pages[0].high_water == START + timedelta(seconds=8)
    assert pages[-1].checkpoint == {"done": True}
    token_call = next(c for c in fake.calls if c[0] == "activities/pagingtoken.json")
    assert token_call[1]["sinceDatetime"] == "1970-01-01T00:00:00Z"
    lookups = [c[1] for c in fake.calls if c[0] == "leads.json"]
    assert lookups[0]["filterType"] == "id" and lookups[0]["filterValues"] == "1,2,3,4,5,6,7,8"


def test_leads_incremental_by_change_time(marketo: tuple[FakeMarketo, str]) -> None:
    fake, url = marketo
    since = START + timedelta(hours=1)
    assert list(connector(url).extract(ExtractRequest(entity="leads", since=since))) == []
    fake.update_lead(4, at=START + timedelta(hours=2), email="four@example.org")
    fake.update_lead(4, at=START + timedelta(hours=2, seconds=1), leadScore=99)
    fake.update_lead(9, at=START + timedelta(hours=3), company="Acme")  # not a projected field below
    fake.add_lead(at=START + timedelta(hours=4), email="new@example.com")
    [page] = connector(url).extract(ExtractRequest(entity="leads", since=since))
    assert [(r["id"], r["email"]) for r in page.records] == [
        (4, "four@example.org"), (9, "lead9@example.com"), (21, "new@example.com")]
    assert page.high_water == START + timedelta(hours=4)
    projected = ExtractRequest(entity="leads", since=since, fields=["email"])
    assert ids(list(connector(url).extract(projected))) == [4, 21]  # 9 changed only its company
    assert set(records(list(connector(url).extract(projected)))[0]) == {"id", "updatedAt", "email"}
    window = ExtractRequest(entity="leads", since=since, until=START + timedelta(hours=3))
    assert ids(list(connector(url).extract(window))) == [4]


@pytest.mark.parametrize(("page_size", "stop_after"), [(8, 1), (8, 2), (3, 4), (50, 1)])
def test_leads_resume_from_a_checkpoint(marketo: tuple[FakeMarketo, str], page_size: int, stop_after: int) -> None:
    _, url = marketo
    assert_resumes(connector(url), ExtractRequest(entity="leads", page_size=page_size), stop_after)


def test_activities_of_one_type_and_of_all(marketo: tuple[FakeMarketo, str]) -> None:
    fake, url = marketo
    pages = list(connector(url).extract(ExtractRequest(entity="activities/1", page_size=3)))
    assert [len(p.records) for p in pages] == [3, 3, 1]
    first = records(pages)[0]
    assert (first["leadId"], first["activityTypeId"], first["attributes.Webpage URL"]) == (1, 1, "/p/1")
    assert pages[-1].high_water == START + timedelta(minutes=7)
    every = records(list(connector(url).extract(ExtractRequest(entity="activities"))))
    assert len(every) == 7 + 1 + 20  # visits, the form, New Lead for each lead
    assert [c[1]["activityTypeIds"] for c in fake.calls if c[0] == "activities.json"][-1] == "1,2,12,13"


def test_activities_incremental_and_pushed_down_date_filters(marketo: tuple[FakeMarketo, str]) -> None:
    fake, url = marketo
    request = ExtractRequest(entity="activities/1", since=START + timedelta(minutes=5))
    assert [r["leadId"] for r in records(list(connector(url).extract(request)))] == [5, 6, 7]
    millis = str(int((START + timedelta(minutes=3)).timestamp() * 1000))
    between = RecordFilter("activityDate", "BETWEEN", (millis, iso(START + timedelta(minutes=4))), "datetime")
    request = ExtractRequest(entity="activities/1", filters=[between])
    assert [r["leadId"] for r in records(list(connector(url).extract(request)))] == [3, 4]
    assert [c[1] for c in fake.calls if c[0] == "activities/pagingtoken.json"][-1]["sinceDatetime"] == iso(
        START + timedelta(minutes=3))
    less = RecordFilter("activityDate", "LESS_THAN", (iso(START + timedelta(minutes=2)),), "datetime")
    assert len(records(list(connector(url).extract(ExtractRequest(entity="activities/1", filters=[less]))))) == 1


@pytest.mark.parametrize(("entity", "page_size", "stop_after"), [
    ("activities/1", 3, 1), ("activities/1", 3, 2), ("activities", 5, 3), ("activities", 7, 1)])
def test_activities_resume_from_a_checkpoint(marketo: tuple[FakeMarketo, str], entity: str, page_size: int,
                                             stop_after: int) -> None:
    _, url = marketo
    assert_resumes(connector(url), ExtractRequest(entity=entity, page_size=page_size), stop_after)


def test_many_activity_types_are_read_ten_at_a_time(marketo: tuple[FakeMarketo, str]) -> None:
    fake, url = marketo
    from tests.fakes import marketo as fakes

    extra = [{"id": 100 + n, "name": f"Custom {n}", "attributes": []} for n in range(12)]
    fakes.ACTIVITY_TYPES.extend(extra)
    try:
        fake.add_activity(1, 111, START + timedelta(minutes=20), 1)
        request = ExtractRequest(entity="activities", page_size=50)
        pages = list(connector(url).extract(request))
        assert len(records(pages)) == 29
        assert [c[1]["activityTypeIds"] for c in fake.calls if c[0] == "activities.json"] == [
            "1,2,12,13,100,101,102,103,104,105", "106,107,108,109,110,111"]
        assert pages[0].checkpoint == {"types": "106,107,108,109,110,111"}
        assert_resumes(connector(url), request, 1)
    finally:
        del fakes.ACTIVITY_TYPES[-len(extra):]


def test_rate_limits_are_waited_out_and_quota_is_transient(marketo: tuple[FakeMarketo, str]) -> None:
    fake, url = marketo
    marketo_connector = connector(url)
    waits: list[float] = []
    marketo_connector.api.sleep = waits.append
    marketo_connector.check()
    fake.rate_limit(2)
    assert len(records(list(marketo_connector.extract(ExtractRequest(entity="activities/1"))))) == 7
    assert waits == [20.0, 20.0]
    fake.rate_limit(1, "607")
    with pytest.raises(ConnectorError) as raised:
        marketo_connector.check()
    assert raised.value.transient and "607 Daily quota reached" in raised.value.message


def test_other_errors_are_terminal_with_code_and_message(marketo: tuple[FakeMarketo, str]) -> None:
    _, url = marketo
    with pytest.raises(ConnectorError) as raised:
        list(connector(url).extract(ExtractRequest(entity="leads", fields=["nickname"])))
    assert not raised.value.transient
    assert raised.value.message == "Marketo /rest/v1/leads.json: 1006 Field 'nickname' not found"
    with pytest.raises(ConnectorError, match="invalid checkpoint"):
        list(connector(url).extract(ExtractRequest(entity="leads", checkpoint="page 2")))


def test_flatten_activity() -> None:
    assert flatten_activity({"id": 1, "attributes": [{"name": "Client IP Address", "value": "10.0.0.1"}]}) == {
        "id": 1, "attributes.Client IP Address": "10.0.0.1"}


def test_leads_stream_in_bounded_memory() -> None:
    _, app = make_app(20_000)
    with serving(app) as url:
        marketo_connector = connector(url)
        marketo_connector.check()
        count, peak = peak_memory_of_extraction(marketo_connector, ExtractRequest(entity="leads", page_size=300))
    assert count == 20_000
    assert peak < 3 << 20, peak  # a page of 300 leads and a page of changes, not the 20,000 (~20 MB as dicts)


def test_update_times_are_iso(marketo: tuple[FakeMarketo, str]) -> None:
    fake, _ = marketo
    assert datetime.fromisoformat(fake.leads[1]["updatedAt"]) == START + timedelta(seconds=1)


# --- End to end: boto3 against the live server, the fake Marketo as the source -------------------


def test_a_marketo_flow_lands_leads_as_profiles_then_pulls_only_changes(appflow: Any, cp: Any, unique: str) -> None:
    fake, app = make_app(6)
    with serving(app) as url:
        def profile(secret: str) -> str:
            return create_profile(appflow, unique, "Marketo", {"instanceUrl": url},
                                  {"clientId": CLIENT_ID, "clientSecret": secret})

        with pytest.raises(appflow.exceptions.ConnectorAuthenticationException, match="Bad client credentials"):
            profile("wrong")
        profile(CLIENT_SECRET)
        assert entity_names(appflow, unique) == ["leads", "activities"]
        types = appflow.list_connector_entities(connectorProfileName=unique,
                                                entitiesPath="activities")["connectorEntityMap"]["activities"]
        assert ("activities/12", "New Lead") in [(e["name"], e["label"]) for e in types]
        assert field_types(appflow, unique, "leads")["updatedAt"] == "datetime"

        create_domain(cp, unique, "Marketo-leads", TemplateId="Marketo-leads", Description="Marketo leads")
        flow = ScheduledFlow(appflow, unique, into=(unique, "Marketo-leads"), source={
            "connectorType": "Marketo", "connectorProfileName": unique,
            "sourceConnectorProperties": {"Marketo": {"object": "leads"}}})
        assert processed(flow.run()) == 6
        found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["lead3@example.com"])["Items"]
        assert [(p["LastName"], p["Attributes"]["MarketoLeadId"]) for p in found] == [("3", "3")]

        fake.update_lead(2, email="two@example.org")
        second = flow.run()
    # The changed lead, and lead 6 whose New Lead activity is the first run's high-water mark (inclusive).
    assert processed(second) == 2
    assert cp.search_profiles(DomainName=unique, KeyName="_email", Values=["two@example.org"])["Items"]
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 6
