"""AppFlow on a live server, through boto3 as a user drives it: connector profiles, entity field types,
a Customer Profiles domain and object type, flows into it, on-demand runs and scheduled incremental runs.

A Scheduled flow first runs at its scheduleStartTime (at the server scheduler's next tick, every
second on the test servers), then every minute. `ScheduledFlow` starts a one-minute incremental schedule a few seconds
ahead, and for each later run UpdateFlow gives it a fresh start time: the flow fires again within
seconds and keeps its incremental high-water mark, so a test sees the incremental run without waiting
for the schedule's period.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

#: Execution statuses of a run that has not ended.
RUNNING = ("InProgress", "CancelStarted")
#: connectorProfileProperties/Credentials members whose names differ from the connectorType.
PROFILE_MEMBERS = {"Servicenow": "ServiceNow"}
#: PutProfileObjectType's members for records of people with `id`, `email` and `name` fields.
PEOPLE: dict[str, Any] = {
    "Description": "People",
    "AllowProfileCreation": True,
    "Fields": {
        "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
        "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
        "name": {"Source": "_source.name", "Target": "_profile.FirstName"},
    },
    "Keys": {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
             "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]},
}


def create_domain(cp: Any, name: str, object_type: str, **members: Any) -> None:
    """A Customer Profiles domain with one object type (PutProfileObjectType `members`)."""
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=name, ObjectTypeName=object_type, **members)


def create_profile(appflow: Any, name: str, connector_type: str, properties: dict[str, Any],
                   credentials: dict[str, Any] | None = None, *, label: str | None = None) -> str:
    """CreateConnectorProfile (Public) with `properties` and `credentials` under the connector type's
    member (CustomConnector properties under `profileProperties`, with `label`; none for S3, whose
    properties AppFlow does not model); its ARN."""
    member = PROFILE_MEMBERS.get(connector_type, connector_type)
    if connector_type == "CustomConnector":
        properties = {"profileProperties": properties}
    config: dict[str, Any] = {"connectorProfileProperties": {member: properties} if properties else {}}
    if credentials is not None:
        config["connectorProfileCredentials"] = {member: credentials}
    return str(appflow.create_connector_profile(
        connectorProfileName=name, connectorType=connector_type, connectionMode="Public",
        connectorProfileConfig=config, **({"connectorLabel": label} if label else {}))["connectorProfileArn"])


def entity_names(appflow: Any, profile: str, path: str | None = None) -> list[str]:
    """The names ListConnectorEntities gives (under `path`, if given)."""
    listed = appflow.list_connector_entities(connectorProfileName=profile, **({"entitiesPath": path} if path else {}))
    return [entity["name"] for group in listed["connectorEntityMap"].values() for entity in group]


def field_types(appflow: Any, profile: str, entity: str) -> dict[str, str]:
    """DescribeConnectorEntity's fields: identifier -> field type."""
    fields = appflow.describe_connector_entity(connectorProfileName=profile, connectorEntityName=entity)
    return {f["identifier"]: f["supportedFieldTypeDetails"]["v1"]["fieldType"] for f in fields["connectorEntityFields"]}


def into_profiles(domain: str, object_type: str) -> list[dict[str, Any]]:
    """A flow's destinationFlowConfigList: a Customer Profiles domain's object type."""
    return [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
        "CustomerProfiles": {"domainName": domain, "objectTypeName": object_type}}}]


def map_all(connector_type: str) -> list[dict[str, Any]]:
    """Tasks that pass every source field through."""
    operator = PROFILE_MEMBERS.get(connector_type, connector_type)
    return [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {operator: "NO_OP"}}]


def wait_for_execution(appflow: Any, flow: str, execution_id: str, timeout: float = 60) -> dict[str, Any]:
    """A run's execution record once it has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in appflow.describe_flow_execution_records(flowName=flow)["flowExecutions"]:
            if record["executionId"] == execution_id and record["executionStatus"] not in RUNNING:
                return dict(record)
        time.sleep(0.2)
    raise AssertionError(f"run {execution_id} of flow {flow} did not end within {timeout:.0f} s")


def run_on_demand(appflow: Any, flow: str) -> dict[str, Any]:
    """StartFlow, and the run's execution record once it has ended."""
    return wait_for_execution(appflow, flow, appflow.start_flow(flowName=flow)["executionId"])


def wait_for_run(appflow: Any, flow: str, count: int, timeout: float = 90) -> dict[str, Any]:
    """The flow's `count`-th run (by start time), once it has ended."""
    deadline = time.monotonic() + timeout
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = sorted(appflow.describe_flow_execution_records(flowName=flow)["flowExecutions"],
                      key=lambda r: r["startedAt"])
        if len(runs) >= count and runs[count - 1]["executionStatus"] not in RUNNING:
            return dict(runs[count - 1])
        time.sleep(0.3)
    raise AssertionError(f"run {count} of flow {flow} did not end within {timeout:.0f} s: {runs}")


def incremental_schedule(seconds: float = 2) -> dict[str, Any]:
    """A triggerConfig: incremental pulls every minute, the first `seconds` from now."""
    return {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
        "scheduleExpression": "rate(1minutes)", "dataPullMode": "Incremental",
        "scheduleStartTime": datetime.now(UTC) + timedelta(seconds=seconds)}}}


def processed(record: dict[str, Any]) -> int:
    """The records an ended run processed; AssertionError (showing the record) unless it succeeded."""
    assert record["executionStatus"] == "Successful", record
    return int(record["executionResult"]["recordsProcessed"])


class ScheduledFlow:
    """An incremental Scheduled flow from `source` (a sourceFlowConfig) into the object type `into`
    (domain, object type name), through `tasks` (Map_all by default), whose every `run()` fires within seconds."""

    def __init__(self, appflow: Any, name: str, *, into: tuple[str, str], source: dict[str, Any],
                 tasks: list[dict[str, Any]] | None = None) -> None:
        self.appflow = appflow
        self.name = name
        #: CreateFlow's members but triggerConfig, all of which UpdateFlow takes too.
        self.definition = {"flowName": name, "sourceFlowConfig": source, "destinationFlowConfigList": into_profiles(*into),
                           "tasks": tasks or map_all(source["connectorType"])}
        self.runs = 0

    def run(self) -> dict[str, Any]:
        """The next run's execution record once it has ended: the first after CreateFlow and StartFlow
        (Active: the server's scheduler fires it), each later one after UpdateFlow with a new start time."""
        if self.runs == 0:
            self.appflow.create_flow(**self.definition, triggerConfig=incremental_schedule())
            self.appflow.start_flow(flowName=self.name)
        else:
            self.appflow.update_flow(**self.definition, triggerConfig=incremental_schedule())
        self.runs += 1
        return wait_for_run(self.appflow, self.name, self.runs)
