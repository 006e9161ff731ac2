"""Flow runs end to end through boto3: a Files connector profile, a flow with tasks into a
Customer Profiles object type, StartFlow, execution records, and the profiles searchable."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

FIELDS = {
    "id": {"Source": "_source.customer_id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
    "name": {"Source": "_source.name", "Target": "_profile.FirstName"},
}
KEYS = {
    "crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
    "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
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


def test_on_demand_run_lands_profiles(appflow: Any, cp: Any, unique: str, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(
        "customer_id,email,name,score\n"
        "1,Ann@Example.com,Ann,10\n"
        "2,bob@example.com,Bob,-1\n"
        "3,cy@example.com,,7\n"
    )
    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=unique, ObjectTypeName="crm", Description="CRM", AllowProfileCreation=True,
                               Fields=FIELDS, Keys=KEYS)
    appflow.create_connector_profile(
        connectorProfileName=unique, connectorType="CustomConnector", connectorLabel="Files", connectionMode="Public",
        connectorProfileConfig={"connectorProfileProperties": {"CustomConnector": {"profileProperties": {
            "path": str(tmp_path)}}}},
    )
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
    record = _wait(appflow, unique, started["executionId"])
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
    second = appflow.start_flow(flowName=unique)
    assert _wait(appflow, unique, second["executionId"])["executionStatus"] == "Successful"
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
