"""Record filter operands, read once for the flow's Filter task and for every connector's push-down.

AppFlow's model gives a Filter task's operands as strings: `VALUE`, `VALUES` (comma-joined) or, for
BETWEEN, `LOWER_BOUND` and `UPPER_BOUND`, compared as `DATA_TYPE` says. `from_properties` reads
task properties into a `RecordFilter` (the strings a connector receives) and its `Comparison`;
`read` gives a connector the same `Comparison` from the `RecordFilter`. A comparison holds typed
operands of one `Family` (str, Decimal, bool, date, or a UTC datetime at whole milliseconds), and
`Comparison.keeps` is the flow's test of a record's value, reading it with the same readers. A
push-down writes its query from `Comparison.operands`, so flow and source decide every edge input
alike; docs/flows.md ("Record filters") lists those decisions.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from openprofiles.connectors.base import RecordFilter


class DataType(StrEnum):
    """The value families behind AppFlow's data type names."""

    STRING = "string"
    INTEGER = "integer"
    DOUBLE = "double"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    TIMESTAMP = "timestamp"


_DATA_TYPES: dict[str, DataType] = {
    **dict.fromkeys(("string", "str", "text", "varchar", "char"), DataType.STRING),
    **dict.fromkeys(("integer", "int", "long", "short", "byte", "bigint"), DataType.INTEGER),
    **dict.fromkeys(("double", "float", "decimal", "number", "currency", "percent"), DataType.DOUBLE),
    **dict.fromkeys(("boolean", "bool"), DataType.BOOLEAN),
    "date": DataType.DATE,
    "datetime": DataType.DATETIME,
    "timestamp": DataType.TIMESTAMP,
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC = re.compile(r"[+-]?\d+(\.\d*)?")


def data_type(name: str | None) -> DataType | None:
    """The family of a data type name (case-insensitive); None when absent or not recognised."""
    return _DATA_TYPES.get(name.lower()) if name else None


# --- readers: one decision per input, for operands and record values alike -----------------------


def number(value: Any) -> Decimal:
    """A finite number from a number or a numeric string (trimmed); booleans are not numbers."""
    if isinstance(value, str):
        try:
            found = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("not a number") from None
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        found = Decimal(value)
    elif isinstance(value, float):
        found = Decimal(repr(value))
    else:
        raise ValueError("not a number")
    if not found.is_finite():
        raise ValueError("not a number")
    return found


def integer(value: Any) -> int:
    """A whole number (`2.0` is 2, `2.5` is not an integer)."""
    found = number(value)
    if found != found.to_integral_value():
        raise ValueError("not an integer")
    return int(found)


def boolean(value: Any) -> bool:
    """true/false or 1/0, as booleans, numbers or strings (trimmed, any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError("not a boolean")


def instant(value: Any) -> datetime:
    """A UTC datetime at whole milliseconds (rounded down) from epoch milliseconds (a number, or digits
    with an optional sign and fraction, the fraction dropped) or ISO 8601 (no zone = UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and not _NUMERIC.fullmatch(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("not a timestamp (epoch milliseconds or ISO 8601)") from None
    else:
        try:
            return EPOCH + timedelta(milliseconds=int(number(value)))
        except (ValueError, OverflowError):
            raise ValueError("not a timestamp (epoch milliseconds or ISO 8601)") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def day(value: Any) -> date:
    """A calendar date from an ISO date, or the UTC date of a timestamp."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    try:
        return instant(value).date()
    except ValueError:
        raise ValueError("not a date") from None


def text(value: Any) -> str:
    """The string form of a value: booleans as true/false, objects and lists as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


# --- comparisons ---------------------------------------------------------------------------------


class Family(StrEnum):
    """How a filter compares: strings by code point, numbers as decimals, instants to the millisecond."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    INSTANT = "instant"


_FAMILIES = {
    DataType.STRING: Family.STRING, DataType.INTEGER: Family.NUMBER, DataType.DOUBLE: Family.NUMBER,
    DataType.BOOLEAN: Family.BOOLEAN, DataType.DATE: Family.DATE, DataType.DATETIME: Family.INSTANT,
    DataType.TIMESTAMP: Family.INSTANT,
}
_READERS: dict[Family, Callable[[Any], Any]] = {
    Family.STRING: text, Family.NUMBER: number, Family.BOOLEAN: boolean, Family.DATE: day, Family.INSTANT: instant,
}
ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "LESS_THAN": operator.lt,
    "LESS_THAN_OR_EQUAL_TO": operator.le,
    "GREATER_THAN": operator.gt,
    "GREATER_THAN_OR_EQUAL_TO": operator.ge,
}
COMPARISONS = frozenset({*ORDERINGS, "EQUAL_TO", "NOT_EQUAL_TO", "CONTAINS", "BETWEEN"})


def family(declared: str | None, comparison: str) -> Family:
    """How a filter with this DATA_TYPE compares: CONTAINS always as strings, an unknown type as strings."""
    if comparison == "CONTAINS":
        return Family.STRING
    found = data_type(declared)
    return Family.STRING if found is None else _FAMILIES[found]


@dataclass(frozen=True)
class Comparison:
    """A record filter read: its field, operator, family and typed operands (two for BETWEEN)."""

    field: str
    operator: str
    family: Family
    operands: tuple[Any, ...]

    def subject(self, value: Any) -> Any:
        """A record's value as this filter compares it; None when null or unreadable in the family."""
        if value is None:
            return None
        try:
            return _READERS[self.family](value)
        except ValueError:
            return None

    def keeps(self, value: Any) -> bool:
        """Whether a record whose field holds `value` passes: any operand matches (NOT_EQUAL_TO: none
        does); BETWEEN is inclusive; CONTAINS ignores case; a null or unreadable value never passes."""
        subject = self.subject(value)
        if subject is None:
            return False
        if self.operator == "BETWEEN":
            low, high = self.operands
            return bool(low <= subject <= high)
        if self.operator == "EQUAL_TO":
            return any(subject == operand for operand in self.operands)
        if self.operator == "NOT_EQUAL_TO":
            return all(subject != operand for operand in self.operands)
        if self.operator == "CONTAINS":
            return any(operand.casefold() in subject.casefold() for operand in self.operands)
        return any(ORDERINGS[self.operator](subject, operand) for operand in self.operands)


class OperandError(ValueError):
    """A filter's operands do not read: `member` is the task property at fault (`taskProperties.VALUE`)."""

    def __init__(self, member: str, message: str) -> None:
        super().__init__(f"{member} {message}")
        self.member = member
        self.message = message


def from_properties(field: str, comparison: str, properties: Mapping[str, str]) -> tuple[RecordFilter, Comparison]:
    """A Filter task's operands from its taskProperties: the `RecordFilter` a connector is given and
    the `Comparison` the flow applies. VALUES wins over VALUE; VALUES items are trimmed, VALUE is not."""
    declared = properties.get("DATA_TYPE")
    if declared is None:
        raise OperandError("taskProperties.DATA_TYPE", f"is required for Filter {comparison}")
    _check_operator(declared, comparison)
    if comparison == "BETWEEN":
        texts = [(key, _required(properties, key, comparison)) for key in ("LOWER_BOUND", "UPPER_BOUND")]
    elif "VALUES" in properties:
        texts = [("VALUES", item.strip()) for item in properties["VALUES"].split(",")]
    elif "VALUE" in properties:
        texts = [("VALUE", properties["VALUE"])]
    else:
        raise OperandError("taskProperties.VALUE", f"or VALUES is required for Filter {comparison}")
    spec = RecordFilter(field, comparison, tuple(value for _, value in texts), declared)
    return spec, _comparison(spec, [key for key, _ in texts])


def read(record_filter: RecordFilter) -> Comparison:
    """The comparison of a connector's `RecordFilter`, exactly as the flow reads it; OperandError when
    the flow would not have compiled it."""
    _check_operator(record_filter.data_type, record_filter.operator)
    if record_filter.operator == "BETWEEN":
        if len(record_filter.values) != 2:
            raise OperandError("taskProperties.LOWER_BOUND", "and UPPER_BOUND are both required for Filter BETWEEN")
        keys = ["LOWER_BOUND", "UPPER_BOUND"]
    elif not record_filter.values:
        raise OperandError("taskProperties.VALUE", f"or VALUES is required for Filter {record_filter.operator}")
    else:
        keys = ["VALUES"] * len(record_filter.values)
    return _comparison(record_filter, keys)


def _check_operator(declared: str | None, comparison: str) -> None:
    if comparison not in COMPARISONS:
        raise OperandError("connectorOperator", f"{comparison} is not a record filter")
    if family(declared, comparison) is Family.BOOLEAN and comparison not in ("EQUAL_TO", "NOT_EQUAL_TO"):
        raise OperandError("taskProperties.DATA_TYPE", f"boolean values cannot be compared with {comparison}")


def _required(properties: Mapping[str, str], key: str, comparison: str) -> str:
    value = properties.get(key)
    if value is None:
        raise OperandError(f"taskProperties.{key}", f"is required for Filter {comparison}")
    return value


def _comparison(spec: RecordFilter, keys: Sequence[str]) -> Comparison:
    kind = family(spec.data_type, spec.operator)
    whole = data_type(spec.data_type) is DataType.INTEGER and kind is Family.NUMBER
    operands: list[Any] = []
    for key, value in zip(keys, spec.values, strict=True):
        try:
            operands.append(Decimal(integer(value)) if whole else _READERS[kind](value))
        except ValueError as error:
            raise OperandError(f"taskProperties.{key}", f"{value!r} is {error}") from None
    if spec.operator == "BETWEEN" and operands[0] > operands[1]:
        raise OperandError("taskProperties.LOWER_BOUND", "must not exceed UPPER_BOUND")
    return Comparison(spec.field, spec.operator, kind, tuple(operands))
