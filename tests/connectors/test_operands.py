"""connectors/operands.py: one reading of filter operands, an example for each edge input."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from openprofiles.connectors.base import RecordFilter
from openprofiles.connectors.operands import (
    Comparison,
    DataType,
    Family,
    OperandError,
    boolean,
    data_type,
    day,
    family,
    from_properties,
    instant,
    integer,
    number,
    read,
    text,
)

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)


def comparison(operator: str, declared: str, **properties: str) -> Comparison:
    return from_properties("v", operator, {"DATA_TYPE": declared, **properties})[1]


def refusal(operator: str, declared: str, **properties: str) -> str:
    with pytest.raises(OperandError) as caught:
        from_properties("v", operator, {"DATA_TYPE": declared, **properties})
    return str(caught.value)


# --- readers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("1", Decimal(1)), (" 2.50 ", Decimal("2.50")), ("-0", Decimal(0)), ("1e3", Decimal(1000)), (0.1, Decimal("0.1")),
    (7, Decimal(7)), (Decimal("3.3"), Decimal("3.3")),
])
def test_numbers(value: Any, expected: Decimal) -> None:
    assert number(value) == expected


@pytest.mark.parametrize("value", ["", " ", "x", "NaN", "Infinity", "-inf", True, False, None, [1], "1,5"])
def test_not_numbers(value: Any) -> None:
    with pytest.raises(ValueError, match="not a number"):
        number(value)


def test_integers_are_whole_numbers() -> None:
    assert integer("2.0") == 2 and integer(" -3 ") == -3
    with pytest.raises(ValueError, match="not an integer"):
        integer("2.5")


@pytest.mark.parametrize(("value", "expected"), [
    ("true", True), (" TRUE ", True), ("1", True), (1, True), (True, True),
    ("false", False), ("False", False), ("0", False), (0, False), (False, False),
])
def test_booleans(value: Any, expected: bool) -> None:
    assert boolean(value) is expected


@pytest.mark.parametrize("value", ["yes", "no", "", "2", 1.0, "t"])
def test_not_booleans(value: Any) -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        boolean(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("1704067200000", JAN1),
    (" 1704067200000 ", JAN1),
    ("1704067200000.9", JAN1),  # the fraction of a millisecond is dropped
    (1704067200000, JAN1),
    ("+0", datetime(1970, 1, 1, tzinfo=UTC)),
    ("-1", datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ("2024-01-01", JAN1),  # an ISO date is its midnight, UTC
    ("2024-01-01T00:00:00", JAN1),  # no zone: UTC
    ("2024-01-01T01:00:00+01:00", JAN1),
    ("2024-01-01T00:00:00.0009Z", JAN1),  # whole milliseconds, rounded down
    (datetime(2024, 1, 1, 0, 0, 0, 1500), JAN1.replace(microsecond=1000)),
    (date(2024, 1, 1), JAN1),
])
def test_instants(value: Any, expected: datetime) -> None:
    assert instant(value) == expected


@pytest.mark.parametrize("value", ["soon", "", "1e3", "2024-13-01", True, None, 10**30])
def test_not_instants(value: Any) -> None:
    with pytest.raises(ValueError, match="not a timestamp"):
        instant(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-01-01", date(2024, 1, 1)),
    (" 2024-01-01 ", date(2024, 1, 1)),
    ("2024-01-01T23:30:00-01:00", date(2024, 1, 2)),  # a timestamp gives its UTC date
    ("1704067200000", date(2024, 1, 1)),
    (datetime(2024, 1, 1, 23, tzinfo=UTC), date(2024, 1, 1)),
])
def test_days(value: Any, expected: date) -> None:
    assert day(value) == expected


def test_not_a_day() -> None:
    with pytest.raises(ValueError, match="not a date"):
        day("x")


@pytest.mark.parametrize(("value", "expected"), [
    ("a", "a"), (True, "true"), (1.5, "1.5"), ({"b": [1, "x"]}, '{"b":[1,"x"]}'), (date(2024, 1, 1), "2024-01-01"),
])
def test_text(value: Any, expected: str) -> None:
    assert text(value) == expected


@pytest.mark.parametrize(("name", "found"), [
    ("Integer", DataType.INTEGER), ("BIGINT", DataType.INTEGER), ("currency", DataType.DOUBLE),
    ("percent", DataType.DOUBLE), ("varchar", DataType.STRING), ("timestamp", DataType.TIMESTAMP),
    ("picklist", None), ("", None), (None, None),
])
def test_data_type_names(name: str | None, found: DataType | None) -> None:
    assert data_type(name) is found


@pytest.mark.parametrize(("declared", "operator", "found"), [
    ("integer", "EQUAL_TO", Family.NUMBER), ("double", "LESS_THAN", Family.NUMBER),
    ("timestamp", "BETWEEN", Family.INSTANT), ("datetime", "EQUAL_TO", Family.INSTANT),
    ("picklist", "EQUAL_TO", Family.STRING), (None, "EQUAL_TO", Family.STRING),
    ("integer", "CONTAINS", Family.STRING),  # CONTAINS always compares strings
])
def test_families(declared: str | None, operator: str, found: Family) -> None:
    assert family(declared, operator) is found


# --- reading a Filter task's operands ------------------------------------------------------------


def test_values_are_split_on_commas_and_trimmed_value_is_not() -> None:
    spec, read_ = from_properties("v", "EQUAL_TO", {"DATA_TYPE": "string", "VALUES": " a, b ,,c"})
    assert spec == RecordFilter("v", "EQUAL_TO", ("a", "b", "", "c"), "string")
    assert read_.operands == ("a", "b", "", "c")
    assert comparison("EQUAL_TO", "string", VALUE=" a ").operands == (" a ",)


def test_values_win_over_value_and_bounds_are_for_between() -> None:
    assert comparison("EQUAL_TO", "integer", VALUE="1", VALUES="2,3").operands == (Decimal(2), Decimal(3))
    between = comparison("BETWEEN", "integer", LOWER_BOUND="1", UPPER_BOUND="1", VALUE="9")
    assert between.operands == (Decimal(1), Decimal(1))


@pytest.mark.parametrize(("operator", "declared", "properties", "message"), [
    ("EQUAL_TO", "integer", {"VALUE": "1.5"}, "taskProperties.VALUE '1.5' is not an integer"),
    ("EQUAL_TO", "integer", {"VALUES": "1,"}, "taskProperties.VALUES '' is not a number"),
    ("LESS_THAN", "double", {"VALUE": "NaN"}, "taskProperties.VALUE 'NaN' is not a number"),
    ("EQUAL_TO", "boolean", {"VALUE": "yes"}, "taskProperties.VALUE 'yes' is not a boolean"),
    ("LESS_THAN", "boolean", {"VALUE": "true"}, "taskProperties.DATA_TYPE boolean values cannot be compared with LESS_THAN"),
    ("BETWEEN", "date", {"LOWER_BOUND": "2024-01-02", "UPPER_BOUND": "2024-01-01"},
     "taskProperties.LOWER_BOUND must not exceed UPPER_BOUND"),
    ("BETWEEN", "date", {"LOWER_BOUND": "2024-01-02"}, "taskProperties.UPPER_BOUND is required for Filter BETWEEN"),
    ("EQUAL_TO", "string", {}, "taskProperties.VALUE or VALUES is required for Filter EQUAL_TO"),
])
def test_operands_that_do_not_read(operator: str, declared: str, properties: dict[str, str], message: str) -> None:
    assert refusal(operator, declared, **properties) == message


def test_data_type_is_required() -> None:
    with pytest.raises(OperandError, match=r"^taskProperties\.DATA_TYPE is required for Filter CONTAINS$"):
        from_properties("v", "CONTAINS", {"VALUE": "x"})


def test_a_connector_reads_a_record_filter_as_the_flow_does() -> None:
    spec, flows = from_properties("v", "BETWEEN", {"DATA_TYPE": "timestamp", "LOWER_BOUND": "0",
                                                   "UPPER_BOUND": "2024-01-01T00:00:00Z"})
    assert read(spec) == flows
    assert read(RecordFilter("v", "GREATER_THAN", ("1", "x"), "text")).operands == ("1", "x")
    for refused in (RecordFilter("v", "BETWEEN", ("1",), "integer"), RecordFilter("v", "EQUAL_TO", (), "string"),
                    RecordFilter("v", "PROJECTION", ("a",), "string"), RecordFilter("v", "EQUAL_TO", ("x",), "int")):
        with pytest.raises(OperandError):
            read(refused)


# --- the flow's test -----------------------------------------------------------------------------


@pytest.mark.parametrize(("operator", "declared", "properties", "value", "keeps"), [
    ("EQUAL_TO", "string", {"VALUES": "a,"}, "", True),  # an empty item matches the empty string
    ("EQUAL_TO", "string", {"VALUES": "a,"}, None, False),  # and never null
    ("NOT_EQUAL_TO", "string", {"VALUES": "a,b"}, None, False),  # null fails NOT_EQUAL_TO too
    ("NOT_EQUAL_TO", "integer", {"VALUE": "1"}, "x", False),  # so does a value that does not read
    ("EQUAL_TO", "double", {"VALUE": "0.30"}, 0.3, True),  # decimals, not binary floats
    ("EQUAL_TO", "integer", {"VALUE": "2"}, "2.0", True),
    ("EQUAL_TO", "integer", {"VALUE": "1"}, True, False),  # a boolean is not a number
    ("EQUAL_TO", "boolean", {"VALUE": "1"}, "TRUE", True),
    ("GREATER_THAN", "string", {"VALUE": "10"}, "9", True),  # strings by code point
    ("CONTAINS", "integer", {"VALUE": "SS"}, "straße", True),  # casefolded (ß is ss), whatever DATA_TYPE says
    ("CONTAINS", "string", {"VALUE": "STRASSE"}, "Straße", True),
    ("CONTAINS", "string", {"VALUE": "1.5"}, 1.5, True),
    ("EQUAL_TO", "datetime", {"VALUE": "1704067200000"}, "2024-01-01T00:00:00.000999Z", True),
    ("LESS_THAN", "timestamp", {"VALUE": "2024-01-01T00:00:00.001Z"}, 1704067200000, True),
    ("EQUAL_TO", "date", {"VALUE": "2024-01-01"}, "2024-01-01T23:30:00-01:00", False),  # UTC date 2024-01-02
    ("GREATER_THAN", "integer", {"VALUES": "5,100"}, 6, True),  # any value
    ("BETWEEN", "double", {"LOWER_BOUND": "1", "UPPER_BOUND": "2"}, "2", True),  # inclusive
])
def test_keeps(operator: str, declared: str, properties: dict[str, str], value: Any, keeps: bool) -> None:
    assert comparison(operator, declared, **properties).keeps(value) is keeps


def test_subject_is_the_value_as_compared() -> None:
    read_ = comparison("EQUAL_TO", "timestamp", VALUE="0")
    assert read_.subject("1970-01-01T00:00:00.0005Z") == datetime(1970, 1, 1, tzinfo=UTC)
    assert read_.subject("later") is None and read_.subject(None) is None
