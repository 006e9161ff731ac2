"""Turn an HTTP request into an operation's parameters, following its rest-json input shape.

The result is the dict a boto3 caller passed: member names as the model spells them, integers,
booleans, `datetime` for timestamps and `bytes` for blobs.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import orjson
from botocore.model import Shape, StructureShape

from openprofiles import json_depth
from openprofiles.api.errors import ValidationFailed
from openprofiles.api.spec import Operation

#: Wire ranges of the model's integer types (Java `int` and `long`).
INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
#: How rest-json spells the non-finite doubles (botocore sends and expects these strings).
SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
#: Decimal text only: no `_` separators, no surrounding blanks, no non-ASCII digits.
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+\Z")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def _path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _in_int_range(kind: str, value: int, where: str) -> int:
    low, high = INT_RANGES.get(kind, INT_RANGES["long"])
    if not low <= value <= high:
        raise ValidationFailed(
            f"Value '{str(value)[:64]}' at '{where}' failed to satisfy constraint: "
            f"Member must be {'an integer' if kind == 'integer' else 'a long'} between {low} and {high}"
        )
    return value


def _number_from_text(text: str) -> float | None:
    """A decimal or rest-json special float spelled in text, or None when it is not one."""
    if text in SPECIAL_FLOATS:
        return SPECIAL_FLOATS[text]
    if not _NUMBER_TEXT.match(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def parse_timestamp(value: Any, where: str) -> datetime:
    """Epoch seconds (number or numeric string), ISO 8601 or RFC 822, as an aware UTC datetime."""
    if isinstance(value, bool):
        raise ValidationFailed(f"Value at '{where}' failed to satisfy constraint: Member must be a timestamp")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValidationFailed(f"Value at '{where}' failed to satisfy constraint: Member must be a timestamp")
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValidationFailed(f"Value at '{where}' failed to satisfy constraint: timestamp out of range") from None
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER_TEXT.match(text):
            return parse_timestamp(float(text), where)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                raise ValidationFailed(
                    f"Value '{value[:64]}' at '{where}' failed to satisfy constraint: Member must be a timestamp"
                ) from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise ValidationFailed(f"Value at '{where}' failed to satisfy constraint: Member must be a timestamp")


def _scalar_from_text(shape: Shape, text: str, where: str) -> Any:
    """A query string, header or path value converted to the shape's type."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        if not _INTEGER_TEXT.match(text) or len(text) > 40:
            raise ValidationFailed(f"Value '{text[:64]}' at '{where}' failed to satisfy constraint: Member must be an integer")
        return _in_int_range(kind, int(text), where)
    if kind in ("double", "float"):
        number = _number_from_text(text)
        if number is None:
            raise ValidationFailed(f"Value '{text[:64]}' at '{where}' failed to satisfy constraint: Member must be a number")
        return number
    if kind == "boolean":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValidationFailed(f"Value '{text[:64]}' at '{where}' failed to satisfy constraint: Member must be true or false")
    if kind == "timestamp":
        return parse_timestamp(text, where)
    return _string(text, where)


def _header_list(text: str) -> list[str]:
    """The items of a list header: comma-separated, each optionally double-quoted (with `\\"`
    escapes) so that it can hold commas; blanks around items are insignificant."""
    items: list[str] = []
    pos = 0
    while pos <= len(text):
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == '"':
            chars: list[str] = []
            pos += 1
            while pos < len(text) and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < len(text):
                    pos += 1
                chars.append(text[pos])
                pos += 1
            items.append("".join(chars))
            end = text.find(",", pos)
        else:
            end = text.find(",", pos)
            items.append(text[pos : len(text) if end < 0 else end].strip())
        if end < 0:
            break
        pos = end + 1
    return items


def _string(value: str, where: str) -> str:
    """A string member's value. U+0000 is refused: PostgreSQL text cannot hold it, and a value
    one backend stores and the other fails on must not get past the protocol layer."""
    if "\x00" in value:
        raise ValidationFailed(
            f"Value at '{where}' failed to satisfy constraint: Member must not contain the NUL character (U+0000)"
        )
    return value


def _type_error(where: str, expected: str) -> ValidationFailed:
    return ValidationFailed(f"Value at '{where}' failed to satisfy constraint: Member must be {expected}")


@cache
def _json_members(shape: StructureShape) -> tuple[tuple[str, str, Shape], ...]:
    """A structure's members as (name, name on the wire, shape)."""
    return tuple((name, member.serialization.get("name", name), member) for name, member in shape.members.items())


