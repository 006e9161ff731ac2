"""Flows (CreateFlow, UpdateFlow, DeleteFlow, DescribeFlow, ListFlows) through boto3 against the
live server, on SQLite and PostgreSQL, with an S3 source and a Customer Profiles destination; and
FlowService in-process over a fake destination port (no Customer Profiles service at all)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from openprofiles.aws_access import AwsAccess
from openprofiles.context import RequestContext
from openprofiles.errors import Invalid
from openprofiles.services.appflow.destinations import DomainDestination, FlowIntegration
from openprofiles.services.appflow.flows import FlowService
from openprofiles.storage.database import Database, sqlite_url
from openprofiles.storage.store import Store
from openprofiles.storage.tables import flow_executions, flows
from tests.conftest import LiveServer

OBJECT_TYPE = "S3Contact"
SOURCE = {
    "connectorType": "S3",
    "sourceConnectorProperties": {"S3": {"bucketName": "bkt", "bucketPrefix": "p"}},
}
TASKS = [
    {"taskType": "Filter", "sourceFields": ["id", "email"], "connectorOperator": {"S3": "PROJECTION"}},
    {"taskType": "Map", "sourceFields": ["id"], "connectorOperator": {"S3": "NO_OP"}, "destinationField": "id",
     "taskProperties": {"SOURCE_DATA_TYPE": "string", "DESTINATION_DATA_TYPE": "string"}},
    {"taskType": "Map", "sourceFields": ["email"], "connectorOperator": {"S3": "NO_OP"},
     "destinationField": "email"},
]
ON_DEMAND = {"triggerType": "OnDemand"}


@pytest.fixture(scope="module")
def domain(live: LiveServer) -> str:
    """A destination domain with one object type, shared by the module's tests."""
    cp = live.client("customer-profiles")
    name = "flows" + uuid.uuid4().hex[:8]
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    cp.put_profile_object_type(
        DomainName=name,
        ObjectTypeName=OBJECT_TYPE,
        Description="contacts from S3",
        Fields={
            "id": {"Source": "_source.id", "Target": "_profile.AccountNumber", "ContentType": "STRING"},
            "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
        },
        Keys={"contactId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]},
    )
    return name


def _destination(domain: str, object_type: str | None = OBJECT_TYPE) -> list[dict[str, Any]]:
    properties: dict[str, Any] = {"domainName": domain}
    if object_type is not None:
        properties["objectTypeName"] = object_type
    return [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {"CustomerProfiles": properties}}]


def _flow(name: str, domain: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "flowName": name,
        "triggerConfig": ON_DEMAND,
        "sourceFlowConfig": SOURCE,
        "destinationFlowConfigList": _destination(domain),
        "tasks": TASKS,
    }
    params.update(overrides)
    return params


def _error(appflow: Any, code: str, call: Any, **params: Any) -> str:
    with pytest.raises(getattr(appflow.exceptions, code)) as error:
        call(**params)
    return str(error.value.response["Error"]["Message"])


