"""Salesforce flows end to end against the fake org, through boto3: a connector profile (a bad token
refused), entities and fields, an on-demand flow landing profiles, a run failing on a revoked token,
and a scheduled incremental flow whose second run pulls only what changed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.salesforce import TOKEN, make_app
from tests.fakes.server import serving
from tests.live_flows import (
    ScheduledFlow,
    create_domain,
    create_profile,
    entity_names,
    field_types,
    into_profiles,
    processed,
    run_on_demand,
)

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


def _profile(appflow: Any, name: str, url: str, token: str) -> str:
    return create_profile(appflow, name, "Salesforce", {"instanceUrl": url, "isSandboxEnvironment": False},
                          {"accessToken": token, "oAuth2GrantType": "AUTHORIZATION_CODE"})


def _domain(cp: Any, name: str) -> None:
    create_domain(cp, name, "contact", Description="Salesforce contacts", AllowProfileCreation=True, Fields=FIELDS,
                  Keys=KEYS)


def test_a_salesforce_flow_lands_profiles(appflow: Any, cp: Any, unique: str) -> None:
    fake = make_app(records=20, page_size=7)
    with serving(fake) as url:
        with pytest.raises(appflow.exceptions.ConnectorAuthenticationException) as refused:
            _profile(appflow, unique, url, "expired")
        assert "INVALID_SESSION_ID" in refused.value.response["Error"]["Message"]
        _profile(appflow, unique, url, TOKEN)
        described = appflow.describe_connector_profiles(connectorProfileNames=[unique])["connectorProfileDetails"][0]
        assert described["connectorProfileProperties"]["Salesforce"]["instanceUrl"] == url
        assert "connectorProfileCredentials" not in described

        assert entity_names(appflow, unique) == ["Contact", "Account"]
        types = field_types(appflow, unique, "Contact")
        assert (types["Email"], types["Birthdate"], types["LastModifiedDate"], types["LeadScore__c"]) == (
            "string", "date", "datetime", "double")

        _domain(cp, unique)
        appflow.create_flow(
            flowName=unique, triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": unique,
                              "sourceConnectorProperties": {"Salesforce": {"object": "Contact",
                                                                           "dataTransferApi": "REST_SYNC"}}},
            destinationFlowConfigList=into_profiles(unique, "contact"), tasks=TASKS,
        )
        assert processed(run_on_demand(appflow, unique)) == 10  # the ten who did not opt out, pushed down
        assert "HasOptedOutOfEmail = false" in fake.queries[-1]
        found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["person3@example.com"])["Items"]
        assert [(p["FirstName"], p["AccountNumber"]) for p in found] == [("First3", "003000000000003")]
        assert cp.search_profiles(DomainName=unique, KeyName="_email", Values=["person2@example.com"])["Items"] == []

        fake.upsert("Contact", {"Id": "003000000000003", "Email": "new3@example.com"})
        second = run_on_demand(appflow, unique)
        assert second["executionStatus"] == "Successful"
        found = cp.search_profiles(DomainName=unique, KeyName="sfId", Values=["003000000000003"])["Items"]
        assert [p["EmailAddress"] for p in found] == ["new3@example.com"]

        fake.expire_tokens()  # no refresh token: the run cannot go on
        failed = run_on_demand(appflow, unique)
        assert failed["executionStatus"] == "Error"
        assert "INVALID_SESSION_ID: Session expired or invalid" in failed["executionResult"]["errorInfo"][
            "executionMessage"]


def test_a_scheduled_incremental_flow_pulls_only_what_changed(appflow: Any, cp: Any, unique: str) -> None:
    fake = make_app(records=12, page_size=5)  # modified 2024-01-01T00:00:00Z + i // 3 seconds
    with serving(fake) as url:
        _profile(appflow, unique, url, TOKEN)
        _domain(cp, unique)
        flow = ScheduledFlow(appflow, unique, into=(unique, "contact"), source={
            "connectorType": "Salesforce", "connectorProfileName": unique,
            "sourceConnectorProperties": {"Salesforce": {"object": "Contact"}},
            "incrementalPullConfig": {"datetimeTypeFieldName": "LastModifiedDate"}})
        assert processed(flow.run()) == 12
        assert " WHERE " not in fake.queries[-1]

        fake.upsert("Contact", {"Id": "003000000000001", "Email": "changed1@example.com"})
        fake.upsert("Contact", {"Id": "003000000000005", "Email": "changed5@example.com"})
        second = flow.run()
        assert "WHERE LastModifiedDate >= 2024-01-01T00:00:03Z ORDER BY" in fake.queries[-1]
    # The two changed, and contacts 9-11, modified at the first run's high-water mark (00:00:03): the
    # runner pulls from the mark inclusively, so records stamped at it are read again by design.
    assert processed(second) == 2 + 3
    found = cp.search_profiles(DomainName=unique, KeyName="sfId", Values=["003000000000005"])["Items"]
    assert [p["EmailAddress"] for p in found] == ["changed5@example.com"]
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 12
