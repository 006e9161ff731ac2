"""compile_tasks: wire task validation, operators per connector, task order and temporaries."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from openprofiles.flows.tasks import Dropped, Output, compile_tasks
from tests.flows.tasks.helpers import compile_, invalid, output, project, run, task

MODEL = botocore.session.get_session().get_service_model("appflow")


def minimal_task(operator: str, key: str) -> dict[str, Any]:
    """The smallest valid task that uses `operator`."""
    if operator == "PROJECTION":
        return task("Filter", ["a"], operator, key=key)
    if operator == "BETWEEN":
        return task("Filter", ["a"], operator, key=key, DATA_TYPE="string", LOWER_BOUND="a", UPPER_BOUND="b")
    if operator in ("ADDITION", "SUBTRACTION", "MULTIPLICATION", "DIVISION"):
        return task("Arithmetic", ["a", "b"], operator, key=key)
    if operator.startswith("MASK_"):
        return task("Mask", ["a"], operator, key=key, MASK_LENGTH="1")
    if operator.startswith("VALIDATE_"):
        return task("Validate", ["a"], operator, key=key, VALIDATION_ACTION="DropRecord")
    if operator == "NO_OP":
        return task("Map", ["a"], operator, key=key)
    return task("Filter", ["a"], operator, key=key, DATA_TYPE="string", VALUE="x")


CONNECTOR_TYPES = MODEL.shape_for("ConnectorType").enum
ALL_OPERATORS = MODEL.shape_for("Operator").enum
OPERATOR_CASES = [
    (connector_type, key, operator)
    for key in MODEL.shape_for("ConnectorOperator").members
    for connector_type in CONNECTOR_TYPES
    if connector_type.lower() == key.lower()
    for operator in ALL_OPERATORS
]


@pytest.mark.parametrize(("connector_type", "key", "operator"), OPERATOR_CASES)
def test_each_connector_accepts_exactly_its_model_operators(connector_type: str, key: str, operator: str) -> None:
    allowed = operator in MODEL.shape_for("ConnectorOperator").members[key].enum
    if allowed:
        compile_(minimal_task(operator, key), connector=connector_type)
    else:
        assert "is not an operator of the" in invalid(minimal_task(operator, key), connector=connector_type)


def test_connector_operator_key_must_be_the_source_connectors() -> None:
    message = invalid(project("a"), connector="Servicenow")
    assert message == "tasks.1.connectorOperator.Salesforce does not match the source connector; use ServiceNow"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"Salesforce": "NO_OP", "S3": "NO_OP"}, "tasks.1.connectorOperator must set exactly one member, Salesforce"),
        ({}, "tasks.1.connectorOperator must set exactly one member, Salesforce"),
        ({"Salesforce": "ADDITION"}, "tasks.1.connectorOperator.Salesforce ADDITION is not valid for taskType Map"),
    ],
)
def test_connector_operator_shape(raw: dict[str, str], message: str) -> None:
    assert invalid({"taskType": "Map", "sourceFields": ["a"], "connectorOperator": raw}).startswith(message)


def test_missing_connector_operator_means_no_op() -> None:
    assert output({"a": 1}, task("Map", ["a"], None, "b")) == {"b": 1}
    assert invalid(task("Filter", ["a"], None)) == "tasks.1.connectorOperator is required for taskType Filter"


@pytest.mark.parametrize("task_type", MODEL.shape_for("TaskType").enum)
def test_every_model_task_type_compiles(task_type: str) -> None:
    minimal = {
        "Filter": project("a"),
        "Arithmetic": task("Arithmetic", ["a", "b"], "ADDITION"),
        "Mask": task("Mask", ["a"], "MASK_ALL"),
        "Validate": task("Validate", ["a"], "VALIDATE_NON_NULL", VALIDATION_ACTION="DropRecord"),
        "Map_all": task("Map_all", []),
        "Merge": task("Merge", ["a", "b"]),
        "Truncate": task("Truncate", ["a"], TRUNCATE_LENGTH="1"),
    }.get(task_type, task(task_type, ["a"]))
    compile_(minimal)


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        (["nope"], "tasks.1 must be an object"),
        ([task("Explode", ["a"])], "tasks.1.taskType must be one of"),
        ([{"taskType": "Map", "sourceFields": "a"}], "tasks.1.sourceFields must be a list of field names"),
        ([task("Map", ["a", ""])], "tasks.1.sourceFields.2 must be a non-empty field name"),
        ([task("Map", ["a", "b"])], "tasks.1.sourceFields must list exactly 1 field for taskType Map"),
        ([task("Passthrough", [])], "tasks.1.sourceFields must list exactly 1 field for taskType Passthrough"),
        ([task("Arithmetic", ["a"], "ADDITION")], "tasks.1.sourceFields must list exactly 2 fields for taskType Arithmetic"),
        ([task("Merge", [])], "tasks.1.sourceFields must list at least 1 field for taskType Merge"),
        ([task("Map_all", ["a"])], "tasks.1.sourceFields must be empty for taskType Map_all"),
        ([task("Mask", ["a", "b"], "MASK_ALL")], "tasks.1.sourceFields must list exactly 1 field for taskType Mask"),
        ([task("Truncate", [], TRUNCATE_LENGTH="1")], "tasks.1.sourceFields must list exactly 1 field for taskType Truncate"),
        ([task("Validate", [], "VALIDATE_NUMERIC")], "tasks.1.sourceFields must list exactly 1 field for taskType Validate"),
        ([task("Filter", [], "PROJECTION")], "tasks.1.sourceFields must list at least 1 field for taskType Filter"),
        (
            [task("Filter", ["a", "b"], "EQUAL_TO", DATA_TYPE="string", VALUE="x")],
            "tasks.1.sourceFields must list exactly 1 field for a EQUAL_TO filter",
        ),
        ([{**task("Map", ["a"]), "destinationField": 5}], "tasks.1.destinationField must be a string"),
        ([{**task("Map", ["a"]), "taskProperties": ["x"]}], "tasks.1.taskProperties must be a map of strings"),
        ([task("Map", ["a"], COLOUR="red")], "tasks.1.taskProperties.COLOUR is not a task property key"),
        ([task("Map", ["a"], SOURCE_DATA_TYPE="")], "tasks.1.taskProperties.SOURCE_DATA_TYPE must be a non-empty string"),
        ([task("Mask", ["a"], "MASK_FIRST_N")], "tasks.1.taskProperties.MASK_LENGTH is required for Mask MASK_FIRST_N"),
        ([task("Mask", ["a"], "MASK_LAST_N", MASK_LENGTH="0")], "tasks.1.taskProperties.MASK_LENGTH must be a positive integer"),
        ([task("Mask", ["a"], "MASK_ALL", MASK_LENGTH="-2")], "tasks.1.taskProperties.MASK_LENGTH must be a positive integer"),
        ([task("Mask", ["a"], "MASK_ALL", MASK_VALUE="##")], "tasks.1.taskProperties.MASK_VALUE must be a single character"),
        ([task("Truncate", ["a"])], "tasks.1.taskProperties.TRUNCATE_LENGTH is required for Truncate NO_OP"),
        ([task("Truncate", ["a"], TRUNCATE_LENGTH="2.5")], "tasks.1.taskProperties.TRUNCATE_LENGTH must be a positive integer"),
        ([task("Validate", ["a"], "VALIDATE_NUMERIC")], "tasks.1.taskProperties.VALIDATION_ACTION is required"),
        (
            [task("Validate", ["a"], "VALIDATE_NUMERIC", VALIDATION_ACTION="Explode")],
            "tasks.1.taskProperties.VALIDATION_ACTION must be one of DropRecord, DropDataset, TerminateFlow",
        ),
        ([task("Filter", ["a"], "EQUAL_TO", VALUE="x")], "tasks.1.taskProperties.DATA_TYPE is required for Filter EQUAL_TO"),
        ([task("Filter", ["a"], "EQUAL_TO", DATA_TYPE="string")], "tasks.1.taskProperties.VALUE or VALUES is required"),
        ([task("Filter", ["a"], "EQUAL_TO", DATA_TYPE="integer", VALUE="1.5")], "tasks.1.taskProperties.VALUE '1.5' is not an integer"),
        ([task("Filter", ["a"], "LESS_THAN", DATA_TYPE="double", VALUES="1,x")], "tasks.1.taskProperties.VALUES 'x' is not a number"),
        ([task("Filter", ["a"], "EQUAL_TO", DATA_TYPE="boolean", VALUE="maybe")], "tasks.1.taskProperties.VALUE 'maybe' is not a boolean"),
        ([task("Filter", ["a"], "LESS_THAN", DATA_TYPE="datetime", VALUE="soon")], "tasks.1.taskProperties.VALUE 'soon' is not a timestamp"),
        ([task("Filter", ["a"], "LESS_THAN", DATA_TYPE="date", VALUE="soon")], "tasks.1.taskProperties.VALUE 'soon' is not a date"),
        (
            [task("Filter", ["a"], "GREATER_THAN", DATA_TYPE="boolean", VALUE="true")],
            "tasks.1.taskProperties.DATA_TYPE boolean values cannot be compared with GREATER_THAN",
        ),
        (
            [task("Filter", ["a"], "BETWEEN", DATA_TYPE="integer", LOWER_BOUND="1")],
            "tasks.1.taskProperties.UPPER_BOUND is required for Filter BETWEEN",
        ),
        (
            [task("Filter", ["a"], "BETWEEN", DATA_TYPE="integer", LOWER_BOUND="5", UPPER_BOUND="1")],
            "tasks.1.taskProperties.LOWER_BOUND must not exceed UPPER_BOUND",
        ),
        (
            [task("Arithmetic", ["a", "b"], "ADDITION", MATH_OPERATION_FIELDS_ORDER="a,c")],
            "tasks.1.taskProperties.MATH_OPERATION_FIELDS_ORDER must name the two sourceFields, e.g. 'a,b'",
        ),
        (
            [task("Merge", ["a"], CONCAT_FORMAT="${a} ${b}")],
            "tasks.1.taskProperties.CONCAT_FORMAT names ${b}, which is not one of the sourceFields",
        ),
        ([task("Map_all", [], EXCLUDE_SOURCE_FIELDS_LIST="a,b")], "tasks.1.taskProperties.EXCLUDE_SOURCE_FIELDS_LIST must be a JSON list"),
        ([task("Map_all", [], EXCLUDE_SOURCE_FIELDS_LIST="[1]")], "tasks.1.taskProperties.EXCLUDE_SOURCE_FIELDS_LIST must be a JSON list"),
        (
            [project("a", "b"), task("Map", ["a,b"], destination="total"), task("Arithmetic", ["a", "b"], "ADDITION")],
            "tasks.2.sourceFields.1 'a,b' is neither projected nor written by an earlier task",
        ),
        ([project("a"), task("Validate", ["b"], "VALIDATE_NUMERIC", VALIDATION_ACTION="DropRecord")], "tasks.2.sourceFields.1 'b'"),
    ],
)
def test_invalid_tasks(tasks: list[Any], message: str) -> None:
    assert invalid(*tasks).startswith(message)


def test_the_briefs_message_shape() -> None:
    tasks = [project("a"), task("Map", ["a"]), task("Mask", ["a"], "MASK_FIRST_N", MASK_LENGTH="x")]
    assert invalid(*tasks) == "tasks.3.taskProperties.MASK_LENGTH must be a positive integer"


def test_customer_profiles_s3_example() -> None:
    """The Tasks of the S3 PutIntegration example in the Customer Profiles admin guide, as AppFlow wire tasks."""
    documented = [
        {"TaskType": "Filter", "SourceFields": ["colA", "colB"], "ConnectorOperator": {"S3": "PROJECTION"}},
        {"ConnectorOperator": {"S3": "NO_OP"}, "DestinationField": "colA", "TaskProperties": {}, "SourceFields": ["colA"], "TaskType": "Map"},
        {"ConnectorOperator": {"S3": "NO_OP"}, "DestinationField": "colB", "TaskProperties": {}, "SourceFields": ["colB"], "TaskType": "Map"},
    ]
    wire = [{key[0].lower() + key[1:]: value for key, value in item.items()} for item in documented]
    pipeline = compile_tasks(wire, "S3")
    assert pipeline.projected_fields == ("colA", "colB")
    assert pipeline.record_filters == ()
    assert pipeline.apply({"colA": "1", "colB": "x", "colC": "dropped"}) == Output({"colA": "1", "colB": "x"})


def test_merge_temporary_then_map_keeps_only_the_mapped_field() -> None:
    """cdk-appflow's concat: Merge into the temporary "first,last", then Map it to the destination."""
    tasks = [
        project("first", "last"),
        task("Merge", ["first", "last"], CONCAT_FORMAT="${first} ${last}"),
        task("Map", ["first,last"], destination="FullName", SOURCE_DATA_TYPE="string", DESTINATION_DATA_TYPE="string"),
    ]
    pipeline = compile_(*tasks)
    assert pipeline.apply({"first": "Ada", "last": "L"}) == Output({"FullName": "Ada L"})


