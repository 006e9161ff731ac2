"""Flow runs end to end through boto3: a Files connector profile, a flow with tasks into a
Customer Profiles object type, StartFlow, execution records, and the profiles searchable; and
FlowRunner in-process (build_runtime, both backends): flows that name no object type, runs whose
batches go to several object types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.flows.engine import NoObjectType
from openprofiles.services.customer_profiles.integrations import IntegrationRequest
from openprofiles.settings import Settings
from tests.live_flows import create_profile, run_on_demand, wait_for_execution

FIELDS = {
    "id": {"Source": "_source.customer_id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
    "name": {"Source": "_source.name", "Target": "_profile.FirstName"},
}
KEYS = {
    "crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
    "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
}


def test_on_demand_run_lands_profiles(appflow: Any, cp: Any, unique: str, files_dir: Path) -> None:
    (files_dir / "customers.csv").write_text(
        "customer_id,email,name,score\n"
        "1,Ann@Example.com,Ann,10\n"
        "2,bob@example.com,Bob,-1\n"
        "3,cy@example.com,,7\n"
    )
    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="crm", Description="CRM", AllowProfileCreation=True,
                               Fields=FIELDS, Keys=KEYS)
    create_profile(appflow, unique, "CustomConnector", {"path": str(files_dir)}, label="Files")
    columns = ["customer_id", "email", "name", "score"]
    op = {"CustomConnector": "NO_OP"}
    appflow.create_flow(
        flowName=unique,
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": unique,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": "customers.csv"}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": unique, "objectTypeName": "crm"}}}],
        tasks=[
            {"taskType": "Filter", "sourceFields": columns, "connectorOperator": {"CustomConnector": "PROJECTION"}},
            {"taskType": "Validate", "sourceFields": ["score"], "connectorOperator": {
                "CustomConnector": "VALIDATE_NON_NEGATIVE"}, "taskProperties": {"VALIDATION_ACTION": "DropRecord"}},
            *({"taskType": "Map", "sourceFields": [c], "destinationField": c, "connectorOperator": op} for c in columns),
        ],
    )
    started = appflow.start_flow(flowName=unique)
    assert started["executionId"]
    record = wait_for_execution(appflow, unique, started["executionId"])
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 3
    assert record["executionResult"]["errorInfo"]["putFailuresCount"] == 1  # Bob's negative score was dropped

    found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["ann@example.com"])["Items"]
    assert [p["FirstName"] for p in found] == ["Ann"]
    assert cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["2"])["Items"] == []
    assert len(cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["3"])["Items"]) == 1
    described = appflow.describe_flow(flowName=unique)
    assert described["lastRunExecutionDetails"]["mostRecentExecutionStatus"] == "Successful"

    # A second run replaces the same objects (UNIQUE keys): nothing is duplicated.
    assert run_on_demand(appflow, unique)["executionStatus"] == "Successful"
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 2
    assert cp.get_domain(DomainName=unique)["Stats"]["ObjectCount"] == 2


def test_stop_and_cancel(appflow: Any, cp: Any, unique: str) -> None:
    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="crm", Description="CRM", Fields=FIELDS, Keys=KEYS)
    flow = {
        "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {"bucketName": "bkt"}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": unique, "objectTypeName": "crm"}}}],
        "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}}],
    }
    appflow.create_flow(flowName=unique, triggerConfig={"triggerType": "OnDemand"}, **flow)
    try:
        appflow.stop_flow(flowName=unique)
        raise AssertionError("StopFlow of an on-demand flow must fail")
    except appflow.exceptions.UnsupportedOperationException:
        pass
    assert appflow.cancel_flow_executions(flowName=unique, executionIds=["nope"])["invalidExecutions"] == ["nope"]
    scheduled = f"{unique}s"
    appflow.create_flow(flowName=scheduled, triggerConfig={"triggerType": "Scheduled", "triggerProperties": {
        "Scheduled": {"scheduleExpression": "rate(1hours)"}}}, **flow)
    assert appflow.start_flow(flowName=scheduled)["flowStatus"] == "Active"
    assert appflow.stop_flow(flowName=scheduled)["flowStatus"] == "Suspended"


def test_every_task_type_through_an_integration(appflow: Any, cp: Any, live: Any, unique: str,
                                                files_dir: Path) -> None:
    """Filter (projection and a record filter), Map with data types, Map_all excluding fields,
    Arithmetic, Merge, Mask, Truncate, Validate (DropRecord) and Passthrough in one flow, delivered
    through a PutIntegration on the flow's ARN."""
    from tests.harness import cli

    (files_dir / "people.csv").write_text(
        "id,first,last,email,qty,price,ssn,notes,status,score,signup,internal\n"
        "1,Ann,Lee,Ann@Example.com,3,2.5,123456789,hello world,active,5,2024-03-05T10:11:12Z,x\n"
        "2,Bob,Ray,bob@example.com,1,1,111111111,skip me,inactive,5,2024-01-01T00:00:00Z,x\n"
        "3,Cy,Doe,cy@example.com,2,4,222222222,negative,active,-1,2024-01-01T00:00:00Z,x\n"
        "4,Di,Fox,di@example.com,4,0.25,987654321,short,active,0,2023-12-31T23:59:59Z,x\n"
    )
    fields = {
        "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
        "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
        "contact": {"Source": "_source.contact", "Target": "_profile.PersonalEmailAddress"},
        "fullName": {"Source": "_source.fullName", "Target": "_profile.Attributes.fullName"},
        "total": {"Source": "_source.total", "Target": "_profile.Attributes.total"},
        "ssn": {"Source": "_source.ssnMasked", "Target": "_profile.Attributes.ssn"},
        "signed": {"Source": "_source.signedUp", "Target": "_profile.Attributes.signedUp"},
    }
    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="people", Description="people", Fields=fields,
                               AllowProfileCreation=True, Keys={
                                   "crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]})
    create_profile(appflow, unique, "CustomConnector", {"path": str(files_dir)}, label="Files")
    op = {"CustomConnector": "NO_OP"}
    columns = ["id", "first", "last", "email", "qty", "price", "ssn", "notes", "status", "score", "signup", "internal"]
    arn = appflow.create_flow(
        flowName=unique,
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": unique,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": "people.csv"}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": unique, "objectTypeName": "people"}}}],
        tasks=[
            {"taskType": "Filter", "sourceFields": columns, "connectorOperator": {"CustomConnector": "PROJECTION"}},
            {"taskType": "Filter", "sourceFields": ["status"], "connectorOperator": {"CustomConnector": "EQUAL_TO"},
             "taskProperties": {"DATA_TYPE": "string", "VALUE": "active"}},
            {"taskType": "Validate", "sourceFields": ["score"], "connectorOperator": {
                "CustomConnector": "VALIDATE_NON_NEGATIVE"}, "taskProperties": {"VALIDATION_ACTION": "DropRecord"}},
            {"taskType": "Map_all", "sourceFields": [], "connectorOperator": op,
             "taskProperties": {"EXCLUDE_SOURCE_FIELDS_LIST": '["ssn","internal","status"]'}},
            {"taskType": "Map", "sourceFields": ["qty"], "destinationField": "qty", "connectorOperator": op,
             "taskProperties": {"SOURCE_DATA_TYPE": "string", "DESTINATION_DATA_TYPE": "integer"}},
            {"taskType": "Map", "sourceFields": ["signup"], "destinationField": "signedUp", "connectorOperator": op,
             "taskProperties": {"SOURCE_DATA_TYPE": "datetime", "DESTINATION_DATA_TYPE": "date"}},
            {"taskType": "Arithmetic", "sourceFields": ["qty", "price"], "destinationField": "total",
             "connectorOperator": {"CustomConnector": "MULTIPLICATION"}},
            {"taskType": "Merge", "sourceFields": ["first", "last"], "destinationField": "fullName",
             "connectorOperator": op, "taskProperties": {"CONCAT_FORMAT": "${last}, ${first}"}},
            {"taskType": "Mask", "sourceFields": ["ssn"], "destinationField": "ssnMasked",
             "connectorOperator": {"CustomConnector": "MASK_FIRST_N"},
             "taskProperties": {"MASK_LENGTH": "5", "MASK_VALUE": "#"}},
            {"taskType": "Truncate", "sourceFields": ["notes"], "connectorOperator": op,
             "taskProperties": {"TRUNCATE_LENGTH": "5"}},
            {"taskType": "Passthrough", "sourceFields": ["email"], "destinationField": "contact",
             "connectorOperator": op},
        ],
    )["flowArn"]
    integration = cp.put_integration(DomainName=unique, Uri=arn, ObjectTypeName="people")
    assert integration["Uri"] == arn and integration["ObjectTypeName"] == "people"

    record = run_on_demand(appflow, unique)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 4
    # Cy's negative score failed the validation; Bob was filtered out, which is no failure.
    assert record["executionResult"]["errorInfo"]["putFailuresCount"] == 1
    stats = cp.get_domain(DomainName=unique)["Stats"]
    assert (stats["ProfileCount"], stats["ObjectCount"]) == (2, 2)

    (ann,) = cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["1"])["Items"]
    assert ann["EmailAddress"] == "ann@example.com" and ann["PersonalEmailAddress"] == "Ann@Example.com"
    assert ann["Attributes"] == {"fullName": "Lee, Ann", "total": "7.5", "ssn": "#####6789",
                                 "signedUp": "2024-03-05"}
    (obj,) = cp.list_profile_objects(DomainName=unique, ObjectTypeName="people",
                                     ProfileId=ann["ProfileId"])["Items"]
    assert json.loads(obj["Object"]) == {
        "id": "1", "first": "Ann", "last": "Lee", "email": "Ann@Example.com", "qty": 3, "price": "2.5",
        "notes": "hello", "score": "5", "signup": "2024-03-05T10:11:12Z", "signedUp": "2024-03-05",
        "total": 7.5, "fullName": "Lee, Ann", "ssnMasked": "#####6789", "contact": "Ann@Example.com",
    }
    (di,) = cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["4"])["Items"]
    assert di["Attributes"]["total"] == "1" and di["Attributes"]["signedUp"] == "2023-12-31"
    for missing in ("2", "3"):
        assert cp.search_profiles(DomainName=unique, KeyName="crmId", Values=[missing])["Items"] == []

    letters = json.loads(cli("dead-letters", "list", "--domain", unique, "--json",
                             *live.server.storage_args()).stdout)
    assert [(letter["Source"].startswith("flow-execution:"), letter["Reason"]) for letter in letters] == [
        (True, "tasks.3 (Validate): score failed VALIDATE_NON_NEGATIVE")]


