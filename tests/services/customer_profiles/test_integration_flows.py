"""Customer Profiles creating AppFlow flows: PutIntegration with FlowDefinition and integration
workflows (historical backfill in batches, then ongoing sync), through boto3 against a server whose
S3 is moto's server mode; and `openprofiles integrations list` showing PENDING then ACTIVE."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.harness import MotoServer, cli_in_process

FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress"},
}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}
KMS = "arn:aws:kms:us-east-1:000000000000:key/0a1b2c3d"
# Records modified in December (outside every batch below), January (2), February (3) and March (1).
PEOPLE = (
    "id,email,updated\n"
    "0,dec@x.com,2025-12-20T00:00:00Z\n"
    "1,a@x.com,2026-01-05T00:00:00Z\n2,b@x.com,2026-01-20T00:00:00Z\n"
    "3,c@x.com,2026-02-01T00:00:00Z\n4,d@x.com,2026-02-10T00:00:00Z\n5,e@x.com,2026-02-28T23:59:59Z\n"
    "6,f@x.com,2026-03-15T00:00:00Z\n"
)
BATCHES = [
    {"StartTime": datetime(2026, 1, 1, tzinfo=UTC), "EndTime": datetime(2026, 2, 1, tzinfo=UTC)},
    {"StartTime": datetime(2026, 2, 1, tzinfo=UTC), "EndTime": datetime(2026, 3, 1, tzinfo=UTC)},
    {"StartTime": datetime(2026, 3, 1, tzinfo=UTC), "EndTime": datetime(2026, 4, 1, tzinfo=UTC)},
]


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         moto: MotoServer) -> Iterator[LiveServer]:
    """A server (per backend) whose S3 is the moto server, whose buckets the operator let the account read."""
    with live_server(request, tmp_path_factory.mktemp(f"flows-{request.param}"), moto.env(),
                     (*FAKE_VENDOR_HOSTS, "--aws-resource", "000000000000=arn:aws:s3:::*")) as server:
        yield server


@pytest.fixture(scope="module")
def bucket(moto: MotoServer) -> str:
    name = "op-" + uuid.uuid4().hex[:12]
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="people/people.csv", Body=PEOPLE.encode())
    return name


def _domain(cp: Any, name: str) -> None:
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=name, ObjectTypeName="crm", Description="CRM", AllowProfileCreation=True,
                               Fields=FIELDS, Keys=KEYS)


def _definition(name: str, bucket: str, trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    columns = ["id", "email", "updated"]
    return {
        "FlowName": name,
        "Description": "people from S3",
        "KmsArn": KMS,
        "SourceFlowConfig": {
            "ConnectorType": "S3",
            "IncrementalPullConfig": {"DatetimeTypeFieldName": "updated"},
            "SourceConnectorProperties": {"S3": {"BucketName": bucket, "BucketPrefix": "people"}},
        },
        "Tasks": [
            {"TaskType": "Filter", "SourceFields": columns, "ConnectorOperator": {"S3": "PROJECTION"}},
            *({"TaskType": "Map", "SourceFields": [c], "DestinationField": c, "ConnectorOperator": {"S3": "NO_OP"}}
              for c in ("id", "email")),
        ],
        "TriggerConfig": trigger or {"TriggerType": "OnDemand"},
    }


def _scheduled() -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(days=1)
    return {"TriggerType": "Scheduled", "TriggerProperties": {"Scheduled": {
        "ScheduleExpression": "rate(1hours)", "DataPullMode": "Incremental", "ScheduleStartTime": start}}}


def _runs(appflow: Any, flow: str, count: int = 1) -> list[dict[str, Any]]:
    """The flow's executions, once `count` of them have ended."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = appflow.describe_flow_execution_records(flowName=flow)["flowExecutions"]
        ended = [r for r in runs if r["executionStatus"] not in ("InProgress", "CancelStarted")]
        if len(ended) >= count:
            return list(runs)
        time.sleep(0.2)
    raise AssertionError(f"flow {flow} did not finish {count} runs")


