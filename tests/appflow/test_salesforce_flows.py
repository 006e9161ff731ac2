"""Salesforce flows end to end against the fake org: a connector profile through boto3 (a bad token
refused), entities and fields, an on-demand flow landing profiles, a run failing on a revoked token,
and a scheduled incremental flow that pulls only what changed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import build_runtime
from openprofiles.clock import FixedClock
from openprofiles.services.context import RequestContext
from openprofiles.settings import Settings
from tests.fakes.salesforce import TOKEN, make_app
from tests.fakes.server import serving

FIELDS = {
    "id": {"Source": "_source.Id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.Email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
    "first": {"Source": "_source.FirstName", "Target": "_profile.FirstName"},
}
KEYS = {
    "sfId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
    "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
}
OP = {"Salesforce": "NO_OP"}
TASKS = [
    {"taskType": "Filter", "sourceFields": ["Id", "Email", "FirstName"], "connectorOperator": {
        "Salesforce": "PROJECTION"}},
    {"taskType": "Filter", "sourceFields": ["HasOptedOutOfEmail"], "connectorOperator": {"Salesforce": "EQUAL_TO"},
     "taskProperties": {"DATA_TYPE": "boolean", "VALUE": "false"}},
    *({"taskType": "Map", "sourceFields": [name], "destinationField": name, "connectorOperator": OP}
      for name in ("Id", "Email", "FirstName")),
]


def _destination(domain: str) -> list[dict[str, Any]]:
    return [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
        "CustomerProfiles": {"domainName": domain, "objectTypeName": "contact"}}}]


def _wait(appflow: Any, flow: str, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for record in appflow.describe_flow_execution_records(flowName=flow)["flowExecutions"]:
            if record["executionId"] == execution_id and record["executionStatus"] not in ("InProgress",
                                                                                          "CancelStarted"):
                return dict(record)
        time.sleep(0.2)
    raise AssertionError("the run did not finish")


def test_a_salesforce_flow_lands_profiles(appflow: Any, cp: Any, unique: str) -> None:
    fake = make_app(records=20, page_size=7)
    with serving(fake) as url:
        def profile(token: str) -> dict[str, Any]:
            return {"connectorProfileProperties": {"Salesforce": {"instanceUrl": url, "isSandboxEnvironment": False}},
                    "connectorProfileCredentials": {"Salesforce": {"accessToken": token,
                                                                   "oAuth2GrantType": "AUTHORIZATION_CODE"}}}

        with pytest.raises(appflow.exceptions.ConnectorAuthenticationException) as refused:
            appflow.create_connector_profile(connectorProfileName=unique, connectorType="Salesforce",
                                             connectionMode="Public", connectorProfileConfig=profile("expired"))
        assert "INVALID_SESSION_ID" in refused.value.response["Error"]["Message"]
        appflow.create_connector_profile(connectorProfileName=unique, connectorType="Salesforce",
                                         connectionMode="Public", connectorProfileConfig=profile(TOKEN))
        described = appflow.describe_connector_profiles(connectorProfileNames=[unique])["connectorProfileDetails"][0]
        assert described["connectorProfileProperties"]["Salesforce"]["instanceUrl"] == url
        assert "connectorProfileCredentials" not in described

        entities = appflow.list_connector_entities(connectorProfileName=unique)["connectorEntityMap"]["Objects"]
        assert [e["name"] for e in entities] == ["Contact", "Account"]
        fields = appflow.describe_connector_entity(connectorProfileName=unique, connectorEntityName="Contact")
        types = {f["identifier"]: f["supportedFieldTypeDetails"]["v1"]["fieldType"]
                 for f in fields["connectorEntityFields"]}
        assert (types["Email"], types["Birthdate"], types["LastModifiedDate"], types["LeadScore__c"]) == (
            "string", "date", "datetime", "double")

        cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
        cp.put_profile_object_type(DomainName=unique, ObjectTypeName="contact", Description="Salesforce contacts",
                                   AllowProfileCreation=True, Fields=FIELDS, Keys=KEYS)
        appflow.create_flow(
            flowName=unique, triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": unique,
                              "sourceConnectorProperties": {"Salesforce": {"object": "Contact",
                                                                           "dataTransferApi": "REST_SYNC"}}},
            destinationFlowConfigList=_destination(unique), tasks=TASKS,
        )
        first = _wait(appflow, unique, appflow.start_flow(flowName=unique)["executionId"])
        assert first["executionStatus"] == "Successful", first
        assert first["executionResult"]["recordsProcessed"] == 10  # the ten who did not opt out, pushed down
        assert "HasOptedOutOfEmail = false" in fake.queries[-1]
        found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["person3@example.com"])["Items"]
        assert [(p["FirstName"], p["AccountNumber"]) for p in found] == [("First3", "003000000000003")]
        assert cp.search_profiles(DomainName=unique, KeyName="_email", Values=["person2@example.com"])["Items"] == []

        fake.upsert("Contact", {"Id": "003000000000003", "Email": "new3@example.com"})
        second = _wait(appflow, unique, appflow.start_flow(flowName=unique)["executionId"])
        assert second["executionStatus"] == "Successful"
        found = cp.search_profiles(DomainName=unique, KeyName="sfId", Values=["003000000000003"])["Items"]
        assert [p["EmailAddress"] for p in found] == ["new3@example.com"]

        fake.expire_tokens()  # no refresh token: the run cannot go on
        failed = _wait(appflow, unique, appflow.start_flow(flowName=unique)["executionId"])
        assert failed["executionStatus"] == "Error"
        assert "INVALID_SESSION_ID: Session expired or invalid" in failed["executionResult"]["errorInfo"][
            "executionMessage"]


def test_a_scheduled_incremental_flow_pulls_only_what_changed(database_url: str, tmp_path: Path) -> None:
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    clock = FixedClock(start)
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url), clock=clock)
    ctx = RequestContext("000000000000", "us-east-1", "test", "r", start)
    fake = make_app(records=12, page_size=5)
    with serving(fake) as url:
        runtime.domains.create(ctx, "d", default_expiration_days=30, default_encryption_key=None,
                               dead_letter_queue_url=None, settings={}, tags={})
        domain = runtime.domains.record(ctx, "d")
        runtime.object_types.put(domain, "contact", {"Description": "x", "AllowProfileCreation": True,
                                                     "Fields": FIELDS, "Keys": KEYS}, start)
        runtime.connector_profiles.create(ctx, "sf", "Salesforce", None, "Public", {
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": url}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": TOKEN}}}, None)
        runtime.flows.create(ctx, {
            "flowName": "hourly",
            "triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
                "scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental", "scheduleStartTime": start}}},
            "sourceFlowConfig": {"connectorType": "Salesforce", "connectorProfileName": "sf",
                                 "sourceConnectorProperties": {"Salesforce": {"object": "Contact"}},
                                 "incrementalPullConfig": {"datetimeTypeFieldName": "LastModifiedDate"}},
            "destinationFlowConfigList": _destination("d"),
            "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": OP}],
        })
        runtime.runner.start(ctx, "hourly")

        def run_due() -> Any:
            clock.advance(timedelta(hours=1))
            (execution_id,) = runtime.scheduler.tick()
            runtime.runner.wait(execution_id, timeout=60)
            return {e.execution_id: e for e in runtime.runner.records(ctx, "hourly", None, 10)}[execution_id]

        first = run_due()
        assert (first.status, first.records_processed) == ("Successful", 12)
        assert " WHERE " not in fake.queries[-1]

        fake.upsert("Contact", {"Id": "003000000000001", "Email": "changed1@example.com"})
        fake.upsert("Contact", {"Id": "003000000000005", "Email": "changed5@example.com"})
        second = run_due()
        # The two changed, and the three records modified at the first run's high-water mark (pulled again).
        assert (second.status, second.records_processed) == ("Successful", 5)
        assert "WHERE LastModifiedDate >= 2024-01-01T00:00:03Z ORDER BY" in fake.queries[-1]
        with runtime.store.read() as uow:
            assert uow.profiles.count(domain.id) == 12
    runtime.close()
