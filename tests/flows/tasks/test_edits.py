"""Arithmetic, Merge, Mask and Truncate."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprofiles.flows.tasks import Dropped
from tests.flows.tasks.helpers import output, project, run, task

MASKS = st.sampled_from(["MASK_ALL", "MASK_FIRST_N", "MASK_LAST_N"])


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


def test_mask_and_truncate_into_a_destination() -> None:
    tasks = [task("Mask", ["card"], "MASK_FIRST_N", "masked", MASK_LENGTH="12"), task("Truncate", ["note"], destination="short", TRUNCATE_LENGTH="2")]
    assert output({"card": "1234567890123456", "note": 12345}, *tasks) == {"masked": "************3456", "short": "12"}


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


@given(a=st.integers(-(10**20), 10**20), b=st.integers(-(10**20), 10**20))
def test_integer_addition_is_exact(a: int, b: int) -> None:
    assert output({"a": a, "b": b}, task("Arithmetic", ["a", "b"], "ADDITION", "s")) == {"s": a + b}