def _ended(cp: Any, domain: str, workflow_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        workflow = cp.get_workflow(DomainName=domain, WorkflowId=workflow_id)
        if workflow["Status"] not in ("NOT_STARTED", "IN_PROGRESS"):
            return dict(workflow)
        time.sleep(0.3)
    raise AssertionError(f"workflow {workflow_id} did not end")


def _bad_request(cp: Any, call: Any, **kwargs: Any) -> str:
    with pytest.raises(cp.exceptions.BadRequestException) as caught:
        call(**kwargs)
    return str(caught.value.response["Error"]["Message"])


def _storage(live: LiveServer) -> list[str]:
    args = ["--data-dir", str(live.server.data_dir)]
    return args + (["--database-url", live.server.database_url] if live.server.database_url else [])


# PutIntegration with FlowDefinition


def test_put_integration_creates_and_runs_the_flow(cp: Any, appflow: Any, unique: str, bucket: str,
                                                   live: LiveServer) -> None:
    _domain(cp, unique)
    put = cp.put_integration(DomainName=unique, ObjectTypeName="crm", FlowDefinition=_definition(unique, bucket),
                             Tags={"team": "crm"})
    uri = f"arn:aws:appflow:us-east-1:{live.creds.account_id}:flow/{unique}"
    assert put["Uri"] == uri and put["ObjectTypeName"] == "crm" and put["Tags"] == {"team": "crm"}

    described = appflow.describe_flow(flowName=unique)
    assert described["flowArn"] == uri and described["kmsArn"] == KMS
    assert described["sourceFlowConfig"] == {
        "connectorType": "S3", "incrementalPullConfig": {"datetimeTypeFieldName": "updated"},
        "sourceConnectorProperties": {"S3": {"bucketName": bucket, "bucketPrefix": "people"}}}
    assert described["destinationFlowConfigList"] == [{"connectorType": "CustomerProfiles",
                                                        "destinationConnectorProperties": {"CustomerProfiles": {
                                                            "domainName": unique, "objectTypeName": "crm"}}}]
    assert described["tasks"][0]["connectorOperator"] == {"S3": "PROJECTION"}

    # OnDemand: Customer Profiles starts it once, as StartFlow does.
    (run,) = _runs(appflow, unique)
    assert run["executionStatus"] == "Successful", run
    assert run["executionResult"]["recordsProcessed"] == 7
    assert len(cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["4"])["Items"]) == 1

    # The same mapping again changes no flow (and runs nothing); another mapping is refused.
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="crm2", Description="CRM 2", Fields=FIELDS,
                               Keys=KEYS)
    again = cp.put_integration(DomainName=unique, ObjectTypeName="crm", FlowDefinition=_definition(unique, bucket))
    assert again["CreatedAt"] == put["CreatedAt"]
    message = _bad_request(cp, cp.put_integration, DomainName=unique, ObjectTypeName="crm2",
                           FlowDefinition=_definition(unique, bucket))
    assert "cannot be changed" in message
    assert len(appflow.describe_flow_execution_records(flowName=unique)["flowExecutions"]) == 1

    # Deleting the integration deletes the flow Customer Profiles created.
    cp.delete_integration(DomainName=unique, Uri=uri)
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.describe_flow(flowName=unique)


def test_scheduled_flow_definition_is_activated(cp: Any, appflow: Any, unique: str, bucket: str) -> None:
    _domain(cp, unique)
    cp.put_integration(DomainName=unique, ObjectTypeName="crm", FlowDefinition=_definition(unique, bucket, _scheduled()))
    described = appflow.describe_flow(flowName=unique)
    assert described["flowStatus"] == "Active"
    assert described["triggerConfig"]["triggerProperties"]["Scheduled"]["scheduleExpression"] == "rate(1hours)"
    assert appflow.describe_flow_execution_records(flowName=unique)["flowExecutions"] == []


