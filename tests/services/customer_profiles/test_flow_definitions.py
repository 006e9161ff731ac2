"""customer_profiles/flow_definitions.py: a FlowDefinition as an AppFlow CreateFlow request (member
names, the CustomerProfiles destination, every member of botocore's model), the AppFlow messages
re-worded to name FlowDefinition members, and `checked` running CreateFlow's rules through the
wired FlowService (build_runtime, no server) on both backends, each rule refused as Invalid naming
the FlowDefinition member."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from openprofiles.app import Runtime
from openprofiles.context import RequestContext
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.appflow.flows import definition_of
from openprofiles.services.customer_profiles.flow_definitions import (
    checked,
    create_flow_request,
    flow_definition_message,
)
from tests.conftest import BACKENDS
from tests.services.appflow.runtimes import caller, destination, files_config, files_dir, runtime_for

START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
WORKFLOW_MEMBER = "IntegrationConfig.AppflowIntegration.FlowDefinition"


def _s3_definition() -> dict[str, Any]:
    """A FlowDefinition using every kind of member: names as keys, values, a timestamp, a None."""
    return {
        "FlowName": "crm-contacts",
        "Description": "contacts",
        "KmsArn": None,
        "SourceFlowConfig": {
            "ConnectorType": "S3",
            "IncrementalPullConfig": {"DatetimeTypeFieldName": "Updated"},
            "SourceConnectorProperties": {"S3": {"BucketName": "crm-export", "BucketPrefix": "Contacts"}},
        },
        "Tasks": [
            {"TaskType": "Filter", "SourceFields": ["Id", "Email"], "ConnectorOperator": {"S3": "PROJECTION"}},
            {"TaskType": "Map", "SourceFields": ["Email"], "DestinationField": "EmailAddress",
             "ConnectorOperator": {"S3": "NO_OP"},
             "TaskProperties": {"DESTINATION_DATA_TYPE": "String", "SOURCE_DATA_TYPE": "String"}},
        ],
        "TriggerConfig": {"TriggerType": "Scheduled", "TriggerProperties": {"Scheduled": {
            "ScheduleExpression": "rate(1hours)", "DataPullMode": "Incremental", "ScheduleStartTime": START,
            "Timezone": None}}},
    }


# create_flow_request


def test_members_are_renamed_and_names_used_as_keys_kept() -> None:
    assert create_flow_request(_s3_definition(), "support", "CrmContact") == {
        "flowName": "crm-contacts",
        "description": "contacts",
        "sourceFlowConfig": {
            "connectorType": "S3",
            "incrementalPullConfig": {"datetimeTypeFieldName": "Updated"},
            "sourceConnectorProperties": {"S3": {"bucketName": "crm-export", "bucketPrefix": "Contacts"}},
        },
        "tasks": [
            {"taskType": "Filter", "sourceFields": ["Id", "Email"], "connectorOperator": {"S3": "PROJECTION"}},
            {"taskType": "Map", "sourceFields": ["Email"], "destinationField": "EmailAddress",
             "connectorOperator": {"S3": "NO_OP"},
             "taskProperties": {"DESTINATION_DATA_TYPE": "String", "SOURCE_DATA_TYPE": "String"}},
        ],
        "triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
            "scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental", "scheduleStartTime": START}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": "support", "objectTypeName": "CrmContact"}}}],
    }


def test_the_destination_is_always_the_domains_object_type_and_the_definition_is_left_as_given() -> None:
    definition = _s3_definition()
    definition["DestinationFlowConfigList"] = [{"ConnectorType": "S3"}]  # not a FlowDefinition member
    before = copy.deepcopy(definition)
    request = create_flow_request(definition, "d", "crm")
    assert request["destinationFlowConfigList"] == [{"connectorType": "CustomerProfiles",
                                                     "destinationConnectorProperties": {
                                                         "CustomerProfiles": {"domainName": "d",
                                                                              "objectTypeName": "crm"}}}]
    assert definition == before


def _example(shape: Any) -> Any:
    """A value of a botocore shape with every member of every structure set."""
    if shape.type_name == "structure":
        return {name: _example(member) for name, member in shape.members.items()}
    if shape.type_name == "list":
        return [_example(shape.member)]
    if shape.type_name == "map":
        return {(shape.key.enum or ["key"])[0]: _example(shape.value)}
    if shape.type_name == "string":
        return shape.enum[0] if shape.enum else "s" * max(int(shape.metadata.get("min", 1)), 1)
    if shape.type_name == "timestamp":
        return START
    if shape.type_name == "boolean":
        return True
    return max(int(shape.metadata.get("min", 1)), 1)


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    """The scalar values of a document by their path, compared without case."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _leaves(item, f"{path}.{key}".lower()).items()}
    if isinstance(value, list):
        return {k: v for n, item in enumerate(value) for k, v in _leaves(item, f"{path}.{n}").items()}
    return {path: value}


