"""Render a handler's result as an HTTP response, following the operation's rest-json output shape.

Only members the shape declares are written; absent (None) members are omitted; timestamps in
the body are epoch seconds (rest-json's default) and RFC 822 dates in headers.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache
from typing import Any

import orjson
from botocore.model import Shape, StructureShape

from openprofiles.api.spec import Operation


def _epoch(value: datetime) -> float | int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = value.timestamp()
    return int(seconds) if seconds.is_integer() else round(seconds, 3)


def _number(value: Any) -> Any:
    """Non-finite doubles as rest-json spells them (JSON has no NaN; orjson would write null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _header(shape: Shape, value: Any) -> str:
    """A header value as botocore reads it: lower-case booleans, RFC 822 dates, comma lists."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]
        items = []
        for item in value:
            text = _header(member, item)
            if member.type_name == "string" and ("," in text or '"' in text):
                text = '"' + text.replace('"', '\\"') + '"'
            items.append(text)
        return ",".join(items)
    if kind in ("double", "float"):
        return str(_number(value))
    return str(_timestamp(shape, value, "rfc822"))


def _timestamp(shape: Shape, value: Any, default_format: str) -> Any:
    if not isinstance(value, datetime):
        return value
    fmt = shape.serialization.get("timestampFormat", default_format)
    if fmt == "iso8601":
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if fmt == "rfc822":
        return format_datetime(value.astimezone(UTC), usegmt=True)
    return _epoch(value)


#: Shapes whose JSON value is the Python value itself.
_AS_IS = frozenset({"string", "integer", "long", "boolean"})

#: Turns a Python value into its JSON form for one shape.
Convert = Callable[[Any], Any]


@cache
def _body_members(shape: StructureShape) -> dict[str, tuple[str, Shape | None]]:
    """A structure's body members by name: (name on the wire, the member's shape when its value
    needs converting, else None)."""
    return {
        name: (member.serialization.get("name", name), None if member.type_name in _AS_IS else member)
        for name, member in shape.members.items()
        if member.serialization.get("location") is None
    }


@cache
def _converter(shape: Shape) -> Convert | None:
    """How values of a shape become JSON, worked out once per shape; None when they are JSON as they are."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _structure(shape)
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]

        def convert_list(value: Any) -> Any:
            convert = _converter(member)
            return list(value) if convert is None else [convert(item) for item in value]

        return convert_list
    if kind == "map":
        value_shape = shape.value  # type: ignore[attr-defined]

        def convert_map(value: Any) -> Any:
            convert = _converter(value_shape)
            if convert is None:
                return {k: v for k, v in value.items() if v is not None}
            return {k: convert(v) for k, v in value.items() if v is not None}

        return convert_map
    if kind == "timestamp":
        return lambda value: _timestamp(shape, value, "unixTimestamp")
    if kind in ("double", "float"):
        return _number
    if kind == "blob":
        return lambda value: base64.b64encode(value).decode() if isinstance(value, bytes | bytearray) else value
    return None


def _structure(shape: StructureShape) -> Convert:
    members = _body_members(shape)

    def convert(value: Any) -> Any:
        out = {}
        for name, item in value.items():
            found = members.get(name)
            if found is not None and item is not None:
                # A member's converter is looked up here, not in advance: shapes can be recursive.
                member_convert = _converter(found[1]) if found[1] is not None else None
                out[found[0]] = item if member_convert is None else member_convert(item)
        return out

    return convert


def to_json(shape: Shape, value: Any) -> Any:
    """A Python value shaped for the JSON body."""
    convert = _converter(shape)
    return value if convert is None else convert(value)


@dataclass(frozen=True)
class _Output:
    """Where an output shape's members go: status code and headers, payload, JSON body."""

    status_member: str | None
    header_members: tuple[tuple[str, str, Shape], ...]
    prefix_members: tuple[tuple[str, str], ...]
    payload: tuple[str, Shape] | None


@cache
def _output(shape: StructureShape) -> _Output:
    status_member = None
    headers: list[tuple[str, str, Shape]] = []
    prefixed: list[tuple[str, str]] = []
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location == "statusCode":
            status_member = name
        elif location == "header":
            headers.append((name, member.serialization.get("name", name), member))
        elif location == "headers":
            prefixed.append((name, member.serialization.get("name", name)))
    payload = shape.serialization.get("payload")
    return _Output(status_member, tuple(headers), tuple(prefixed),
                   (payload, shape.members[payload]) if payload else None)


def serialize_response(op: Operation, result: Mapping[str, Any] | None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body for a successful call."""
    shape = op.model.output_shape
    status = op.success_code
    headers: dict[str, str] = {}
    if shape is None:
        return status, headers, b"{}"
    result = result or {}
    assert isinstance(shape, StructureShape)
    layout = _output(shape)
    if layout.status_member is not None and result.get(layout.status_member) is not None:
        status = int(result[layout.status_member])
    for name, wire, member in layout.header_members:
        value = result.get(name)
        if value is not None:
            headers[wire] = _header(member, value)
    for name, prefix in layout.prefix_members:
        value = result.get(name)
        if value is not None:
            headers.update({f"{prefix}{k}": str(v) for k, v in value.items()})
    if layout.payload is not None:
        name, member = layout.payload
        value = result.get(name)
        if member.type_name in ("blob", "string"):
            body = value if isinstance(value, bytes) else (value or "").encode()
            return status, headers, body
        return status, headers, orjson.dumps(to_json(member, value) if value is not None else {})
    return status, headers, orjson.dumps(to_json(shape, result))