def test_put_again_with_another_definition_updates_and_restarts_the_flow(cp: Any, appflow: Any, unique: str,
                                                                        bucket: str) -> None:
    _domain(cp, unique)
    cp.put_integration(DomainName=unique, ObjectTypeName="crm", FlowDefinition=_definition(unique, bucket))
    _runs(appflow, unique)
    changed = _definition(unique, bucket)
    changed["Description"] = "people from S3, again"
    cp.put_integration(DomainName=unique, ObjectTypeName="crm", FlowDefinition=changed)
    assert appflow.describe_flow(flowName=unique)["description"] == "people from S3, again"
    runs = _runs(appflow, unique, 2)
    assert [r["executionStatus"] for r in runs] == ["Successful", "Successful"], runs

    message = _bad_request(cp, cp.put_integration, DomainName=unique, ObjectTypeName="crm", FlowDefinition=changed,
                           Uri="arn:aws:appflow:us-east-1:000000000000:flow/other")
    assert "not the ARN of the flow" in message


def test_invalid_flow_definition_names_the_member(cp: Any, appflow: Any, unique: str, bucket: str) -> None:
    _domain(cp, unique)
    wrong_operator = _definition(unique, bucket)
    wrong_operator["Tasks"][0]["ConnectorOperator"] = {"Salesforce": "PROJECTION"}
    message = _bad_request(cp, cp.put_integration, DomainName=unique, ObjectTypeName="crm",
                           FlowDefinition=wrong_operator)
    assert message.startswith("FlowDefinition.Tasks.1.ConnectorOperator.Salesforce"), message

    no_schedule = _definition(unique, bucket, {"TriggerType": "Scheduled"})
    message = _bad_request(cp, cp.put_integration, DomainName=unique, ObjectTypeName="crm", FlowDefinition=no_schedule)
    assert "FlowDefinition.TriggerConfig.TriggerProperties.Scheduled is required" in message

    bad_rate = _definition(unique, bucket, {"TriggerType": "Scheduled", "TriggerProperties": {
        "Scheduled": {"ScheduleExpression": "every hour"}}})
    message = _bad_request(cp, cp.put_integration, DomainName=unique, ObjectTypeName="crm", FlowDefinition=bad_rate)
    assert message.startswith("FlowDefinition.TriggerConfig.TriggerProperties.Scheduled.ScheduleExpression"), message

    salesforce = _definition(unique, bucket)
    salesforce["SourceFlowConfig"] = {"ConnectorType": "Salesforce", "ConnectorProfileName": "nosuchprofile",
                                      "SourceConnectorProperties": {"Salesforce": {"Object": "Contact"}}}
    salesforce["Tasks"] = [{"TaskType": "Map", "SourceFields": ["Id"], "ConnectorOperator": {"Salesforce": "NO_OP"}}]
    message = _bad_request(cp, cp.put_integration, DomainName=unique, ObjectTypeName="crm", FlowDefinition=salesforce)
    assert "nosuchprofile" in message and "FlowDefinition.SourceFlowConfig.ConnectorProfileName" in message

    message = _bad_request(cp, cp.put_integration, DomainName=unique, ObjectTypeName="nope",
                           FlowDefinition=_definition(unique, bucket))
    assert "nope" in message
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.describe_flow(flowName=unique)  # nothing was created

    appflow.create_flow(flowName=unique, triggerConfig={"triggerType": "OnDemand"},
                        sourceFlowConfig={"connectorType": "S3",
                                          "sourceConnectorProperties": {"S3": {"bucketName": bucket}}},
                        destinationFlowConfigList=[{"connectorType": "CustomerProfiles",
                                                    "destinationConnectorProperties": {"CustomerProfiles": {
                                                        "domainName": unique, "objectTypeName": "crm"}}}],
                        tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}}])
    message = _bad_request(cp, cp.put_integration, DomainName=unique, ObjectTypeName="crm",
                           FlowDefinition=_definition(unique, bucket))
    assert "FlowDefinition.FlowName" in message and "already exists" in message