def test_mapped_fields_are_never_temporaries() -> None:
    tasks = [task("Map", ["a"], destination="b"), task("Map", ["b"], destination="c")]
    assert output({"a": 1}, *tasks) == {"b": 1, "c": 1}


def test_in_place_edits_of_source_fields_reach_every_map() -> None:
    """cdk-appflow lists Mask/Truncate on the source field after the Maps that read it."""
    tasks = [
        project("Phone", "Name"),
        task("Map", ["Phone"], destination="PhoneNumber"),
        task("Map", ["Phone"], destination="Mobile"),
        task("Map", ["Name"]),
        task("Mask", ["Phone"], "MASK_LAST_N", MASK_LENGTH="4"),
        task("Truncate", ["Name"], TRUNCATE_LENGTH="3"),
    ]
    assert output({"Phone": "5551234567", "Name": "Lovelace"}, *tasks) == {
        "PhoneNumber": "555123****",
        "Mobile": "555123****",
        "Name": "Lov",
    }


def test_edit_of_a_derived_field_runs_in_order() -> None:
    tasks = [task("Merge", ["a", "b"], destination="ab"), task("Truncate", ["ab"], TRUNCATE_LENGTH="3")]
    assert output({"a": "xy", "b": "z"}, *tasks) == {"ab": "xy "}


def test_validate_a_computed_field_in_order() -> None:
    tasks = [
        task("Arithmetic", ["a", "b"], "SUBTRACTION", "diff"),
        task("Validate", ["diff"], "VALIDATE_NON_NEGATIVE", VALIDATION_ACTION="DropRecord"),
    ]
    assert output({"a": 3, "b": 1}, *tasks) == {"diff": 2}
    assert isinstance(run({"a": 1, "b": 3}, *tasks), Dropped)


def test_partition_is_ignored() -> None:
    tasks = [task("Map", ["a"]), task("Partition", ["a"], ORDERED_PARTITION_KEYS_LIST='["a"]')]
    assert output({"a": 1}, *tasks) == {"a": 1}
