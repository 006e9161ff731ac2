"""services/appflow/handlers_flows.py: CreateFlow, UpdateFlow, DeleteFlow, DescribeFlow and ListFlows
in wire names, called on the AppFlow provider as ApiApp calls them; in-process on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openprofiles.app import Runtime
from openprofiles.errors import AlreadyExists, Invalid, NotFound
from openprofiles.services.appflow.flows import flow_arn
from tests.conftest import BACKENDS
from tests.services.appflow.runtimes import (
    appflow_provider,
    as_operation,
    caller,
    destination,
    files_config,
    files_dir,
    flow_params,
    runtime_for,
)


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("handlers-flows")) as rt:
        yield rt


@pytest.fixture
def provider(runtime: Runtime) -> Any:
    return appflow_provider(runtime)


def _account(runtime: Runtime, provider: Any) -> Any:
    """A caller with a Files profile `files` (reading `people.jsonl`) and a domain `d` to flow into."""
    ctx = caller("CreateFlow")
    source = files_dir(runtime)
    (source / "people.jsonl").write_text('{"id": "1", "email": "a@x.com"}\n')
    destination(runtime, ctx)
    provider.create_connector_profile(ctx, {
        "connectorProfileName": "files", "connectorType": "CustomConnector", "connectorLabel": "Files",
        "connectionMode": "Public", "connectorProfileConfig": files_config(source)})
    return ctx


def test_create_then_describe_echoes_the_definition(runtime: Runtime, provider: Any) -> None:
    ctx = _account(runtime, provider)
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    trigger = {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
        "scheduleExpression": "rate(1hours)", "scheduleStartTime": start}}}
    params = flow_params("hourly", "files", "people.jsonl", description="People, hourly", tags={"team": "crm"},
                         clientToken="c-1")
    params["triggerConfig"] = trigger
    created = provider.create_flow(ctx, params)
    assert created == {"flowArn": flow_arn(ctx.region, ctx.account_id, "hourly"), "flowStatus": "Draft"}

    body = provider.describe_flow(as_operation(ctx, "DescribeFlow"), {"flowName": "hourly"})
    for member in ("description", "sourceFlowConfig", "destinationFlowConfigList", "tasks"):
        assert body[member] == params[member], member
    assert body["triggerConfig"] == trigger  # the start time comes back a timestamp
    assert "clientToken" not in body and "kmsArn" not in body
    assert (body["flowArn"], body["flowName"], body["flowStatus"]) == (created["flowArn"], "hourly", "Draft")
    assert body["createdBy"] == body["lastUpdatedBy"] == ctx.account_id
    assert body["createdAt"] == body["lastUpdatedAt"] == ctx.now
    assert body["tags"] == {"team": "crm"} and body["lastRunExecutionDetails"] is None
    with pytest.raises(AlreadyExists):
        provider.create_flow(ctx, {**params, "clientToken": None})
    with pytest.raises(NotFound, match="Flow nope does not exist"):
        provider.describe_flow(ctx, {"flowName": "nope"})


def test_an_on_demand_flow_is_active_and_shows_its_last_run(runtime: Runtime, provider: Any) -> None:
    ctx = _account(runtime, provider)
    assert provider.create_flow(ctx, flow_params("now", "files", "people.jsonl"))["flowStatus"] == "Active"
    execution_id = provider.start_flow(ctx, {"flowName": "now"})["executionId"]
    outcome = runtime.runner.wait(execution_id, timeout=60)
    assert outcome is not None and outcome.status == "Successful"
    last = provider.describe_flow(ctx, {"flowName": "now"})["lastRunExecutionDetails"]
    assert last["mostRecentExecutionStatus"] == "Successful"
    assert isinstance(last["mostRecentExecutionTime"], datetime)
    (item,) = provider.list_flows(as_operation(ctx, "ListFlows"), {})["flows"]
    assert item["lastRunExecutionDetails"] == last


def test_update_changes_the_definition_and_a_new_trigger_resets_the_status(runtime: Runtime, provider: Any) -> None:
    ctx = _account(runtime, provider)
    params = flow_params("f", "files", "people.jsonl", trigger="Event")
    provider.create_flow(ctx, params)
    provider.start_flow(ctx, {"flowName": "f"})
    later = caller(now=ctx.now + timedelta(minutes=1), account_id=ctx.account_id)
    assert provider.update_flow(later, {**params, "description": "v2"}) == {"flowStatus": "Active"}
    body = provider.describe_flow(later, {"flowName": "f"})
    assert body["description"] == "v2" and body["lastUpdatedAt"] == later.now
    assert provider.update_flow(later, {**params, "triggerConfig": {"triggerType": "OnDemand"}}) == {
        "flowStatus": "Active"}
    assert provider.update_flow(later, {**params, "triggerConfig": {"triggerType": "Event"}}) == {
        "flowStatus": "Draft"}
    with pytest.raises(Invalid, match="exactly one destination"):
        provider.update_flow(later, {**params, "destinationFlowConfigList": []})
    with pytest.raises(NotFound):
        provider.update_flow(later, {**params, "flowName": "nope"})


def test_list_pages_in_name_order_with_list_items(runtime: Runtime, provider: Any) -> None:
    ctx = _account(runtime, provider)
    for name in ("c", "a", "b"):
        provider.create_flow(ctx, flow_params(name, "files", "people.jsonl", description=f"flow {name}",
                                              tags={"n": name}))
    listing = as_operation(ctx, "ListFlows")
    first = provider.list_flows(listing, {"maxResults": 2})
    assert [f["flowName"] for f in first["flows"]] == ["a", "b"] and first["nextToken"]
    rest = provider.list_flows(listing, {"maxResults": 2, "nextToken": first["nextToken"]})
    assert [f["flowName"] for f in rest["flows"]] == ["c"] and rest["nextToken"] is None
    item = first["flows"][0]
    assert item == {
        "flowArn": flow_arn(ctx.region, ctx.account_id, "a"), "description": "flow a", "flowName": "a",
        "flowStatus": "Active", "sourceConnectorType": "CustomConnector", "sourceConnectorLabel": "Files",
        "destinationConnectorType": "CustomerProfiles", "destinationConnectorLabel": None,
        "triggerType": "OnDemand", "createdAt": ctx.now, "lastUpdatedAt": ctx.now, "createdBy": ctx.account_id,
        "lastUpdatedBy": ctx.account_id, "tags": {"n": "a"}, "lastRunExecutionDetails": None,
    }
    assert provider.list_flows(as_operation(caller(), "ListFlows"), {}) == {"flows": [], "nextToken": None}


def test_delete(runtime: Runtime, provider: Any) -> None:
    ctx = _account(runtime, provider)
    provider.create_flow(ctx, flow_params("gone", "files", "people.jsonl", tags={"a": "b"}))
    assert provider.delete_flow(ctx, {"flowName": "gone"}) == {}
    with pytest.raises(NotFound):
        provider.describe_flow(ctx, {"flowName": "gone"})
    with pytest.raises(NotFound):
        provider.delete_flow(ctx, {"flowName": "gone", "forceDelete": True})
    provider.create_flow(ctx, flow_params("gone", "files", "people.jsonl"))
    assert provider.describe_flow(ctx, {"flowName": "gone"})["tags"] == {}  # the old tags went with it