# Workflows


def test_workflow_backfills_in_batches_then_syncs(cp: Any, appflow: Any, unique: str, bucket: str,
                                                  live: LiveServer) -> None:
    _domain(cp, unique)
    created = cp.create_integration_workflow(
        DomainName=unique, WorkflowType="APPFLOW_INTEGRATION", ObjectTypeName="crm",
        RoleArn="arn:aws:iam::000000000000:role/cp", Tags={"team": "crm"},
        IntegrationConfig={"AppflowIntegration": {"FlowDefinition": _definition(unique, bucket, _scheduled()),
                                                  "Batches": BATCHES}},
    )
    workflow_id = created["WorkflowId"]
    assert len(workflow_id) == 32 and created["Message"]

    workflow = _ended(cp, unique, workflow_id)
    assert workflow["Status"] == "COMPLETE", workflow
    assert workflow["WorkflowType"] == "APPFLOW_INTEGRATION"
    assert workflow["Attributes"]["AppflowIntegration"]["SourceConnectorType"] == "S3"
    assert workflow["Metrics"]["AppflowIntegration"] == {"RecordsProcessed": 6, "StepsCompleted": 3, "TotalSteps": 3}

    steps = cp.get_workflow_steps(DomainName=unique, WorkflowId=workflow_id, MaxResults=2)
    rest = cp.get_workflow_steps(DomainName=unique, WorkflowId=workflow_id, MaxResults=2,
                                 NextToken=steps["NextToken"])
    assert "NextToken" not in rest
    items = [i["AppflowIntegration"] for i in steps["Items"] + rest["Items"]]
    assert [(i["Status"], i["RecordsProcessed"]) for i in items] == [("COMPLETE", 2), ("COMPLETE", 3), ("COMPLETE", 1)]
    assert {i["FlowName"] for i in items} == {unique}
    assert [datetime.fromisoformat(i["BatchRecordsStartTime"]) for i in items] == [b["StartTime"] for b in BATCHES]
    assert [datetime.fromisoformat(i["BatchRecordsEndTime"]) for i in items] == [b["EndTime"] for b in BATCHES]

    # Each step was a run of the flow over its window; December's record was never loaded.
    runs = _runs(appflow, unique, 3)
    assert sorted(r["dataPullStartTime"] for r in runs) == [b["StartTime"] for b in BATCHES]
    assert cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["0"])["Items"] == []
    assert len(cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["6"])["Items"]) == 1

    # Ongoing sync: the scheduled flow is active, and the domain has the integration.
    assert appflow.describe_flow(flowName=unique)["flowStatus"] == "Active"
    integration = cp.get_integration(DomainName=unique, Uri=f"arn:aws:appflow:us-east-1:{live.creds.account_id}:"
                                                            f"flow/{unique}")
    assert integration["WorkflowId"] == workflow_id and integration["ObjectTypeName"] == "crm"
    assert integration["Tags"] == {"team": "crm"}

    # Deleting a complete workflow leaves the integration and its flow.
    cp.delete_workflow(DomainName=unique, WorkflowId=workflow_id)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_workflow(DomainName=unique, WorkflowId=workflow_id)
    assert appflow.describe_flow(flowName=unique)["flowStatus"] == "Active"