def test_every_member_of_the_model_becomes_a_createflow_member_with_its_value() -> None:
    session = botocore.session.get_session()
    full = _example(session.get_service_model("customer-profiles").shape_for("FlowDefinition"))
    request = create_flow_request(full, "d", "crm")
    create_flow = session.get_service_model("appflow").operation_model("CreateFlow").input_shape
    report = ParamValidator().validate(request, create_flow)
    assert not report.has_errors(), report.generate_report()
    translated = _leaves({k: v for k, v in request.items() if k != "destinationFlowConfigList"})
    assert translated == _leaves(full)


# flow_definition_message


@pytest.mark.parametrize(("message", "worded"), [
    ("tasks.3.taskProperties.VALUE must be a non-empty string",
     "FlowDefinition.Tasks.3.TaskProperties.VALUE must be a non-empty string"),
    ("sourceFlowConfig.connectorProfileName is required for the source connectorType Salesforce",
     "FlowDefinition.SourceFlowConfig.ConnectorProfileName is required for the source ConnectorType Salesforce"),
    ("Connector profile p (sourceFlowConfig.connectorProfileName) does not exist",
     "Connector profile p (FlowDefinition.SourceFlowConfig.ConnectorProfileName) does not exist"),
    ("flowName, kmsArn and description", "FlowDefinition.FlowName, FlowDefinition.KmsArn and FlowDefinition.Description"),
    ("triggerConfig.triggerProperties.Scheduled is required",
     "FlowDefinition.TriggerConfig.TriggerProperties.Scheduled is required"),
    # A member below the root, named anywhere: its FlowDefinition name.
    ("triggerConfig.triggerProperties.Scheduled.scheduleStartTime (1) must be before scheduleEndTime (2)",
     "FlowDefinition.TriggerConfig.TriggerProperties.Scheduled.ScheduleStartTime (1) must be before ScheduleEndTime (2)"),
    ("tasks.1.taskProperties.CONCAT_FORMAT names ${b}, which is not one of the sourceFields",
     "FlowDefinition.Tasks.1.TaskProperties.CONCAT_FORMAT names ${b}, which is not one of the SourceFields"),
    # Names used as keys in a path: as they are.
    ("tasks.1.taskProperties.nope is not a task property key",
     "FlowDefinition.Tasks.1.TaskProperties.nope is not a task property key"),
    ("tasks.2.connectorOperator.salesforce does not match", "FlowDefinition.Tasks.2.ConnectorOperator.salesforce does not match"),
    # Values (quoted, a field in a format) and prose: as they are.
    ("tasks.2.sourceFields.1 'description' is neither projected", "FlowDefinition.Tasks.2.SourceFields.1 'description' is neither projected"),
    ('the field "tasks" and ${description}', 'the field "tasks" and ${description}'),
    ("triggerConfig.triggerProperties.Scheduled.timezone: Unknown timezone 'Mars'",
     "FlowDefinition.TriggerConfig.TriggerProperties.Scheduled.Timezone: Unknown timezone 'Mars'"),
    ("tasks.3 must be an object", "FlowDefinition.Tasks.3 must be an object"),
    # Not FlowDefinition members, or part of a longer word or value: as they are.
    ("destinationFlowConfigList.1.connectorType S3", "destinationFlowConfigList.1.connectorType S3"),
    ("subtasks.1 and mytasks", "subtasks.1 and mytasks"),
    ("bucketName my-tasks: a/tasks, tasks@x, description-2", "BucketName my-tasks: a/tasks, tasks@x, description-2"),
    ("Flow f has no run", "Flow f has no run"),
])
def test_messages_name_flow_definition_members(message: str, worded: str) -> None:
    assert flow_definition_message(message) == worded


