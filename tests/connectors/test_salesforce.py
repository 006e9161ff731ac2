"""The Salesforce connector against the fake org in tests/fakes/salesforce.py (REST API, Bulk API 2.0,
OAuth2 token endpoint), with the connected app's client secret in moto's Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from openprofiles.connectors.base import Connection, ConnectorAuthError, ConnectorError, ExtractRequest, Page
from openprofiles.connectors.salesforce import SalesforceConnector
from openprofiles.flows.tasks import Output, compile_tasks
from tests.connectors.helpers import FAKE_VENDOR_GRANTS, assert_resumes, peak_memory_of_extraction, records
from tests.fakes.salesforce import (
    BASE_TIME,
    CLIENT_ID,
    CLIENT_SECRET,
    JWT,
    REFRESH_TOKEN,
    TOKEN,
    FakeSalesforce,
    make_app,
)
from tests.fakes.server import serving
from tests.harness import MotoServer


@pytest.fixture
def fake() -> FakeSalesforce:
    return make_app(records=25, page_size=7)


@pytest.fixture
def url(fake: FakeSalesforce) -> Iterator[str]:
    with serving(fake) as base:
        yield base


#: The operator let the profiles' account read its secrets (moto's account 123456789012) with its credentials.
SECRETS = (("000000000000", "arn:aws:secretsmanager:*:123456789012:secret:*"),)


def connector(url: str, waits: list[float] | None = None, **credentials: Any) -> SalesforceConnector:
    found = SalesforceConnector(Connection("sf", "Salesforce", {"instanceUrl": url}, credentials or {"accessToken": TOKEN},
                                           account_id="000000000000", grants=replace(FAKE_VENDOR_GRANTS, aws_resources=SECRETS)),
                                sleep=(waits if waits is not None else []).append)
    found.poll_interval = 0.01
    return found


def ids(pages: list[Page]) -> list[str]:
    return [record["Id"] for record in records(pages)]


def contact_ids(numbers: range | list[int]) -> list[str]:
    return [f"003{i:012d}" for i in numbers]


def pull(url: str, **kwargs: Any) -> list[Page]:
    return list(connector(url).extract(ExtractRequest(entity="Contact", **kwargs)))


@pytest.fixture
def secret_arn(aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The connected app's client id and secret in (moto's) AWS Secrets Manager."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws_env.endpoint)
    secrets = aws_env.client("secretsmanager")
    created = secrets.create_secret(Name=f"sf-{id(monkeypatch)}", SecretString=json.dumps(
        {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}))
    return str(created["ARN"])


# Authentication.

def test_check_accepts_the_token_and_refuses_a_bad_one(url: str) -> None:
    connector(url).check()
    with pytest.raises(ConnectorAuthError) as raised:
        connector(url, accessToken="wrong").check()
    assert raised.value.message.endswith("HTTP 401: INVALID_SESSION_ID: Session expired or invalid")
    with pytest.raises(ConnectorAuthError, match="CLIENT_CREDENTIALS needs clientCredentialsArn"):
        connector(url, refreshToken=REFRESH_TOKEN, oAuth2GrantType="CLIENT_CREDENTIALS").check()
    with pytest.raises(ConnectorAuthError, match="need accessToken"):
        SalesforceConnector(Connection("sf", "Salesforce", {"instanceUrl": url}, {}, grants=FAKE_VENDOR_GRANTS)).check()


def test_an_expired_token_is_refreshed_once(url: str, fake: FakeSalesforce, secret_arn: str) -> None:
    sf = connector(url, accessToken=TOKEN, refreshToken=REFRESH_TOKEN, clientCredentialsArn=secret_arn)
    sf.check()
    fake.expire_tokens()
    assert len(ids(list(sf.extract(ExtractRequest(entity="Contact"))))) == 25
    assert fake.token_grants == ["refresh_token"]

    fake.expire_tokens()
    stale = connector(url, accessToken=TOKEN, refreshToken="revoked", clientCredentialsArn=secret_arn)
    with pytest.raises(ConnectorAuthError, match=r"refused a new access token: .*invalid_grant: expired access/refresh"):
        stale.check()


def test_client_credentials_and_jwt_bearer_grants(url: str, fake: FakeSalesforce, secret_arn: str) -> None:
    connector(url, oAuth2GrantType="CLIENT_CREDENTIALS", clientCredentialsArn=secret_arn).check()
    connector(url, oAuth2GrantType="JWT_BEARER", jwtToken=JWT).check()
    assert fake.token_grants == ["client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"]
    with pytest.raises(ConnectorAuthError, match="invalid_grant: invalid assertion"):
        connector(url, oAuth2GrantType="JWT_BEARER", jwtToken="a.b.c").check()


def test_a_missing_secret_is_an_auth_error(url: str, secret_arn: str) -> None:
    with pytest.raises(ConnectorAuthError, match=r"clientCredentialsArn .*ResourceNotFound"):
        connector(url, oAuth2GrantType="CLIENT_CREDENTIALS", clientCredentialsArn=secret_arn + "x").check()


# Metadata.

def test_entities_are_the_queryable_sobjects(url: str) -> None:
    assert [(e.name, e.label) for e in connector(url).entities()] == [("Contact", "Contact"), ("Account", "Account")]


def test_describe_maps_salesforce_types(url: str) -> None:
    fields = {f.name: f for f in connector(url).describe("Contact")}
    assert {name: f.data_type for name, f in fields.items()} == {
        "Id": "string", "IsDeleted": "boolean", "CreatedDate": "datetime", "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime", "FirstName": "string", "LastName": "string", "Email": "string",
        "Phone": "string", "Birthdate": "date", "LeadScore__c": "double", "NumberOfPets__c": "integer",
        "HasOptedOutOfEmail": "boolean", "Description": "string", "MailingAddress": "struct",
    }
    assert fields["Email"].label == "Email" and fields["Email"].description == "Salesforce type email"
    assert not fields["Id"].nullable and fields["Email"].nullable


def test_an_unknown_object_is_a_terminal_error_with_salesforces_words(url: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        connector(url).describe("Nope__c")
    assert not isinstance(raised.value, ConnectorAuthError) and not raised.value.transient
    assert raised.value.message.endswith("HTTP 404: NOT_FOUND: The requested resource does not exist")
    with pytest.raises(ConnectorError, match="not a Salesforce object name"):
        connector(url).describe("Contact WHERE")


# REST extraction.

def test_pages_follow_next_records_url_to_the_end(url: str, fake: FakeSalesforce) -> None:
    pages = pull(url, page_size=5)
    assert ids(pages) == contact_ids(range(25))  # ordered by LastModifiedDate, then Id
    assert [len(p.records) for p in pages] == [5, 2, 5, 2, 5, 2, 4]  # the org's 7-record batches, in pages of 5
    assert "attributes" not in pages[0].records[0]
    assert pages[0].records[0]["LastModifiedDate"] == "2024-01-01T00:00:00.000+0000"
    assert pages[0].high_water == BASE_TIME + timedelta(seconds=1)
    assert pages[-1].checkpoint == {"api": "REST", "id": "003000000000024", "modified": "2024-01-01T00:00:08.000+0000"}
    assert sum(call.startswith("GET /services/data/v60.0/query/01g") for call in fake.calls) == 3
    assert fake.queries[-1].endswith("FROM Contact ORDER BY LastModifiedDate ASC, Id ASC")


def test_projection_selects_the_fields_with_id_and_the_modified_field(url: str, fake: FakeSalesforce) -> None:
    assert records(pull(url, fields=["Email", "Id"]))[0] == {"Id": "003000000000000", "LastModifiedDate": "2024-01-01T00:00:00.000+0000",
                               "Email": "person0@example.com"}
    assert fake.queries[-1].startswith("SELECT Id, LastModifiedDate, Email FROM Contact")
    pets = compile_tasks([_filter("NumberOfPets__c", "EQUAL_TO", "integer", VALUE="3")], "Salesforce").record_filters
    assert records(pull(url, fields=["Email"], filters=pets))[0] == {
        "Id": "003000000000003", "LastModifiedDate": "2024-01-01T00:00:01.000+0000", "Email": "person3@example.com",
        "NumberOfPets__c": 3}  # the flow tests its filters on the source record
    with pytest.raises(ConnectorError, match="has no field\\(s\\) Nope"):
        pull(url, fields=["Nope"])


def test_incremental_by_last_modified_date(url: str, fake: FakeSalesforce) -> None:
    pages = pull(url, since=BASE_TIME + timedelta(seconds=3), until=BASE_TIME + timedelta(seconds=6))
    assert ids(pages) == contact_ids(range(9, 18))
    assert "WHERE LastModifiedDate >= 2024-01-01T00:00:03Z AND LastModifiedDate < 2024-01-01T00:00:06Z" in (
        fake.queries[-1])
    # A bound between whole seconds is widened in SOQL and applied exactly to the records.
    assert ids(pull(url, since=BASE_TIME + timedelta(seconds=3.5))) == contact_ids(range(12, 25))
    # A custom datetime field, or SystemModstamp, may bound the pull instead.
    assert ids(pull(url, modified_field="SystemModstamp", since=BASE_TIME + timedelta(seconds=8))) == contact_ids(
        range(24, 25))
    with pytest.raises(ConnectorError, match=r"Contact\.Email is a email field"):
        pull(url, modified_field="Email", since=BASE_TIME)


def test_include_deleted_records_uses_query_all(url: str, fake: FakeSalesforce) -> None:
    fake.delete("Contact", "003000000000003")
    assert "003000000000003" not in ids(pull(url))
    pages = pull(url, source_properties={"object": "Contact", "includeDeletedRecords": True})
    deleted = [r for r in records(pages) if r["IsDeleted"]]
    assert [r["Id"] for r in deleted] == ["003000000000003"] and len(records(pages)) == 25
    assert ids(pages) == contact_ids(range(25))  # its SystemModstamp moved, not its LastModifiedDate
    assert any(call.startswith("GET /services/data/v60.0/queryAll/") for call in fake.calls)


def _filter(field: str, operator: str, data_type: str, **properties: str) -> dict[str, Any]:
    return {"taskType": "Filter", "sourceFields": [field], "connectorOperator": {"Salesforce": operator},
            "taskProperties": {"DATA_TYPE": data_type, **properties}}


FILTERS = [
    (_filter("NumberOfPets__c", "GREATER_THAN", "integer", VALUE="1"), "NumberOfPets__c > 1"),
    (_filter("NumberOfPets__c", "NOT_EQUAL_TO", "integer", VALUES="1, 2"),
     "NumberOfPets__c != null AND NumberOfPets__c NOT IN (1, 2)"),
    (_filter("LeadScore__c", "BETWEEN", "double", LOWER_BOUND="2.5", UPPER_BOUND="6"),
     "LeadScore__c >= 2.5 AND LeadScore__c <= 6"),
    (_filter("FirstName", "EQUAL_TO", "string", VALUES="First3,first4"), "FirstName IN ('First3', 'first4')"),
    (_filter("FirstName", "NOT_EQUAL_TO", "string", VALUE="First3"), "FirstName != null"),
    (_filter("Email", "CONTAINS", "string", VALUE="N1_"), "(Email LIKE '%N1\\_%')"),
    (_filter("Email", "CONTAINS", "string", VALUE="ON1"), "(Email LIKE '%ON1%')"),
    (_filter("HasOptedOutOfEmail", "NOT_EQUAL_TO", "boolean", VALUE="true"), "HasOptedOutOfEmail = false"),
    (_filter("Birthdate", "LESS_THAN_OR_EQUAL_TO", "date", VALUE="1985-06-01"), "Birthdate <= 1985-06-01"),
    (_filter("LastModifiedDate", "GREATER_THAN", "datetime", VALUE="2024-01-01T00:00:04.5Z"),
     "LastModifiedDate >= 2024-01-01T00:00:04Z"),
    (_filter("LastModifiedDate", "LESS_THAN", "timestamp", VALUE="1704067205000"),
     "LastModifiedDate < 2024-01-01T00:00:05Z"),
    (_filter("Phone", "GREATER_THAN", "string", VALUE="+1"), None),  # SOQL's string order is not the flow's
]


@pytest.mark.parametrize(("task", "pushed"), FILTERS)
def test_filters_are_pushed_down_with_the_same_result(url: str, fake: FakeSalesforce, task: dict[str, Any],
                                                      pushed: str | None) -> None:
    pipeline = compile_tasks([task, {"taskType": "Map_all", "sourceFields": [],
                                     "connectorOperator": {"Salesforce": "NO_OP"}}], "Salesforce")

    def kept(pages: list[Page]) -> list[str]:
        return [r["Id"] for r in records(pages) if isinstance(pipeline.apply(r), Output)]

    everything = pull(url)
    narrowed = pull(url, filters=pipeline.record_filters)
    assert kept(narrowed) == kept(everything)
    query = fake.queries[-1]
    if pushed is None:
        assert " WHERE " not in query and len(records(narrowed)) == 25
    else:
        assert f" WHERE {pushed} ORDER BY" in query
        assert len(records(narrowed)) < 25


@pytest.mark.parametrize(("page_size", "stop_after"), [(5, 1), (3, 4), (7, 2), (1, 13)])
def test_resume_from_a_checkpoint_delivers_exactly_the_rest(url: str, page_size: int, stop_after: int) -> None:
    assert_resumes(connector(url), ExtractRequest(entity="Contact", page_size=page_size), stop_after)


def test_a_resumed_pull_queries_after_the_last_record(url: str, fake: FakeSalesforce) -> None:
    checkpoint = {"api": "REST", "id": "003000000000010", "modified": "2024-01-01T00:00:03.000+0000"}
    assert ids(pull(url, checkpoint=checkpoint)) == contact_ids(range(11, 25))
    assert ("WHERE (LastModifiedDate > 2024-01-01T00:00:03Z OR (LastModifiedDate = 2024-01-01T00:00:03Z "
            "AND Id > '003000000000010')) ORDER BY") in fake.queries[-1]


# Bulk API 2.0.

def test_bulk_query_job_reads_csv_through_the_locator(url: str, fake: FakeSalesforce) -> None:
    rest = {r["Id"]: r for r in records(pull(url))}
    pages = pull(url, source_properties={"object": "Contact", "dataTransferApi": "BULKV2"}, page_size=10,
                 since=BASE_TIME + timedelta(seconds=1))
    assert [len(p.records) for p in pages] == [10, 10, 2]
    assert sorted(ids(pages)) == contact_ids(range(3, 25))
    assert fake.queries[-1].endswith("FROM Contact WHERE LastModifiedDate >= 2024-01-01T00:00:01Z")  # no ORDER BY
    (job,) = fake.jobs.values()
    assert job.polls == 2  # polled until JobComplete
    for record in records(pages):
        expected = {k: v for k, v in rest[record["Id"]].items() if k != "MailingAddress"}  # no compound fields
        assert {k: v for k, v in record.items() if not k.endswith(("Date", "Modstamp"))} == {
            k: v for k, v in expected.items() if not k.endswith(("Date", "Modstamp"))}
        assert record["LastModifiedDate"].replace("Z", "+0000") == expected["LastModifiedDate"]
    assert pages[-1].checkpoint == {"api": "BULKV2", "job": job.id, "locator": None, "done": True}
    assert pages[-1].high_water == BASE_TIME + timedelta(seconds=8)


def test_automatic_uses_bulk_from_the_threshold(url: str, fake: FakeSalesforce) -> None:
    sf = connector(url)
    automatic = ExtractRequest(entity="Contact", source_properties={"object": "Contact", "dataTransferApi": "AUTOMATIC"})
    list(sf.extract(automatic))
    assert fake.queries[-2] == "SELECT COUNT() FROM Contact" and not fake.jobs
    sf.bulk_threshold = 25
    assert len(records(list(sf.extract(automatic)))) == 25 and len(fake.jobs) == 1


@pytest.mark.parametrize(("page_size", "stop_after"), [(5, 1), (10, 2)])
def test_a_bulk_pull_resumes_from_its_job_and_locator(url: str, fake: FakeSalesforce, page_size: int,
                                                      stop_after: int) -> None:
    request = ExtractRequest(entity="Contact", source_properties={"object": "Contact", "dataTransferApi": "BULKV2"},
                             page_size=page_size)
    assert_resumes(connector(url), request, stop_after)
    assert len(fake.jobs) == 2  # the full pull's and the interrupted one's, which the resumed pull reuses


# Rate limits, errors, memory.

def test_429_is_retried_after_retry_after() -> None:
    fake = make_app(records=25, page_size=7, throttle_every=2)
    with serving(fake) as base:
        waits: list[float] = []
        pages = list(connector(base, waits).extract(ExtractRequest(entity="Contact")))
    assert ids(pages) == contact_ids(range(25))
    assert waits and set(waits) == {1.0}


def test_a_query_salesforce_refuses_names_its_error_code(url: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        pull(url, source_properties={"object": "Contact", "dataTransferApi": "BULKV2"}, fields=["MailingAddress"])
    assert "HTTP 400: API_ERROR: Bulk API 2.0 does not return compound fields" in raised.value.message
    assert not raised.value.transient


def test_a_used_up_api_allowance_is_transient_not_an_auth_error(url: str, fake: FakeSalesforce) -> None:
    fake.api_allowance = 2
    waits: list[float] = []
    sf = connector(url, waits)
    sf.check()
    with pytest.raises(ConnectorError) as raised:
        list(sf.extract(ExtractRequest(entity="Contact", source_properties={"dataTransferApi": "REST_SYNC"})))
    assert not isinstance(raised.value, ConnectorAuthError) and raised.value.transient
    assert raised.value.message.endswith("HTTP 403: REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.")
    assert len(fake.calls) == 3 and waits == []  # check, describe, then the refused query: not retried
    fake.api_allowance = None
    assert len(ids(list(sf.extract(ExtractRequest(entity="Contact"))))) == 25


def test_a_profile_saved_without_api_allowance_is_a_server_error(appflow: Any, url: str, fake: FakeSalesforce,
                                                                   unique: str) -> None:
    fake.api_allowance = 0
    with pytest.raises(appflow.exceptions.ConnectorServerException, match="REQUEST_LIMIT_EXCEEDED"):
        appflow.create_connector_profile(
            connectorProfileName=unique, connectorType="Salesforce", connectionMode="Public",
            connectorProfileConfig={"connectorProfileProperties": {"Salesforce": {"instanceUrl": url}},
                                    "connectorProfileCredentials": {"Salesforce": {"accessToken": TOKEN}}})


def test_memory_stays_bounded_by_the_page() -> None:
    peaks = []
    for count in (4000, 16000):
        with serving(make_app(records=count, page_size=2000)) as base:
            request = ExtractRequest(entity="Contact", source_properties={"object": "Contact",
                                                                          "dataTransferApi": "REST_SYNC"}, page_size=500)
            extracted, peak = peak_memory_of_extraction(connector(base), request)
        assert extracted == count
        peaks.append(peak)
    assert peaks[1] < 1.5 * peaks[0]  # four times the records, about the same peak
