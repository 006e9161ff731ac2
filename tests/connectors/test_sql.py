"""The SQL connector on SQLite and on the test run's PostgreSQL: entities, types, streamed pages,
incremental windows, filter push-down with the flow's own semantics, resumable checkpoints; and a
flow through boto3 that lands profiles and then pulls only the changed rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from openprofiles.connectors.base import (
    Connection,
    ConnectorAuthError,
    ConnectorError,
    ExtractRequest,
    RecordFilter,
)
from openprofiles.connectors.grants import Grants
from openprofiles.connectors.sql import SqlConnector
from openprofiles.flows.tasks import Output, compile_tasks
from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.connectors.helpers import assert_resumes, peak_memory_of_extraction, records
from tests.harness import PostgresCluster
from tests.live_flows import (
    PEOPLE,
    ScheduledFlow,
    create_domain,
    create_profile,
    field_types,
    processed,
)

T0 = datetime(2024, 3, 1, 12, 0)
ROWS = 30
QUERIES = '{"vip_emails": "SELECT id, email, updated_at FROM customers WHERE vip"}'

metadata = sa.MetaData()
customers = sa.Table(
    "customers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(100), nullable=False),
    sa.Column("name", sa.String(50)),
    sa.Column("score", sa.Numeric(10, 2)),
    sa.Column("vip", sa.Boolean),
    sa.Column("birthday", sa.Date),
    sa.Column("updated_at", sa.DateTime),
)


def row(i: int) -> dict[str, Any]:
    """Customer i: updated every 5 hours but in pairs (ties in updated_at), some NULLs."""
    return {
        "id": i,
        "email": f"u{i}@example.com",
        "name": None if i % 7 == 0 else ["Ann", "Bob", "Cy"][i % 3],
        "score": Decimal(i * 5 - 20) / 4,
        "vip": i % 4 == 0,
        "birthday": date(1990, 1, 1) + timedelta(days=i * 40) if i % 5 else None,
        "updated_at": T0 + timedelta(hours=5 * (i // 2)) if i % 9 else None,
    }


def create(url: str, count: int = ROWS) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        metadata.create_all(connection)
        connection.execute(customers.insert(), [row(i) for i in range(1, count + 1)])
        connection.execute(sa.text("CREATE VIEW names AS SELECT name, vip FROM customers"))
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("CREATE SCHEMA sales"))
            connection.execute(sa.text("CREATE TABLE sales.orders (id int PRIMARY KEY, customer_id int, total numeric)"))
            connection.execute(sa.text("INSERT INTO sales.orders VALUES (1, 1, 9.5), (2, 1, 12)"))
    engine.dispose()


def new_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path, name: str = "crm") -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / name}.db"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    made = new_url(str(request.param), request, tmp_path)
    create(made)
    return made


#: What the unit tests' operator allows: any SQLite or PostgreSQL URL (the target tests below narrow it).
ANY_URL = Grants(sql_url_patterns=("*",))


def connector(url: str | None, credentials: dict[str, Any] | None = None, grants: Grants = ANY_URL,
              **properties: str) -> SqlConnector:
    props = dict(properties, **({"url": url} if url else {}))
    return SqlConnector(Connection("crm", "CustomConnector", props, credentials or {}, label="SQL", grants=grants))


def extract(url: str, **request: Any) -> list[dict[str, Any]]:
    return records(list(connector(url, queries=QUERIES).extract(ExtractRequest(**request))))


# --- connecting ------------------------------------------------------------------------------------


def test_check_connects(url: str) -> None:
    connector(url).check()


def test_check_refuses_a_missing_url_a_url_with_a_password_and_a_missing_sqlite_file(tmp_path: Path) -> None:
    for bad, message in [(None, "'url' property"), ("not a url", "not a SQLAlchemy URL"),
                         ("postgresql://u:secret@localhost/x", "must not hold a password"),
                         (f"sqlite:///{tmp_path}/missing.db", "does not exist"),
                         ("nosuchdb://host/x", "may name a SQLite or PostgreSQL database")]:
        with pytest.raises(ConnectorError) as raised:
            connector(bad).check()
        assert message in raised.value.message and not isinstance(raised.value, ConnectorAuthError)
        assert "secret" not in raised.value.message
    assert not (tmp_path / "missing.db").exists()
    named = Grants(sql_connections={"x": "nosuchdb://u:secret@host/x"})
    with pytest.raises(ConnectorError, match="no SQLAlchemy dialect") as raised:
        connector(None, grants=named, connection="x").check()
    assert "secret" not in raised.value.message


def test_credentials_go_into_the_url_and_a_refusal_is_an_auth_error(postgres: PostgresCluster) -> None:
    url = postgres.new_database()
    connector(url, {"authenticationType": "BASIC", "basic": {"username": "postgres", "password": "pw"}}).check()
    with pytest.raises(ConnectorAuthError) as raised:
        connector(url, {"authenticationType": "BASIC", "basic": {"username": "nobody", "password": "s3cret-pw"}}).check()
    assert "nobody" in raised.value.message and "s3cret-pw" not in raised.value.message


def test_an_unreachable_server_is_transient(postgres: PostgresCluster) -> None:
    from tests.harness import free_port

    with pytest.raises(ConnectorError) as raised:
        connector(f"postgresql://postgres@127.0.0.1:{free_port()}/x").check()
    assert raised.value.transient and not isinstance(raised.value, ConnectorAuthError)


def test_sessions_are_read_only(url: str) -> None:
    query = ("SELECT current_setting('transaction_read_only') AS ro" if url.startswith("postgresql")
             else "SELECT query_only AS ro FROM pragma_query_only")
    assert extract(url, entity="q", source_properties={"customProperties": {"query": query}}) in (
        [{"ro": "on"}], [{"ro": 1}])
    with pytest.raises(ConnectorError):
        extract(url, entity="x", source_properties={"customProperties": {
            "query": "SELECT 1 AS id FROM customers; DELETE FROM customers"}})
    assert len(extract(url, entity="customers")) == ROWS


# --- entities ----------------------------------------------------------------------------------------


def test_entities_are_tables_views_and_named_queries(url: str) -> None:
    found = {(e.name, e.description) for e in connector(url, queries=QUERIES).entities()}
    assert {("customers", "table"), ("names", "view"), ("vip_emails", "query")} <= found
    if url.startswith("postgresql"):
        assert ("sales.orders", "table") in found
        assert [e.name for e in connector(url).entities("sales")] == ["sales.orders"]
        assert [r["total"] for r in extract(url, entity="sales.orders")] == ["9.5", "12"]
    with pytest.raises(ConnectorError, match="no schema 'nope'"):
        connector(url).entities("nope")


def test_describe_maps_column_types(url: str) -> None:
    fields = connector(url).describe("customers")
    assert [(f.name, f.data_type, f.nullable) for f in fields] == [
        ("id", "integer", False), ("email", "string", False), ("name", "string", True), ("score", "decimal", True),
        ("vip", "boolean", True), ("birthday", "date", True), ("updated_at", "datetime", True),
    ]
    assert [f.name for f in connector(url).describe("names")] == ["name", "vip"]
    queried = connector(url, queries=QUERIES).describe("vip_emails")
    assert [(f.name, f.data_type) for f in queried] == [("id", "integer"), ("email", "string"), ("updated_at", "datetime")]
    with pytest.raises(ConnectorError, match="no table, view or query named 'nope'"):
        connector(url).describe("nope")


# --- records -----------------------------------------------------------------------------------------


def test_pages_to_the_end_in_key_order_with_json_values(url: str) -> None:
    pages = list(connector(url).extract(ExtractRequest(entity="customers", page_size=8)))
    assert [len(p.records) for p in pages] == [8, 8, 8, 6]
    got = records(pages)
    assert [r["id"] for r in got] == list(range(1, ROWS + 1))
    assert got[1] == {"id": 2, "email": "u2@example.com", "name": "Cy", "score": "-2.50", "vip": False,
                      "birthday": "1990-03-22", "updated_at": "2024-03-01T17:00:00"}
    assert got[19]["birthday"] is None and got[6]["name"] is None
    assert orjson.loads(orjson.dumps(got)) == got  # JSON as the flow stores it (keys plain str)
    assert pages[0].checkpoint == {"after": [8], "ties": 1} and pages[0].high_water is None


def test_projection_selects_only_the_fields(url: str) -> None:
    got = extract(url, entity="customers", fields=["email", "vip"])
    assert got[0] == {"email": "u1@example.com", "vip": False} and len(got) == ROWS
    with pytest.raises(ConnectorError, match="no column 'nope'"):
        extract(url, entity="customers", fields=["nope"])


def test_incremental_by_a_timestamp_column(url: str) -> None:
    since, until = T0 + timedelta(hours=10), T0 + timedelta(hours=30)
    pages = list(connector(url).extract(ExtractRequest(entity="customers", modified_field="updated_at",
                                                       since=since.replace(tzinfo=UTC), until=until, page_size=3)))
    got = records(pages)
    # ordered by (updated_at, id): ids 4,5 at +10h ... 10,11 at +25h (9 has no time; 12,13 are at +30h)
    assert [r["id"] for r in got] == [4, 5, 6, 7, 8, 10, 11]
    assert pages[0].high_water == datetime(2024, 3, 2, 3, 0, tzinfo=UTC)
    assert pages[-1].high_water == datetime(2024, 3, 2, 13, 0, tzinfo=UTC)
    # a full pull in that order puts the rows without a time last
    full = extract(url, entity="customers", modified_field="updated_at")
    assert [r["id"] for r in full][-3:] == [9, 18, 27] and len(full) == ROWS


def test_a_flow_query_with_its_own_keys_and_incremental_column(url: str) -> None:
    custom = {"query": "SELECT c.email AS email, c.updated_at AS changed, c.name AS name FROM customers c WHERE c.id > 20",
              "keyColumns": "email", "incrementalColumn": "changed"}
    pages = list(connector(url).extract(ExtractRequest(entity="recent", source_properties={"customProperties": custom},
                                                       since=datetime(2024, 3, 3, tzinfo=UTC), page_size=4)))
    got = records(pages)
    assert [r["email"] for r in got] == [f"u{i}@example.com" for i in (21, 22, 23, 24, 25, 26, 28, 29, 30)]
    assert got[0] == {"email": "u21@example.com", "changed": got[0]["changed"], "name": None}
    assert got[0]["changed"].replace("T", " ").startswith("2024-03-03 14:00:00")
    assert pages[-1].high_water == datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    assert_resumes(connector(url), ExtractRequest(entity="recent", source_properties={"customProperties": custom},
                                                  page_size=3), 2)
    with pytest.raises(ConnectorError, match="no column 'nope'"):
        list(connector(url).extract(ExtractRequest(entity="recent", source_properties={"customProperties": {
            **custom, "keyColumns": "nope"}})))


def test_a_query_keeps_colons_and_percent_signs_literal(url: str) -> None:
    custom = {"query": "SELECT id, '10:30' AS at, 'a%b' AS pct FROM customers WHERE email LIKE 'u1%'"}
    got = extract(url, entity="q", source_properties={"customProperties": custom})
    assert got[0] == {"id": 1, "at": "10:30", "pct": "a%b"} and len(got) == 11


# --- filter push-down --------------------------------------------------------------------------------

PUSHED = [
    ("score", "GREATER_THAN", {"VALUE": "10"}, "double"),
    ("score", "BETWEEN", {"LOWER_BOUND": "-2.5", "UPPER_BOUND": "7.25"}, "decimal"),
    ("id", "LESS_THAN", {"VALUE": "7.5"}, "double"),
    ("id", "GREATER_THAN_OR_EQUAL_TO", {"VALUE": "20.2"}, "double"),
    ("id", "LESS_THAN_OR_EQUAL_TO", {"VALUES": "4, 9"}, "integer"),
    ("id", "EQUAL_TO", {"VALUES": "3, 5, 8.5"}, "double"),
    ("id", "NOT_EQUAL_TO", {"VALUES": "1,2,3"}, "integer"),
    ("id", "BETWEEN", {"LOWER_BOUND": "2.5", "UPPER_BOUND": "6.5"}, "double"),
    ("name", "EQUAL_TO", {"VALUE": "Bob"}, "string"),
    ("name", "NOT_EQUAL_TO", {"VALUES": "Bob,Cy"}, "string"),
    ("vip", "EQUAL_TO", {"VALUE": "true"}, "boolean"),
    ("vip", "NOT_EQUAL_TO", {"VALUE": "1"}, "boolean"),
    ("birthday", "LESS_THAN_OR_EQUAL_TO", {"VALUE": "1991-01-01"}, "date"),
    ("birthday", "GREATER_THAN", {"VALUES": "1991-01-01,1992-06-01"}, "date"),
]
LEFT_TO_THE_FLOW = [
    ("name", "CONTAINS", {"VALUE": "o"}, "string"),
    ("name", "LESS_THAN", {"VALUE": "Bz"}, "string"),  # collations may order text differently
    ("updated_at", "GREATER_THAN", {"VALUE": "2024-03-02T00:00:00Z"}, "datetime"),
    ("email", "EQUAL_TO", {"VALUE": "5"}, "integer"),  # a number filter on a text column
]


def _filter_task(field: str, operator: str, properties: dict[str, str], data_type: str) -> dict[str, Any]:
    return {"taskType": "Filter", "sourceFields": [field], "connectorOperator": {"CustomConnector": operator},
            "taskProperties": {"DATA_TYPE": data_type, **properties}}


def _flow_keeps(task: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[RecordFilter, list[dict[str, Any]]]:
    pipeline = compile_tasks([task], "CustomConnector")
    return pipeline.record_filters[0], [r for r in rows if isinstance(pipeline.apply(r), Output)]


@pytest.mark.parametrize("case", PUSHED, ids=[f"{c[0]}-{c[1]}" for c in PUSHED])
def test_pushed_filters_select_exactly_what_the_flow_keeps(url: str, case: tuple[Any, ...]) -> None:
    everything = extract(url, entity="customers")
    rule, kept = _flow_keeps(_filter_task(*case), everything)
    assert len(kept) < ROWS
    if rule.field == "score" and url.startswith("sqlite"):  # SQLite keeps NUMERIC as binary floats: not pushed
        assert extract(url, entity="customers", filters=[rule]) == everything
    else:
        assert extract(url, entity="customers", filters=[rule]) == kept


@pytest.mark.parametrize("case", LEFT_TO_THE_FLOW, ids=[f"{c[0]}-{c[1]}" for c in LEFT_TO_THE_FLOW])
def test_filters_sql_cannot_mirror_are_left_to_the_flow(url: str, case: tuple[Any, ...]) -> None:
    rule, kept = _flow_keeps(_filter_task(*case), extract(url, entity="customers"))
    assert len(extract(url, entity="customers", filters=[rule])) == ROWS > len(kept)


# --- resuming ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("page_size", "stop_after"), [(7, 1), (7, 3), (1, 13), (29, 1)])
def test_resume_by_key(url: str, page_size: int, stop_after: int) -> None:
    assert_resumes(connector(url), ExtractRequest(entity="customers", page_size=page_size), stop_after)
    assert_resumes(connector(url), ExtractRequest(entity="customers", modified_field="updated_at",
                                                  page_size=page_size), stop_after)


@pytest.mark.parametrize(("page_size", "stop_after"), [(1, 1), (1, 5), (4, 2), (3, 6)])
def test_resume_a_view_without_a_key_with_duplicate_rows_and_nulls(url: str, page_size: int, stop_after: int) -> None:
    full = extract(url, entity="names")
    assert len(full) == ROWS and full.count({"name": "Bob", "vip": False}) > 1
    assert_resumes(connector(url), ExtractRequest(entity="names", page_size=page_size), stop_after)


def test_a_bad_checkpoint_is_refused(url: str) -> None:
    for bad in ({"line": 3}, {"after": [1, 2], "ties": 1}, {"after": [{"weird": 1}], "ties": 1}):
        with pytest.raises(ConnectorError, match="invalid checkpoint"):
            extract(url, entity="customers", checkpoint=bad)


def test_errors_name_the_problem(url: str) -> None:
    with pytest.raises(ConnectorError, match="no column 'nope' to pull incrementally by"):
        extract(url, entity="customers", modified_field="nope")
    with pytest.raises(ConnectorError) as raised:
        extract(url, entity="q", source_properties={"customProperties": {"query": "SELEKT 1"}})
    assert not isinstance(raised.value, ConnectorAuthError) and not raised.value.transient
    with pytest.raises(ConnectorError, match="'queries' property must be"):
        connector(url, queries="[1]").check()
    with pytest.raises(ConnectorError, match="'queries' property must be"):  # no RecursionError
        connector(url, queries="[" * 5000 + "]" * 5000).check()


def test_a_large_table_streams_in_bounded_memory(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    for kind in ("sqlite", "postgresql"):
        big = new_url(kind, request, tmp_path, "big")
        create(big, count=20_000)
        count, peak = peak_memory_of_extraction(connector(big), ExtractRequest(entity="customers", page_size=500,
                                                                               modified_field="updated_at"))
        assert count == 20_000
        assert peak < 2_500_000, (kind, peak)  # all 20,000 records would take over 15 MB


# --- end to end through boto3 --------------------------------------------------------------------------


def source_patterns(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """The operator settings that let tenants name the tests' source databases: SQLite files below the
    test run's temp directory and databases on the test run's PostgreSQL cluster."""
    patterns = [f"sqlite:///{tmp_path_factory.getbasetemp().resolve()}/*"]
    if request.param == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        patterns.append(f"postgresql://*@127.0.0.1:{cluster.port}/*")
    return tuple(arg for pattern in patterns for arg in ("--sql-url-pattern", pattern))


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(request, tmp_path_factory.mktemp(f"sql-{request.param}"),
                     args=(*FAKE_VENDOR_HOSTS, *source_patterns(request, tmp_path_factory))) as server:
        yield server


@pytest.fixture
def live_source(live: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A source database of the live server's own kind, with three customers changed in the past."""
    made = new_url(live.backend, request, tmp_path, "live")
    engine = sa.create_engine(made, poolclass=sa.NullPool)
    with engine.begin() as connection:
        metadata.create_all(connection)
        connection.execute(customers.insert(), [dict(row(i), updated_at=T0 + timedelta(days=i)) for i in (1, 2, 3)])
    engine.dispose()
    yield made