def from_json(shape: Shape, value: Any, where: str) -> Any:
    """A decoded JSON value converted to the shape's Python form; unknown members are ignored."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise _type_error(where, "an object")
        assert isinstance(shape, StructureShape)
        out: dict[str, Any] = {}
        for name, wire, member in _json_members(shape):
            if wire in value and value[wire] is not None:
                out[name] = from_json(member, value[wire], _path(where, name))
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _type_error(where, "a list")
        member = shape.member  # type: ignore[attr-defined]
        return [from_json(member, item, f"{where}.{i + 1}") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, Mapping):
            raise _type_error(where, "a map")
        key_shape, value_shape = shape.key, shape.value  # type: ignore[attr-defined]
        return {
            from_json(key_shape, k, f"{where}.key"): from_json(value_shape, v, f"{where}.{k}")
            for k, v in value.items()
        }
    if kind == "string":
        if not isinstance(value, str):
            raise _type_error(where, "a string")
        return _string(value, where)
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(where, "an integer")
        return _in_int_range(kind, value, where)
    if kind in ("double", "float"):
        if isinstance(value, str) and value in SPECIAL_FLOATS:
            return SPECIAL_FLOATS[value]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(where, "a number")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(where, "a boolean")
        return value
    if kind == "timestamp":
        return parse_timestamp(value, where)
    if kind == "blob":
        if not isinstance(value, str):
            raise _type_error(where, "base64 text")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _type_error(where, "base64 text") from None
    return value


@dataclass(frozen=True)
class _Member:
    name: str
    wire: str
    shape: Shape
    location: str | None


@cache
def _input_members(shape: StructureShape) -> tuple[tuple[_Member, ...], _Member | None, tuple[_Member, ...]]:
    """An input shape's members read from the path, query string and headers; its payload member,
    if any; and its other (JSON body) members. Worked out once per shape."""
    payload = shape.serialization.get("payload")
    located: list[_Member] = []
    body: list[_Member] = []
    payload_member = None
    for name, member in shape.members.items():
        found = _Member(name, member.serialization.get("name", name), member, member.serialization.get("location"))
        if found.location:
            located.append(found)
        elif name == payload:
            payload_member = found
        else:
            body.append(found)
    return tuple(located), payload_member, tuple(body)


def parse_request(
    op: Operation,
    labels: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's parameters from path labels, query string, headers and body."""
    shape = op.model.input_shape
    if shape is None:
        return {}
    assert isinstance(shape, StructureShape)
    located, payload, body_members = _input_members(shape)
    params: dict[str, Any] = {}
    for m in located:
        name, wire, member, location = m.name, m.wire, m.shape, m.location
        if location == "uri":
            if wire in labels:
                params[name] = _scalar_from_text(member, labels[wire], name)
        elif location == "querystring":
            if member.type_name == "list":
                values = [v for k, v in query if k == wire]
                if values:
                    params[name] = [_scalar_from_text(member.member, v, name) for v in values]  # type: ignore[attr-defined]
            elif member.type_name == "map":
                found = {k: v for k, v in query if k not in _located_names(shape)}
                if found:
                    params[name] = found
            else:
                values = [v for k, v in query if k == wire]
                if values:
                    params[name] = _scalar_from_text(member, values[0], name)
        elif location == "header":
            value = headers.get(wire.lower())
            if value is not None:
                if member.type_name == "list":
                    item_shape = member.member  # type: ignore[attr-defined]
                    params[name] = [_scalar_from_text(item_shape, item, name) for item in _header_list(value)]
                else:
                    params[name] = _scalar_from_text(member, value, name)
        elif location == "headers":
            prefix = wire.lower()
            found = {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
    if payload is not None:
        kind = payload.shape.type_name
        if kind in ("blob", "string"):
            if body:
                params[payload.name] = body if kind == "blob" else _string(body.decode("utf-8", "replace"), payload.name)
        else:
            document = _decode_body(body, payload.name)
            if document is not None:
                params[payload.name] = from_json(payload.shape, document, payload.name)
    if body_members:
        document = _decode_body(body)
        if document is not None:
            if not isinstance(document, dict):
                raise ValidationFailed("The request body must be a JSON object")
            for m in body_members:
                if document.get(m.wire) is not None:
                    params[m.name] = from_json(m.shape, document[m.wire], m.name)
    return params


def _located_names(shape: StructureShape) -> set[str]:
    return {
        m.serialization.get("name", n)
        for n, m in shape.members.items()
        if m.serialization.get("location") == "querystring" and m.type_name != "map"
    }


def _decode_body(body: bytes, member: str | None = None) -> Any:
    """The JSON body, held to `json_depth.MAX_DEPTH` levels; `member` names a payload member."""
    if not body or not body.strip():
        return None
    try:
        return json_depth.loads(body)
    except json_depth.TooDeep as error:
        where = ".".join(part for part in (member, json_depth.dotted(error.path)) if part)
        limit = f"Member must not nest objects and arrays more than {json_depth.MAX_DEPTH} levels deep"
        if where:
            raise ValidationFailed(f"Value at '{where}' failed to satisfy constraint: {limit}") from None
        raise ValidationFailed(f"The request body is {error}: objects and arrays may nest at most "
                               f"{json_depth.MAX_DEPTH} levels deep") from None
    except orjson.JSONDecodeError:
        raise ValidationFailed("The request body is not valid JSON") from None
