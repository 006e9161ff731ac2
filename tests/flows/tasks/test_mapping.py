"""Map (with conversion), Passthrough and Map_all."""

from __future__ import annotations

from typing import Any

import pytest

from openprofiles.flows.tasks import Dropped
from tests.flows.tasks.helpers import output, run, task


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
