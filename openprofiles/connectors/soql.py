"""SOQL text for the Salesforce connector: literals, field types, and flow filters as WHERE conditions.

A flow applies every record filter to what the connector returns, so a pushed-down condition only
has to keep every record the filter keeps; it may keep more. SOQL compares strings without regard to
case, so string equality is pushed down (a superset of the flow's exact test) while string
inequality and ordering are not; datetime literals have whole seconds, so a bound with a fraction of
a second is widened to the enclosing second.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from openprofiles.connectors.base import RecordFilter
from openprofiles.connectors.times import utc

#: Salesforce field types (describe's `type`) by the data type OpenProfiles reports.
DATA_TYPES: dict[str, str] = {
    **dict.fromkeys(("int", "long"), "integer"),
    **dict.fromkeys(("double", "currency", "percent"), "double"),
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    **dict.fromkeys(("address", "location"), "struct"),
}
STRING_TYPES = frozenset({
    "id", "reference", "string", "picklist", "multipicklist", "combobox", "textarea", "email", "phone", "url",
    "encryptedstring",
})
NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})
#: Compound fields, which Bulk API 2.0 cannot return.
COMPOUND_TYPES = frozenset({"address", "location"})
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_LIKE_ESCAPES = {**_ESCAPES, "%": "\\%", "_": "\\_"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC = re.compile(r"[+-]?\d+(\.\d*)?")
_LOWER = {"GREATER_THAN": ">", "GREATER_THAN_OR_EQUAL_TO": ">="}
_UPPER = {"LESS_THAN": "<", "LESS_THAN_OR_EQUAL_TO": "<="}


def data_type(field_type: str) -> str:
    """The data type OpenProfiles reports for a Salesforce field type (string for text-like and unknown ones)."""
    return DATA_TYPES.get(field_type, "string")


def quote(text: str, *, like: bool = False) -> str:
    """A quoted SOQL string literal; with `like`, % and _ match themselves."""
    escapes = _LIKE_ESCAPES if like else _ESCAPES
    return "'" + "".join(escapes.get(char, char) for char in text) + "'"


def instant(value: object) -> datetime | None:
    """A UTC datetime from a Salesforce date or datetime value (`2024-01-02T03:04:05.000+0000`, `…Z`, `2024-01-02`)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return utc(moment)


def temporal_literal(field_type: str, moment: datetime, *, upward: bool = False) -> tuple[str, bool]:
    """The SOQL literal nearest `moment` for a date or datetime field (rounded down, or up with `upward`)
    and whether it is exact."""
    moment = moment.astimezone(UTC)
    if field_type == "date":
        day = moment.date()
        exact = moment == datetime(day.year, day.month, day.day, tzinfo=UTC)
        if upward and not exact:
            day += timedelta(days=1)
        return day.isoformat(), exact
    whole = moment.replace(microsecond=0)
    exact = whole == moment
    if upward and not exact:
        whole += timedelta(seconds=1)
    return whole.strftime("%Y-%m-%dT%H:%M:%SZ"), exact


def _number(text: str, field_type: str) -> str | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or (field_type in ("int", "long") and number != number.to_integral_value()):
        return None
    return str(number.normalize()) if number == number.to_integral_value() else str(number)


def _boolean(text: str) -> bool | None:
    return {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower())