# In-process.

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """Services on a fresh database, pages of 2 records, a domain `d` with object types `people` and
    `orders`, and a Files profile `files` over tmp_path/source."""
    source = tmp_path / "source"
    source.mkdir()
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url, files_roots=(source,),
                                     flow_batch_size=2))
    ctx = _ctx()
    runtime.domains.create(ctx, "d", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    domain = runtime.domains.record(ctx, "d")
    for name in ("people", "orders"):
        runtime.object_types.put(domain, name, {"Description": name, "AllowProfileCreation": True, "Fields": {
            "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
            "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
        }, "Keys": {f"{name}Id": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}],
                    "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]}}, NOW)
    runtime.connector_profiles.create(ctx, "files", "CustomConnector", "Files", "Public", {
        "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"path": str(source)}}}}, None)
    yield runtime
    runtime.close()


def _ctx() -> RequestContext:
    return RequestContext("000000000000", "us-east-1", "test", "r", datetime.now(UTC))


def _create(runtime: Runtime, name: str, trigger: str = "OnDemand", object_type: str | None = None) -> str:
    destination = {"domainName": "d", **({"objectTypeName": object_type} if object_type else {})}
    return runtime.flows.create(_ctx(), {
        "flowName": name,
        "triggerConfig": {"triggerType": trigger},
        "sourceFlowConfig": {"connectorType": "CustomConnector", "connectorProfileName": "files",
                             "sourceConnectorProperties": {"CustomConnector": {"entityName": "events.csv"}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles",
                                       "destinationConnectorProperties": {"CustomerProfiles": destination}}],
        "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"CustomConnector": "NO_OP"}}],
    }).arn


def test_start_and_event_pushes_refuse_a_flow_with_no_object_type(runtime: Runtime) -> None:
    ctx = _ctx()
    _create(runtime, "now")
    with pytest.raises(NoObjectType, match="Flow now cannot run"):
        runtime.runner.start(ctx, "now")
    assert runtime.runner.records(ctx, "now", None, 10) == []

    arn = _create(runtime, "pushed", trigger="Event")
    runtime.integrations.put(ctx, "d", IntegrationRequest(uri=arn, object_type_name="people"))
    runtime.runner.start(ctx, "pushed")  # Active, with the integration's mapping
    runtime.integrations.delete(ctx, "d", arn)
    events = runtime.events
    with pytest.raises(NoObjectType, match="has no integration for it"):
        events.push(ctx, "pushed", b'{"id": "1", "email": "a@x.com"}')
    assert runtime.runner.records(ctx, "pushed", None, 10) == []


def test_a_run_that_lost_its_integration_ends_in_error_before_reading(runtime: Runtime, tmp_path: Path) -> None:
    ctx = _ctx()
    arn = _create(runtime, "f")
    runtime.integrations.put(ctx, "d", IntegrationRequest(uri=arn, object_type_name="people"))
    runtime.runner.slots.close()  # record the run without executing it here
    _, execution_id = runtime.runner.start(ctx, "f")
    assert execution_id is not None
    runtime.integrations.delete(ctx, "d", arn)
    other = build_runtime(runtime.settings)  # another process, taking the run over
    try:
        assert other.runner.slots.take_over() == 1  # now only: no takeover left running on its timer
        outcome = other.runner.wait(execution_id, timeout=60)
    finally:
        other.close()
    assert outcome is not None and outcome.status == "Error" and "cannot run" in (outcome.message or "")


def test_event_types_go_to_their_object_types_in_batches(runtime: Runtime, tmp_path: Path) -> None:
    ctx = _ctx()
    (tmp_path / "source" / "events.csv").write_text(
        "eventType,id,email\n"
        "person,p1,ann@x.com\norder,o1,ann@x.com\norder,o2,ann@x.com\nrefund,r1,ann@x.com\n"
        "person,p2,bob@x.com\n")
    arn = _create(runtime, "f")
    runtime.integrations.put(ctx, "d", IntegrationRequest(uri=arn, object_type_names={
        "person": "people", "order": "orders"}))
    _, execution_id = runtime.runner.start(ctx, "f")
    assert execution_id is not None
    outcome = runtime.runner.wait(execution_id, timeout=60)
    assert outcome is not None and outcome.status == "Successful", outcome
    (record,) = runtime.runner.records(ctx, "f", None, 10)
    assert (record.records_processed, record.put_failures) == (5, 1)  # the refund maps to no object type
    domain = runtime.domains.record(ctx, "d")
    with runtime.store.read() as uow:
        assert uow.profiles.count(domain.id) == 2
        letters = uow.dead_letters.page(domain.id, None, 10)
    assert [(letter.object_type_name, "refund is not in" in letter.reason) for letter in letters] == [("orders", True)]
