"""The SELECT the SQL connector runs: keyset order and resume, incremental window, filter push-down,
and the values it delivers.

Rows are read in the order of the *order columns* (the incremental column, then the key columns), each
NULL after every value, so a position is the list of a row's order values. `position_at_or_after`
selects the rows at or after a position; the connector skips those equal to it that it had already
delivered. Positions are stored as JSON through `encode` / `decode`, which keep each value's type.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import NullType

from openprofiles.connectors import operands
from openprofiles.connectors.base import RecordFilter
from openprofiles.connectors.operands import Family

#: Dialects whose string equality is exact (binary or deterministic collations by default).
EXACT_STRING_EQUALITY = frozenset({"postgresql", "sqlite"})
#: Dialects that accept NULLS LAST.
NULLS_LAST = frozenset({"postgresql", "sqlite", "oracle"})

# --- values ---------------------------------------------------------------------------------------


_TAGGED: dict[str, Any] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "decimal": Decimal,
    "uuid": uuid.UUID,
    "bytes": base64.b64decode,
}


def encode(value: Any) -> Any:
    """One order value as JSON that `decode` turns back into the same Python value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, time):
        return {"time": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": base64.b64encode(bytes(value)).decode()}
    raise ValueError(f"cannot order by a {type(value).__name__} value")


def decode(value: Any) -> Any:
    """The Python value `encode` wrote; ValueError for anything else."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag in _TAGGED and isinstance(text, str):
            try:
                return _TAGGED[tag](text)
            except (ValueError, InvalidOperation):
                pass
    raise ValueError(f"not an encoded order value: {value!r}")


# --- order and resume -----------------------------------------------------------------------------


def order_by(columns: Sequence[sa.ColumnElement[Any]], nullable: Sequence[bool], dialect: str) -> list[Any]:
    """ORDER BY the columns ascending, NULL last."""
    clauses: list[Any] = []
    for column, may_be_null in zip(columns, nullable, strict=True):
        if not may_be_null:
            clauses.append(column.asc())
        elif dialect in NULLS_LAST:
            clauses.append(column.asc().nulls_last())
        else:
            clauses += [sa.case((column.is_(None), 1), else_=0).asc(), column.asc()]
    return clauses


def position_at_or_after(columns: Sequence[sa.ColumnElement[Any]], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """Rows whose order values come at or after `values` (lexicographically, NULL last)."""
    alternatives: list[sa.ColumnElement[bool]] = []
    equal: list[sa.ColumnElement[bool]] = []
    for column, value in zip(columns, values, strict=True):
        if value is not None:
            bound = sa.literal(value, column.type)  # a bound value, booleans included
            alternatives.append(sa.and_(*equal, sa.or_(column > bound, column.is_(None))))
            equal.append(column == bound)
        else:
            equal.append(column.is_(None))
    alternatives.append(sa.and_(*equal))
    return sa.or_(*alternatives)


# --- incremental window -----------------------------------------------------------------------------


def instant_parameter(column: sa.ColumnElement[Any], moment: datetime, dialect: str) -> Any:
    """`moment` as a value to compare with the incremental column: a datetime (aware for time-zone
    columns and untyped PostgreSQL ones, else naive UTC), or SQLite's text form for text columns."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return utc if kind.timezone else utc.replace(tzinfo=None)
    if isinstance(kind, NullType) and dialect == "postgresql":
        return utc
    if isinstance(kind, sa.String | NullType):
        return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds" if utc.microsecond else "seconds")
    return utc.replace(tzinfo=None)


def window(column: sa.ColumnElement[Any], since: datetime | None, until: datetime | None,
           dialect: str) -> list[sa.ColumnElement[bool]]:
    """since ≤ column < until; a DATE column by whole days (the day of `since` is included)."""
    clauses: list[sa.ColumnElement[bool]] = []
    if isinstance(column.type, sa.Date) and not isinstance(column.type, sa.DateTime):
        if since is not None:
            clauses.append(column >= since.astimezone(UTC).date())
        if until is not None:
            end = until.astimezone(UTC)
            clauses.append(column < end.date() if end.time() == time() else column <= end.date())
        return clauses
    if since is not None:
        clauses.append(column >= instant_parameter(column, since, dialect))
    if until is not None:
        clauses.append(column < instant_parameter(column, until, dialect))
    return clauses


# --- filter push-down --------------------------------------------------------------------------------


def _column_family(kind: sa.types.TypeEngine[Any]) -> str | None:
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.Integer):
        return "integer"
    if isinstance(kind, sa.Float):
        return None  # binary floats do not compare as the flow's decimals do
    if isinstance(kind, sa.Numeric):
        return "numeric"
    if isinstance(kind, sa.DateTime):
        return None  # the flow compares milliseconds; the database finer
    if isinstance(kind, sa.Date):
        return "date"
    if isinstance(kind, sa.String):
        return "string"
    return None