def _moment(text: str) -> datetime | None:
    """A filter value as the flow reads it: epoch milliseconds or ISO 8601 (no zone = UTC)."""
    text = text.strip()
    if _NUMERIC.fullmatch(text):
        try:
            return _EPOCH + timedelta(milliseconds=int(Decimal(text)))
        except (InvalidOperation, OverflowError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return utc(moment)


def _literals(values: tuple[str, ...], family: str, field_type: str) -> list[str] | None:
    """The filter values as SOQL literals for this field, or None when one does not fit it."""
    found: list[str] = []
    for value in values:
        if family == "string":
            found.append(quote(value))
        elif family in ("integer", "double"):
            number = _number(value, field_type)
            if number is None:
                return None
            found.append(number)
        elif family == "date":
            try:
                found.append(date.fromisoformat(value.strip()).isoformat())
            except ValueError:
                return None
        else:
            return None
    return found


def _family(record_filter: RecordFilter) -> str:
    if record_filter.operator == "CONTAINS":
        return "string"
    family = (record_filter.data_type or "string").lower()
    aliases = {"int": "integer", "long": "integer", "bigint": "integer", "float": "double", "decimal": "double",
               "number": "double", "bool": "boolean", "timestamp": "datetime", "str": "string", "text": "string"}
    return aliases.get(family, family)


def _fits(family: str, field_type: str) -> bool:
    return (
        (family == "string" and field_type in STRING_TYPES)
        or (family in ("integer", "double") and field_type in NUMBER_TYPES)
        or family == field_type
    )


def _temporal_condition(name: str, f: RecordFilter, field_type: str) -> str | None:
    parsed = [_moment(value) for value in f.values]
    moments = [moment for moment in parsed if moment is not None]
    if len(moments) != len(parsed):
        return None
    if f.operator == "BETWEEN":
        low, high = moments
        return (f"{name} >= {temporal_literal(field_type, low)[0]} AND "
                f"{name} <= {temporal_literal(field_type, high, upward=True)[0]}")
    if f.operator in _LOWER or f.operator in _UPPER:
        lower = f.operator in _LOWER
        # VALUES match when any value does: the loosest bound decides.
        literal, exact = temporal_literal(field_type, min(moments) if lower else max(moments), upward=not lower)
        operator = (_LOWER | _UPPER)[f.operator] if exact else (">=" if lower else "<=")
        return f"{name} {operator} {literal}"
    if f.operator == "EQUAL_TO" and len(moments) == 1:
        literal, exact = temporal_literal(field_type, moments[0])
        return f"{name} = {literal}" if exact else None
    return None


def condition(f: RecordFilter, field_type: str) -> str | None:
    """A WHERE condition every record passing the flow filter `f` meets, for a field of this Salesforce
    type; None when SOQL cannot say it (the flow's own test still applies)."""
    family = _family(f)
    if not NAME.fullmatch(f.field) or not f.values or not _fits(family, field_type):
        return None
    name = f.field
    if family == "boolean":
        flags = {_boolean(value) for value in f.values}
        if None in flags or len(flags) != 1 or f.operator not in ("EQUAL_TO", "NOT_EQUAL_TO"):
            return None
        wanted = flags.pop() if f.operator == "EQUAL_TO" else not flags.pop()
        return f"{name} = {'true' if wanted else 'false'}"
    if family == "datetime":
        return _temporal_condition(name, f, field_type)
    if f.operator == "CONTAINS":
        return "(" + " OR ".join(f"{name} LIKE '%{quote(v, like=True)[1:-1]}%'" for v in f.values) + ")"
    literals = _literals(f.values, family, field_type)
    if literals is None:
        return None
    if f.operator == "EQUAL_TO":
        return f"{name} IN ({', '.join(literals)})"
    if f.operator == "NOT_EQUAL_TO":
        # SOQL keeps nulls for !=, and compares strings without case: push down only what is certain.
        if family == "string":
            return f"{name} != null"
        return f"{name} != null AND {name} NOT IN ({', '.join(literals)})"
    if family == "string":
        return None  # SOQL's string order is not the flow's
    key = _sort_key(family)
    if f.operator == "BETWEEN":
        return f"{name} >= {literals[0]} AND {name} <= {literals[1]}"
    if f.operator in _LOWER:
        return f"{name} {_LOWER[f.operator]} {min(literals, key=key)}"
    if f.operator in _UPPER:
        return f"{name} {_UPPER[f.operator]} {max(literals, key=key)}"
    return None


def _sort_key(family: str) -> Callable[[str], Any]:
    return Decimal if family in ("integer", "double") else str
