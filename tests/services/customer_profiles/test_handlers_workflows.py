"""customer_profiles/handlers_workflows.py: CreateIntegrationWorkflow, GetWorkflow, GetWorkflowSteps,
ListWorkflows and DeleteWorkflow in wire names, called on the provider with a RequestContext (no
server), over a Files source, on both backends; and the WorkflowStepItem of a step."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openprofiles import errors
from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.handlers_workflows import step_body
from openprofiles.services.customer_profiles.provider import CustomerProfilesProvider
from openprofiles.settings import Settings
from openprofiles.storage.workflows import StepRecord
from tests.conftest import BACKENDS, database_url_for

ACCOUNT = "000000000000"
FIELDS = {"id": {"Source": "_source.id", "Target": "_profile.AccountNumber"}}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("workflow-files").resolve()
    (folder / "people.csv").write_text("id,name\n1,Ana\n2,Bo\n3,Cy\n")
    return folder


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            files: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("handlers-workflows"),
                        database_url=database_url_for(str(request.param), request), files_roots=(files,))
    rt = build_runtime(settings)
    rt.connector_profiles.create(_ctx("CreateConnectorProfile"), "files", "CustomConnector", "Files", "Public", {
        "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"path": str(files)}}}}, None)
    yield rt
    rt.close()


def _ctx(operation: str) -> RequestContext:
    return RequestContext(ACCOUNT, "us-east-1", operation, "r", datetime.now(UTC))


@pytest.fixture
def domain(provider: CustomerProfilesProvider) -> str:
    name = "d" + uuid.uuid4().hex[:10]
    provider.create_domain(_ctx("CreateDomain"), {"DomainName": name, "DefaultExpirationDays": 30})
    provider.put_profile_object_type(_ctx("PutProfileObjectType"), {
        "DomainName": name, "ObjectTypeName": "crm", "Description": "d", "AllowProfileCreation": True,
        "Fields": FIELDS, "Keys": KEYS})
    return name


def _request(domain: str, **integration: Any) -> dict[str, Any]:
    definition = {
        "FlowName": "w" + uuid.uuid4().hex[:10],
        "SourceFlowConfig": {"ConnectorType": "CustomConnector", "ConnectorProfileName": "files",
                             "SourceConnectorProperties": {"CustomConnector": {"EntityName": "people.csv"}}},
        "Tasks": [{"TaskType": "Map_all", "SourceFields": [], "ConnectorOperator": {"CustomConnector": "NO_OP"}}],
        "TriggerConfig": {"TriggerType": "OnDemand"},
    }
    return {"DomainName": domain, "WorkflowType": "APPFLOW_INTEGRATION", "ObjectTypeName": "crm",
            "RoleArn": "arn:aws:iam::000000000000:role/r", "Tags": {"team": "a"},
            "IntegrationConfig": {"AppflowIntegration": {"FlowDefinition": definition, **integration}}}


def _run_to_the_end(runtime: Runtime, domain: str, workflow_id: str) -> None:
    """Wait for each step's flow run, then let the workflow move on (what the workflow tick does)."""
    for _ in range(10):
        workflow = runtime.workflows.get(_ctx("GetWorkflow"), domain, workflow_id)
        if workflow.record.status not in ("NOT_STARTED", "IN_PROGRESS"):
            return
        for step in workflow.steps:
            if step.execution_id:
                assert runtime.runner.wait(step.execution_id, timeout=30) is not None
        runtime.workflows.advance(workflow_id)
    raise AssertionError(f"workflow {workflow_id} did not end")


def test_a_workflow_runs_and_is_shown(runtime: Runtime, provider: CustomerProfilesProvider, domain: str) -> None:
    created = provider.create_integration_workflow(_ctx("CreateIntegrationWorkflow"), _request(domain))
    workflow_id = created["WorkflowId"]
    assert "backfills" in created["Message"]
    _run_to_the_end(runtime, domain, workflow_id)
    got = provider.get_workflow(_ctx("GetWorkflow"), {"DomainName": domain, "WorkflowId": workflow_id})
    assert got["WorkflowId"] == workflow_id and got["WorkflowType"] == "APPFLOW_INTEGRATION"
    assert got["Status"] == "COMPLETE" and got["ErrorDescription"] is None
    assert got["Attributes"] == {"AppflowIntegration": {"SourceConnectorType": "CustomConnector",
                                                        "ConnectorProfileName": "files",
                                                        "RoleArn": "arn:aws:iam::000000000000:role/r"}}
    assert got["Metrics"] == {"AppflowIntegration": {"RecordsProcessed": 3, "StepsCompleted": 1, "TotalSteps": 1}}
    steps = provider.get_workflow_steps(_ctx("GetWorkflowSteps"), {"DomainName": domain, "WorkflowId": workflow_id})
    assert steps["WorkflowId"] == workflow_id and steps["NextToken"] is None
    (step,) = steps["Items"]
    assert step["AppflowIntegration"]["Status"] == "COMPLETE"
    assert step["AppflowIntegration"]["RecordsProcessed"] == 3
    assert step["AppflowIntegration"]["ExecutionMessage"] == "Processed 3 records"
    listed = provider.list_workflows(_ctx("ListWorkflows"), {"DomainName": domain})
    assert [(w["WorkflowId"], w["Status"]) for w in listed["Items"]] == [(workflow_id, "COMPLETE")]
    assert "Backfill complete" in listed["Items"][0]["StatusDescription"]
    integrations = provider.list_integrations(_ctx("ListIntegrations"), {"DomainName": domain})["Items"]
    assert [(i["WorkflowId"], i["Tags"]) for i in integrations] == [(workflow_id, {"team": "a"})]


