"""The ServiceNow connector against a fake instance (tests/fakes/servicenow.py), and a ServiceNow flow end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openprofiles.connectors.base import Connection, ConnectorAuthError, ConnectorError, ExtractRequest, RecordFilter
from openprofiles.connectors.servicenow import ServiceNowConnector, pushed_condition
from tests.connectors.helpers import FAKE_VENDOR_GRANTS, assert_resumes, peak_memory_of_extraction, records
from tests.fakes.server import serving
from tests.fakes.servicenow import CLIENT, START, USER, FakeServiceNow, make_user, stamp, sys_id
from tests.live_flows import (
    ScheduledFlow,
    create_domain,
    create_profile,
    entity_names,
    field_types,
    map_all,
    processed,
)

Served = tuple[FakeServiceNow, str]


@pytest.fixture
def instance() -> Iterator[Served]:
    fake = FakeServiceNow(users=45, incidents=12)
    with serving(fake.app) as url:
        yield fake, url


def basic(url: str, password: str = USER[1]) -> ServiceNowConnector:
    return ServiceNowConnector(Connection("sn", "Servicenow", {"instanceUrl": url},
                                          {"username": USER[0], "password": password}, grants=FAKE_VENDOR_GRANTS))


def oauth(url: str, **tokens: str) -> ServiceNowConnector:
    credentials = {"oAuth2Credentials": {"clientId": CLIENT[0], "clientSecret": CLIENT[1], **tokens}}
    return ServiceNowConnector(Connection("sn", "Servicenow", {"instanceUrl": url}, credentials, grants=FAKE_VENDOR_GRANTS))


def user_names(pages: list[Any]) -> list[str]:
    return [record["user_name"] for record in records(pages)]


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def queries(fake: FakeServiceNow, table: str) -> list[str]:
    return [params.get("sysparm_query", "") for path, params in fake.requests if path == f"/api/now/table/{table}"]


def test_basic_auth_is_checked(instance: Served) -> None:
    _, url = instance
    basic(url).check()
    with pytest.raises(ConnectorAuthError, match="HTTP 401: User Not Authenticated: Required to provide Auth"):
        basic(url, "wrong").check()
    with pytest.raises(ConnectorAuthError, match="username and password"):
        ServiceNowConnector(Connection("sn", "Servicenow", {"instanceUrl": url}, {}, grants=FAKE_VENDOR_GRANTS)).check()


def test_an_expired_access_token_is_refreshed_once(instance: Served) -> None:
    fake, url = instance
    access, refresh = fake.issue_tokens(ttl=0)  # already expired
    sn = oauth(url, accessToken=access, refreshToken=refresh)
    assert len(records(list(sn.extract(ExtractRequest("incident"))))) == 12
    sn.check()
    assert [params for path, params in fake.requests if path == "/oauth_token.do"] == [{"grant_type": "refresh_token"}]
    fake.expire_tokens()
    sn.check()  # the next refusal refreshes again
    only_refresh = oauth(url, refreshToken=refresh)
    only_refresh.check()
    with pytest.raises(ConnectorAuthError, match="access_denied"):
        oauth(url, accessToken=access, refreshToken="revoked").check()
    with pytest.raises(ConnectorAuthError, match="User Not Authenticated"):
        oauth(url, accessToken=access).check()  # nothing to refresh with


def test_entities_are_the_tables(instance: Served) -> None:
    _, url = instance
    assert {(e.name, e.label) for e in basic(url).entities()} >= {("sys_user", "User"), ("incident", "Incident")}


def test_describe_reads_the_dictionary_of_the_table_and_its_parents(instance: Served) -> None:
    _, url = instance
    fields = {f.name: f for f in basic(url).describe("incident")}
    assert {name: fields[name].data_type for name in ("caller_id", "number", "priority", "sys_updated_on", "active")} \
        == {"caller_id": "struct", "number": "string", "priority": "integer", "sys_updated_on": "datetime",
            "active": "boolean"}  # number, priority and active are task's
    assert fields["caller_id"].label == "Caller" and not fields["sys_id"].nullable
    with pytest.raises(ConnectorError, match="no table 'nope'"):
        basic(url).describe("nope")


def test_a_complete_pull_pages_to_the_end(instance: Served) -> None:
    fake, url = instance
    pages = list(basic(url).extract(ExtractRequest("sys_user", page_size=20)))
    assert [len(p.records) for p in pages] == [20, 20, 5]
    assert user_names(pages) == [f"user{n}" for n in sorted(range(45), key=lambda n: (n // 2, sys_id("sys_user", n)))]
    assert pages[0].high_water == at(START + 9) and pages[-1].high_water == at(START + 22)
    last = records(pages)[19]
    assert pages[0].checkpoint == {"after": [last["sys_updated_on"], last["sys_id"]]}
    assert records(pages)[1]["manager"] == {"link": f"{url}/api/now/table/sys_user/{sys_id('sys_user', 0)}",
                                            "value": sys_id("sys_user", 0)}
    assert queries(fake, "sys_user")[1] == (f"sys_updated_on>={last['sys_updated_on']}^sys_updated_on>"
                                            f"{last['sys_updated_on']}^ORsys_id>{last['sys_id']}"
                                            "^ORDERBYsys_updated_on^ORDERBYsys_id")


def test_incremental_since_and_until(instance: Served) -> None:
    fake, url = instance
    request = ExtractRequest("sys_user", since=at(START + 20) + timedelta(milliseconds=300), until=at(START + 22))
    assert sorted(user_names(list(basic(url).extract(request)))) == ["user42", "user43"]  # 20.3 s <= t < 22 s
    assert queries(fake, "sys_user")[0].startswith(
        f"sys_updated_on>={stamp(START + 20)}^sys_updated_on<{stamp(START + 22)}^")


def test_projection_keeps_the_keyset_and_filter_fields(instance: Served) -> None:
    fake, url = instance
    request = ExtractRequest("sys_user", fields=["email"], filters=[RecordFilter("city", "EQUAL_TO", ("paris",),
                                                                                 "string")])
    pulled = records(list(basic(url).extract(request)))
    assert set(pulled[0]) == {"email", "sys_updated_on", "sys_id", "city"}
    assert {r["city"] for r in pulled} == {"Paris"} and len(pulled) == 15  # ServiceNow ignores case
    assert fake.requests[-1][1]["sysparm_fields"] == "email,sys_updated_on,sys_id,city"


def test_filters_are_pushed_down(instance: Served) -> None:
    fake, url = instance
    filters = [RecordFilter("failed_attempts", "BETWEEN", ("1", "2"), "integer"),
               RecordFilter("active", "EQUAL_TO", ("true",), "boolean"),
               RecordFilter("email", "CONTAINS", ("USER1",), "string"),
               RecordFilter("sys_created_on", "LESS_THAN", (stamp(START + 20),), "datetime")]
    pulled = records(list(basic(url).extract(ExtractRequest("sys_user", filters=filters))))
    expected = [make_user(n) for n in range(45)]
    expected = [u for u in expected if 1 <= int(u["failed_attempts"]) <= 2 and u["active"] == "true"
                and "user1" in u["email"] and u["sys_created_on"] < stamp(START + 20)]
    assert sorted(r["user_name"] for r in pulled) == sorted(u["user_name"] for u in expected) != []
    assert queries(fake, "sys_user")[0] == (
        f"failed_attempts>=1^failed_attempts<=2^active=true^emailLIKEUSER1^sys_created_on<{stamp(START + 20)}"
        "^ORDERBYsys_updated_on^ORDERBYsys_id")


@pytest.mark.parametrize(("record_filter", "kind", "condition"), [
    (RecordFilter("state", "GREATER_THAN", ("3", "1"), "integer"), "integer", "state>1"),
    (RecordFilter("state", "NOT_EQUAL_TO", ("3", "4"), "integer"), "integer", "state!=3^state!=4"),
    (RecordFilter("name", "EQUAL_TO", ("a", "b"), "string"), "string", "name=a^ORname=b"),
    (RecordFilter("name", "NOT_EQUAL_TO", ("a",), "string"), "string", None),  # case would differ
    (RecordFilter("name", "LESS_THAN", ("m",), "string"), "string", None),  # collation would differ
    (RecordFilter("name", "EQUAL_TO", ("straße",), "string"), "string", None),
    (RecordFilter("name", "EQUAL_TO", ("a^b",), "string"), "string", None),
    (RecordFilter("caller_id", "EQUAL_TO", ("x",), "string"), "reference", None),
    (RecordFilter("code", "GREATER_THAN", ("5",), "integer"), "string", None),  # text compared as text
    (RecordFilter("at", "GREATER_THAN", ("2024-01-01T10:00:00.500Z",), "datetime"), "glide_date_time",
     "at>=2024-01-01 10:00:00"),
    (RecordFilter("at", "LESS_THAN_OR_EQUAL_TO", ("1704103200500",), "timestamp"), "glide_date_time",
     "at<=2024-01-01 10:00:01"),
    (RecordFilter("at", "EQUAL_TO", ("2024-01-01T10:00:00.500Z",), "datetime"), "glide_date_time", None),
    (RecordFilter("day", "BETWEEN", ("2024-01-01", "2024-02-01"), "date"), "glide_date",
     "day>=2024-01-01^day<=2024-02-01"),
    (RecordFilter("vip", "EQUAL_TO", ("1",), "boolean"), "boolean", "vip=true"),
])
def test_pushed_conditions(record_filter: RecordFilter, kind: str, condition: str | None) -> None:
    assert pushed_condition(record_filter, kind) == condition


@pytest.mark.parametrize(("since", "page_size", "stop_after"), [(None, 10, 1), (None, 7, 4), (START + 5, 6, 2)])
def test_resume_from_a_checkpoint_delivers_exactly_the_rest(
    instance: Served, since: int | None, page_size: int, stop_after: int
) -> None:
    _, url = instance
    request = ExtractRequest("sys_user", since=at(since) if since else None, page_size=page_size)
    assert_resumes(basic(url), request, stop_after)


def test_a_record_changed_mid_run_is_not_lost(instance: Served) -> None:
    fake, url = instance
    pages = basic(url).extract(ExtractRequest("sys_user", page_size=10))
    first = next(pages)
    fake.change("sys_user", records([first])[0]["sys_id"], email="changed@example.com")
    fake.change("sys_user", sys_id("sys_user", 44), email="also@example.com")
    rest = records(list(pages))
    assert {r["email"] for r in rest[-2:]} == {"changed@example.com", "also@example.com"}
    assert len(records([first])) + len(rest) == 46  # the first record again, as changed; the other moved once


def test_rate_limits_are_waited_out(instance: Served) -> None:
    fake, url = instance
    fake.throttle(2, retry_after=1)
    started = time.monotonic()
    assert len(records(list(basic(url).extract(ExtractRequest("incident"))))) == 12
    assert time.monotonic() - started >= 2 and len(fake.requests) == 3


def test_servicenow_error_bodies_are_reported(instance: Served) -> None:
    _, url = instance
    with pytest.raises(ConnectorError) as raised:
        list(basic(url).extract(ExtractRequest("nope")))
    assert not raised.value.transient and raised.value.message.endswith("HTTP 400: Invalid table nope")
    with pytest.raises(ConnectorError, match="invalid ServiceNow checkpoint"):
        list(basic(url).extract(ExtractRequest("sys_user", checkpoint={"offset": 3})))


def test_a_large_table_streams_in_bounded_memory() -> None:
    fake = FakeServiceNow(users=20_000, incidents=0)
    whole = sum(len(json.dumps(user)) for user in fake.rows["sys_user"].values())
    with serving(fake.app) as url:
        sn = basic(url)
        next(sn.extract(ExtractRequest("sys_user", page_size=1)))  # the client, and the fake's index, made
        count, peak = peak_memory_of_extraction(sn, ExtractRequest("sys_user", page_size=100))
    assert count == 20_000
    assert peak < whole / 4, (peak, whole)  # about 1 MB of the peak is the HTTP machinery, whatever the size


# --- end to end ----------------------------------------------------------------------------------


def _profile(appflow: Any, name: str, url: str, password: str) -> str:
    return create_profile(appflow, name, "Servicenow", {"instanceUrl": url},
                          {"username": USER[0], "password": password})


def test_a_servicenow_flow_lands_profiles_then_pulls_only_what_changed(appflow: Any, cp: Any, unique: str) -> None:
    fake = FakeServiceNow(users=12)  # users 0-11, two to each sys_updated_on second from START; 0, 4, 8 inactive
    with serving(fake.app) as url:
        with pytest.raises(appflow.exceptions.ConnectorAuthenticationException):
            _profile(appflow, unique, url, "wrong")
        _profile(appflow, unique, url, USER[1])
        assert {"sys_user", "incident"} <= set(entity_names(appflow, unique))
        assert field_types(appflow, unique, "sys_user")["active"] == "boolean"

        create_domain(cp, unique, "ServiceNow-sys_user", TemplateId="ServiceNow-sys_user",
                      Description="ServiceNow users")
        active = {"taskType": "Filter", "sourceFields": ["active"], "connectorOperator": {"ServiceNow": "EQUAL_TO"},
                  "taskProperties": {"DATA_TYPE": "boolean", "VALUE": "true"}}
        flow = ScheduledFlow(appflow, unique, into=(unique, "ServiceNow-sys_user"), tasks=[active, *map_all("Servicenow")],
                             source={"connectorType": "Servicenow", "connectorProfileName": unique,
                                     "sourceConnectorProperties": {"ServiceNow": {"object": "sys_user"}}})
        assert processed(flow.run()) == 9  # users 0, 4 and 8 are inactive
        assert "active=true" in queries(fake, "sys_user")[-1]  # the filter went down
        found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["user5@example.com"])["Items"]
        assert [p["FirstName"] for p in found] == ["User"]
        assert cp.search_profiles(DomainName=unique, KeyName="_email", Values=["user4@example.com"])["Items"] == []

        fake.change("sys_user", sys_id("sys_user", 3), email="moved@example.com")
        fake.change("sys_user", sys_id("sys_user", 4), active="true")
        second = flow.run()
        assert f"sys_updated_on>={stamp(START + 5)}" in queries(fake, "sys_user")[-1]
    # The two changed users, and users 10 and 11, stamped at the first run's high-water mark (START + 5 s):
    # the runner pulls from the mark inclusively, so records stamped at it are read again by design.
    assert processed(second) == 2 + 2
    assert cp.search_profiles(DomainName=unique, KeyName="_email", Values=["moved@example.com"])["Items"]
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 10