def test_failing_step_fails_the_workflow(cp: Any, appflow: Any, unique: str) -> None:
    _domain(cp, unique)
    missing = "op-missing-" + uuid.uuid4().hex[:8]
    workflow_id = cp.create_integration_workflow(
        DomainName=unique, WorkflowType="APPFLOW_INTEGRATION", ObjectTypeName="crm",
        RoleArn="arn:aws:iam::000000000000:role/cp",
        IntegrationConfig={"AppflowIntegration": {"FlowDefinition": _definition(unique, missing),
                                                  "Batches": BATCHES}},
    )["WorkflowId"]
    workflow = _ended(cp, unique, workflow_id)
    assert workflow["Status"] == "FAILED"
    assert "Step 1" in workflow["ErrorDescription"] and "NoSuchBucket" in workflow["ErrorDescription"]
    assert workflow["Metrics"]["AppflowIntegration"]["StepsCompleted"] == 0
    items = [i["AppflowIntegration"] for i in cp.get_workflow_steps(DomainName=unique,
                                                                     WorkflowId=workflow_id)["Items"]]
    assert [i["Status"] for i in items] == ["FAILED", "CANCELLED", "CANCELLED"]
    assert "NoSuchBucket" in items[0]["ExecutionMessage"]
    assert cp.list_integrations(DomainName=unique)["Items"] == []

    # DeleteWorkflow of a failed workflow removes the flow it created.
    cp.delete_workflow(DomainName=unique, WorkflowId=workflow_id)
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.describe_flow(flowName=unique)


def test_workflow_requests_checked(cp: Any, unique: str, bucket: str) -> None:
    _domain(cp, unique)
    backwards = [{"StartTime": datetime(2026, 2, 1, tzinfo=UTC), "EndTime": datetime(2026, 1, 1, tzinfo=UTC)}]
    message = _bad_request(cp, cp.create_integration_workflow, DomainName=unique, WorkflowType="APPFLOW_INTEGRATION",
                           ObjectTypeName="crm", RoleArn="arn:aws:iam::000000000000:role/cp",
                           IntegrationConfig={"AppflowIntegration": {"FlowDefinition": _definition(unique, bucket),
                                                                     "Batches": backwards}})
    assert "IntegrationConfig.AppflowIntegration.Batches.1" in message
    bad = _definition(unique, bucket)
    bad["Tasks"][1]["ConnectorOperator"] = {"S3": "PROJECTION"}
    message = _bad_request(cp, cp.create_integration_workflow, DomainName=unique, WorkflowType="APPFLOW_INTEGRATION",
                           ObjectTypeName="crm", RoleArn="arn:aws:iam::000000000000:role/cp",
                           IntegrationConfig={"AppflowIntegration": {"FlowDefinition": bad}})
    assert message.startswith("IntegrationConfig.AppflowIntegration.FlowDefinition.Tasks.2.ConnectorOperator"), message
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_workflow(DomainName=unique, WorkflowId="0" * 32)


def test_list_workflows_filters_and_pages(cp: Any, unique: str, bucket: str) -> None:
    _domain(cp, unique)
    before = datetime.now(UTC) - timedelta(seconds=5)
    ids = []
    for n, source in enumerate([bucket, "op-missing-" + uuid.uuid4().hex[:8], bucket]):
        ids.append(cp.create_integration_workflow(
            DomainName=unique, WorkflowType="APPFLOW_INTEGRATION", ObjectTypeName="crm",
            RoleArn="arn:aws:iam::000000000000:role/cp",
            IntegrationConfig={"AppflowIntegration": {"FlowDefinition": _definition(f"{unique}{n}", source),
                                                      "Batches": BATCHES[:1]}},
        )["WorkflowId"])
    statuses = {workflow_id: _ended(cp, unique, workflow_id)["Status"] for workflow_id in ids}
    assert list(statuses.values()) == ["COMPLETE", "FAILED", "COMPLETE"]

    first = cp.list_workflows(DomainName=unique, MaxResults=2)
    second = cp.list_workflows(DomainName=unique, MaxResults=2, NextToken=first["NextToken"])
    assert [i["WorkflowId"] for i in first["Items"] + second["Items"]] == ids[::-1]  # newest first
    assert "NextToken" not in second
    failed = cp.list_workflows(DomainName=unique, Status="FAILED")["Items"]
    assert [(i["WorkflowId"], i["WorkflowType"]) for i in failed] == [(ids[1], "APPFLOW_INTEGRATION")]
    assert "NoSuchBucket" in failed[0]["StatusDescription"]
    assert len(cp.list_workflows(DomainName=unique, Status="COMPLETE", WorkflowType="APPFLOW_INTEGRATION")["Items"]) == 2
    assert len(cp.list_workflows(DomainName=unique, QueryStartDate=before)["Items"]) == 3
    assert cp.list_workflows(DomainName=unique, QueryEndDate=before)["Items"] == []
    assert cp.list_workflows(DomainName=unique, QueryStartDate=datetime.now(UTC) + timedelta(hours=1))["Items"] == []

    cp.delete_workflow(DomainName=unique, WorkflowId=ids[0])
    assert [i["WorkflowId"] for i in cp.list_workflows(DomainName=unique)["Items"]] == [ids[2], ids[1]]
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.delete_workflow(DomainName=unique, WorkflowId=ids[0])