def _list_all(appflow: Any, **params: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    token = None
    while True:
        page = appflow.list_flows(**params, **({"nextToken": token} if token else {}))
        pages += 1
        items += page["flows"]
        token = page.get("nextToken")
        if not token:
            return items, pages


@pytest.fixture
def database(live: LiveServer) -> Iterator[Database]:
    """The live server's database, to stand in for the flow engine's executions."""
    db = Database(live.server.database_url or sqlite_url(live.server.data_dir))
    yield db
    db.dispose()


def _add_execution(db: Database, flow_name: str, status: str, message: str, started: datetime) -> None:
    with db.write() as conn:
        flow_id = conn.execute(select(flows.c.id).where(flows.c.name == flow_name)).scalar_one()
        conn.execute(insert(flow_executions).values(
            flow_id=flow_id, execution_id=uuid.uuid4().hex, trigger="OnDemand", status=status, message=message,
            records_processed=0, bytes_processed=0, bytes_written=0, put_failures=0,
            started_at=started, last_updated_at=started,
            # Held by a (pretend) live process, so that the server does not take the run over.
            worker="elsewhere", heartbeat_at=started,
        ))


def test_create_describe_update_list_delete(appflow: Any, live: LiveServer, domain: str, unique: str) -> None:
    start = datetime(2030, 1, 1, 12, tzinfo=UTC)
    params = _flow(
        unique,
        domain,
        description="contacts from the bucket",
        kmsArn="arn:aws:kms:us-east-1:000000000000:key/abc",
        triggerConfig={"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
            "scheduleExpression": "rate(15minutes)",
            "dataPullMode": "Incremental",
            "scheduleStartTime": start,
            "scheduleEndTime": start + timedelta(days=30),
            "timezone": "Europe/Paris",
            "scheduleOffset": 60,
            "firstExecutionFrom": start - timedelta(days=365),
            "flowErrorDeactivationThreshold": 5,
        }}},
        sourceFlowConfig={**SOURCE, "incrementalPullConfig": {"datetimeTypeFieldName": "updated"}},
        metadataCatalogConfig={"glueDataCatalog": {
            "roleArn": "arn:aws:iam::000000000000:role/glue", "databaseName": "db", "tablePrefix": "t"}},
        tags={"team": "crm"},
    )
    created = appflow.create_flow(**params)
    arn = f"arn:aws:appflow:us-east-1:{live.creds.account_id}:flow/{unique}"
    assert created["flowArn"] == arn
    assert created["flowStatus"] == "Draft"  # Scheduled flows wait for StartFlow

    described = appflow.describe_flow(flowName=unique)
    for member in ("description", "kmsArn", "triggerConfig", "sourceFlowConfig", "destinationFlowConfigList",
                   "tasks", "metadataCatalogConfig", "tags"):
        assert described[member] == params[member], member
    assert described["flowArn"] == arn and described["flowName"] == unique
    assert described["flowStatus"] == "Draft"
    assert described["createdBy"] == described["lastUpdatedBy"] == live.creds.account_id
    assert isinstance(described["createdAt"], datetime)
    assert described["lastUpdatedAt"] == described["createdAt"]
    assert "lastRunExecutionDetails" not in described

    updated = appflow.update_flow(
        flowName=unique,
        description="now on demand",
        triggerConfig=ON_DEMAND,
        sourceFlowConfig=SOURCE,
        destinationFlowConfigList=_destination(domain, None),
        tasks=TASKS[:2],
    )
    assert updated["flowStatus"] == "Active"  # the trigger changed to OnDemand
    again = appflow.describe_flow(flowName=unique)
    assert again["description"] == "now on demand"
    assert again["triggerConfig"] == ON_DEMAND
    assert again["sourceFlowConfig"] == SOURCE
    assert again["destinationFlowConfigList"] == _destination(domain, None)
    assert again["tasks"] == TASKS[:2]
    assert again["kmsArn"] == params["kmsArn"]  # UpdateFlow cannot change the key
    assert again["tags"] == {"team": "crm"}
    assert again["createdAt"] == described["createdAt"]
    assert again["lastUpdatedAt"] >= described["lastUpdatedAt"]

    listed, _ = _list_all(appflow)
    (item,) = [f for f in listed if f["flowName"] == unique]
    assert item == {
        "flowArn": arn,
        "description": "now on demand",
        "flowName": unique,
        "flowStatus": "Active",
        "sourceConnectorType": "S3",
        "destinationConnectorType": "CustomerProfiles",
        "triggerType": "OnDemand",
        "createdAt": again["createdAt"],
        "lastUpdatedAt": again["lastUpdatedAt"],
        "createdBy": live.creds.account_id,
        "lastUpdatedBy": live.creds.account_id,
        "tags": {"team": "crm"},
    }

    appflow.delete_flow(flowName=unique)
    message = _error(appflow, "ResourceNotFoundException", appflow.describe_flow, flowName=unique)
    assert unique in message
    assert unique not in [f["flowName"] for f in _list_all(appflow)[0]]
    _error(appflow, "ResourceNotFoundException", appflow.list_tags_for_resource, resourceArn=arn)


def test_list_flows_paginates_to_the_end(appflow: Any, domain: str, unique: str) -> None:
    names = [f"{unique}-{i}" for i in range(5)]
    for name in names:
        appflow.create_flow(**_flow(name, domain))
    listed, pages = _list_all(appflow, maxResults=2)
    assert pages >= 3
    found = [f["flowName"] for f in listed]
    assert len(found) == len(set(found))  # no flow twice
    assert [n for n in found if n.startswith(unique)] == names
    with pytest.raises(appflow.exceptions.ValidationException):
        appflow.list_flows(nextToken="not-a-token")


