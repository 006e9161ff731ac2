"""Integrations through boto3: PutIntegration with an AppFlow flow ARN as Uri, Get, List, Delete,
ListAccountIntegrations, the rules (flow of this domain, not expired, fixed mapping), and flows that
name no object type running with their integration's mapping (the seed's order)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from openprofiles.storage.database import Database
from openprofiles.storage.tables import flows
from tests.conftest import LiveServer
from tests.live_flows import PEOPLE, create_profile, run_on_demand

FIELDS = {
    "id": {"Source": "_source.customer_id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress"},
}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}


def _domain(cp: Any, name: str) -> None:
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=name, ObjectTypeName="crm", Description="CRM", Fields=FIELDS, Keys=KEYS)


def _flow(appflow: Any, name: str, domain: str) -> str:
    created = appflow.create_flow(
        flowName=name,
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {"bucketName": "bkt"}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": domain, "objectTypeName": "crm"}}}],
        tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}}],
    )
    return str(created["flowArn"])


def _bad_request(cp: Any, call: Any, **kwargs: Any) -> str:
    with pytest.raises(cp.exceptions.BadRequestException) as caught:
        call(**kwargs)
    return str(caught.value.response["Error"]["Message"])


def test_round_trip(cp: Any, appflow: Any, unique: str) -> None:
    _domain(cp, unique)
    uri = _flow(appflow, unique, unique)
    put = cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeName="crm", Tags={"team": "a"})
    assert put["DomainName"] == unique and put["Uri"] == uri and put["ObjectTypeName"] == "crm"
    assert put["Tags"] == {"team": "a"} and put["IsUnstructured"] is False
    assert put["CreatedAt"] == put["LastUpdatedAt"]

    got = cp.get_integration(DomainName=unique, Uri=uri)
    assert got["ObjectTypeName"] == "crm" and got["Tags"] == {"team": "a"}

    again = cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeName="crm", Tags={"env": "prod"})
    assert again["CreatedAt"] == put["CreatedAt"]
    assert again["LastUpdatedAt"] >= put["LastUpdatedAt"]
    assert again["Tags"] == {"team": "a", "env": "prod"}

    items = cp.list_integrations(DomainName=unique, IncludeHidden=True)["Items"]
    assert [(i["Uri"], i["ObjectTypeName"]) for i in items] == [(uri, "crm")]

    assert cp.delete_integration(DomainName=unique, Uri=uri)["Message"]
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_integration(DomainName=unique, Uri=uri)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.delete_integration(DomainName=unique, Uri=uri)
    assert cp.list_integrations(DomainName=unique)["Items"] == []


def test_list_pages(cp: Any, appflow: Any, unique: str) -> None:
    _domain(cp, unique)
    uris = sorted(_flow(appflow, f"{unique}{n}", unique) for n in range(3))
    for uri in uris:
        cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeName="crm")
    first = cp.list_integrations(DomainName=unique, MaxResults=2)
    second = cp.list_integrations(DomainName=unique, MaxResults=2, NextToken=first["NextToken"])
    assert [i["Uri"] for i in first["Items"] + second["Items"]] == uris
    assert "NextToken" not in second


def test_unknown_domain_and_flow(cp: Any, appflow: Any, unique: str, live: LiveServer) -> None:
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.put_integration(DomainName=unique, Uri="arn:aws:appflow:us-east-1:000000000000:flow/x",
                           ObjectTypeName="crm")
    _domain(cp, unique)
    uri = _flow(appflow, unique, unique)
    missing = uri.rsplit("/", 1)[0] + "/nosuchflow"
    message = _bad_request(cp, cp.put_integration, DomainName=unique, Uri=missing, ObjectTypeName="crm")
    assert "nosuchflow" in message and "does not exist" in message
    message = _bad_request(cp, cp.put_integration, DomainName=unique, Uri="s3://bucket/prefix", ObjectTypeName="crm")
    assert "not an AppFlow flow ARN" in message
    message = _bad_request(cp, cp.put_integration, DomainName=unique, Uri=uri, ObjectTypeName="nope")
    assert "nope" in message


def test_flow_of_another_domain_refused(cp: Any, appflow: Any, unique: str) -> None:
    other = f"{unique}o"
    _domain(cp, unique)
    _domain(cp, other)
    uri = _flow(appflow, unique, other)
    message = _bad_request(cp, cp.put_integration, DomainName=unique, Uri=uri, ObjectTypeName="crm")
    assert other in message and unique in message


def test_mapping_cannot_change(cp: Any, appflow: Any, unique: str) -> None:
    _domain(cp, unique)
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="crm2", Description="CRM 2", Fields=FIELDS,
                               Keys=KEYS)
    uri = _flow(appflow, unique, unique)
    cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeName="crm")
    message = _bad_request(cp, cp.put_integration, DomainName=unique, Uri=uri, ObjectTypeName="crm2")
    assert "cannot be changed" in message
    message = _bad_request(cp, cp.put_integration, DomainName=unique, Uri=uri, ObjectTypeNames={"order": "crm"})
    assert "cannot be changed" in message
    assert cp.get_integration(DomainName=unique, Uri=uri)["ObjectTypeName"] == "crm"


def _age_flow(live: LiveServer, name: str, days: int) -> None:
    url = live.server.database_url or f"sqlite:///{live.server.data_dir / 'openprofiles.db'}"
    db = Database(url)
    try:
        with db.write() as conn:
            conn.execute(update(flows).where(flows.c.name == name)
                         .values(created_at=datetime.now(UTC) - timedelta(days=days)))
    finally:
        db.engine.dispose()


def test_expired_flow_refused(cp: Any, appflow: Any, unique: str, live: LiveServer) -> None:
    _domain(cp, unique)
    uri = _flow(appflow, unique, unique)
    _age_flow(live, unique, 15)
    message = _bad_request(cp, cp.put_integration, DomainName=unique, Uri=uri, ObjectTypeName="crm")
    assert "14 days" in message and "expired" in message


def test_account_integrations_across_domains(cp: Any, appflow: Any, unique: str) -> None:
    # Real flows deliver to one domain only; a URI in two domains here comes from a flow
    # retargeted between the two PutIntegration calls.
    second = f"{unique}b"
    _domain(cp, unique)
    _domain(cp, second)
    uri = _flow(appflow, unique, unique)
    cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeName="crm")
    described = appflow.describe_flow(flowName=unique)
    destination = described["destinationFlowConfigList"]
    destination[0]["destinationConnectorProperties"]["CustomerProfiles"]["domainName"] = second
    appflow.update_flow(flowName=unique, triggerConfig=described["triggerConfig"],
                        sourceFlowConfig=described["sourceFlowConfig"], destinationFlowConfigList=destination,
                        tasks=described["tasks"])
    cp.put_integration(DomainName=second, Uri=uri, ObjectTypeName="crm", Tags={"k": "v"})

    found = cp.list_account_integrations(Uri=uri)["Items"]
    assert sorted(i["DomainName"] for i in found) == [unique, second]
    assert {i["DomainName"]: i.get("Tags") for i in found}[second] == {"k": "v"}
    first = cp.list_account_integrations(Uri=uri, MaxResults=1)
    assert len(first["Items"]) == 1 and first["NextToken"]
    rest = cp.list_account_integrations(Uri=uri, MaxResults=1, NextToken=first["NextToken"])
    assert [i["DomainName"] for i in first["Items"] + rest["Items"]] == sorted([unique, second])
    assert cp.list_account_integrations(Uri=uri + "x")["Items"] == []


def test_tags_on_the_integration_arn(cp: Any, appflow: Any, unique: str, live: LiveServer) -> None:
    _domain(cp, unique)
    uri = _flow(appflow, unique, unique)
    cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeName="crm")
    arn = f"arn:aws:profile:us-east-1:{live.creds.account_id}:domains/{unique}/integrations/{unique}"
    cp.tag_resource(resourceArn=arn, tags={"owner": "crm"})
    assert cp.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "crm"}
    cp.delete_integration(DomainName=unique, Uri=uri)
    try:
        cp.list_tags_for_resource(resourceArn=arn)
        raise AssertionError("a deleted integration has no tags to list")
    except cp.exceptions.ResourceNotFoundException:
        pass


# A flow whose destination names no object type (issue 28).


def _files_flow(appflow: Any, name: str, domain: str, entity: str, object_type: str | None = None) -> str:
    """An OnDemand flow from a Files profile's `entity` into `domain`, with objectTypeName only if given."""
    destination: dict[str, Any] = {"domainName": domain}
    if object_type is not None:
        destination["objectTypeName"] = object_type
    return str(appflow.create_flow(
        flowName=name,
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": name,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": entity}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles",
                                    "destinationConnectorProperties": {"CustomerProfiles": destination}}],
        tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"CustomConnector": "NO_OP"}}],
    )["flowArn"])


