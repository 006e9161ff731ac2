"""Source values as JSON-friendly data, for connectors whose sources hold typed values (SQL, Parquet)."""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from openprofiles import json_depth


def plain(value: Any) -> Any:
    """A typed value as JSON-friendly data: date/time as ISO 8601, Decimal as a string (exact), binary
    as base64, an interval as seconds, anything else unknown as its string; containers recursively.
    A container nested deeper than `json_depth.MAX_DEPTH` is left as it is: the flow run keeps
    its record as a dead letter."""
    if isinstance(value, dict | list | tuple) and json_depth.depth_beyond(value) is not None:
        return value
    return _plain(value)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)
