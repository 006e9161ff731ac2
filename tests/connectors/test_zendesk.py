"""The Zendesk connector against a fake Zendesk (tests/fakes/zendesk.py), and a Zendesk flow end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from openprofiles.connectors.base import Connection, ConnectorAuthError, ConnectorError, ExtractRequest, RecordFilter
from openprofiles.connectors.zendesk import ZendeskConnector
from tests.connectors.helpers import FAKE_VENDOR_GRANTS, assert_resumes, peak_memory_of_extraction, records
from tests.fakes.server import serving
from tests.fakes.zendesk import START, TOKEN, FakeZendesk, iso
from tests.live_flows import (
    ScheduledFlow,
    create_domain,
    create_profile,
    entity_names,
    field_types,
    processed,
)

Served = tuple[FakeZendesk, str]


@pytest.fixture
def zendesk() -> Iterator[Served]:
    fake = FakeZendesk(users=250, tickets=30, organizations=31)
    with serving(fake.app) as url:
        yield fake, url


def connector(url: str, token: str | None = TOKEN) -> ZendeskConnector:
    credentials = {"clientId": "client", "clientSecret": "secret", **({"accessToken": token} if token else {})}
    return ZendeskConnector(Connection("zd", "Zendesk", {"instanceUrl": url}, credentials, grants=FAKE_VENDOR_GRANTS))


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


def _profile(appflow: Any, name: str, url: str, token: str) -> str:
    return create_profile(appflow, name, "Zendesk", {"instanceUrl": url},
                          {"clientId": "client", "clientSecret": "secret", "accessToken": token})


def test_a_zendesk_flow_lands_profiles_then_pulls_only_what_changed(appflow: Any, cp: Any, unique: str) -> None:
    fake = FakeZendesk(users=12)  # users 1000-1011, three to each updated_at second from START
    with serving(fake.app) as url:
        with pytest.raises(appflow.exceptions.ConnectorAuthenticationException):
            _profile(appflow, unique, url, "wrong")
        _profile(appflow, unique, url, TOKEN)
        assert set(entity_names(appflow, unique)) == {"users", "tickets", "organizations"}
        assert field_types(appflow, unique, "users")["email"] == "string"

        create_domain(cp, unique, "Zendesk-users", TemplateId="Zendesk-users", Description="Zendesk users")
        flow = ScheduledFlow(appflow, unique, into=(unique, "Zendesk-users"), source={
            "connectorType": "Zendesk", "connectorProfileName": unique,
            "sourceConnectorProperties": {"Zendesk": {"object": "users"}}})
        assert processed(flow.run()) == 12
        found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["user7@example.com"])["Items"]
        assert [p["EmailAddress"] for p in found] == ["user7@example.com"]

        now = int(time.time())  # Zendesk exports leave out the last minute's changes
        fake.change("users", 1002, at=now - 120, email="moved@example.com")
        fake.change("users", 1005, at=now - 100)
        second = flow.run()
        exports = [params for path, params in fake.requests if path == "/api/v2/incremental/users/cursor.json"]
        assert exports and exports[0]["start_time"] == str(START + 3)
    # The two changed users, and users 1009-1011, stamped at the first run's high-water mark (START + 3 s):
    # the runner pulls from the mark inclusively, so records stamped at it are read again by design.
    assert processed(second) == 2 + 3
    assert cp.search_profiles(DomainName=unique, KeyName="_email", Values=["moved@example.com"])["Items"]
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 12
