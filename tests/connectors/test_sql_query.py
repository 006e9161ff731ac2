"""connectors/sql_query.py: order values as JSON, keyset order and resume, the incremental window,
filter push-down and column types, on an in-memory SQLite database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import mssql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from openprofiles.connectors.base import RecordFilter
from openprofiles.connectors.sql_query import (
    data_type,
    decode,
    encode,
    instant_parameter,
    order_by,
    position_at_or_after,
    pushed_filter,
    window,
)

MSSQL = mssql.base.MSDialect()  # type: ignore[no-untyped-call]
POSTGRESQL = PGDialect_psycopg()  # type: ignore[no-untyped-call]
METADATA = sa.MetaData()
ROWS = sa.Table("rows", METADATA, sa.Column("id", sa.Integer, primary_key=True), sa.Column("a", sa.Integer),
                sa.Column("b", sa.String), sa.Column("day", sa.Date), sa.Column("at", sa.DateTime))


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


ORDER_VALUES = [None, True, 3, 1.5, "x", datetime(2024, 1, 2, 3, 4, 5, 6), datetime(2024, 1, 2, tzinfo=UTC),
                date(2024, 1, 2), time(3, 4), Decimal("1.10"), uuid.UUID(int=7), b"\x00\x01"]


@pytest.mark.parametrize("value", ORDER_VALUES)
def test_encode_decode_round_trip_keeps_type(value: Any) -> None:
    back = decode(encode(value))
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value", [{"date": "nope"}, {"what": "x"}, {"date": 5}, [1], {"a": "1", "b": "2"}])
def test_decode_refuses_what_encode_did_not_write(value: Any) -> None:
    with pytest.raises(ValueError, match="not an encoded order value"):
        decode(value)


def test_encode_refuses_unorderable_values() -> None:
    with pytest.raises(ValueError, match="cannot order by a list value"):
        encode([1])


def sql(clause: Any, dialect: Any) -> str:
    return str(clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def test_order_by_puts_nulls_last_in_each_dialect() -> None:
    columns, nullable = [ROWS.c.a, ROWS.c.id], [True, False]
    assert [sql(c, POSTGRESQL) for c in order_by(columns, nullable, "postgresql")] == [
        "rows.a ASC NULLS LAST", "rows.id ASC"]
    assert [sql(c, MSSQL) for c in order_by(columns, nullable, "mssql")] == [
        "CASE WHEN (rows.a IS NULL) THEN 1 ELSE 0 END ASC", "rows.a ASC", "rows.id ASC"]


@given(rows=st.lists(st.tuples(st.none() | st.integers(0, 3), st.none() | st.sampled_from("xy")), max_size=8),
       at=st.tuples(st.none() | st.integers(0, 3), st.none() | st.sampled_from("xy")))
def test_position_at_or_after_selects_what_sorts_at_or_after(rows: list[tuple[int | None, str | None]],
                                                             at: tuple[int | None, str | None]) -> None:
    engine = sa.create_engine("sqlite://")
    METADATA.create_all(engine)
    with engine.begin() as connection:
        if rows:
            connection.execute(ROWS.insert(), [{"id": i, "a": a, "b": b} for i, (a, b) in enumerate(rows)])
        found = set(connection.scalars(sa.select(ROWS.c.id).where(position_at_or_after([ROWS.c.a, ROWS.c.b], at))))

    def key(values: tuple[Any, ...]) -> tuple[Any, ...]:  # NULL after every value
        return tuple((value is None, value if value is not None else 0) for value in values)

    assert found == {i for i, row in enumerate(rows) if key(row) >= key(at)}


def test_instant_parameter_fits_the_column() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert instant_parameter(sa.column("t", sa.DateTime(timezone=True)), moment, "postgresql") == moment
    assert instant_parameter(sa.column("t", sa.DateTime()), moment, "sqlite") == moment.replace(tzinfo=None)
    assert instant_parameter(sa.column("t", sa.String()), moment, "sqlite") == "2024-01-02 03:04:05"
    assert instant_parameter(sa.column("t", sa.String()), moment.replace(microsecond=7), "sqlite") == (
        "2024-01-02 03:04:05.000007")
    assert instant_parameter(sa.column("t"), moment, "postgresql") == moment


def test_window_on_a_date_column_is_by_whole_days(engine: sa.Engine) -> None:
    days = [date(2024, 1, d) for d in (1, 2, 3, 4)]
    with engine.begin() as connection:
        connection.execute(ROWS.insert(), [{"id": i, "day": d} for i, d in enumerate(days)])
        since, until = datetime(2024, 1, 2, 12, tzinfo=UTC), datetime(2024, 1, 4, tzinfo=UTC)
        found = connection.scalars(sa.select(ROWS.c.day).where(*window(ROWS.c.day, since, until, "sqlite"))).all()
        assert found == [date(2024, 1, 2), date(2024, 1, 3)]  # the day of `since` is in; until's midnight is out
        later = datetime(2024, 1, 4, 1, tzinfo=UTC)
        assert len(connection.scalars(sa.select(ROWS.c.day).where(*window(ROWS.c.day, since, later, "sqlite"))).all()) == 3


def test_window_on_a_timestamp_column_is_half_open(engine: sa.Engine) -> None:
    times = [datetime(2024, 1, 1, h) for h in (0, 1, 2)]
    with engine.begin() as connection:
        connection.execute(ROWS.insert(), [{"id": i, "at": t} for i, t in enumerate(times)])
        since, until = datetime(2024, 1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 2, tzinfo=UTC)
        assert connection.scalars(sa.select(ROWS.c.at).where(*window(ROWS.c.at, since, until, "sqlite"))).all() == [
            times[1]]
    assert window(ROWS.c.at, None, None, "sqlite") == []


@pytest.mark.parametrize(("spec", "dialect", "expected"), [
    (RecordFilter("a", "LESS_THAN", ("2.5",), "double"), "sqlite", "rows.a < 3"),  # integer bounds
    (RecordFilter("a", "LESS_THAN_OR_EQUAL_TO", ("2.5", "1"), "double"), "sqlite", "rows.a <= 2"),
    (RecordFilter("a", "GREATER_THAN", ("2.5",), "double"), "sqlite", "rows.a > 2"),
    (RecordFilter("a", "BETWEEN", ("0.5", "2.5"), "double"), "sqlite", "rows.a >= 1 AND rows.a <= 2"),
    (RecordFilter("a", "EQUAL_TO", ("2.5",), "double"), "sqlite", "0"),  # no integer equals 2.5: false
    (RecordFilter("a", "NOT_EQUAL_TO", ("2", "2.5"), "double"), "sqlite", "rows.a IS NOT NULL AND (rows.a NOT IN (2))"),
    (RecordFilter("b", "EQUAL_TO", ("x", "y"), "string"), "sqlite", "rows.b IN ('x', 'y')"),
    (RecordFilter("b", "EQUAL_TO", ("x",), "picklist"), "sqlite", "rows.b IN ('x')"),  # unknown types compare as text
    (RecordFilter("b", "EQUAL_TO", ("x",), "string"), "mssql", None),  # collations may ignore case
    (RecordFilter("b", "LESS_THAN", ("x",), "string"), "sqlite", None),
    (RecordFilter("b", "CONTAINS", ("x",), "string"), "sqlite", None),
    (RecordFilter("day", "GREATER_THAN", ("2024-01-01T23:30:00-01:00",), "date"), "sqlite", "rows.day > '2024-01-02'"),
    (RecordFilter("at", "GREATER_THAN", ("0",), "timestamp"), "sqlite", None),  # the database is finer than ms
    (RecordFilter("a", "EQUAL_TO", ("x",), "integer"), "sqlite", None),  # the flow would refuse it
])
def test_pushed_filter(spec: RecordFilter, dialect: str, expected: str | None) -> None:
    clause = pushed_filter(spec, ROWS.c[spec.field], dialect)
    assert (None if clause is None else sql(clause, sqlite.dialect())) == expected


@pytest.mark.parametrize(("kind", "name"), [
    (sa.Boolean(), "boolean"), (sa.BigInteger(), "integer"), (sa.Float(), "double"), (sa.Numeric(10, 2), "decimal"),
    (sa.DateTime(), "datetime"), (sa.Date(), "date"), (sa.JSON(), "struct"), (sa.ARRAY(sa.Integer), "list"),
    (sa.String(), "string"), (sa.LargeBinary(), "string"),
])
def test_data_type(kind: sa.types.TypeEngine[Any], name: str) -> None:
    assert data_type(kind) == name