def test_a_flow_lands_rows_then_pulls_only_changed_ones(appflow: Any, cp: Any, unique: str, live_source: str,
                                                        tmp_path: Path) -> None:
    basic = {"authenticationType": "BASIC", "basic": {"username": "postgres", "password": "unused"}}
    credentials = basic if live_source.startswith("postgresql") else None

    def profile(url: str, creds: dict[str, Any] | None) -> str:
        return create_profile(appflow, unique, "CustomConnector", {"url": url}, creds, label="SQL")

    bad = f"sqlite:///{tmp_path.resolve()}/missing.db"
    with pytest.raises(appflow.exceptions.ConnectorServerException, match="does not exist"):
        profile(bad, None)
    if credentials:
        with pytest.raises(appflow.exceptions.ConnectorAuthenticationException):
            profile(live_source, {**basic, "basic": {"username": "nobody", "password": "pw"}})
    profile(live_source, credentials)
    listed = appflow.list_connector_entities(connectorProfileName=unique)["connectorEntityMap"]["Objects"]
    assert {"name": "customers", "label": "customers", "hasNestedEntities": False} in listed
    assert field_types(appflow, unique, "customers")["updated_at"] == "datetime"

    create_domain(cp, unique, "crm", **PEOPLE)
    flow = ScheduledFlow(appflow, unique, into=(unique, "crm"), source={
        "connectorType": "CustomConnector", "connectorProfileName": unique,
        "sourceConnectorProperties": {"CustomConnector": {"entityName": "customers"}},
        "incrementalPullConfig": {"datetimeTypeFieldName": "updated_at"}})
    assert processed(flow.run()) == 3
    found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["u2@example.com"])["Items"]
    assert [p["FirstName"] for p in found] == ["Cy"]

    engine = sa.create_engine(live_source, poolclass=sa.NullPool)
    with engine.begin() as connection:
        changed = T0 + timedelta(days=10)
        connection.execute(customers.update().where(customers.c.id == 2).values(name="Cyd", updated_at=changed))
        connection.execute(customers.insert(), [dict(row(4), updated_at=changed)])
    engine.dispose()
    # Rows changed at or after the first run's high-water mark: 2 and 4, and customer 3, changed at the
    # mark itself: the runner pulls from the mark inclusively, so rows stamped at it are read again by design.
    assert processed(flow.run()) == 2 + 1
    found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["u2@example.com"])["Items"]
    assert [p["FirstName"] for p in found] == ["Cyd"]
    assert len(cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["4"])["Items"]) == 1
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 4
