"""A flow run's checkpoint is sealed like the records it covers, on SQLite and PostgreSQL: after a SQL
flow keyed by e-mail address, no table of the server's database holds an address in plaintext (the
checkpoint's last key included); a run resumes from its sealed checkpoint, and a run interrupted
before the upgrade resumes from the plaintext checkpoint it had then."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from openprofiles.storage.database import normalise_url
from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.live_flows import (
    PEOPLE,
    create_domain,
    create_profile,
    into_profiles,
    map_all,
    processed,
    run_on_demand,
    wait_for_execution,
)

#: Addresses no other test uses, so finding one means it came from this module's flows.
MARK = uuid.uuid4().hex[:10]


def email(n: int) -> str:
    return f"person{n:02d}-{MARK}@example.com"


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose tenants may read SQLite files under the test run's temp directory, with batches
    of two records and a three-second run lease (a run nobody holds is taken over within a second)."""
    pattern = f"sqlite:///{tmp_path_factory.getbasetemp().resolve()}/*"
    args = (*FAKE_VENDOR_HOSTS, "--sql-url-pattern", pattern, "--flow-batch-size", "2", "--run-lease", "3")
    with live_server(request, tmp_path_factory.mktemp(f"sealed-{request.param}"), args=args) as server:
        yield server


def server_db(live: LiveServer) -> sa.Engine:
    url = live.server.database_url or f"sqlite:///{live.server.data_dir / 'openprofiles.db'}"
    return sa.create_engine(normalise_url(url), poolclass=sa.NullPool)


def plaintext_addresses(engine: sa.Engine) -> list[tuple[str, str]]:
    """(table, row) of every row in the server's database that shows one of this module's addresses."""
    tables = sa.MetaData()
    tables.reflect(engine)
    found = []
    with engine.connect() as conn:
        for table in tables.sorted_tables:
            for row in conn.execute(sa.select(table)):
                shown = repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                if MARK in shown:
                    found.append((table.name, shown))
    return found


def people_source(path: Path, numbers: range) -> str:
    """A SQLite table `people` keyed by e-mail address: what a SQL flow's checkpoint carries."""
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS people (email TEXT PRIMARY KEY, id INTEGER, name TEXT)"))
        for n in numbers:
            conn.execute(sa.text("INSERT INTO people VALUES (:e, :i, :n)"), {"e": email(n), "i": n, "n": f"P{n}"})
    engine.dispose()
    return f"sqlite:///{path.resolve()}"


def sql_flow(appflow: Any, cp: Any, name: str, url: str) -> None:
    create_profile(appflow, name, "CustomConnector", {"url": url}, None, label="SQL")
    create_domain(cp, name, "people", **PEOPLE)
    appflow.create_flow(
        flowName=name, triggerConfig={"triggerType": "OnDemand"}, tasks=map_all("CustomConnector"),
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": name,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": "people"}}},
        destinationFlowConfigList=into_profiles(name, "people"))


def execution_row(engine: sa.Engine, execution_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM flow_executions WHERE execution_id = :e"),
                            {"e": execution_id}).mappings().one()


def interrupted(engine: sa.Engine, execution_id: str) -> None:
    """Make the execution an InProgress run nobody holds, as if its process had died mid-run."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE flow_executions SET status = 'InProgress', worker = NULL, heartbeat_at = NULL "
                             "WHERE execution_id = :e"), {"e": execution_id})


def test_a_sql_flows_checkpoint_is_sealed_and_resumes(appflow: Any, cp: Any, unique: str, tmp_path: Path,
                                                      live: LiveServer) -> None:
    url = people_source(tmp_path / "people.db", range(1, 6))
    sql_flow(appflow, cp, unique, url)
    first = run_on_demand(appflow, unique)
    assert processed(first) == 5
    assert cp.search_profiles(DomainName=unique, KeyName="_email", Values=[email(3)])["Items"]

    engine = server_db(live)
    try:
        row = execution_row(engine, first["executionId"])
        assert row["checkpoint"] is None and row["sealed_checkpoint"] is not None
        assert MARK.encode() not in bytes(row["sealed_checkpoint"])
        assert plaintext_addresses(engine) == []

        # The run taken over from its sealed checkpoint (after person05) reads only the rows added since.
        people_source(tmp_path / "people.db", range(6, 8))
        interrupted(engine, first["executionId"])
        resumed = wait_for_execution(appflow, unique, first["executionId"])
        assert processed(resumed) == 5 + 2
        assert cp.search_profiles(DomainName=unique, KeyName="_email", Values=[email(7)])["Items"]
        assert plaintext_addresses(engine) == []
    finally:
        engine.dispose()


def test_a_run_interrupted_before_the_upgrade_resumes_from_its_plaintext_checkpoint(
        appflow: Any, cp: Any, unique: str, tmp_path: Path, live: LiveServer) -> None:
    url = people_source(tmp_path / "people.db", range(1, 7))
    sql_flow(appflow, cp, unique, url)
    engine = server_db(live)
    try:
        with engine.begin() as conn:
            flow_id = conn.execute(sa.text("SELECT id FROM flows WHERE name = :n"), {"n": unique}).scalar_one()
        # As a run written before 0009 left it: two batches (person01-04) done, the checkpoint in plaintext.
        execution_id = secrets.token_hex(16)
        now = datetime.now(UTC).replace(tzinfo=None) if live.backend == "sqlite" else datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO flow_executions (flow_id, execution_id, trigger, status, records_processed, "
                "bytes_processed, bytes_written, put_failures, checkpoint, started_at, last_updated_at) "
                "VALUES (:f, :e, 'OnDemand', 'InProgress', 4, 0, 0, 0, :c, :t, :t)"),
                {"f": flow_id, "e": execution_id, "c": orjson.dumps({"after": [email(4)], "ties": 1}).decode(),
                 "t": now})
        record = wait_for_execution(appflow, unique, execution_id)
        assert processed(record) == 4 + 2  # person05 and person06 only
        assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 2
        row = execution_row(engine, execution_id)
        assert row["checkpoint"] is None and row["sealed_checkpoint"] is not None  # the next batch sealed it
    finally:
        engine.dispose()
