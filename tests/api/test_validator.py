"""api/validator.py: every constraint a model states (required, enum, length, range, pattern, list
and map sizes, unions), recursively, with AWS's wording and the member's path."""

from __future__ import annotations

import math
from typing import Any

import pytest

from openprofiles.api.errors import ValidationFailed
from openprofiles.api.spec import load_services
from openprofiles.api.validator import MAX_REPORTED, validate
from tests.api.models import operation

SHAPES: dict[str, Any] = {
    "Name": {"type": "string", "min": 1, "max": 5, "pattern": "^[a-z]+$"},
    "Secret": {"type": "string", "max": 3, "sensitive": True},
    "Colour": {"type": "string", "enum": ["red", "blue"]},
    "Emoji": {"type": "string", "pattern": "^[\\uD83D\\uDE00-\\uD83D\\uDE4F]+$"},
    "Size": {"type": "integer", "min": 1, "max": 10},
    "Weight": {"type": "double", "min": 0},
    "Names": {"type": "list", "member": {"shape": "Name"}, "min": 1, "max": 2},
    "Labels": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Name"}, "max": 1},
    "Bytes": {"type": "blob", "max": 2},
    "Choice": {"type": "structure", "union": True, "members": {"A": {"shape": "String"}, "B": {"shape": "String"}}},
    "Inner": {"type": "structure", "required": ["Name"], "members": {"Name": {"shape": "Name"}}},
}
OP = operation({m: {"shape": m} for m in SHAPES}, SHAPES, required=("Name",))


def problems(params: dict[str, Any]) -> str:
    with pytest.raises(ValidationFailed) as raised:
        validate(OP.model.input_shape, params)
    return raised.value.message


def test_valid_parameters_pass() -> None:
    validate(OP.model.input_shape, {"Name": "abc", "Secret": "s", "Colour": "red", "Emoji": "\U0001F600", "Size": 10,
                                    "Weight": 0.0, "Names": ["a", "b"], "Labels": {"k": "v"}, "Bytes": b"xy",
                                    "Choice": {"A": "a"}, "Inner": {"Name": "x"}})
    validate(None, {})


@pytest.mark.parametrize(("params", "message"), [
    ({}, "1 validation error detected: Value null at 'Name' failed to satisfy constraint: Member must not be null"),
    ({"Name": ""}, "Value '' at 'Name' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    ({"Name": "abcdef"}, "Value 'abcdef' at 'Name' failed to satisfy constraint: Member must have length less than "
                         "or equal to 5"),
    ({"Name": "A1"}, "Value 'A1' at 'Name' failed to satisfy constraint: Member must satisfy regular expression "
                     "pattern: ^[a-z]+$"),
    ({"Name": "a", "Colour": "green"}, "at 'Colour' failed to satisfy constraint: Member must satisfy enum value "
                                        "set: [red, blue]"),
    ({"Name": "a", "Emoji": "x"}, "at 'Emoji' failed to satisfy constraint: Member must satisfy regular expression"),
    ({"Name": "a", "Size": 11}, "Value '11' at 'Size' failed to satisfy constraint: Member must have value less "
                                "than or equal to 10"),
    ({"Name": "a", "Weight": math.nan}, "at 'Weight' failed to satisfy constraint: Member must have value greater"),
    ({"Name": "a", "Names": []}, "Value at 'Names' failed to satisfy constraint: Member must have length greater"),
    ({"Name": "a", "Names": ["a", None]}, "Value null at 'Names.2' failed to satisfy constraint: Member must not be null"),
    ({"Name": "a", "Names": ["A"]}, "Value 'A' at 'Names.1' failed"),
    ({"Name": "a", "Labels": {"K": "v"}}, "at 'Labels.key' failed"),
    ({"Name": "a", "Labels": {"k": "V"}}, "at 'Labels.k' failed"),
    ({"Name": "a", "Labels": {"a": "a", "b": "b"}}, "Value at 'Labels' failed to satisfy constraint: Member must "
                                                    "have length less than or equal to 1"),
    ({"Name": "a", "Bytes": b"xyz"}, "Value at 'Bytes' failed to satisfy constraint: Member must have length less"),
    ({"Name": "a", "Choice": {"A": "a", "B": "b"}}, "Value at 'Choice' failed to satisfy constraint: Member must set "
                                                    "exactly one member"),
    ({"Name": "a", "Inner": {}}, "Value null at 'Inner.Name' failed to satisfy constraint: Member must not be null"),
])
def test_each_constraint_is_named_with_its_path(params: dict[str, Any], message: str) -> None:
    assert message in problems(params)


def test_a_sensitive_value_is_not_shown_and_a_long_one_is_cut() -> None:
    message = problems({"Name": "a", "Secret": "hunter2"})
    assert "hunter2" not in message and "Value at 'Secret'" in message
    message = problems({"Name": "b" * 100})
    assert f"'{'b' * 64}…'" in message and "b" * 65 not in message


def test_every_error_is_counted_and_ten_are_shown() -> None:
    message = problems({"Names": ["A"] * 2, "Labels": {f"K{i}": "v" for i in range(12)}})
    count = int(message.split(" ", 1)[0])
    assert count > MAX_REPORTED and message.startswith(f"{count} validation errors detected: ")
    assert message.count("failed to satisfy constraint") == MAX_REPORTED


def test_a_real_model_pattern() -> None:
    create = load_services()["customer-profiles"].operations["CreateDomain"].model.input_shape
    with pytest.raises(ValidationFailed, match="at 'DomainName' failed to satisfy constraint: Member must satisfy "
                                               "regular expression pattern"):
        validate(create, {"DomainName": "bad name!", "DefaultExpirationDays": 1})
    validate(create, {"DomainName": "good-name_1", "DefaultExpirationDays": 1})
