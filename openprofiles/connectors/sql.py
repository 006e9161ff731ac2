"""A SQL database as a flow source: its tables, views and named queries (an OpenProfiles connector).

A database the operator allow-listed (sql_targets.py): a CustomConnector profile labelled "SQL" names
a connection the operator defined (`profileProperties: {"connection": "crm"}`) or a SQLAlchemy URL that
matches one of the operator's patterns (`{"url": "postgresql+psycopg://crm@db.internal/crm"}`) and,
apart from it, the password (basic credentials). Entities are the tables and views (schema-qualified outside the
default schema) and the profile's named queries; a flow may also bring its own query. Rows stream
through a server-side cursor in a stable order, incremental by a timestamp column, with the flow's
filters pushed into WHERE where SQL means exactly the same. docs/connectors/sql.md has the details.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openprofiles import json_depth
from openprofiles.connectors.base import (
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    Page,
)
from openprofiles.connectors.sql_query import (
    data_type,
    decode,
    encode,
    order_by,
    position_at_or_after,
    pushed_filter,
    window,
)
from openprofiles.connectors.sql_targets import Target, target
from openprofiles.connectors.tabular import SAMPLE_ROWS, infer_fields
from openprofiles.connectors.times import later, parse_instant, utc
from openprofiles.connectors.values import plain

#: Schemas that hold the database's own catalog, not user data.
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"})
#: Driver messages that mean the database refused the credentials (when it gives no SQLSTATE).
_AUTH_MESSAGE = re.compile(
    r"authentication failed|role \S+ does not exist|no password supplied|access denied for user|login failed"
    r"|invalid username/password|password authentication", re.IGNORECASE)
_COLON_NAME = re.compile(r"(?<![:\w\\]):(?=\w)")
_TRANSIENT_MESSAGE = re.compile(r"could not connect|connection refused|timed? ?out|server closed the connection"
                                r"|connection reset|too many connections|database is locked", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    """What a flow reads: a table or view, or a query as a subquery; the columns that order it."""

    name: str
    selectable: sa.FromClause
    keys: tuple[str, ...]
    nullable: frozenset[str]


def _custom(request: ExtractRequest) -> Mapping[str, Any]:
    custom = request.source_properties.get("customProperties") or {}
    return custom if isinstance(custom, Mapping) else {}


def _names(text: Any, what: str) -> list[str]:
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise ConnectorError(f"{what} must be a comma-separated list of column names")
    return [name.strip() for name in text.split(",") if name.strip()]


class SqlConnector(Connector):
    """Tables, views and queries of any database SQLAlchemy reaches."""

    connector_type = "CustomConnector"
    label = "SQL"

    # Connecting.

    @cached_property
    def target(self) -> Target:
        """The database the profile names (its `connection` or `url`), if the operator granted it."""
        return target(self.connection.properties, self.connection.credentials, self.connection.grants)

    @property
    def queries(self) -> dict[str, str]:
        """The profile's named queries (`queries`: a JSON object of name to SELECT)."""
        raw = self.connection.properties.get("queries")
        if not raw:
            return {}
        try:
            queries = json_depth.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            queries = None
        if not isinstance(queries, dict) or not all(isinstance(v, str) and v.strip() for v in queries.values()):
            raise ConnectorError("the 'queries' property must be a JSON object of query names to SELECT statements")
        return {str(k): str(v) for k, v in queries.items()}

    def _redact(self, message: str) -> str:
        for secret in self.target.secrets:
            message = message.replace(secret, "***")
        return message

    def _error(self, error: sa.exc.SQLAlchemyError) -> ConnectorError:
        original = getattr(error, "orig", None) or error
        message = self._redact(" ".join(str(original).split()))[:1000]
        state = str(getattr(original, "sqlstate", None) or getattr(original, "pgcode", None) or "")
        if state.startswith("28") or (not state and _AUTH_MESSAGE.search(message)):
            return ConnectorAuthError(message)
        transient = state[:2] in ("08", "40", "53", "57") or bool(_TRANSIENT_MESSAGE.search(message))
        return ConnectorError(message, transient=transient)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.NoSuchModuleError:
            raise ConnectorError(f"no SQLAlchemy dialect or driver for {self.target.url.drivername!r} is installed") from None
        except sa.exc.SQLAlchemyError as error:
            raise self._error(error) from None

    @contextmanager
    def _engine(self) -> Iterator[Engine]:
        """An engine for one operation: no pool, read-only and UTC sessions where the database allows."""
        found = self.target
        options: dict[str, Any] = {"creator": found.creator} if found.creator else {}
        with self._translated():
            engine = sa.create_engine(found.url, poolclass=sa.NullPool, connect_args=dict(found.connect_args), **options)
        sa.event.listen(engine, "connect", _session_setup)
        try:
            yield engine
        finally:
            engine.dispose()

    def check(self) -> None:
        self.queries  # noqa: B018 - validates the property
        with self._engine() as engine, self._translated(), engine.connect() as connection:
            sa.inspect(connection).default_schema_name  # noqa: B018 - a round trip with the credentials

    # Entities.

    def entities(self, path: str | None = None) -> list[Entity]:
        """Tables and views (of every user schema, or of the schema `path` names), then named queries."""
        found: list[Entity] = []
        with self._engine() as engine, self._translated(), engine.connect() as connection:
            inspector = sa.inspect(connection)
            default = inspector.default_schema_name
            schemas = [path] if path else [s for s in inspector.get_schema_names() if s not in SYSTEM_SCHEMAS]
            if path and path not in inspector.get_schema_names():
                raise ConnectorError(f"no schema {path!r} in the database")
            for schema in sorted(schemas, key=lambda s: (s != default, s)):
                prefix = "" if schema == default else f"{schema}."
                tables = [(t, "table") for t in inspector.get_table_names(schema)]
                views = [(v, "view") for v in inspector.get_view_names(schema)]
                found += [Entity(prefix + name, prefix + name, description=kind) for name, kind in sorted(tables + views)]
        if not path:
            found += [Entity(name, name, description="query") for name in sorted(self.queries)]
        return found

    def _table(self, connection: sa.Connection, entity: str) -> sa.Table:
        inspector = sa.inspect(connection)
        candidates: list[tuple[str | None, str]] = [(None, entity)]
        if "." in entity:
            prefix, _, rest = entity.partition(".")
            candidates.append((prefix, rest))
        for schema, name in candidates:
            if schema is not None and schema not in inspector.get_schema_names():
                continue
            if inspector.has_table(name, schema) or name in inspector.get_view_names(schema):
                return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=connection)
        raise ConnectorError(f"no table, view or query named {entity!r}")

    def _query(self, connection: sa.Connection, name: str, sql: str) -> sa.FromClause:
        """A query as a subquery with its result's column names (the query runs once returning no rows)."""
        body = _COLON_NAME.sub(r"\\:", sql.strip().rstrip(";"))  # no bind parameters: ':30' is text
        probe = sa.select(sa.text("*")).select_from(sa.text(f"({body}) AS openprofiles_probe")).where(sa.false())
        keys = list(connection.execute(probe).keys())
        if len(set(keys)) != len(keys):
            raise ConnectorError(f"query {name!r} returns two columns with one name: give them distinct aliases")
        return sa.text(body).columns(*(sa.column(key) for key in keys)).subquery("q")

    def _source(self, connection: sa.Connection, entity: str, custom: Mapping[str, Any]) -> Source:
        sql = custom.get("query") or self.queries.get(entity)
        if sql is not None and not isinstance(sql, str):
            raise ConnectorError("customProperties.query must be a SELECT statement")
        selectable: sa.FromClause
        if sql:
            selectable = self._query(connection, entity, sql)
            keys, nullable = [], set(selectable.c.keys())
        else:
            table = self._table(connection, entity)
            selectable, keys = table, [c.name for c in table.primary_key.columns]
            nullable = {c.name for c in table.columns if c.nullable}
        declared = _names(custom.get("keyColumns"), "customProperties.keyColumns")
        if declared:
            keys, nullable = declared, nullable - set(declared)
        elif not keys:  # no primary key: every column orders the rows (ties are counted)
            keys = [c.name for c in selectable.c if not isinstance(c.type, sa.JSON | sa.ARRAY | sa.LargeBinary)]
        missing = [k for k in keys if k not in selectable.c]
        if missing:
            raise ConnectorError(f"{entity!r} has no column {missing[0]!r} (customProperties.keyColumns)")
        return Source(entity, selectable, tuple(keys), frozenset(nullable))

    def describe(self, entity: str) -> list[EntityField]:
        with self._engine() as engine, self._translated(), engine.connect() as connection:
            source = self._source(connection, entity, {})
            if isinstance(source.selectable, sa.Table):
                return [EntityField(c.name, data_type(c.type), label=c.name, description=str(c.type),
                                    nullable=bool(c.nullable)) for c in source.selectable.columns]
            rows = connection.execute(sa.select(source.selectable).limit(SAMPLE_ROWS)).mappings()
            sample = [{k: plain(v) for k, v in row.items()} for row in rows]
            return infer_fields(list(source.selectable.c.keys()), sample, textual=False)

    # Records.

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        """Rows in (incremental column, key columns) order, from the checkpoint on, a page at a time."""
        with self._engine() as engine, self._translated(), engine.connect() as connection:
            custom = _custom(request)
            source = self._source(connection, request.entity, custom)
            incremental = request.modified_field or custom.get("incrementalColumn")
            statement, order, outputs = self._statement(source, request, incremental, engine.dialect.name)
            start = _checkpoint(request.checkpoint, len(order))
            if start is not None:
                columns = [source.selectable.c[name] for name in order]
                statement = statement.where(position_at_or_after(columns, [decode(v) for v in start[0]]))
            with connection.execution_options(yield_per=max(1, request.page_size)).execute(statement) as rows:
                yield from _pages(rows, outputs, order, incremental, start, request.page_size, source.name)

    def _statement(self, source: Source, request: ExtractRequest, incremental: Any,
                   dialect: str) -> tuple[sa.Select[Any], list[str], list[str]]:
        columns = source.selectable.c
        if incremental is not None and (not isinstance(incremental, str) or incremental not in columns):
            raise ConnectorError(f"{source.name!r} has no column {incremental!r} to pull incrementally by")
        order = ([incremental] if incremental else []) + [k for k in source.keys if k != incremental]
        outputs = [str(column.key) for column in columns]  # plain str: reflected names are quoted_name
        if request.fields is not None:
            unknown = [f for f in request.fields if f not in columns]
            if unknown:
                raise ConnectorError(f"{source.name!r} has no column {unknown[0]!r}")
            outputs = list(dict.fromkeys(request.fields))
        selected = list(dict.fromkeys(outputs + order))
        statement = sa.select(*(columns[name] for name in selected))
        if incremental:
            statement = statement.where(*window(columns[incremental], request.since, request.until, dialect))
        for rule in request.filters:
            clause = pushed_filter(rule, columns[rule.field], dialect) if rule.field in columns else None
            if clause is not None:
                statement = statement.where(clause)
        nullable = [name in source.nullable for name in order]
        return statement.order_by(*order_by([columns[name] for name in order], nullable, dialect)), order, outputs


