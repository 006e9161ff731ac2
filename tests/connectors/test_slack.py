"""The Slack connector against the fake Slack Web API (tests/fakes/slack.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from openprofiles.connectors.base import Connection, ConnectorAuthError, ConnectorError, ExtractRequest
from openprofiles.connectors.slack import SlackConnector, flatten_user, slack_ts
from tests.connectors.helpers import FAKE_VENDOR_GRANTS, assert_resumes, peak_memory_of_extraction, records
from tests.fakes.server import serving
from tests.fakes.slack import START, TOKEN, FakeSlack, make_app, make_message, make_user
from tests.live_flows import (
    ScheduledFlow,
    create_domain,
    create_profile,
    entity_names,
    field_types,
    processed,
)

CHANNEL = "C0000GENERAL"


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, str]]:
    """A workspace with 25 messages in #general, an empty #random and 12 users."""
    fake, app = make_app({CHANNEL: [make_message(n) for n in range(1, 26)], "C0000RANDOM": []},
                         [make_user(n) for n in range(1, 13)])
    with serving(app) as url:
        yield fake, url


def connector(url: str, token: str | None = TOKEN) -> SlackConnector:
    credentials: dict[str, Any] = {"clientId": "id", "clientSecret": "secret"}
    if token:
        credentials["accessToken"] = token
    made = SlackConnector(Connection("slack", "Slack", {"instanceUrl": url}, credentials, grants=FAKE_VENDOR_GRANTS))
    made.api.sleep = lambda _: None  # Retry-After waits are not slept in tests
    return made


def history(page_size: int = 10, **kwargs: Any) -> ExtractRequest:
    return ExtractRequest(entity=f"conversations/{CHANNEL}", page_size=page_size, **kwargs)


def texts(pages: list[Any]) -> list[str]:
    return [r["text"] for r in records(pages)]


def at(n: int) -> datetime:
    """The time of generated message n."""
    return datetime.fromtimestamp(float(Decimal(make_message(n)["ts"])), UTC)