def test_unknown_flow_everywhere(appflow: Any, domain: str, unique: str) -> None:
    for call, params in (
        (appflow.describe_flow, {"flowName": unique}),
        (appflow.delete_flow, {"flowName": unique}),
        (appflow.update_flow, {k: v for k, v in _flow(unique, domain).items()}),
    ):
        assert unique in _error(appflow, "ResourceNotFoundException", call, **params)


def test_duplicate_name_is_a_conflict(appflow: Any, domain: str, unique: str) -> None:
    appflow.create_flow(**_flow(unique, domain))
    message = _error(appflow, "ConflictException", appflow.create_flow, **_flow(unique, domain))
    assert unique in message


def test_client_token_replay_and_conflict(appflow: Any, domain: str, unique: str) -> None:
    token = uuid.uuid4().hex
    first = appflow.create_flow(**_flow(unique, domain, clientToken=token))
    assert first["flowStatus"] == "Active"  # OnDemand flows are active at once
    replay = appflow.create_flow(**_flow(unique, domain, clientToken=token))
    assert replay == {**first, "ResponseMetadata": replay["ResponseMetadata"]}
    message = _error(appflow, "ConflictException", appflow.create_flow,
                     **_flow(unique, domain, clientToken=token, description="something else"))
    assert "clientToken" in message
    message = _error(appflow, "ConflictException", appflow.create_flow,
                     **_flow(unique + "x", domain, clientToken=token))
    assert "clientToken" in message

    # UpdateFlow: the same token again is a no-op; with other parameters, a conflict.
    update_token = uuid.uuid4().hex
    update = _flow(unique, domain, description="v2", clientToken=update_token)
    appflow.update_flow(**update)
    stamp = appflow.describe_flow(flowName=unique)["lastUpdatedAt"]
    appflow.update_flow(**update)
    assert appflow.describe_flow(flowName=unique)["lastUpdatedAt"] == stamp
    message = _error(appflow, "ConflictException", appflow.update_flow, **{**update, "description": "v3"})
    assert "clientToken" in message


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(lambda d: {"destinationFlowConfigList": _destination("nosuchdomain")},
                     "domainName", id="unknown-domain"),
        pytest.param(lambda d: {"destinationFlowConfigList": _destination(d, "NoSuchType")},
                     "objectTypeName", id="unknown-object-type"),
        pytest.param(lambda d: {"tasks": [{"taskType": "Filter", "sourceFields": ["email"],
                                           "connectorOperator": {"S3": "CONTAINS"},
                                           "taskProperties": {"DATA_TYPE": "string", "VALUE": "x"}}]},
                     "tasks.1", id="operator-not-for-s3"),
        pytest.param(lambda d: {"tasks": [*TASKS, {"taskType": "Map", "sourceFields": ["id"],
                                                   "connectorOperator": {"S3": "PROJECTION"},
                                                   "destinationField": "id"}]},
                     "tasks.4.connectorOperator", id="operator-not-for-task-type"),
        pytest.param(lambda d: {"sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {}}},
                     "sourceConnectorProperties.S3", id="missing-s3-properties"),
        pytest.param(lambda d: {"sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {
                         "Zendesk": {"object": "tickets"}}}},
                     "sourceConnectorProperties.S3", id="other-connector-properties"),
        pytest.param(lambda d: {"sourceFlowConfig": {"connectorType": "Redshift", "sourceConnectorProperties": {
                         "S3": {"bucketName": "bbb"}}}},
                     "sourceFlowConfig.connectorType", id="not-a-source"),
        pytest.param(lambda d: {"triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {
                         "Scheduled": {"scheduleExpression": "every five minutes"}}}},
                     "scheduleExpression", id="bad-schedule"),
        pytest.param(lambda d: {"triggerConfig": {"triggerType": "Scheduled"}},
                     "triggerProperties.Scheduled", id="schedule-missing"),
        pytest.param(lambda d: {"triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {
                         "Scheduled": {"scheduleExpression": "rate(1hours)",
                                       "scheduleStartTime": datetime(2030, 2, 1, tzinfo=UTC),
                                       "scheduleEndTime": datetime(2030, 1, 1, tzinfo=UTC)}}}},
                     "scheduleStartTime", id="start-after-end"),
        pytest.param(lambda d: {"triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {
                         "Scheduled": {"scheduleExpression": "rate(1hours)", "timezone": "Mars/Olympus"}}}},
                     "timezone", id="unknown-timezone"),
        pytest.param(lambda d: {"destinationFlowConfigList": []}, "destinationFlowConfigList", id="no-destination"),
        pytest.param(lambda d: {"destinationFlowConfigList": _destination(d) * 2},
                     "destinationFlowConfigList", id="two-destinations"),
        pytest.param(lambda d: {"destinationFlowConfigList": [{"connectorType": "S3",
                                                               "destinationConnectorProperties": {
                                                                   "S3": {"bucketName": "out"}}}]},
                     "destinationFlowConfigList.1.connectorType", id="destination-not-customer-profiles"),
        pytest.param(lambda d: {"sourceFlowConfig": {"connectorType": "Zendesk", "sourceConnectorProperties": {
                         "Zendesk": {"object": "tickets"}}}, "tasks": []},
                     "connectorProfileName", id="saas-source-without-profile"),
    ],
)
def test_validation_errors_name_the_member(appflow: Any, domain: str, unique: str, change: Any, named: str) -> None:
    params = _flow(unique, domain, **change(domain))
    message = _error(appflow, "ValidationException", appflow.create_flow, **params)
    assert named in message
    # UpdateFlow checks the same way (on an existing, valid flow).
    appflow.create_flow(**_flow(unique, domain))
    message = _error(appflow, "ValidationException", appflow.update_flow, **params)
    assert named in message
    assert appflow.describe_flow(flowName=unique)["tasks"] == TASKS  # unchanged