def _session_setup(dbapi_connection: Any, _: Any) -> None:
    """UTC for timestamps without a zone, and read-only sessions, on the databases that have them."""
    module = type(dbapi_connection).__module__
    statements = {
        "sqlite3": ["PRAGMA query_only = ON"],
        "psycopg": ["SET TIME ZONE 'UTC'", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"],
        "psycopg2": ["SET TIME ZONE 'UTC'", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"],
    }.get(module.split(".")[0], [])
    if not statements:
        return
    cursor = dbapi_connection.cursor()
    for statement in statements:
        cursor.execute(statement)
    cursor.close()
    if not module.startswith("sqlite3"):
        dbapi_connection.commit()


def _checkpoint(value: Any, width: int) -> tuple[list[Any], int] | None:
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("after"), list) and len(value["after"]) == width and (
            isinstance(value.get("ties"), int) and value["ties"] >= 0):
        try:
            [decode(v) for v in value["after"]]
        except ValueError:
            pass
        else:
            return value["after"], value["ties"]
    raise ConnectorError(f"invalid checkpoint {value!r}: expected {{'after': [{width} order values], 'ties': int}}")


def _instant(value: Any, entity: str, column: str) -> datetime | None:
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        return parse_instant(value)
    except ValueError:
        raise ConnectorError(f"{entity}: {column}={value!r} is not a timestamp, a date or epoch time") from None


def _pages(rows: sa.CursorResult[Any], outputs: Sequence[str], order: Sequence[str], incremental: str | None,
           start: tuple[list[Any], int] | None, page_size: int, entity: str) -> Iterator[Page]:
    """Pages of rows; rows equal to the checkpoint's position that were delivered already are skipped.

    The checkpoint is {"after": the last row's encoded order values, "ties": how many rows with those
    values were delivered}: a resumed query starts at that position and skips `ties` rows of it."""
    last, ties = (start[0], start[1]) if start else (None, 0)
    to_skip = ties
    mappings = rows.mappings()
    while True:
        batch = list(islice(mappings, page_size))
        if not batch:
            return
        records: list[dict[str, Any]] = []
        high: datetime | None = None
        for row in batch:
            try:
                position = [encode(row[name]) for name in order]
            except ValueError as error:
                raise ConnectorError(f"{entity}: {error} (in an order column)") from None
            if to_skip and position == last:
                to_skip -= 1
                continue
            to_skip = 0
            ties = ties + 1 if position == last else 1
            last = position
            records.append({name: plain(row[name]) for name in outputs})
            if incremental:
                high = later(high, _instant(row[incremental], entity, incremental))
        if records:
            yield Page(records=records, checkpoint={"after": last, "ties": ties}, high_water=high)