def test_check_passes_with_the_token_and_fails_as_auth_error_without(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    connector(url).check()
    assert fake.calls[-1][0] == "auth.test"
    with pytest.raises(ConnectorAuthError, match=r"Slack auth\.test: invalid_auth"):
        connector(url, "xoxb-wrong").check()
    with pytest.raises(ConnectorAuthError, match="needs accessToken"):
        SlackConnector(Connection("slack", "Slack", {"instanceUrl": url}, {"clientId": "i"}, grants=FAKE_VENDOR_GRANTS)).check()


def test_other_errors_are_terminal_with_the_code(slack: tuple[FakeSlack, str]) -> None:
    _, url = slack
    with pytest.raises(ConnectorError) as raised:
        list(connector(url).extract(ExtractRequest(entity="conversations/CNOPE")))
    assert raised.value.message == "Slack conversations.history: channel_not_found"
    assert not raised.value.transient and not isinstance(raised.value, ConnectorAuthError)
    with pytest.raises(ConnectorError, match="no entity 'channels'"):
        list(connector(url).extract(ExtractRequest(entity="channels")))


def test_entities_are_users_and_the_channels(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    for n in range(3, 30):
        fake.add_channel(f"C{n:04d}", f"team-{n}")
    fake.page_cap = 10  # Slack may return fewer channels than asked for
    slack_connector = connector(url)
    assert [(e.name, e.has_nested_entities) for e in slack_connector.entities()] == [
        ("users", False), ("conversations", True)]
    channels = slack_connector.entities("conversations")
    assert len(channels) == 29 and len([c for c in fake.calls if c[0] == "conversations.list"]) == 3
    assert ("conversations/C0000GENERAL", "#channel-c0000general") in [(e.name, e.label) for e in channels]
    assert ("conversations/C0029", "#team-29") in [(e.name, e.label) for e in channels]
    assert next(c for c in fake.calls if c[0] == "conversations.list")[1]["types"] == "public_channel,private_channel"


def test_describe_gives_the_documented_fields(slack: tuple[FakeSlack, str]) -> None:
    _, url = slack
    users = {f.name: f.data_type for f in connector(url).describe("users")}
    assert users["profile.email"] == "string" and users["profile.phone"] == "string"
    assert users["updated"] == "integer" and users["deleted"] == "boolean"
    messages = {f.name: f.data_type for f in connector(url).describe(f"conversations/{CHANNEL}")}
    assert messages["ts"] == "string" and messages["reply_count"] == "integer" and messages["reactions"] == "list"
    with pytest.raises(ConnectorError, match="no entity"):
        connector(url).describe("files")


def test_messages_page_to_the_end_newest_first(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    pages = list(connector(url).extract(history(page_size=10)))
    assert [len(p.records) for p in pages] == [10, 10, 5]
    assert texts(pages) == [f"message {n}" for n in range(25, 0, -1)]
    assert records(pages)[0] == {"channel": CHANNEL, **make_message(25)}
    assert [p.high_water for p in pages] == [at(25), at(15), at(5)]
    assert pages[-1].checkpoint == {"done": True}
    assert [c[1].get("limit") for c in fake.calls if c[0] == "conversations.history"] == ["10"] * 3
    assert list(connector(url).extract(ExtractRequest(entity="conversations/C0000RANDOM"))) == []


def test_messages_incremental_by_ts(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    pages = list(connector(url).extract(history(since=at(20))))
    assert texts(pages) == [f"message {n}" for n in range(25, 19, -1)]  # since is inclusive
    assert [c[1] for c in fake.calls if c[0] == "conversations.history"][-1]["oldest"] == make_message(20)["ts"]
    assert texts(list(connector(url).extract(history(since=at(20), until=at(23))))) == [
        "message 22", "message 21", "message 20"]
    posted = fake.post(CHANNEL, "hello again", ts=f"{START + 100}.000001")
    [page] = connector(url).extract(history(since=at(25)))
    assert texts([page]) == ["hello again", "message 25"]
    assert page.high_water == datetime.fromtimestamp(float(Decimal(posted["ts"])), UTC)


def test_slack_ts_keeps_microseconds() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert slack_ts(moment) == f"{int(moment.timestamp())}.123456"


@pytest.mark.parametrize(("page_size", "stop_after"), [(10, 1), (10, 2), (7, 3), (30, 1)])
def test_messages_resume_from_a_checkpoint(slack: tuple[FakeSlack, str], page_size: int, stop_after: int) -> None:
    _, url = slack
    assert_resumes(connector(url), history(page_size=page_size), stop_after)


def test_a_resumed_run_ignores_messages_posted_meanwhile(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    first = next(iter(connector(url).extract(history(page_size=10))))
    fake.post(CHANNEL, "late")
    rest = list(connector(url).extract(history(page_size=10, checkpoint=first.checkpoint)))
    assert texts([first, *rest]) == [f"message {n}" for n in range(25, 0, -1)]


def test_users_are_flattened_and_paged(slack: tuple[FakeSlack, str]) -> None:
    _, url = slack
    pages = list(connector(url).extract(ExtractRequest(entity="users", page_size=5)))
    assert [len(p.records) for p in pages] == [5, 5, 2]
    first = records(pages)[0]
    assert first["id"] == "U00000001" and first["profile.email"] == "user1@example.com"
    assert first["profile.phone"] == "+442079460001" and "profile" not in first
    assert pages[0].high_water == datetime.fromtimestamp(START + 5, UTC)
    assert flatten_user({"id": "U1", "profile": {"fields": {"Xf1": {"value": "v"}}}}) == {
        "id": "U1", "profile.fields.Xf1.value": "v"}


def test_users_incremental_by_updated(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    since = datetime.fromtimestamp(START + 100, UTC)
    assert list(connector(url).extract(ExtractRequest(entity="users", since=since))) == []
    fake.update_user("U00000003", updated=START + 200, email="three@example.org")
    fake.add_user(make_user(99, updated=START + 150))
    [page] = connector(url).extract(ExtractRequest(entity="users", since=since))
    assert [(r["id"], r["profile.email"]) for r in page.records] == [
        ("U00000003", "three@example.org"), ("U00000099", "user99@example.com")]
    assert page.high_water == datetime.fromtimestamp(START + 200, UTC)


@pytest.mark.parametrize("stop_after", [1, 2])
def test_users_resume_from_a_checkpoint(slack: tuple[FakeSlack, str], stop_after: int) -> None:
    _, url = slack
    assert_resumes(connector(url), ExtractRequest(entity="users", page_size=5), stop_after)


def test_rate_limits_are_retried_after_retry_after(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    waits: list[float] = []
    slack_connector = connector(url)
    slack_connector.api.sleep = waits.append
    fake.rate_limit(2)
    assert len(records(list(slack_connector.extract(history(page_size=30))))) == 25
    assert waits == [1.0, 1.0]
    fake.rate_limit(10)
    with pytest.raises(ConnectorError) as raised:
        slack_connector.check()
    assert raised.value.transient and "HTTP 429: ratelimited" in raised.value.message


def test_an_invalid_checkpoint_is_refused(slack: tuple[FakeSlack, str]) -> None:
    _, url = slack
    with pytest.raises(ConnectorError, match="invalid checkpoint"):
        list(connector(url).extract(history(checkpoint={"page": 3})))
    assert list(connector(url).extract(history(checkpoint={"done": True}))) == []


def test_100k_messages_stream_in_bounded_memory() -> None:
    _, app = make_app({CHANNEL: [make_message(n) for n in range(100_000)]})
    with serving(app) as url:
        slack_connector = connector(url)
        slack_connector.check()
        count, peak = peak_memory_of_extraction(slack_connector, history(page_size=1000))
    assert count == 100_000
    assert peak < 4 << 20, peak  # a page or two of 1,000 messages (the channel's JSON is ~9 MB)


# --- End to end: boto3 against the live server, the fake Slack as the source --------------------


def test_a_slack_flow_lands_users_as_profiles_then_pulls_only_changes(appflow: Any, cp: Any, unique: str) -> None:
    fake, app = make_app({CHANNEL: [make_message(n) for n in range(1, 4)]}, [make_user(n) for n in range(1, 6)])
    with serving(app) as url:
        def profile(token: str) -> str:
            return create_profile(appflow, unique, "Slack", {"instanceUrl": url},
                                  {"clientId": "c", "clientSecret": "s", "accessToken": token})

        with pytest.raises(appflow.exceptions.ConnectorAuthenticationException, match="invalid_auth"):
            profile("xoxb-wrong")
        profile(TOKEN)
        assert entity_names(appflow, unique) == ["users", "conversations"]
        channels = appflow.list_connector_entities(connectorProfileName=unique,
                                                   entitiesPath="conversations")["connectorEntityMap"]["conversations"]
        assert [(e["name"], e["label"]) for e in channels] == [(f"conversations/{CHANNEL}", "#channel-c0000general")]
        assert field_types(appflow, unique, "users")["profile.email"] == "string"

        create_domain(cp, unique, "SlackUser", Description="Slack users", AllowProfileCreation=True, Fields={
            "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
            "email": {"Source": "_source['profile.email']", "Target": "_profile.EmailAddress",
                      "ContentType": "EMAIL_ADDRESS"},
            "phone": {"Source": "_source['profile.phone']", "Target": "_profile.PhoneNumber",
                      "ContentType": "PHONE_NUMBER"},
            "name": {"Source": "_source.real_name", "Target": "_profile.FirstName"},
        }, Keys={"slackUserId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
                 "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]})
        flow = ScheduledFlow(appflow, unique, into=(unique, "SlackUser"), source={
            "connectorType": "Slack", "connectorProfileName": unique,
            "sourceConnectorProperties": {"Slack": {"object": "users"}},
            "incrementalPullConfig": {"datetimeTypeFieldName": "updated"}})
        assert processed(flow.run()) == 5
        found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["user3@example.com"])["Items"]
        assert [(p["FirstName"], p["PhoneNumber"]) for p in found] == [("User 3", "+442079460003")]

        fake.update_user("U00000002", email="two@example.org")
        second = flow.run()
    # The changed user, and user 5 whose `updated` is the first run's high-water mark (pulls are inclusive).
    assert processed(second) == 2
    assert cp.search_profiles(DomainName=unique, KeyName="_email", Values=["two@example.org"])["Items"]
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 5
