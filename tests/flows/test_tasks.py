"""AppFlow task compilation and per-record semantics."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprofiles.errors import Invalid
from openprofiles.flows.tasks import (
    Dropped,
    Filtered,
    Output,
    RecordFilter,
    TaskOutcome,
    TaskPipeline,
    Terminated,
    compile_tasks,
    connector_key,
    connector_operators,
)

MODEL = botocore.session.get_session().get_service_model("appflow")


def task(
    task_type: str,
    sources: list[str],
    operator: str | None = "NO_OP",
    destination: str | None = None,
    key: str = "Salesforce",
    **properties: str,
) -> dict[str, Any]:
    """One wire task; `operator=None` leaves connectorOperator out."""
    raw: dict[str, Any] = {"taskType": task_type, "sourceFields": sources, "taskProperties": properties}
    if operator is not None:
        raw["connectorOperator"] = {key: operator}
    if destination is not None:
        raw["destinationField"] = destination
    return raw


def project(*fields: str) -> dict[str, Any]:
    return task("Filter", list(fields), "PROJECTION")


def compile_(*tasks: dict[str, Any], connector: str = "Salesforce") -> TaskPipeline:
    return compile_tasks(list(tasks), connector)


def run(record: dict[str, Any], *tasks: dict[str, Any]) -> TaskOutcome:
    return compile_(*tasks).apply(record)


def output(record: dict[str, Any], *tasks: dict[str, Any]) -> dict[str, Any]:
    outcome = run(record, *tasks)
    assert isinstance(outcome, Output), outcome
    return outcome.record


def invalid(*tasks: dict[str, Any], connector: str = "Salesforce") -> str:
    with pytest.raises(Invalid) as caught:
        compile_(*tasks, connector=connector)
    return caught.value.message


def passes(record: dict[str, Any], *tasks: dict[str, Any]) -> bool:
    outcome = run(record, *tasks)
    assert not isinstance(outcome, Terminated)
    return isinstance(outcome, Output)


# --- connectors and operators, from the model ----------------------------------------------------


@pytest.mark.parametrize(
    ("connector_type", "key"),
    [
        ("Salesforce", "Salesforce"),
        ("Servicenow", "ServiceNow"),
        ("Googleanalytics", "GoogleAnalytics"),
        ("Infornexus", "InforNexus"),
        ("CustomConnector", "CustomConnector"),
        ("SAPOData", "SAPOData"),
        ("S3", "S3"),
    ],
)
def test_connector_key(connector_type: str, key: str) -> None:
    assert connector_key(connector_type) == key


@pytest.mark.parametrize("connector_type", ["CustomerProfiles", "Redshift", "EventBridge", "Nope"])
def test_destination_only_connectors_cannot_source_tasks(connector_type: str) -> None:
    assert "cannot be a flow source" in invalid(project("a"), connector=connector_type)


def test_operator_tables_are_the_models() -> None:
    shape = MODEL.shape_for("ConnectorOperator")
    assert connector_operators() == {name: frozenset(member.enum) for name, member in shape.members.items()}


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


# --- validation errors ---------------------------------------------------------------------------


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


# --- projection, Map, Passthrough, Map_all -------------------------------------------------------


def test_projection_carries_only_its_fields() -> None:
    record = {"a": 1, "b": 2, "c": 3}
    assert output(record, project("a"), project("c", "a"), task("Map_all", [])) == {"a": 1, "c": 3}
    assert compile_(project("a"), project("c", "a")).projected_fields == ("a", "c")
    assert output(record, task("Map_all", [])) == record
    assert compile_(task("Map_all", [])).projected_fields is None


def test_projected_field_missing_from_the_record_is_left_out() -> None:
    assert output({"a": 1}, project("a", "b"), task("Map", ["a"]), task("Map", ["b"])) == {"a": 1}


@pytest.mark.parametrize(
    ("source_type", "destination_type", "value", "expected"),
    [
        (None, None, {"x": 1}, {"x": 1}),
        ("string", "integer", "42", 42),
        ("string", "integer", "42.0", 42),
        ("string", "double", "1.5", 1.5),
        ("integer", "double", 3, 3.0),
        ("string", "Boolean", "TRUE", True),
        ("integer", "boolean", 0, False),
        ("boolean", "string", True, "true"),
        ("double", "string", 2.5, "2.5"),
        ("string", "string", {"x": [1]}, '{"x":[1]}'),
        ("datetime", "datetime", 0, "1970-01-01T00:00:00.000Z"),
        ("string", "datetime", "2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05.000Z"),
        ("string", "datetime", "2024-01-02T03:04:05", "2024-01-02T03:04:05.000Z"),
        ("string", "timestamp", "1970-01-01T00:00:01Z", 1000),
        ("string", "timestamp", "86400000", 86400000),
        ("timestamp", "date", 86400000, "1970-01-02"),
        ("string", "date", "2024-02-29", "2024-02-29"),
        ("timestamp", "string", 1000, "1970-01-01T00:00:01.000Z"),
        ("date", "string", "2024-02-29T23:00:00-02:00", "2024-03-01"),
        ("string", "picklist", "Hot", "Hot"),
        ("string", "integer", None, None),
    ],
)
def test_map_converts_types(source_type: str | None, destination_type: str | None, value: Any, expected: Any) -> None:
    types = {"SOURCE_DATA_TYPE": source_type, "DESTINATION_DATA_TYPE": destination_type}
    properties = {key: name for key, name in types.items() if name is not None}
    result = output({"v": value}, task("Map", ["v"], destination="out", **properties))
    assert result == {"out": expected}
    assert type(result["out"]) is type(expected)


@pytest.mark.parametrize(("value", "kind"), [("abc", "integer"), ("1.5", "integer"), ("x", "double"), ("yes", "boolean"), ("x", "datetime")])
def test_map_conversion_failure_drops_the_record(value: str, kind: str) -> None:
    outcome = run({"v": value}, task("Map", ["v"], destination="out", DESTINATION_DATA_TYPE=kind))
    assert isinstance(outcome, Dropped)
    assert outcome.reason.startswith("tasks.1 (Map): v is not a")


def test_map_defaults_and_absent_sources() -> None:
    assert output({"a": 1}, task("Map", ["a"])) == {"a": 1}
    assert output({"a": 1}, task("Map", ["missing"], destination="x")) == {}
    assert output({"a": 1}, task("Map", ["a"], destination="x"), task("Map", ["a"], destination="y")) == {"x": 1, "y": 1}


def test_passthrough_copies_without_conversion() -> None:
    assert output({"a": "7"}, task("Passthrough", ["a"], destination="b", DESTINATION_DATA_TYPE="integer")) == {"b": "7"}


def test_map_all_with_exclusions_and_renames() -> None:
    record = {"id": 1, "secret": "s", "name": "n"}
    tasks = [task("Map_all", [], EXCLUDE_SOURCE_FIELDS_LIST='["secret"]'), task("Map", ["name"], destination="Name")]
    assert output(record, *tasks) == {"id": 1, "name": "n", "Name": "n"}


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


# --- Arithmetic and Merge ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "order", "expected"),
    [
        ("ADDITION", "a,b", 8),
        ("SUBTRACTION", "a,b", 4),
        ("SUBTRACTION", "b,a", -4),
        ("MULTIPLICATION", "a,b", 12),
        ("DIVISION", "a,b", 3),
        ("DIVISION", "b,a", 1 / 3),
    ],
)
def test_arithmetic(operation: str, order: str, expected: float) -> None:
    tasks = [
        project("a", "b"),
        task("Arithmetic", ["a", "b"], operation, order, MATH_OPERATION_FIELDS_ORDER=order),
        task("Map", [order], destination="result", SOURCE_DATA_TYPE="string"),
    ]
    assert output({"a": "6", "b": 2}, *tasks) == {"result": pytest.approx(expected)}


def test_arithmetic_values() -> None:
    add = task("Arithmetic", ["a", "b"], "ADDITION", "sum")
    assert output({"a": 0.1, "b": 0.2}, add) == {"sum": 0.3}
    assert output({"a": "1.5", "b": "1.5"}, add) == {"sum": 3}
    assert output({"a": None, "b": 1}, add) == {"sum": None}
    assert output({"a": 1, "b": 2}, task("Arithmetic", ["a", "b"], "ADDITION")) == {"a,b": 3}
    assert run({"a": "x", "b": 1}, add) == Dropped("tasks.1 (Arithmetic): a is not a number")


def test_division_by_zero_drops_the_record() -> None:
    outcome = run({"a": 1, "b": "0.0"}, task("Arithmetic", ["a", "b"], "DIVISION", "q"))
    assert outcome == Dropped("tasks.1 (Arithmetic): division by zero (b is 0)")


@pytest.mark.parametrize(
    ("template", "record", "expected"),
    [
        ("${last}, ${first}", {"first": "Ada", "last": "Lovelace"}, "Lovelace, Ada"),
        ("${first} ${first}!", {"first": "Ada"}, "Ada Ada!"),
        ("<${first}|${last}>", {"first": "Ada", "last": None}, "<Ada|>"),
        (None, {"first": "Ada", "last": "Lovelace"}, "Ada Lovelace"),
        (None, {"first": "", "last": 7}, "7"),
    ],
)
def test_merge(template: str | None, record: dict[str, Any], expected: str) -> None:
    properties = {"CONCAT_FORMAT": template} if template else {}
    assert output(record, task("Merge", ["first", "last"], destination="name", **properties)) == {"name": expected}


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


# --- Mask and Truncate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "properties", "value", "expected"),
    [
        ("MASK_ALL", {}, "secret", "******"),
        ("MASK_ALL", {"MASK_LENGTH": "5", "MASK_VALUE": "#"}, "abc", "###"),
        ("MASK_FIRST_N", {"MASK_LENGTH": "2"}, "abcdef", "**cdef"),
        ("MASK_LAST_N", {"MASK_LENGTH": "4"}, "5551234567", "555123****"),
        ("MASK_LAST_N", {"MASK_LENGTH": "9"}, "abc", "***"),
        ("MASK_FIRST_N", {"MASK_LENGTH": "1", "MASK_VALUE": "x"}, 1234, "x234"),
        ("MASK_ALL", {}, None, None),
    ],
)
def test_mask(operation: str, properties: dict[str, str], value: Any, expected: Any) -> None:
    assert output({"a": value}, task("Mask", ["a"], operation, "a", **properties)) == {"a": expected}


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


def test_mask_and_truncate_into_a_destination() -> None:
    tasks = [task("Mask", ["card"], "MASK_FIRST_N", "masked", MASK_LENGTH="12"), task("Truncate", ["note"], destination="short", TRUNCATE_LENGTH="2")]
    assert output({"card": "1234567890123456", "note": 12345}, *tasks) == {"masked": "************3456", "short": "12"}


def test_edit_of_a_derived_field_runs_in_order() -> None:
    tasks = [task("Merge", ["a", "b"], destination="ab"), task("Truncate", ["ab"], TRUNCATE_LENGTH="3")]
    assert output({"a": "xy", "b": "z"}, *tasks) == {"ab": "xy "}


# --- Validate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        ("VALIDATE_NON_NULL", ["x", 0, False], [None, "", "<absent>"]),
        ("VALIDATE_NON_ZERO", [1, "-2", "x", None], [0, "0.0", 0.0]),
        ("VALIDATE_NON_NEGATIVE", [0, "3", "x", None], [-1, "-0.5"]),
        ("VALIDATE_NUMERIC", [0, "1e3", " 2 ", 1.5], ["x", None, True, "nan", "<absent>"]),
    ],
)
def test_validate(check: str, good: list[Any], bad: list[Any]) -> None:
    drop = compile_(task("Map_all", []), task("Validate", ["v"], check, VALIDATION_ACTION="DropRecord"))
    for value in good:
        assert isinstance(drop.apply({"v": value}), Output), value
    for value in bad:
        record = {} if value == "<absent>" else {"v": value}
        assert drop.apply(record) == Dropped(f"tasks.2 (Validate): v failed {check}"), value


@pytest.mark.parametrize("action", ["DropDataset", "TerminateFlow"])
def test_terminating_validation(action: str) -> None:
    tasks = [task("Map", ["v"]), task("Validate", ["v"], "VALIDATE_NON_NULL", VALIDATION_ACTION=action)]
    assert run({"v": None}, *tasks) == Terminated("tasks.2 (Validate): v failed VALIDATE_NON_NULL")
    assert run({"v": 1}, *tasks) == Output({"v": 1})


def test_record_filters_run_before_a_terminating_validation() -> None:
    tasks = [
        task("Validate", ["v"], "VALIDATE_NON_NULL", VALIDATION_ACTION="TerminateFlow"),
        task("Filter", ["kind"], "EQUAL_TO", DATA_TYPE="string", VALUE="lead"),
    ]
    assert isinstance(run({"kind": "other", "v": None}, *tasks), Dropped)


def test_validate_a_computed_field_in_order() -> None:
    tasks = [
        task("Arithmetic", ["a", "b"], "SUBTRACTION", "diff"),
        task("Validate", ["diff"], "VALIDATE_NON_NEGATIVE", VALIDATION_ACTION="DropRecord"),
    ]
    assert output({"a": 3, "b": 1}, *tasks) == {"diff": 2}
    assert isinstance(run({"a": 1, "b": 3}, *tasks), Dropped)


# --- record filters ------------------------------------------------------------------------------


def record_filter(operator: str, data_type: str, **properties: str) -> dict[str, Any]:
    return task("Filter", ["v"], operator, DATA_TYPE=data_type, **properties)


@pytest.mark.parametrize(
    ("operator", "data_type", "properties", "value", "expected"),
    [
        ("EQUAL_TO", "string", {"VALUE": "a"}, "a", True),
        ("EQUAL_TO", "string", {"VALUE": "a"}, "A", False),
        ("EQUAL_TO", "picklist", {"VALUES": "a, b"}, "b", True),
        ("NOT_EQUAL_TO", "string", {"VALUES": "a,b"}, "b", False),
        ("NOT_EQUAL_TO", "string", {"VALUES": "a,b"}, "c", True),
        ("CONTAINS", "string", {"VALUE": "LOVE"}, "Ada Lovelace", True),
        ("CONTAINS", "string", {"VALUES": "x,ada"}, "Ada", True),
        ("CONTAINS", "string", {"VALUE": "z"}, "Ada", False),
        ("LESS_THAN", "integer", {"VALUE": "10"}, "9.5", True),
        ("LESS_THAN", "integer", {"VALUE": "10"}, 10, False),
        ("LESS_THAN_OR_EQUAL_TO", "double", {"VALUE": "0.3"}, 0.3, True),
        ("GREATER_THAN", "double", {"VALUE": "2"}, "10", True),
        ("GREATER_THAN", "string", {"VALUE": "2"}, "10", False),
        ("GREATER_THAN", "integer", {"VALUES": "5,100"}, 6, True),
        ("GREATER_THAN_OR_EQUAL_TO", "integer", {"VALUE": "5"}, 5, True),
        ("EQUAL_TO", "boolean", {"VALUE": "true"}, "TRUE", True),
        ("NOT_EQUAL_TO", "boolean", {"VALUE": "true"}, False, True),
        ("BETWEEN", "integer", {"LOWER_BOUND": "1", "UPPER_BOUND": "3"}, 3, True),
        ("BETWEEN", "integer", {"LOWER_BOUND": "1", "UPPER_BOUND": "3"}, 0, False),
        ("GREATER_THAN", "datetime", {"VALUE": "1704067200000"}, "2024-01-01T00:00:01Z", True),
        ("LESS_THAN", "timestamp", {"VALUE": "2024-01-01T00:00:00Z"}, 1704067199999, True),
        ("BETWEEN", "date", {"LOWER_BOUND": "2024-01-01", "UPPER_BOUND": "2024-01-31"}, "2024-01-31T23:59:59Z", True),
        ("EQUAL_TO", "date", {"VALUE": "2024-01-01"}, 1704067200000, True),
        ("EQUAL_TO", "integer", {"VALUE": "1"}, None, False),
        ("NOT_EQUAL_TO", "integer", {"VALUE": "1"}, None, False),
        ("GREATER_THAN", "integer", {"VALUE": "1"}, "many", False),
    ],
)
def test_record_filter(operator: str, data_type: str, properties: dict[str, str], value: Any, expected: bool) -> None:
    assert passes({"v": value}, record_filter(operator, data_type, **properties)) is expected


def test_filter_reason_and_absent_field() -> None:
    tasks = [record_filter("GREATER_THAN", "integer", VALUE="5"), task("Map_all", [])]
    assert run({}, *tasks) == Filtered("tasks.1 (Filter): v GREATER_THAN 5 not satisfied")


def test_record_filters_test_the_raw_record_and_are_exposed() -> None:
    tasks = [
        project("name"),
        task("Map", ["name"]),
        record_filter("BETWEEN", "timestamp", LOWER_BOUND="0", UPPER_BOUND="2024-01-01T00:00:00Z"),
        task("Filter", ["kind"], "EQUAL_TO", DATA_TYPE="string", VALUES="a,b"),
    ]
    pipeline = compile_(*tasks)
    assert pipeline.record_filters == (
        RecordFilter("v", "BETWEEN", ("0", "2024-01-01T00:00:00Z"), "timestamp"),
        RecordFilter("kind", "EQUAL_TO", ("a", "b"), "string"),
    )
    assert pipeline.apply({"name": "n", "v": 5, "kind": "b"}) == Output({"name": "n"})


def test_partition_is_ignored() -> None:
    tasks = [task("Map", ["a"]), task("Partition", ["a"], ORDERED_PARTITION_KEYS_LIST='["a"]')]
    assert output({"a": 1}, *tasks) == {"a": 1}


# --- properties ----------------------------------------------------------------------------------

MASKS = st.sampled_from(["MASK_ALL", "MASK_FIRST_N", "MASK_LAST_N"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))


@given(text=st.text(), length=st.integers(1, 40), operation=MASKS, char=st.characters())
def test_mask_preserves_length_and_the_unmasked_part(text: str, length: int, operation: str, char: str) -> None:
    masked = output({"a": text}, task("Mask", ["a"], operation, "a", MASK_LENGTH=str(length), MASK_VALUE=char))["a"]
    assert len(masked) == len(text)
    kept = max(len(text) - length, 0)
    if operation == "MASK_FIRST_N":
        assert masked[len(text) - kept :] == text[len(text) - kept :]
    elif operation == "MASK_LAST_N":
        assert masked[:kept] == text[:kept]
    else:
        assert set(masked) <= {char}


@given(text=st.text(), length=st.integers(1, 40))
def test_truncate_keeps_a_prefix_of_at_most_n(text: str, length: int) -> None:
    truncated = output({"a": text}, task("Truncate", ["a"], destination="a", TRUNCATE_LENGTH=str(length)))["a"]
    assert len(truncated) <= length
    assert text.startswith(truncated)


@given(record=st.dictionaries(st.text(min_size=1, max_size=6), SCALARS, max_size=6), data=st.data())
def test_map_all_without_exclusions_is_the_identity_on_projected_fields(record: dict[str, Any], data: st.DataObject) -> None:
    projected = data.draw(st.lists(st.sampled_from(sorted(record)), unique=True, min_size=1)) if record else []
    tasks = [project(*projected), task("Map_all", [])] if projected else [task("Map_all", [])]
    expected = {name: record[name] for name in projected} if projected else record
    assert output(record, *tasks) == expected


@given(value=st.integers(-50, 50), low=st.integers(-50, 50), high=st.integers(-50, 50))
def test_between_is_greater_or_equal_and_less_or_equal(value: int, low: int, high: int) -> None:
    if low > high:
        low, high = high, low
    between = passes({"v": value}, record_filter("BETWEEN", "integer", LOWER_BOUND=str(low), UPPER_BOUND=str(high)))
    above = passes({"v": value}, record_filter("GREATER_THAN_OR_EQUAL_TO", "integer", VALUE=str(low)))
    below = passes({"v": value}, record_filter("LESS_THAN_OR_EQUAL_TO", "integer", VALUE=str(high)))
    strictly = passes({"v": value}, record_filter("GREATER_THAN", "integer", VALUE=str(low)))
    assert between == (above and below)
    assert above == (strictly or value == low)


@given(value=st.text(max_size=3), values=st.lists(st.text(alphabet="abc,", min_size=1, max_size=3), min_size=1, max_size=3))
def test_not_equal_to_is_the_complement_of_equal_to(value: str, values: list[str]) -> None:
    joined = ",".join(values)
    equal = passes({"v": value}, record_filter("EQUAL_TO", "string", VALUES=joined))
    assert passes({"v": value}, record_filter("NOT_EQUAL_TO", "string", VALUES=joined)) is not equal


@given(moment=st.integers(-(10**13), 10**13))
def test_timestamps_round_trip_through_iso(moment: int) -> None:
    iso = output({"t": moment}, task("Map", ["t"], destination="t", DESTINATION_DATA_TYPE="datetime"))["t"]
    assert output({"t": iso}, task("Map", ["t"], destination="t", DESTINATION_DATA_TYPE="timestamp")) == {"t": moment}


@given(a=st.integers(-(10**20), 10**20), b=st.integers(-(10**20), 10**20))
def test_integer_addition_is_exact(a: int, b: int) -> None:
    assert output({"a": a, "b": b}, task("Arithmetic", ["a", "b"], "ADDITION", "s")) == {"s": a + b}
