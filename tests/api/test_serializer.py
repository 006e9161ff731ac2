"""api/serializer.py: a handler's result as status, headers and body following the output shape:
only declared members, None left out, timestamps as epoch seconds in the body, non-finite doubles
as rest-json spells them, blobs as base64, payload members as the body itself."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

from openprofiles.api.serializer import serialize_response, to_json
from tests.api.models import operation

OUTPUT: dict[str, Any] = {
    "Name": {"shape": "String"},
    "Renamed": {"shape": "String", "locationName": "wireName"},
    "Count": {"shape": "Integer"},
    "Score": {"shape": "Double"},
    "At": {"shape": "Timestamp"},
    "Iso": {"shape": "IsoTime"},
    "Data": {"shape": "Blob"},
    "Items": {"shape": "Things"},
    "ByName": {"shape": "ThingMap"},
    "Code": {"shape": "Integer", "location": "statusCode"},
    "Flag": {"shape": "Boolean", "location": "header", "locationName": "x-flag"},
    "Since": {"shape": "Timestamp", "location": "header", "locationName": "x-since"},
    "Meta": {"shape": "StringMap", "location": "headers", "locationName": "x-meta-"},
}
SHAPES: dict[str, Any] = {
    "IsoTime": {"type": "timestamp", "timestampFormat": "iso8601"},
    "Thing": {"type": "structure", "members": {"When": {"shape": "Timestamp"}, "Inner": {"shape": "Thing"}}},
    "Things": {"type": "list", "member": {"shape": "Thing"}},
    "ThingMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Thing"}},
}
OP = operation({}, SHAPES, output=OUTPUT, code=201)
WHEN = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)


def body_of(result: dict[str, Any]) -> Any:
    return orjson.loads(serialize_response(OP, result)[2])


def test_members_by_their_wire_names_and_types() -> None:
    assert body_of({"Name": "n", "Renamed": "r", "Count": 3, "Score": 0.5, "At": WHEN, "Iso": WHEN,
                    "Data": b"hi", "Undeclared": "x", "Items": None}) == {
        "Name": "n", "wireName": "r", "Count": 3, "Score": 0.5, "At": 1704164645.5,
        "Iso": "2024-01-02T03:04:05.500000Z", "Data": "aGk="}


def test_whole_seconds_are_integers_and_naive_times_are_utc() -> None:
    assert body_of({"At": datetime(2024, 1, 2)}) == {"At": 1704153600}


def test_non_finite_doubles() -> None:
    assert body_of({"Score": math.inf}) == {"Score": "Infinity"}
    assert body_of({"Score": -math.inf}) == {"Score": "-Infinity"}
    assert body_of({"Score": math.nan}) == {"Score": "NaN"}


def test_nested_and_recursive_shapes() -> None:
    result = {"Items": [{"When": WHEN, "Inner": {"When": WHEN, "Inner": None}}],
              "ByName": {"a": {"When": WHEN}, "gone": None}}
    assert body_of(result) == {"Items": [{"When": 1704164645.5, "Inner": {"When": 1704164645.5}}],
                               "ByName": {"a": {"When": 1704164645.5}}}


def test_status_and_headers() -> None:
    status, headers, body = serialize_response(OP, {"Code": 202, "Flag": False, "Since": WHEN,
                                                    "Meta": {"colour": "blue"}, "Name": "n"})
    assert status == 202 and orjson.loads(body) == {"Name": "n"}
    assert headers == {"x-flag": "false", "x-since": "Tue, 02 Jan 2024 03:04:05 GMT", "x-meta-colour": "blue"}
    assert serialize_response(OP, None) == (201, {}, b"{}")


def test_payload_members_are_the_body() -> None:
    blob = operation({}, output={"Body": {"shape": "Blob"}}, output_payload="Body")
    assert serialize_response(blob, {"Body": b"\x00raw"}) == (200, {}, b"\x00raw")
    assert serialize_response(blob, {}) == (200, {}, b"")
    document = operation({}, SHAPES, output={"Body": {"shape": "Thing"}}, output_payload="Body")
    assert orjson.loads(serialize_response(document, {"Body": {"When": WHEN}})[2]) == {"When": 1704164645.5}
    assert serialize_response(document, {})[2] == b"{}"
    no_output = operation({})
    assert serialize_response(no_output, {"Anything": 1}) == (200, {}, b"{}")


def test_to_json_leaves_plain_values_alone() -> None:
    shape = OP.model.output_shape.members["Name"]
    assert to_json(shape, "text") == "text"