# The command line


def test_cli_lists_integrations_pending_then_active(cp: Any, appflow: Any, unique: str, bucket: str,
                                                    live: LiveServer) -> None:
    _domain(cp, unique)
    uri = appflow.create_flow(
        flowName=unique, triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
            "bucketName": bucket, "bucketPrefix": "people"}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": unique, "objectTypeName": "crm"}}}],
        tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}}],
    )["flowArn"]
    cp.put_integration(DomainName=unique, Uri=uri, ObjectTypeName="crm")

    def listed() -> list[dict[str, Any]]:
        result = cli_in_process("integrations", "list", "--domain", unique, "--json", *_storage(live))
        assert result.exit_code == 0, result.output
        return list(json.loads(result.stdout))

    (row,) = listed()
    assert (row["Uri"], row["FlowName"], row["Status"], row["FlowStatus"]) == (uri, unique, "PENDING", "Active")
    appflow.start_flow(flowName=unique)
    assert _runs(appflow, unique)[0]["executionStatus"] == "Successful"
    (row,) = listed()
    assert row["Status"] == "ACTIVE"

    table = cli_in_process("integrations", "list", *_storage(live))
    assert table.exit_code == 0 and unique in table.stdout and "ACTIVE" in table.stdout
    missing = cli_in_process("integrations", "list", "--domain", unique + "x", *_storage(live))
    assert missing.exit_code != 0 and "does not exist" in missing.output


def test_cli_shows_workflows(cp: Any, unique: str, bucket: str, live: LiveServer) -> None:
    _domain(cp, unique)
    workflow_id = cp.create_integration_workflow(
        DomainName=unique, WorkflowType="APPFLOW_INTEGRATION", ObjectTypeName="crm",
        RoleArn="arn:aws:iam::000000000000:role/cp",
        IntegrationConfig={"AppflowIntegration": {"FlowDefinition": _definition(unique, bucket), "Batches": BATCHES}},
    )["WorkflowId"]
    assert _ended(cp, unique, workflow_id)["Status"] == "COMPLETE"
    listed = cli_in_process("workflows", "list", "--domain", unique, "--status", "COMPLETE", "--json", *_storage(live))
    assert listed.exit_code == 0, listed.output
    assert [w["WorkflowId"] for w in json.loads(listed.stdout)] == [workflow_id]
    shown = cli_in_process("workflows", "show", workflow_id, "--domain", unique, "--json", *_storage(live))
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert (document["Status"], document["RecordsProcessed"], document["TotalSteps"]) == ("COMPLETE", 6, 3)
    assert [s["RecordsProcessed"] for s in document["Steps"]] == [2, 3, 1]
    text = cli_in_process("workflows", "show", workflow_id, "--domain", unique, *_storage(live))
    assert text.exit_code == 0 and "3/3 steps, 6 records" in text.stdout