def test_messages_name_members_below_the_member_given() -> None:
    assert flow_definition_message("tasks.1.sourceFields must be empty", WORKFLOW_MEMBER) == (
        f"{WORKFLOW_MEMBER}.Tasks.1.SourceFields must be empty")


def test_the_values_given_are_kept_where_a_name_would_be_renamed() -> None:
    message = "Connector profile tasks (sourceFlowConfig.connectorProfileName) does not exist"
    assert flow_definition_message(message, values={"tasks"}) == (
        "Connector profile tasks (FlowDefinition.SourceFlowConfig.ConnectorProfileName) does not exist")


def _member_paths(definition: Any, request: Any, appflow: str = "", worded: str = "FlowDefinition") -> Iterator[
        tuple[str, str]]:
    """Each member path of a FlowDefinition, in AppFlow's names (in `request`, made from it) and its own."""
    if isinstance(definition, dict):
        for (name, item), (appflow_name, appflow_item) in zip(definition.items(), request.items(), strict=True):
            path = f"{appflow}.{appflow_name}" if appflow else appflow_name
            yield path, f"{worded}.{name}"
            yield from _member_paths(item, appflow_item, path, f"{worded}.{name}")
    elif isinstance(definition, list):
        for n, (item, appflow_item) in enumerate(zip(definition, request, strict=True), 1):
            yield from _member_paths(item, appflow_item, f"{appflow}.{n}", f"{worded}.{n}")


def test_every_member_path_and_name_of_the_model_is_worded_as_flow_definitions() -> None:
    full = _example(botocore.session.get_session().get_service_model("customer-profiles").shape_for("FlowDefinition"))
    request = create_flow_request(full, "d", "crm")
    del request["destinationFlowConfigList"]
    paths = list(_member_paths(full, request))
    assert len(paths) > 30
    for appflow, worded in paths:
        assert flow_definition_message(f"{appflow} is wrong") == f"{worded} is wrong"
        name, worded_name = appflow.rpartition(".")[2], worded.rpartition(".")[2]
        if "." in appflow and name != name.lower():  # a camelCase name below the root, on its own
            assert flow_definition_message(f"not before {name} (1)") == f"not before {worded_name} (1)"


# checked, through the FlowService build_runtime wires


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("flow-definitions")) as built:
        yield built


@pytest.fixture
def ctx(runtime: Runtime) -> RequestContext:
    """A fresh account with a domain `d` (object type `crm`) and a Files connector profile `files`."""
    ctx = caller("PutIntegration")
    destination(runtime, ctx)
    runtime.connector_profiles.create(ctx, "files", "CustomConnector", "Files", "Public",
                                      files_config(files_dir(runtime)), None)
    return ctx


def _files_definition(**changes: Any) -> dict[str, Any]:
    """A FlowDefinition reading people.jsonl through the `files` profile, with top-level `changes`."""
    definition: dict[str, Any] = {
        "FlowName": "people",
        "SourceFlowConfig": {"ConnectorType": "CustomConnector", "ConnectorProfileName": "files",
                             "SourceConnectorProperties": {"CustomConnector": {"EntityName": "people.jsonl"}}},
        "Tasks": [{"TaskType": "Filter", "SourceFields": ["id", "email"],
                   "ConnectorOperator": {"CustomConnector": "PROJECTION"}},
                  {"TaskType": "Map", "SourceFields": ["id"], "DestinationField": "id",
                   "ConnectorOperator": {"CustomConnector": "NO_OP"}}],
        "TriggerConfig": {"TriggerType": "Scheduled", "TriggerProperties": {"Scheduled": {
            "ScheduleExpression": "rate(1days)", "ScheduleStartTime": START}}},
    }
    definition.update(changes)
    return definition