def test_the_seeds_order_lands_searchable_profiles(cp: Any, appflow: Any, unique: str, files_dir: Path) -> None:
    """Flow with only the domain, then the object type, then PutIntegration, then StartFlow."""
    (files_dir / "people.csv").write_text("id,email,name\n1,ann@example.com,Ann\n2,bob@example.com,Bob\n")
    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    create_profile(appflow, unique, "CustomConnector", {"path": str(files_dir)}, label="Files")
    uri = _files_flow(appflow, unique, unique, "people.csv")
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="people", **PEOPLE)
    cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeName="people")

    record = run_on_demand(appflow, unique)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 2
    (ann,) = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["ann@example.com"])["Items"]
    assert ann["FirstName"] == "Ann"
    objects = cp.list_profile_objects(DomainName=unique, ObjectTypeName="people", ProfileId=ann["ProfileId"])
    assert [json.loads(o["Object"])["id"] for o in objects["Items"]] == ["1"]


def test_no_object_type_and_no_integration_is_refused_at_start(cp: Any, appflow: Any, unique: str,
                                                               files_dir: Path) -> None:
    (files_dir / "people.csv").write_text("id,email,name\n1,ann@example.com,Ann\n")
    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="people", **PEOPLE)
    create_profile(appflow, unique, "CustomConnector", {"path": str(files_dir)}, label="Files")
    _files_flow(appflow, unique, unique, "people.csv")
    with pytest.raises(appflow.exceptions.ConflictException) as refused:
        appflow.start_flow(flowName=unique)
    message = refused.value.response["Error"]["Message"]
    assert f"Flow {unique} cannot run" in message and "PutIntegration" in message and "objectTypeName" in message
    assert appflow.describe_flow_execution_records(flowName=unique)["flowExecutions"] == []

    scheduled = f"{unique}s"
    create_profile(appflow, scheduled, "CustomConnector", {"path": str(files_dir)}, label="Files")
    appflow.create_flow(
        flowName=scheduled,
        triggerConfig={"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
            "scheduleExpression": "rate(1hours)"}}},
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": scheduled,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": "people.csv"}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles",
                                    "destinationConnectorProperties": {"CustomerProfiles": {"domainName": unique}}}],
        tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"CustomConnector": "NO_OP"}}],
    )
    with pytest.raises(appflow.exceptions.ConflictException):
        appflow.start_flow(flowName=scheduled)
    assert appflow.describe_flow(flowName=scheduled)["flowStatus"] == "Draft"


