"""Bulk reads and writes straight through the driver's cursor: the ingest hot path.

SQLAlchemy's per-row parameter processing costs more than the database work for batches of
tens of thousands of rows, and its per-statement result machinery more than a one-row write, so
these helpers run on the driver's cursor of the connection (inside its transaction) and bind
plain tuples themselves: timestamps in the form SQLAlchemy stores them on each dialect, JSON
columns as `json_column` stores them, everything else as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, DateTime, Table, TypeDecorator

from openprofiles.storage.json_column import Json, dump_json

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _bound(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """Rows with their JSON columns as stored text and their timestamp columns in SQLAlchemy's
    SQLite storage form (PostgreSQL takes datetimes as they are). Converted a column at a time: a
    batch has few distinct timestamps."""
    if not rows:
        return rows
    json_at, times_at = _conversions(table, tuple(columns), conn.dialect.name == "sqlite")
    if not json_at and not times_at:
        return rows
    transposed: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for i in json_at:
        transposed[i] = [None if value is None else dump_json(value) for value in transposed[i]]
    for i in times_at:
        column = transposed[i]
        forms = {value: _sqlite_time(value) for value in set(column)}
        transposed[i] = list(map(forms.__getitem__, column))
    return list(zip(*transposed, strict=True))


@cache
def _conversions(table: Table, columns: tuple[str, ...], sqlite: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The positions of the JSON columns among `columns`, and on SQLite of the timestamp columns."""
    kinds = [table.c[name].type for name in columns]
    json_at = tuple(i for i, kind in enumerate(kinds) if isinstance(kind, Json))
    times_at = tuple(i for i, kind in enumerate(kinds) if sqlite and _is_time(kind))
    return json_at, times_at


def _is_time(kind: Any) -> bool:
    return isinstance(kind, DateTime) or (isinstance(kind, TypeDecorator) and isinstance(kind.impl, DateTime))


def _sqlite_time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime(_SQLITE_TIME)


def execute(conn: Connection, sql: str, params: Sequence[Any]) -> None:
    """One statement with these parameters, on the driver's cursor."""
    _execute(conn, sql, [params])


def _execute(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    cursor = conn.connection.cursor()
    try:
        if len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _marker(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                *, ignore_duplicates: bool = False, domain_id: int | None = None) -> None:
    """INSERT many rows given as tuples in `columns` order; optionally skip unique conflicts.
    With `domain_id`, every row goes to that domain (written into the statement, not each row)."""
    if not rows:
        return
    names, marks = ", ".join(columns), ", ".join(_marker(conn) for _ in columns)
    if domain_id is not None:
        names, marks = f"domain_id, {names}", f"{int(domain_id)}, {marks}"
    if ignore_duplicates and conn.dialect.name == "sqlite":
        sql = f"INSERT OR IGNORE INTO {table.name} ({names}) VALUES ({marks})"
    elif ignore_duplicates:
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    else:
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
    _execute(conn, sql, _bound(conn, table, columns, rows))


def update_rows(conn: Connection, table: Table, set_columns: Sequence[str], where_columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE many rows; each tuple holds the new values, then the values of `where_columns`."""
    if not rows:
        return
    mark = _marker(conn)
    sets = ", ".join(f"{c} = {mark}" for c in set_columns)
    where = " AND ".join(f"{c} = {mark}" for c in where_columns)
    _execute(conn, f"UPDATE {table.name} SET {sets} WHERE {where}", _bound(conn, table, [*set_columns, *where_columns], rows))


def delete_rows(conn: Connection, table: Table, where_columns: Sequence[str], rows: Sequence[Sequence[Any]],
                *, domain_id: int | None = None) -> None:
    """DELETE the rows whose `where_columns` equal each tuple's values (within `domain_id`)."""
    if not rows:
        return
    mark = _marker(conn)
    where = " AND ".join(f"{c} = {mark}" for c in where_columns)
    if domain_id is not None:
        where = f"domain_id = {int(domain_id)} AND {where}"
    _execute(conn, f"DELETE FROM {table.name} WHERE {where}", _bound(conn, table, where_columns, rows))


def marker(conn: Connection) -> str:
    """The driver's parameter placeholder."""
    return _marker(conn)


def stored_time(value: datetime | str) -> datetime:
    """A timestamp read straight from the driver, as an aware UTC datetime (SQLite returns the
    text SQLAlchemy stored)."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def optional_time(value: datetime | str | None) -> datetime | None:
    return None if value is None else stored_time(value)


def select_in(conn: Connection, sql: str, fixed: Sequence[Any], values: Sequence[Any]) -> list[Any]:
    """Run `sql` (with `{marks}` where the IN list goes) for `values` in slices; all rows."""
    mark = _marker(conn)
    rows: list[Any] = []
    cursor = conn.connection.cursor()
    try:
        for start in range(0, len(values), 900):
            part = list(values[start : start + 900])
            text = sql.replace("?", mark).replace("{marks}", ", ".join([mark] * len(part)))
            cursor.execute(text, (*fixed, *part))
            rows.extend(cursor.fetchall())
    finally:
        cursor.close()
    return rows