def test_object_type_may_be_a_template_name(appflow: Any, domain: str, unique: str) -> None:
    created = appflow.create_flow(**_flow(unique, domain, destinationFlowConfigList=_destination(
        domain, "Salesforce-Contact")))
    assert created["flowStatus"] == "Active"


def test_unknown_connector_profile_is_not_found(appflow: Any, domain: str, unique: str) -> None:
    params = _flow(unique, domain, sourceFlowConfig={**SOURCE, "connectorProfileName": "nosuchprofile"})
    message = _error(appflow, "ResourceNotFoundException", appflow.create_flow, **params)
    assert "nosuchprofile" in message


def test_tags_on_the_flow_arn(appflow: Any, live: LiveServer, domain: str, unique: str) -> None:
    arn = appflow.create_flow(**_flow(unique, domain, tags={"a": "1"}))["flowArn"]
    appflow.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert appflow.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    appflow.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert appflow.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    assert appflow.describe_flow(flowName=unique)["tags"] == {"b": "2"}
    other_account = arn.replace(live.creds.account_id, "111111111111")
    _error(appflow, "ResourceNotFoundException", appflow.list_tags_for_resource, resourceArn=other_account)


def test_scheduled_and_event_flows_start_in_draft(appflow: Any, domain: str, unique: str) -> None:
    scheduled = appflow.create_flow(**_flow(unique, domain, triggerConfig={
        "triggerType": "Scheduled",
        "triggerProperties": {"Scheduled": {"scheduleExpression": "cron(0 12 * * ? *)"}},
    }))
    assert scheduled["flowStatus"] == "Draft"
    assert appflow.describe_flow(flowName=unique)["flowStatus"] == "Draft"
    event = appflow.create_flow(**_flow(unique + "e", domain, triggerConfig={"triggerType": "Event"}))
    assert event["flowStatus"] == "Draft"
    (item,) = [f for f in _list_all(appflow)[0] if f["flowName"] == unique]
    assert item["triggerType"] == "Scheduled" and item["flowStatus"] == "Draft"


