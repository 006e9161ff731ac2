"""The Zendesk connector against a fake Zendesk (tests/fakes/zendesk.py), and a Zendesk flow end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import build_runtime
from openprofiles.clock import FixedClock
from openprofiles.connectors.base import Connection, ConnectorAuthError, ConnectorError, ExtractRequest, RecordFilter
from openprofiles.connectors.zendesk import ZendeskConnector
from openprofiles.services.context import RequestContext
from openprofiles.settings import Settings
from tests.connectors.helpers import assert_resumes, peak_memory_of_extraction, records
from tests.fakes.server import serving
from tests.fakes.zendesk import START, TOKEN, FakeZendesk, iso

Served = tuple[FakeZendesk, str]


@pytest.fixture
def zendesk() -> Iterator[Served]:
    fake = FakeZendesk(users=250, tickets=30, organizations=31)
    with serving(fake.app) as url:
        yield fake, url


def connector(url: str, token: str | None = TOKEN) -> ZendeskConnector:
    credentials = {"clientId": "client", "clientSecret": "secret", **({"accessToken": token} if token else {})}
    return ZendeskConnector(Connection("zd", "Zendesk", {"instanceUrl": url}, credentials))


def ids(pages: list[Any]) -> list[int]:
    return [record["id"] for record in records(pages)]


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_check_accepts_the_token_and_refuses_others(zendesk: Served) -> None:
    _, url = zendesk
    connector(url).check()
    with pytest.raises(ConnectorAuthError, match="HTTP 401: Couldn't authenticate you"):
        connector(url, "wrong").check()
    with pytest.raises(ConnectorAuthError, match="accessToken"):
        connector(url, None).check()


def test_entities_and_their_fields(zendesk: Served) -> None:
    _, url = zendesk
    zd = connector(url)
    assert [(e.name, e.label) for e in zd.entities()] == [
        ("users", "Users"), ("tickets", "Tickets"), ("organizations", "Organizations")]
    users = {f.name: f.data_type for f in zd.describe("users")}
    assert (users["id"], users["email"], users["updated_at"], users["active"]) == (
        "integer", "string", "datetime", "boolean")
    assert {f.name: f.data_type for f in zd.describe("tickets")}["requester_id"] == "integer"
    with pytest.raises(ConnectorError, match="no object 'groups'"):
        zd.describe("groups")


def test_a_complete_pull_pages_through_the_list_endpoint(zendesk: Served) -> None:
    fake, url = zendesk
    pages = list(connector(url).extract(ExtractRequest("users", page_size=1000)))
    assert [len(p.records) for p in pages] == [100, 100, 50]  # page[size] is at most 100
    assert ids(pages) == list(range(1000, 1250))
    assert pages[0].high_water == at(START + 99 // 3) and pages[-1].high_water == at(START + 249 // 3)
    assert [path for path, _ in fake.requests] == ["/api/v2/users.json"] * 3
    assert fake.requests[1][1]["page[after]"] == pages[0].checkpoint["after"]


def test_incremental_pulls_use_the_cursor_export(zendesk: Served) -> None:
    fake, url = zendesk
    since = at(START + 60)
    pages = list(connector(url).extract(ExtractRequest("users", since=since, page_size=40)))
    assert ids(pages) == list(range(1180, 1250))  # three users a second: 180 and later
    assert [len(p.records) for p in pages] == [40, 30]
    assert fake.requests[0] == ("/api/v2/incremental/users/cursor.json", {"per_page": "40",
                                                                          "start_time": str(START + 60)})
    assert set(fake.requests[1][1]) == {"per_page", "cursor"}
    until = list(connector(url).extract(ExtractRequest("tickets", since=at(START + 5), until=at(START + 9))))
    assert ids(until) == [25, 26, 27, 28]


def test_organizations_use_the_time_export_without_duplicates(zendesk: Served) -> None:
    fake, url = zendesk
    pages = list(connector(url).extract(ExtractRequest("organizations", since=at(START + 3), page_size=5)))
    assert ids(pages) == list(range(5006, 5031))  # stamped in pairs: 6 and later, each once
    starts = [int(params["start_time"]) for path, params in fake.requests]
    assert starts == sorted(starts) and len(starts) > 5
    assert all(path == "/api/v2/incremental/organizations.json" for path, _ in fake.requests)
    assert pages[0].checkpoint["start_time"] == starts[1]


def test_an_updated_at_filter_starts_the_export_there(zendesk: Served) -> None:
    fake, url = zendesk
    bound = RecordFilter("updated_at", "GREATER_THAN", (iso(START + 80),), "datetime")
    pages = list(connector(url).extract(ExtractRequest("users", filters=[bound])))
    assert ids(pages) == list(range(1240, 1250))  # the flow drops the ones stamped exactly at the bound
    assert fake.requests[0][1]["start_time"] == str(START + 80)


def test_changes_within_the_last_minute_wait_for_the_next_pull(zendesk: Served) -> None:
    fake, url = zendesk
    now = int(time.time())
    fake.change("users", 1003, at=now - 90, email="old@example.com")
    fake.change("users", 1004, at=now - 10, email="fresh@example.com")
    pulled = records(list(connector(url).extract(ExtractRequest("users", since=at(now - 30)))))
    assert pulled == []  # 1003 is before `since`; Zendesk holds 1004 back for a minute
    pulled = records(list(connector(url).extract(ExtractRequest("users", since=at(now - 120)))))
    assert [r["email"] for r in pulled] == ["old@example.com"]


@pytest.mark.parametrize(("entity", "since", "page_size", "stop_after"), [
    ("users", None, 30, 2), ("users", START + 10, 17, 3), ("tickets", START, 4, 1), ("organizations", START, 3, 2),
    ("organizations", START, 4, 5),
])
def test_resume_from_a_checkpoint_delivers_exactly_the_rest(
    zendesk: Served, entity: str, since: int | None, page_size: int, stop_after: int
) -> None:
    _, url = zendesk
    request = ExtractRequest(entity, since=at(since) if since is not None else None, page_size=page_size)
    assert_resumes(connector(url), request, stop_after)


def test_rate_limits_are_waited_out(zendesk: Served) -> None:
    fake, url = zendesk
    fake.throttle(2, retry_after=1)
    started = time.monotonic()
    pages = list(connector(url).extract(ExtractRequest("tickets", since=at(START))))
    assert ids(pages) == list(range(20, 50))
    assert time.monotonic() - started >= 2
    assert len(fake.requests) == 3


def test_zendesk_error_bodies_are_reported(zendesk: Served) -> None:
    _, url = zendesk
    request = ExtractRequest("users", since=at(START), checkpoint={"cursor": "garbage"})
    with pytest.raises(ConnectorError) as raised:
        list(connector(url).extract(request))
    assert not raised.value.transient
    assert raised.value.message.endswith("HTTP 400: InvalidCursor: cursor is invalid")
    with pytest.raises(ConnectorError, match="invalid Zendesk checkpoint"):
        list(connector(url).extract(ExtractRequest("users", checkpoint={"line": 3})))


def test_a_large_account_streams_in_bounded_memory() -> None:
    fake = FakeZendesk(users=30_000, tickets=0, organizations=0)
    whole = sum(len(json.dumps(user)) for user in fake.records["users"].values())
    with serving(fake.app) as url:
        zd = connector(url)
        zd.check()
        count, peak = peak_memory_of_extraction(zd, ExtractRequest("users", page_size=100))
    assert count == 30_000
    assert peak < whole / 4, (peak, whole)  # about 1 MB of the peak is the HTTP machinery, whatever the size


# --- end to end ----------------------------------------------------------------------------------


def _profile_config(url: str, token: str) -> dict[str, Any]:
    return {"connectorProfileProperties": {"Zendesk": {"instanceUrl": url}},
            "connectorProfileCredentials": {"Zendesk": {"clientId": "client", "clientSecret": "secret",
                                                        "accessToken": token}}}


def _flow(name: str, domain: str, trigger: dict[str, Any]) -> dict[str, Any]:
    return {
        "flowName": name,
        "triggerConfig": trigger,
        "sourceFlowConfig": {"connectorType": "Zendesk", "connectorProfileName": name,
                             "sourceConnectorProperties": {"Zendesk": {"object": "users"}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": domain, "objectTypeName": "Zendesk-users"}}}],
        "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Zendesk": "NO_OP"}}],
    }


def _wait(appflow: Any, flow: str, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for record in appflow.describe_flow_execution_records(flowName=flow)["flowExecutions"]:
            if record["executionId"] == execution_id and record["executionStatus"] not in ("InProgress",
                                                                                          "CancelStarted"):
                return dict(record)
        time.sleep(0.2)
    raise AssertionError("the run did not finish")


def test_a_zendesk_flow_lands_searchable_profiles(appflow: Any, cp: Any, unique: str) -> None:
    fake = FakeZendesk(users=12)
    with serving(fake.app) as url:
        with pytest.raises(appflow.exceptions.ConnectorAuthenticationException):
            appflow.create_connector_profile(connectorProfileName=unique, connectorType="Zendesk",
                                             connectionMode="Public",
                                             connectorProfileConfig=_profile_config(url, "wrong"))
        appflow.create_connector_profile(connectorProfileName=unique, connectorType="Zendesk",
                                         connectionMode="Public", connectorProfileConfig=_profile_config(url, TOKEN))
        listed = appflow.list_connector_entities(connectorProfileName=unique, connectorType="Zendesk")
        assert {e["name"] for e in listed["connectorEntityMap"]["Objects"]} == {"users", "tickets", "organizations"}
        fields = appflow.describe_connector_entity(connectorEntityName="users", connectorType="Zendesk",
                                                   connectorProfileName=unique)["connectorEntityFields"]
        assert {f["identifier"]: f["supportedFieldTypeDetails"]["v1"]["fieldType"] for f in fields}["email"] == "string"

        cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
        cp.put_profile_object_type(DomainName=unique, ObjectTypeName="Zendesk-users", TemplateId="Zendesk-users",
                                   Description="Zendesk users")
        appflow.create_flow(**_flow(unique, unique, {"triggerType": "OnDemand"}))
        started = appflow.start_flow(flowName=unique)
        record = _wait(appflow, unique, started["executionId"])
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 12
    found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["user7@example.com"])["Items"]
    assert len(found) == 1 and found[0]["EmailAddress"] == "user7@example.com"
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 12


def test_an_incremental_zendesk_flow_pulls_only_what_changed(database_url: str, tmp_path: Path) -> None:
    fake = FakeZendesk(users=12)
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    clock = FixedClock(start)
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url), clock=clock)
    ctx = RequestContext("000000000000", "us-east-1", "test", "r", start)
    runtime.domains.create(ctx, "d", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    with serving(fake.app) as url:
        runtime.connector_profiles.create(ctx, "zd", "Zendesk", None, "Public", _profile_config(url, TOKEN), None)
        runtime.flows.create(ctx, _flow("zd", "d", {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
            "scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental", "scheduleStartTime": start}}}))
        runtime.runner.start(ctx, "zd")

        def run() -> Any:
            clock.advance(timedelta(hours=1))
            (execution_id,) = runtime.scheduler.tick()
            runtime.runner.wait(execution_id, timeout=60)
            return {e.execution_id: e for e in runtime.runner.records(ctx, "zd", None, 10)}[execution_id]

        first = run()
        assert (first.status, first.records_processed) == ("Successful", 12)
        now = int(time.time())
        fake.change("users", 1002, at=now - 120, email="moved@example.com")
        fake.change("users", 1005, at=now - 100)
        second = run()
    # The changed users, and the ones stamped at the previous high-water mark (the pull is inclusive).
    boundary = sum(1 for user in fake.records["users"].values() if user["updated_at"] == iso(START + 11 // 3))
    assert (second.status, second.records_processed) == ("Successful", 2 + boundary)
    domain = runtime.domains.record(ctx, "d")
    with runtime.store.read() as uow:
        assert uow.profiles.count(domain.id) == 12
    runtime.close()