def test_steps_page_by_batch(runtime: Runtime, provider: CustomerProfilesProvider, domain: str) -> None:
    batches = [{"StartTime": T0 + timedelta(days=n), "EndTime": T0 + timedelta(days=n + 1)} for n in range(3)]
    workflow_id = provider.create_integration_workflow(_ctx("CreateIntegrationWorkflow"),
                                                       _request(domain, Batches=batches))["WorkflowId"]
    ctx = _ctx("GetWorkflowSteps")
    params = {"DomainName": domain, "WorkflowId": workflow_id, "MaxResults": 2}
    first = provider.get_workflow_steps(ctx, params)
    rest = provider.get_workflow_steps(ctx, {**params, "NextToken": first["NextToken"]})
    items = [i["AppflowIntegration"] for i in first["Items"] + rest["Items"]]
    assert [i["BatchRecordsStartTime"] for i in items] == [b["StartTime"].isoformat() for b in batches]
    assert [i["BatchRecordsEndTime"] for i in items] == [b["EndTime"].isoformat() for b in batches]
    assert all(i["FlowName"] == items[0]["FlowName"] for i in items)
    _run_to_the_end(runtime, domain, workflow_id)


def test_list_filters_by_status(runtime: Runtime, provider: CustomerProfilesProvider, domain: str) -> None:
    workflow_id = provider.create_integration_workflow(_ctx("CreateIntegrationWorkflow"),
                                                       _request(domain))["WorkflowId"]
    _run_to_the_end(runtime, domain, workflow_id)
    ctx = _ctx("ListWorkflows")
    assert provider.list_workflows(ctx, {"DomainName": domain, "Status": "FAILED"})["Items"] == []
    complete = provider.list_workflows(ctx, {"DomainName": domain, "Status": "COMPLETE",
                                             "WorkflowType": "APPFLOW_INTEGRATION"})
    assert [w["WorkflowId"] for w in complete["Items"]] == [workflow_id]


def test_delete(runtime: Runtime, provider: CustomerProfilesProvider, domain: str) -> None:
    workflow_id = provider.create_integration_workflow(_ctx("CreateIntegrationWorkflow"),
                                                       _request(domain))["WorkflowId"]
    _run_to_the_end(runtime, domain, workflow_id)
    params = {"DomainName": domain, "WorkflowId": workflow_id}
    assert provider.delete_workflow(_ctx("DeleteWorkflow"), params) == {}
    for call in (provider.get_workflow, provider.get_workflow_steps, provider.delete_workflow):
        with pytest.raises(errors.NotFound, match=f"Workflow {workflow_id} does not exist"):
            call(_ctx("GetWorkflow"), params)


def test_create_refusals(provider: CustomerProfilesProvider, domain: str) -> None:
    request = _request(domain)
    with pytest.raises(errors.Invalid, match=r"IntegrationConfig\.AppflowIntegration is required"):
        provider.create_integration_workflow(_ctx("CreateIntegrationWorkflow"), {**request, "IntegrationConfig": {}})
    with pytest.raises(errors.Invalid, match="object type nope does not exist"):
        provider.create_integration_workflow(_ctx("CreateIntegrationWorkflow"), {**request, "ObjectTypeName": "nope"})
    backwards = [{"StartTime": T0 + timedelta(days=1), "EndTime": T0}]
    with pytest.raises(errors.Invalid, match=r"Batches\.1: StartTime"):
        provider.create_integration_workflow(_ctx("CreateIntegrationWorkflow"), _request(domain, Batches=backwards))


def test_a_step_item_says_what_a_step_without_a_message_is_doing() -> None:
    def step(status: str, message: str | None) -> StepRecord:
        return StepRecord(1, 1, 1, None, T0, status, None, 4, message, T0, T0, None, None)

    waiting = step_body("flow", step("NOT_STARTED", None))["AppflowIntegration"]
    assert waiting == {"FlowName": "flow", "Status": "NOT_STARTED", "ExecutionMessage": "Waiting for the steps before it",
                       "RecordsProcessed": 4, "BatchRecordsStartTime": None, "BatchRecordsEndTime": T0.isoformat(),
                       "CreatedAt": T0, "LastUpdatedAt": T0}
    assert step_body("f", step("IN_PROGRESS", None))["AppflowIntegration"]["ExecutionMessage"] == "Running"
    assert step_body("f", step("CANCELLED", None))["AppflowIntegration"]["ExecutionMessage"] == "CANCELLED"
    long = step_body("f", step("FAILED", "x" * 300))["AppflowIntegration"]["ExecutionMessage"]
    assert len(long) == 255 and long.endswith("…")
