"""Record filters: the flow's test of the raw record, operands read by connectors/operands.py."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.flows.tasks.helpers import passes, task


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
