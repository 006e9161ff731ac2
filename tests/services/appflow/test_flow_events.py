"""services/appflow/flow_events.py: Event-triggered flows. Contract tests: records pushed (SigV4-signed)
to `/_openprofiles/flows/{flowName}/events` become executions whose records go through the flow's tasks
into Customer Profiles. In-process: `FlowEvents.push` refuses what it must, records the execution and its
batch, and hands it to the runner. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openprofiles.app import Runtime
from openprofiles.errors import Conflict, Invalid, NotFound
from openprofiles.services.appflow.flow_events import FlowEvents
from openprofiles.services.appflow.flows import flow_arn
from tests.conftest import BACKENDS, LiveServer
from tests.harness import Credentials, cli, send, sign_request
from tests.live_flows import create_profile, wait_for_execution
from tests.services.appflow.runtimes import appflow_provider, caller, files_flow, profile_count, runtime_for

FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
    "name": {"Source": "_source.name", "Target": "_profile.FirstName"},
}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}


def _url(live: LiveServer, flow: str) -> str:
    return f"{live.endpoint}/_openprofiles/flows/{flow}/events"


def _push(live: LiveServer, flow: str, body: bytes, creds: Credentials | None = None,
          service: str = "appflow") -> httpx.Response:
    return send(sign_request(creds or live.creds, "POST", _url(live, flow), service=service, body=body,
                             headers={"Content-Type": "application/json"}))


def _flow(appflow: Any, cp: Any, name: str, source_dir: Path, trigger: str = "Event") -> None:
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=name, ObjectTypeName="crm", Description="CRM", AllowProfileCreation=True,
                               Fields=FIELDS, Keys=KEYS)
    create_profile(appflow, name, "CustomConnector", {"path": str(source_dir)}, label="Files")
    op = {"CustomConnector": "NO_OP"}
    appflow.create_flow(
        flowName=name,
        triggerConfig={"triggerType": trigger},
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": name,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": "contacts"}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": name, "objectTypeName": "crm"}}}],
        tasks=[
            {"taskType": "Validate", "sourceFields": ["email"], "connectorOperator": {
                "CustomConnector": "VALIDATE_NON_NULL"}, "taskProperties": {"VALIDATION_ACTION": "DropRecord"}},
            *({"taskType": "Map", "sourceFields": [f], "destinationField": f, "connectorOperator": op}
              for f in FIELDS),
        ],
    )


def test_pushed_events_land_profiles(appflow: Any, cp: Any, live: LiveServer, unique: str, files_dir: Path) -> None:
    _flow(appflow, cp, unique, files_dir)
    assert appflow.describe_flow(flowName=unique)["flowStatus"] == "Draft"
    refused = _push(live, unique, b'{"id": "1", "email": "a@x.com"}')
    assert refused.status_code == 409 and refused.headers["x-amzn-ErrorType"] == "ConflictException"
    assert "StartFlow" in refused.json()["message"]

    started = appflow.start_flow(flowName=unique)
    assert started["flowStatus"] == "Active" and started.get("executionId") is None

    # A JSON array: one execution; the record without an email is dropped by the Validate task.
    body = json.dumps([
        {"id": "1", "email": "Ann@Example.com", "name": "Ann"},
        {"id": "2", "email": "bob@example.com", "name": "Bob"},
        {"id": "3", "email": None, "name": "Cy"},
    ]).encode()
    response = _push(live, unique, body)
    assert response.status_code == 202, response.text
    pushed = response.json()
    assert pushed["recordCount"] == 3 and pushed["flowArn"].endswith(f":flow/{unique}")
    record = wait_for_execution(appflow, unique, pushed["executionId"])
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 3
    assert record["executionResult"]["errorInfo"]["putFailuresCount"] == 1
    assert [p["FirstName"] for p in cp.search_profiles(DomainName=unique, KeyName="_email",
                                                       Values=["ann@example.com"])["Items"]] == ["Ann"]
    letters = json.loads(cli("dead-letters", "list", "--domain", unique, "--json", *live.server.storage_args()).stdout)
    assert [letter["Source"] for letter in letters] == [f"flow-execution:{pushed['executionId']}"]

    # JSON Lines, and a single object: each push is an execution of its own; the same key updates.
    lines = b'{"id": "4", "email": "dee@example.com", "name": "Dee"}\n\n{"id": "2", "email": "bob@example.com", "name": "Robert"}\n'
    second = _push(live, unique, lines).json()
    third = _push(live, unique, b'{"id": "5", "email": "eve@example.com", "name": "Eve"}').json()
    assert (second["recordCount"], third["recordCount"]) == (2, 1)
    assert wait_for_execution(appflow, unique, second["executionId"])["executionStatus"] == "Successful"
    assert wait_for_execution(appflow, unique, third["executionId"])["executionStatus"] == "Successful"
    assert [p["FirstName"] for p in cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["2"])["Items"]] == [
        "Robert"]
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 4
    executions = appflow.describe_flow_execution_records(flowName=unique)["flowExecutions"]
    assert {e["executionId"] for e in executions} == {pushed["executionId"], second["executionId"],
                                                      third["executionId"]}
    assert appflow.describe_flow(flowName=unique)["lastRunExecutionDetails"]["mostRecentExecutionStatus"] == (
        "Successful")

    # StopFlow suspends: pushes are refused until StartFlow.
    assert appflow.stop_flow(flowName=unique)["flowStatus"] == "Suspended"
    assert _push(live, unique, b'{"id": "6"}').status_code == 409


def test_refusals(appflow: Any, cp: Any, live: LiveServer, unique: str, files_dir: Path) -> None:
    _flow(appflow, cp, unique, files_dir)
    appflow.start_flow(flowName=unique)
    url = _url(live, unique)

    unsigned = httpx.post(url, content=b'{"id": "1"}', timeout=10)
    assert unsigned.status_code == 403 and unsigned.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert _push(live, unique, b'{"id": "1"}', service="profile").status_code == 403
    wrong = Credentials(live.creds.access_key_id, "not-the-secret", live.creds.account_id)
    assert _push(live, unique, b'{"id": "1"}', creds=wrong).status_code == 403
    tampered = sign_request(live.creds, "POST", url, service="appflow", body=b'{"id": "1"}')
    tampered.body = b'{"id": "2"}'
    assert send(tampered).status_code == 403

    missing = _push(live, unique + "x", b'{"id": "1"}')
    assert missing.status_code == 404 and missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    other_account = live.server.create_key("111122223333")
    assert _push(live, unique, b'{"id": "1"}', creds=other_account).status_code == 404

    for body, words in [
        (b"", "no records"),
        (b"[]", "no records"),
        (b'[{"id": "1"}, 2]', "Item 2"),
        (b'"text"', "not a JSON string"),
        (b'{"id": "1"}\n{broken\n', "line 2"),
    ]:
        response = _push(live, unique, body)
        assert response.status_code == 400, body
        assert response.headers["x-amzn-ErrorType"] == "ValidationException"
        assert words in response.json()["message"], (body, response.json())
    big = _push(live, unique, b"[" + b'{"id": "1"},' * 800_000 + b'{"id": "1"}]')
    assert big.status_code == 413

    # Other triggers take no events.
    appflow.create_flow(**{**_definition(appflow, unique), "flowName": unique + "od", "triggerConfig": {
        "triggerType": "OnDemand"}})
    on_demand = _push(live, unique + "od", b'{"id": "1"}')
    assert on_demand.status_code == 400 and "OnDemand" in on_demand.json()["message"]
    assert appflow.describe_flow_execution_records(flowName=unique)["flowExecutions"] == []


def _definition(appflow: Any, name: str) -> dict[str, Any]:
    flow = appflow.describe_flow(flowName=name)
    return {k: flow[k] for k in ("sourceFlowConfig", "destinationFlowConfigList", "tasks")}


def test_cli_push(appflow: Any, cp: Any, live: LiveServer, unique: str, files_dir: Path) -> None:
    _flow(appflow, cp, unique, files_dir)
    events = files_dir / "events.jsonl"
    events.write_text('{"id": "7", "email": "gil@example.com", "name": "Gil"}\n')
    storage = live.server.storage_args()
    refused = cli("flows", "push", unique, str(events), *storage, check=False)
    assert refused.returncode != 0 and "StartFlow" in refused.stderr
    appflow.start_flow(flowName=unique)
    done = cli("flows", "push", unique, str(events), *storage)
    assert "Successful: 1 records processed, 0 failed" in done.stdout
    assert [p["FirstName"] for p in cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["7"])["Items"]] == [
        "Gil"]


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_only_post(live: LiveServer, method: str) -> None:
    assert httpx.request(method, _url(live, "any"), timeout=10).status_code == 405


# In-process: FlowEvents as the composition root wires it (the AppFlow provider's `events`).


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("events")) as rt:
        yield rt


@pytest.fixture
def events(runtime: Runtime) -> FlowEvents:
    found = appflow_provider(runtime).events
    assert isinstance(found, FlowEvents)
    return found


def _executions(runtime: Runtime, ctx: Any, name: str) -> list[Any]:
    return runtime.runner.records(ctx, name, None, 100)


def test_a_push_becomes_an_execution_the_runner_runs(runtime: Runtime, events: FlowEvents) -> None:
    ctx = caller()
    files_flow(runtime, ctx, "pushed", [], trigger="Event")
    runtime.runner.start(ctx, "pushed")
    pushed = events.push(ctx, "pushed", b'[{"id": "1", "email": "a@x.com"}, {"id": "2", "email": "b@x.com"}]')
    assert (pushed.flow_arn, pushed.record_count) == (flow_arn(ctx.region, ctx.account_id, "pushed"), 2)
    outcome = runtime.runner.wait(pushed.execution_id, timeout=60)
    assert outcome is not None and outcome.status == "Successful", outcome
    (execution,) = _executions(runtime, ctx, "pushed")
    assert (execution.execution_id, execution.trigger, execution.records_processed) == (pushed.execution_id,
                                                                                       "Event", 2)
    assert profile_count(runtime, ctx) == 2
    with runtime.store.read() as uow:
        assert uow.event_batches.get(pushed.execution_id) is None  # read: discarded

    second = events.push(ctx, "pushed", b'{"id": "3", "email": "c@x.com"}')
    assert second.execution_id != pushed.execution_id and second.record_count == 1
    assert runtime.runner.wait(second.execution_id, timeout=60).status == "Successful"  # type: ignore[union-attr]
    assert profile_count(runtime, ctx) == 3


def test_refusals_record_no_execution(runtime: Runtime, events: FlowEvents) -> None:
    ctx = caller()
    files_flow(runtime, ctx, "refusing", [], trigger="Event")
    with pytest.raises(Conflict, match="Flow refusing is Draft; StartFlow"):
        events.push(ctx, "refusing", b'{"id": "1"}')
    runtime.runner.start(ctx, "refusing")
    with pytest.raises(Invalid, match="no records"):
        events.push(ctx, "refusing", b"[]")
    with pytest.raises(NotFound, match="Flow nope does not exist"):
        events.push(ctx, "nope", b'{"id": "1"}')
    with pytest.raises(NotFound):
        events.push(caller(), "refusing", b'{"id": "1"}')  # another account's flow
    runtime.runner.stop(ctx, "refusing")
    with pytest.raises(Conflict, match="Flow refusing is Suspended"):
        events.push(ctx, "refusing", b'{"id": "1"}')
    assert _executions(runtime, ctx, "refusing") == []

    definition = runtime.flows.get(ctx, "refusing").record.definition
    runtime.flows.create(ctx, {**definition, "flowName": "on-demand", "triggerConfig": {"triggerType": "OnDemand"}})
    with pytest.raises(Invalid, match="Flow on-demand is triggered OnDemand; only flows with triggerType Event"):
        events.push(ctx, "on-demand", b'{"id": "1"}')
    assert _executions(runtime, ctx, "on-demand") == []


def test_a_flow_deleted_while_its_push_is_checked_is_not_found(runtime: Runtime, events: FlowEvents,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = caller()
    files_flow(runtime, ctx, "going", [], trigger="Event")
    runtime.runner.start(ctx, "going")
    stale = runtime.flows.get(ctx, "going")
    runtime.flows.delete(ctx, "going", force=True)
    monkeypatch.setattr(events.flows, "get", lambda *_: stale)  # read before the delete
    with pytest.raises(NotFound, match="Flow going does not exist"):
        events.push(ctx, "going", b'{"id": "1"}')
