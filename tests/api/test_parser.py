"""api/parser.py: a request's path labels, query string, headers and body as the operation's
parameters, typed as the model says, and the ValidationException for each malformed input."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from openprofiles.api.errors import ValidationFailed
from openprofiles.api.parser import from_json, parse_request, parse_timestamp
from openprofiles.api.spec import Operation
from tests.api.models import operation

LOCATED = operation({
    "Name": {"shape": "String", "location": "uri", "locationName": "name"},
    "Limit": {"shape": "Integer", "location": "querystring", "locationName": "limit"},
    "Ratio": {"shape": "Double", "location": "querystring", "locationName": "ratio"},
    "Tags": {"shape": "StringList", "location": "querystring", "locationName": "tag"},
    "Rest": {"shape": "StringMap", "location": "querystring"},
    "Flag": {"shape": "Boolean", "location": "header", "locationName": "X-Flag"},
    "Since": {"shape": "Timestamp", "location": "header", "locationName": "X-Since"},
    "Labels": {"shape": "StringList", "location": "header", "locationName": "X-Labels"},
    "Meta": {"shape": "StringMap", "location": "headers", "locationName": "x-meta-"},
    "Count": {"shape": "Long"},
    "When": {"shape": "Timestamp"},
    "Data": {"shape": "Blob"},
    "Items": {"shape": "StringList"},
}, uri="/things/{name}")
RAW = operation({"Name": {"shape": "String", "location": "uri", "locationName": "name"},
                 "Body": {"shape": "Blob"}}, uri="/raw/{name}", payload="Body")


def parse(op: Operation, body: bytes = b"", labels: dict[str, str] | None = None,
          query: list[tuple[str, str]] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return parse_request(op, labels or {}, query or [], headers or {}, body)


def test_every_location_typed_as_the_model_says() -> None:
    params = parse(
        LOCATED, b'{"Count": 12, "When": 1700000000.5, "Data": "aGk=", "Items": ["a"], "Unknown": 1}',
        labels={"name": "n"},
        query=[("limit", "5"), ("ratio", "Infinity"), ("tag", "a"), ("tag", "b"), ("free", "x")],
        headers={"x-flag": "TRUE", "x-since": "Tue, 14 Nov 2023 22:13:20 GMT", "x-labels": 'a, "b,c", "d\\"e"',
                 "x-meta-colour": "blue"})
    assert params == {
        "Name": "n", "Limit": 5, "Ratio": math.inf, "Tags": ["a", "b"], "Rest": {"free": "x"}, "Flag": True,
        "Since": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), "Labels": ["a", "b,c", 'd"e'],
        "Meta": {"colour": "blue"}, "Count": 12, "When": datetime.fromtimestamp(1700000000.5, UTC), "Data": b"hi",
        "Items": ["a"],
    }


def test_absent_members_and_json_nulls_are_left_out() -> None:
    assert parse(LOCATED, b'{"Count": null}') == {}
    assert parse(LOCATED, b"  ") == {}


def test_a_blob_payload_is_the_raw_body() -> None:
    assert parse(RAW, b"\x00\xffraw", labels={"name": "n"}) == {"Name": "n", "Body": b"\x00\xffraw"}
    assert parse(RAW, labels={"name": "n"}) == {"Name": "n"}


@pytest.mark.parametrize(("request_args", "words"), [
    ({"query": [("limit", "five")]}, "at 'Limit' failed to satisfy constraint: Member must be an integer"),
    ({"query": [("limit", "4294967296")]}, "Member must be an integer between"),
    ({"query": [("limit", "٣")]}, "Member must be an integer"),
    ({"query": [("ratio", "1e999")]}, "Member must be a number"),
    ({"headers": {"x-flag": "yes"}}, "Member must be true or false"),
    ({"headers": {"x-since": "yesterday"}}, "at 'Since' failed to satisfy constraint: Member must be a timestamp"),
    ({"labels": {"name": "a\x00b"}}, "NUL character"),
    ({"body": b'{"Count": true}'}, "at 'Count' failed to satisfy constraint: Member must be an integer"),
    ({"body": b'{"Count": 9223372036854775808}'}, "Member must be a long between"),
    ({"body": b'{"Data": "not base64!"}'}, "Member must be base64 text"),
    ({"body": b'{"Items": "a"}'}, "at 'Items' failed to satisfy constraint: Member must be a list"),
    ({"body": b'{"Items": [1]}'}, "at 'Items.1' failed to satisfy constraint: Member must be a string"),
    ({"body": b"[1]"}, "The request body must be a JSON object"),
    ({"body": b"{"}, "The request body is not valid JSON"),
    ({"body": b'{"Items": ' + b"[" * 200 + b"]" * 200 + b"}"},
     "Value at 'Items.1.1.1.1.1.…' failed to satisfy constraint: Member must not nest objects and arrays more than "
     "128 levels deep"),
    ({"body": b"[" * 2000 + b"]" * 2000}, "The request body is nested deeper than"),
])
def test_malformed_input_is_a_validation_error(request_args: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse(LOCATED, **request_args)
    assert words in raised.value.message


@pytest.mark.parametrize(("value", "expected"), [
    (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("2023-11-14T22:13:20Z", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("2023-11-14T23:13:20+01:00", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("2023-11-14T22:13:20", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),  # no zone: UTC
])
def test_timestamps_in_every_form_become_aware_utc(value: Any, expected: datetime) -> None:
    parsed = parse_timestamp(value, "When")
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("value", [True, math.nan, 1e300, [], "soon"])
def test_what_is_no_timestamp(value: Any) -> None:
    with pytest.raises(ValidationFailed, match="at 'When'"):
        parse_timestamp(value, "When")


def test_from_json_names_the_path_of_the_bad_value() -> None:
    shape = LOCATED.model.input_shape
    with pytest.raises(ValidationFailed, match=r"at 'Items\.2'"):
        from_json(shape, {"Items": ["a", {"b": 1}]}, "")
    assert from_json(shape, {"Count": 3}, "") == {"Count": 3}