def _floor(n: Decimal) -> int:
    return int(n.to_integral_value(rounding="ROUND_FLOOR"))


def _ceil(n: Decimal) -> int:
    return int(n.to_integral_value(rounding="ROUND_CEILING"))


def _compare(column: sa.ColumnElement[Any], operator: str, operands: Sequence[Any],
             low: Any = None, high: Any = None) -> sa.ColumnElement[bool] | None:
    """The comparison over already converted operands; for orderings with several values any may hold,
    so the loosest bound applies. `low`/`high` override the bounds (integer rounding)."""
    if operator == "EQUAL_TO":
        return column.in_(operands) if operands else sa.false()
    if operator == "NOT_EQUAL_TO":
        return sa.and_(column.is_not(None), column.not_in(operands)) if operands else column.is_not(None)
    if operator == "BETWEEN" and len(operands) == 2:
        return sa.and_(column >= (operands[0] if low is None else low), column <= (operands[1] if high is None else high))
    if operator in ("LESS_THAN", "LESS_THAN_OR_EQUAL_TO"):
        bound = max(operands) if high is None else high
        less: sa.ColumnElement[bool] = column < bound if operator == "LESS_THAN" else column <= bound
        return less
    if operator in ("GREATER_THAN", "GREATER_THAN_OR_EQUAL_TO"):
        bound = min(operands) if low is None else low
        more: sa.ColumnElement[bool] = column > bound if operator == "GREATER_THAN" else column >= bound
        return more
    return None


def _integer_clause(column: sa.ColumnElement[Any], operator: str, numbers: list[Decimal]) -> sa.ColumnElement[bool] | None:
    """A numeric filter on an integer column, with integer bounds (col < 2.5 is col < 3)."""
    whole = [int(n) for n in numbers if n == n.to_integral_value()]
    if operator in ("EQUAL_TO", "NOT_EQUAL_TO"):
        return _compare(column, operator, whole)
    if operator == "BETWEEN" and len(numbers) == 2:
        return _compare(column, operator, numbers, low=_ceil(numbers[0]), high=_floor(numbers[1]))
    top, bottom = max(numbers), min(numbers)
    bounds = {"LESS_THAN": {"high": _ceil(top)}, "LESS_THAN_OR_EQUAL_TO": {"high": _floor(top)},
              "GREATER_THAN": {"low": _floor(bottom)}, "GREATER_THAN_OR_EQUAL_TO": {"low": _ceil(bottom)}}
    return _compare(column, operator, numbers, **bounds[operator]) if operator in bounds else None


def pushed_filter(rule: RecordFilter, column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[bool] | None:
    """The WHERE clause selecting exactly the rows the flow's filter keeps, or None when SQL cannot say
    the same thing (the flow filters what the query returns anyway). Operands are read as the flow
    reads them (connectors/operands.py); a DATA_TYPE the flow does not know compares as text."""
    try:
        c = operands.read(rule)
    except operands.OperandError:
        return None
    column_family = _column_family(column.type)
    if c.operator == "CONTAINS" or column_family is None:
        return None
    values = list(c.operands)
    if c.family is Family.NUMBER and column_family == "integer":
        return _integer_clause(column, c.operator, values)
    if c.family is Family.NUMBER and column_family == "numeric" and dialect == "postgresql":
        return _compare(column, c.operator, values)
    if c.family is Family.STRING and column_family == "string" and dialect in EXACT_STRING_EQUALITY and c.operator in (
            "EQUAL_TO", "NOT_EQUAL_TO"):
        return _compare(column, c.operator, values)
    if c.family is Family.BOOLEAN and column_family == "boolean":
        return _compare(column, c.operator, values)
    if c.family is Family.DATE and column_family == "date":
        return _compare(column, c.operator, values)
    return None


# --- types ----------------------------------------------------------------------------------------------


def data_type(kind: sa.types.TypeEngine[Any]) -> str:
    """The AppFlow field type of a column type."""
    checks: list[tuple[type[Any], str]] = [
        (sa.Boolean, "boolean"), (sa.Integer, "integer"), (sa.Float, "double"), (sa.Numeric, "decimal"),
        (sa.DateTime, "datetime"), (sa.Date, "date"), (sa.JSON, "struct"), (sa.ARRAY, "list"),
    ]
    return next((name for cls, name in checks if isinstance(kind, cls)), "string")
