"""Values as Map converts them, on the readers every filter and push-down shares (connectors/operands.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from openprofiles.connectors.operands import EPOCH, DataType, boolean, day, instant, integer, number, text

_TEMPORAL = frozenset({DataType.DATE, DataType.DATETIME, DataType.TIMESTAMP})


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (rounded down)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds (`2024-01-02T03:04:05.000Z`)."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_CONVERT: dict[DataType, Callable[[Any], Any]] = {
    DataType.STRING: text,
    DataType.INTEGER: integer,
    DataType.DOUBLE: lambda value: float(number(value)),
    DataType.BOOLEAN: boolean,
    DataType.DATE: lambda value: day(value).isoformat(),
    DataType.DATETIME: lambda value: iso(instant(value)),
    DataType.TIMESTAMP: lambda value: epoch_ms(instant(value)),
}


def convert(value: Any, source: DataType | None, destination: DataType | None) -> Any:
    """A Map's conversion: to the destination family; a temporal source written as a string is ISO 8601.
    ValueError names what the value is not."""
    if value is None or destination is None:
        return value
    if destination is DataType.STRING and source in _TEMPORAL:
        destination = DataType.DATE if source is DataType.DATE else DataType.DATETIME
    return _CONVERT[destination](value)