def test_object_type_names_by_event_type(cp: Any, appflow: Any, unique: str, files_dir: Path) -> None:
    (files_dir / "events.csv").write_text(
        "eventType,id,email,name,orderId\n"
        "person,1,ann@example.com,Ann,\n"
        "order,1,ann@example.com,,o-1\n"
        "refund,1,ann@example.com,,o-1\n"
        "person,2,bob@example.com,Bob,\n"
    )
    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="people", **PEOPLE)
    cp.put_profile_object_type(
        DomainName=unique, ObjectTypeName="orders", Description="Orders",
        Fields={"orderId": {"Source": "_source.orderId", "Target": "_order.OrderId"},
                "email": {"Source": "_source.email", "Target": "_profile.EmailAddress",
                          "ContentType": "EMAIL_ADDRESS"}},
        Keys={"orderId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["orderId"]}],
              "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]})
    create_profile(appflow, unique, "CustomConnector", {"path": str(files_dir)}, label="Files")
    uri = _files_flow(appflow, unique, unique, "events.csv")
    cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeNames={"person": "people", "order": "orders"})

    record = run_on_demand(appflow, unique)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 4
    assert record["executionResult"]["errorInfo"]["putFailuresCount"] == 1  # the refund maps to no object type
    (ann,) = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["ann@example.com"])["Items"]
    assert ann["FirstName"] == "Ann"
    orders = cp.list_profile_objects(DomainName=unique, ObjectTypeName="orders", ProfileId=ann["ProfileId"])
    assert [json.loads(o["Object"])["orderId"] for o in orders["Items"]] == ["o-1"]
    assert len(cp.search_profiles(DomainName=unique, KeyName="_email", Values=["bob@example.com"])["Items"]) == 1


def test_the_flows_object_type_wins_over_the_integrations(cp: Any, appflow: Any, unique: str,
                                                          files_dir: Path) -> None:
    (files_dir / "people.csv").write_text("id,email,name\n1,ann@example.com,Ann\n")
    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="people", **PEOPLE)
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="others", **PEOPLE)
    create_profile(appflow, unique, "CustomConnector", {"path": str(files_dir)}, label="Files")
    uri = _files_flow(appflow, unique, unique, "people.csv", object_type="people")
    cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeName="others")

    assert run_on_demand(appflow, unique)["executionStatus"] == "Successful"
    (ann,) = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["ann@example.com"])["Items"]
    for object_type, count in (("people", 1), ("others", 0)):
        found = cp.list_profile_objects(DomainName=unique, ObjectTypeName=object_type, ProfileId=ann["ProfileId"])
        assert len(found["Items"]) == count, object_type
