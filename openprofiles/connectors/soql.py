"""SOQL text for the Salesforce connector: literals, field types, and flow filters as WHERE conditions.

A flow applies every record filter to what the connector returns, so a pushed-down condition only
has to keep every record the filter keeps; it may keep more. SOQL compares strings without regard to
case, so string equality is pushed down (a superset of the flow's exact test) while string
inequality and ordering are not; datetime literals have whole seconds, so a bound with a fraction of
a second is widened to the enclosing second.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from openprofiles.connectors import operands
from openprofiles.connectors.base import RecordFilter
from openprofiles.connectors.operands import Comparison, Family
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


def _literal(operand: Any, kind: Family, field_type: str) -> str | None:
    """A typed operand as a SOQL literal for this field, or None when it does not fit it."""
    if kind is Family.STRING:
        return quote(operand)
    if kind is Family.DATE:
        return str(operand.isoformat())
    if field_type in ("int", "long") and operand != operand.to_integral_value():
        return None
    return format(operand.normalize(), "f")  # positional: SOQL has no exponent notation


def _fits(kind: Family, field_type: str) -> bool:
    return (
        (kind is Family.STRING and field_type in STRING_TYPES)
        or (kind is Family.NUMBER and field_type in NUMBER_TYPES)
        or (kind is Family.BOOLEAN and field_type == "boolean")
        or (kind is Family.DATE and field_type == "date")
        or (kind is Family.INSTANT and field_type == "datetime")
    )


def _temporal_condition(name: str, c: Comparison, field_type: str) -> str | None:
    moments = c.operands
    if c.operator == "BETWEEN":
        low, high = moments
        return (f"{name} >= {temporal_literal(field_type, low)[0]} AND "
                f"{name} <= {temporal_literal(field_type, high, upward=True)[0]}")
    if c.operator in _LOWER or c.operator in _UPPER:
        lower = c.operator in _LOWER
        # VALUES match when any value does: the loosest bound decides.
        literal, exact = temporal_literal(field_type, min(moments) if lower else max(moments), upward=not lower)
        operator = (_LOWER | _UPPER)[c.operator] if exact else (">=" if lower else "<=")
        return f"{name} {operator} {literal}"
    if c.operator == "EQUAL_TO" and len(moments) == 1:
        literal, exact = temporal_literal(field_type, moments[0])
        return f"{name} = {literal}" if exact else None
    return None


def condition(f: RecordFilter, field_type: str) -> str | None:
    """A WHERE condition every record passing the flow filter `f` meets, for a field of this Salesforce
    type; None when SOQL cannot say it (the flow's own test still applies). Operands are read as the
    flow reads them (connectors/operands.py)."""
    try:
        c = operands.read(f)
    except operands.OperandError:
        return None
    if not NAME.fullmatch(f.field) or not _fits(c.family, field_type):
        return None
    name = f.field
    if c.family is Family.BOOLEAN:
        flags = set(c.operands)
        if len(flags) != 1:
            return None
        wanted = flags.pop() if c.operator == "EQUAL_TO" else not flags.pop()
        return f"{name} = {'true' if wanted else 'false'}"
    if c.family is Family.INSTANT:
        return _temporal_condition(name, c, field_type)
    if c.operator == "CONTAINS":
        return "(" + " OR ".join(f"{name} LIKE '%{quote(v, like=True)[1:-1]}%'" for v in c.operands) + ")"
    found = [_literal(operand, c.family, field_type) for operand in c.operands]
    literals = [literal for literal in found if literal is not None]
    if len(literals) != len(found):
        return None
    if c.operator == "EQUAL_TO":
        return f"{name} IN ({', '.join(literals)})"
    if c.operator == "NOT_EQUAL_TO":
        # SOQL keeps nulls for !=, and compares strings without case: push down only what is certain.
        if c.family is Family.STRING:
            return f"{name} != null"
        return f"{name} != null AND {name} NOT IN ({', '.join(literals)})"
    if c.family is Family.STRING:
        return None  # SOQL's string order is not the flow's
    if c.operator == "BETWEEN":
        return f"{name} >= {literals[0]} AND {name} <= {literals[1]}"
    # VALUES match when any value does: the loosest bound decides.
    if c.operator in _LOWER:
        return f"{name} {_LOWER[c.operator]} {_literal(min(c.operands), c.family, field_type)}"
    if c.operator in _UPPER:
        return f"{name} {_UPPER[c.operator]} {_literal(max(c.operands), c.family, field_type)}"
    return None