def _refusal(runtime: Runtime, ctx: RequestContext, definition: dict[str, Any],
             member: str = "FlowDefinition") -> str:
    with pytest.raises(Invalid) as refused:
        checked(runtime.flows, ctx, create_flow_request(definition, "d", "crm"), member)
    return refused.value.message


def test_a_valid_definition_is_the_stored_one_and_creates_nothing(runtime: Runtime, ctx: RequestContext) -> None:
    request = create_flow_request(_files_definition(), "d", "crm")
    definition = checked(runtime.flows, ctx, request)
    assert definition == definition_of(request)
    assert definition["triggerConfig"]["triggerProperties"]["Scheduled"]["scheduleStartTime"] == START.isoformat()
    with pytest.raises(NotFound):
        runtime.flows.get(ctx, "people")


def _source(connector_type: str, properties: dict[str, Any], profile: str | None = "files") -> dict[str, Any]:
    source: dict[str, Any] = {"ConnectorType": connector_type, "SourceConnectorProperties": properties}
    if profile is not None:
        source["ConnectorProfileName"] = profile
    return source


def _tasks(connector: str, operator: str = "NO_OP", **task: Any) -> list[dict[str, Any]]:
    return [{"TaskType": "Map", "SourceFields": ["id"], "DestinationField": "id",
             "ConnectorOperator": {connector: operator}, **task}]


FILES = {"CustomConnector": {"EntityName": "people.jsonl"}}

REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("source type", {"SourceFlowConfig": _source("Nope", {"Nope": {}})},
     "FlowDefinition.SourceFlowConfig.ConnectorType Nope cannot be a flow source; sources are "),
    ("source properties missing", {"SourceFlowConfig": _source("CustomConnector", {"S3": {"BucketName": "b"}})},
     "FlowDefinition.SourceFlowConfig.SourceConnectorProperties.CustomConnector is required for the source "
     "ConnectorType CustomConnector"),
    ("source properties of two", {"SourceFlowConfig": _source("CustomConnector", {**FILES, "S3": {"BucketName": "b"}})},
     "FlowDefinition.SourceFlowConfig.SourceConnectorProperties must hold only CustomConnector for the source "
     "ConnectorType CustomConnector, not S3"),
    ("operator of another connector", {"Tasks": _tasks("Salesforce")},
     "FlowDefinition.Tasks.1.ConnectorOperator.Salesforce does not match the source connector; use CustomConnector"),
    ("task type", {"Tasks": [{**_tasks("CustomConnector")[0], "TaskType": "Shuffle"}]},
     "FlowDefinition.Tasks.1.TaskType must be one of "),
    ("task property key", {"Tasks": _tasks("CustomConnector", TaskProperties={"NOPE": "x"})},
     "FlowDefinition.Tasks.1.TaskProperties.NOPE is not a task property key"),
    ("schedule missing", {"TriggerConfig": {"TriggerType": "Scheduled"}},
     "FlowDefinition.TriggerConfig.TriggerProperties.Scheduled is required for TriggerType Scheduled"),
    ("schedule of an OnDemand flow", {"TriggerConfig": {"TriggerType": "OnDemand", "TriggerProperties": {
        "Scheduled": {"ScheduleExpression": "rate(1days)"}}}},
     "FlowDefinition.TriggerConfig.TriggerProperties.Scheduled is only for Scheduled flows, not TriggerType OnDemand"),
    ("schedule expression", {"TriggerConfig": {"TriggerType": "Scheduled", "TriggerProperties": {
        "Scheduled": {"ScheduleExpression": "every hour"}}}},
     "FlowDefinition.TriggerConfig.TriggerProperties.Scheduled.ScheduleExpression: "),
    ("time zone", {"TriggerConfig": {"TriggerType": "Scheduled", "TriggerProperties": {
        "Scheduled": {"ScheduleExpression": "rate(1days)", "Timezone": "Mars/Olympus"}}}},
     "FlowDefinition.TriggerConfig.TriggerProperties.Scheduled.Timezone: "),
    ("profile missing", {"SourceFlowConfig": _source("CustomConnector", FILES, profile=None)},
     "FlowDefinition.SourceFlowConfig.ConnectorProfileName is required for the source ConnectorType CustomConnector"),
    ("profile unknown", {"SourceFlowConfig": _source("CustomConnector", FILES, profile="nosuch")},
     "Connector profile nosuch (FlowDefinition.SourceFlowConfig.ConnectorProfileName) does not exist"),
    ("profile of another connector", {"SourceFlowConfig": _source("Salesforce", {"Salesforce": {"Object": "Contact"}}),
                                      "Tasks": _tasks("Salesforce")},
     "FlowDefinition.SourceFlowConfig.ConnectorProfileName: connector profile files is for CustomConnector, "
     "not Salesforce"),
    ("S3 bucket not granted", {"SourceFlowConfig": _source("S3", {"S3": {"BucketName": "crm-export"}}, profile=None),
                               "Tasks": _tasks("S3")},
     "FlowDefinition.SourceFlowConfig.SourceConnectorProperties.S3.BucketName crm-export: "),
]