def test_running_flow_needs_force_delete(appflow: Any, database: Database, domain: str, unique: str) -> None:
    appflow.create_flow(**_flow(unique, domain))
    started = datetime(2030, 1, 1, tzinfo=UTC)
    _add_execution(database, unique, "Successful", "done", started)
    _add_execution(database, unique, "InProgress", "running", started + timedelta(minutes=5))

    details = appflow.describe_flow(flowName=unique)["lastRunExecutionDetails"]
    assert details == {"mostRecentExecutionMessage": "running", "mostRecentExecutionStatus": "InProgress",
                       "mostRecentExecutionTime": started + timedelta(minutes=5)}
    (item,) = [f for f in _list_all(appflow)[0] if f["flowName"] == unique]
    assert item["lastRunExecutionDetails"] == details

    message = _error(appflow, "ConflictException", appflow.delete_flow, flowName=unique)
    assert unique in message and "forceDelete" in message
    appflow.delete_flow(flowName=unique, forceDelete=True)
    _error(appflow, "ResourceNotFoundException", appflow.describe_flow, flowName=unique)
    with database.read() as conn:
        assert conn.execute(select(flows.c.id).where(flows.c.name == unique)).first() is None


# In-process, over a fake destination.


class FakeDestination:
    """A ProfilesDestination that knows domain `d` with object type `known`, and records its checks."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, dict[str, Any]]] = []

    def check(self, ctx: RequestContext, where: str, properties: Mapping[str, Any]) -> None:
        self.checked.append((where, dict(properties)))
        if properties["domainName"] != "d" or properties.get("objectTypeName") not in (None, "known"):
            raise Invalid(f"{where}: refused by the destination")

    def integration(self, ctx: RequestContext, domain_name: str, flow_arn: str) -> FlowIntegration | None:
        return None

    def open(self, ctx: RequestContext, domain_name: str) -> DomainDestination:
        raise NotImplementedError("FlowService never opens a domain")


@pytest.fixture
def service(db: Database) -> tuple[FlowService, FakeDestination]:
    fake = FakeDestination()
    return FlowService(Store(db), fake, AwsAccess(resources=[("000000000000", "arn:aws:s3:::*")])), fake


CTX = RequestContext("000000000000", "us-east-1", "test", "r", datetime(2026, 3, 1, tzinfo=UTC))


def test_the_destination_is_checked_through_the_port(service: tuple[FlowService, FakeDestination]) -> None:
    flows_, fake = service
    created = flows_.create(CTX, _flow("f", "d", destinationFlowConfigList=_destination("d", "known")))
    assert created.status == "Active" and flows_.get(CTX, "f").definition["flowName"] == "f"
    where = "destinationFlowConfigList.1.destinationConnectorProperties.CustomerProfiles"
    assert fake.checked == [(where, {"domainName": "d", "objectTypeName": "known"})]
    with pytest.raises(Invalid, match="refused by the destination"):
        flows_.create(CTX, _flow("g", "d", destinationFlowConfigList=_destination("d", "other")))
    with pytest.raises(Invalid, match="refused by the destination"):
        flows_.update(CTX, _flow("f", "elsewhere"))
    assert [f.name for f in flows_.list(CTX, None, 10)] == ["f"]  # nothing stored by the refused calls
    assert flows_.get(CTX, "f").definition["destinationFlowConfigList"] == _destination("d", "known")


def test_update_keeps_the_key_and_restarts_incremental_pulls_on_a_new_source(
        service: tuple[FlowService, FakeDestination]) -> None:
    flows_, _ = service
    flows_.create(CTX, _flow("f", "d", destinationFlowConfigList=_destination("d", None), kmsArn="arn:k"))
    with flows_.store.write() as uow:
        record = uow.flows.get(CTX.account_id, CTX.region, "f")
        assert record is not None
        uow.flows.update(record.id, CTX.now, cursor={"high_water": "2026-01-01T00:00:00+00:00"})
    flows_.update(CTX, _flow("f", "d", destinationFlowConfigList=_destination("d", None), description="same source"))
    kept = flows_.get(CTX, "f").record
    assert kept.definition["kmsArn"] == "arn:k" and kept.cursor == {"high_water": "2026-01-01T00:00:00+00:00"}
    other = {"connectorType": "S3", "sourceConnectorProperties": {"S3": {"bucketName": "other"}}}
    flows_.update(CTX, _flow("f", "d", destinationFlowConfigList=_destination("d", None), sourceFlowConfig=other))
    assert flows_.get(CTX, "f").record.cursor is None
