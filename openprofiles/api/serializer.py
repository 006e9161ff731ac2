"""Render a handler's result as an HTTP response, following the operation's rest-json output shape.

Only members the shape declares are written; absent (None) members are omitted; timestamps in
the body are epoch seconds (rest-json's default) and RFC 822 dates in headers.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
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


@cache
def _body_members(shape: StructureShape) -> dict[str, tuple[str, Shape | None]]:
    """A structure's body members by name: (name on the wire, the member's shape when its value
    needs converting, else None)."""
    return {
        name: (member.serialization.get("name", name), None if member.type_name in _AS_IS else member)
        for name, member in shape.members.items()
        if member.serialization.get("location") is None
    }


def to_json(shape: Shape, value: Any) -> Any:
    """A Python value shaped for the JSON body."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        members = _body_members(shape)
        out = {}
        for name, item in value.items():
            found = members.get(name)
            if found is not None and item is not None:
                out[found[0]] = item if found[1] is None else to_json(found[1], item)
        return out
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]
        return list(value) if member.type_name in _AS_IS else [to_json(member, item) for item in value]
    if kind == "map":
        value_shape = shape.value  # type: ignore[attr-defined]
        if value_shape.type_name in _AS_IS:
            return {k: v for k, v in value.items() if v is not None}
        return {k: to_json(value_shape, v) for k, v in value.items() if v is not None}
    if kind == "timestamp":
        return _timestamp(shape, value, "unixTimestamp")
    if kind in ("double", "float"):
        return _number(value)
    if kind == "blob" and isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    return value


def serialize_response(op: Operation, result: Mapping[str, Any] | None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body for a successful call."""
    shape = op.model.output_shape
    status = op.success_code
    headers: dict[str, str] = {}
    if shape is None:
        return status, headers, b"{}"
    result = result or {}
    assert isinstance(shape, StructureShape)
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        value = result.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            headers[member.serialization.get("name", name)] = _header(member, value)
        elif location == "headers":
            prefix = member.serialization.get("name", name)
            headers.update({f"{prefix}{k}": str(v) for k, v in value.items()})
    if payload:
        member = shape.members[payload]
        value = result.get(payload)
        if member.type_name in ("blob", "string"):
            body = value if isinstance(value, bytes) else (value or "").encode()
            return status, headers, body
        return status, headers, orjson.dumps(to_json(member, value) if value is not None else {})
    return status, headers, orjson.dumps(to_json(shape, result))