@pytest.mark.parametrize(("changes", "message"), [(c, m) for _, c, m in REFUSALS], ids=[n for n, _, _ in REFUSALS])
def test_each_createflow_rule_is_refused_naming_the_member(runtime: Runtime, ctx: RequestContext,
                                                            changes: dict[str, Any], message: str) -> None:
    assert _refusal(runtime, ctx, _files_definition(**changes)).startswith(message)
    assert _refusal(runtime, ctx, _files_definition(**changes), WORKFLOW_MEMBER).startswith(
        message.replace("FlowDefinition.", f"{WORKFLOW_MEMBER}.", 1))


def test_another_accounts_profile_does_not_exist(runtime: Runtime, ctx: RequestContext) -> None:
    other = caller("PutIntegration")
    destination(runtime, other)
    assert _refusal(runtime, other, _files_definition()) == (
        "Connector profile files (FlowDefinition.SourceFlowConfig.ConnectorProfileName) does not exist")


def test_a_field_named_like_a_member_keeps_its_name(runtime: Runtime, ctx: RequestContext) -> None:
    tasks = [{"TaskType": "Filter", "SourceFields": ["id"], "ConnectorOperator": {"CustomConnector": "PROJECTION"}},
             {"TaskType": "Map", "SourceFields": ["description"], "DestinationField": "note",
              "ConnectorOperator": {"CustomConnector": "NO_OP"}}]
    assert _refusal(runtime, ctx, _files_definition(Tasks=tasks)) == (
        "FlowDefinition.Tasks.2.SourceFields.1 'description' is neither projected nor written by an earlier task")


def test_every_member_a_message_names_is_a_flow_definition_member(runtime: Runtime, ctx: RequestContext) -> None:
    trigger = {"TriggerType": "Scheduled", "TriggerProperties": {"Scheduled": {
        "ScheduleExpression": "rate(1days)", "ScheduleStartTime": START, "ScheduleEndTime": START}}}
    message = _refusal(runtime, ctx, _files_definition(TriggerConfig=trigger))
    assert message.startswith("FlowDefinition.TriggerConfig.TriggerProperties.Scheduled.ScheduleStartTime (")
    assert "scheduleEndTime" not in message


def test_values_named_like_members_keep_their_names(runtime: Runtime, ctx: RequestContext) -> None:
    """A connector profile, a source properties key, a task property key named like a member: as given."""
    profile = _source("CustomConnector", FILES, profile="tasks")
    assert _refusal(runtime, ctx, _files_definition(SourceFlowConfig=profile)) == (
        "Connector profile tasks (FlowDefinition.SourceFlowConfig.ConnectorProfileName) does not exist")
    two = _source("CustomConnector", {**FILES, "description": {"EntityName": "x"}})
    assert _refusal(runtime, ctx, _files_definition(SourceFlowConfig=two)) == (
        "FlowDefinition.SourceFlowConfig.SourceConnectorProperties must hold only CustomConnector for the source "
        "ConnectorType CustomConnector, not description")
    assert _refusal(runtime, ctx, _files_definition(Tasks=_tasks("CustomConnector", TaskProperties={"tasks": "x"}))) == (
        "FlowDefinition.Tasks.1.TaskProperties.tasks is not a task property key")
