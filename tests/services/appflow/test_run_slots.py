"""Flow runs across processes on one database (a SQLite file, PostgreSQL): a schedule fires once
and its run is executed by one process; a run whose process is killed is resumed elsewhere once
its lease expires, with nothing lost or loaded twice; a run without progress ends in Error."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from openprofiles.storage.database import Database, sqlite_url
from openprofiles.storage.tables import flow_executions
from tests.conftest import database_url_for
from tests.harness import Server, Worker
from tests.live_flows import create_profile

FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
}
KEYS = {
    "crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
    "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
}
OP = {"CustomConnector": "NO_OP"}


class Cluster:
    """Processes over one database and data directory, all stopped at the end."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.processes: list[Server | Worker] = []
        self.creds = Server(data_dir, database_url).create_key()
        #: The Files connector reads the tests' sources, beside the data directory.
        self.grants = ("--files-root", str(data_dir.parent / "source"))

    def serve(self, *args: str) -> Server:
        server = Server(self.data_dir, self.database_url, args=("--log-level", "info", *self.grants, *args))
        self.processes.append(server)
        server.start()
        return server

    def worker(self, *args: str) -> Worker:
        worker = Worker(Server(self.data_dir, self.database_url), *self.grants, *args)
        self.processes.append(worker)
        worker.start()
        return worker

    def clients(self, server: Server) -> tuple[Any, Any]:
        return server.client("customer-profiles", self.creds), server.client("appflow", self.creds)

    def execution_row(self, execution_id: str) -> Any:
        db = Database(self.database_url or sqlite_url(self.data_dir))
        try:
            with db.read() as conn:
                return conn.execute(select(flow_executions).where(
                    flow_executions.c.execution_id == execution_id)).one()
        finally:
            db.dispose()

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture
def cluster(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path / "data", database_url_for(backend, request))
    yield cluster
    cluster.stop()


def _flow(cp: Any, appflow: Any, source: Path, entity: str, trigger: dict[str, Any], name: str = "flow1") -> None:
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    cp.put_profile_object_type(DomainName=name, ObjectTypeName="crm", Description="CRM", AllowProfileCreation=True,
                               Fields=FIELDS, Keys=KEYS)
    create_profile(appflow, name, "CustomConnector", {"path": str(source)}, label="Files")
    appflow.create_flow(
        flowName=name,
        triggerConfig=trigger,
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": name,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": entity}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": name, "objectTypeName": "crm"}}}],
        tasks=[{"taskType": "Map", "sourceFields": [c], "destinationField": c, "connectorOperator": OP}
               for c in ("id", "email")],
    )


def _write_people(path: Path, count: int) -> None:
    with path.open("wb") as handle:
        for i in range(count):
            handle.write(orjson.dumps({"id": str(i), "email": f"person{i}@example.com"}) + b"\n")


def _executions(appflow: Any, name: str = "flow1") -> list[dict[str, Any]]:
    return list(appflow.describe_flow_execution_records(flowName=name)["flowExecutions"])


def _ended(appflow: Any, execution_id: str, timeout: float = 120, name: str = "flow1") -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in _executions(appflow, name):
            if record["executionId"] == execution_id and record["executionStatus"] not in ("InProgress",
                                                                                          "CancelStarted"):
                return record
        time.sleep(0.2)
    raise AssertionError(f"run {execution_id} did not end: {_executions(appflow, name)}")


def test_a_schedule_fires_once_and_one_process_runs_it(cluster: Cluster, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    _write_people(source / "people.jsonl", 3000)
    fast = ("--scheduler-interval", "0.2", "--run-lease", "2", "--flow-batch-size", "100")
    server = cluster.serve(*fast)
    worker = cluster.worker(*fast)
    cp, appflow = cluster.clients(server)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    _flow(cp, appflow, source, "people.jsonl", {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
        "scheduleExpression": "rate(1hours)", "scheduleStartTime": start}}})
    assert appflow.start_flow(flowName="flow1")["flowStatus"] == "Active"

    deadline = time.monotonic() + 30
    while not _executions(appflow) and time.monotonic() < deadline:
        time.sleep(0.1)
    (first,) = _executions(appflow)
    record = _ended(appflow, first["executionId"])
    time.sleep(1.5)  # both processes keep ticking: nothing fires or runs again
    assert [e["executionId"] for e in _executions(appflow)] == [first["executionId"]]
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 3000
    stats = cp.get_domain(DomainName="flow1")["Stats"]
    assert (stats["ProfileCount"], stats["ObjectCount"]) == (3000, 3000)
    # Exactly one of the two processes executed it, and the run was never taken from it.
    worker.stop()
    server.stop()
    runners = [p for p in (server.output, worker.output) if f"flow execution {first['executionId']}: running" in p]
    assert len(runners) == 1, (server.output, worker.output)
    assert "lease lost" not in server.output + worker.output


def test_a_killed_run_resumes_in_another_process(cluster: Cluster, tmp_path: Path) -> None:
    total = 20_000
    source = tmp_path / "source"
    source.mkdir()
    _write_people(source / "people.jsonl", total)
    options = ("--run-lease", "3", "--flow-batch-size", "200")
    first = cluster.serve(*options)
    cp, appflow = cluster.clients(first)
    _flow(cp, appflow, source, "people.jsonl", {"triggerType": "OnDemand"})
    execution_id = appflow.start_flow(flowName="flow1")["executionId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        (record,) = _executions(appflow)
        if record["executionResult"]["recordsProcessed"] >= 2000:
            break
        time.sleep(0.02)
    first.kill()

    row = cluster.execution_row(execution_id)
    assert row.status == "InProgress" and 2000 <= row.records_processed < total, row
    second = cluster.serve(*options)
    cp, appflow = cluster.clients(second)
    record = _ended(appflow, execution_id)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == total
    assert "errorInfo" not in record["executionResult"]
    stats = cp.get_domain(DomainName="flow1")["Stats"]
    assert (stats["ProfileCount"], stats["ObjectCount"]) == (total, total)
    for probe in ("0", str(total // 2), str(total - 1)):
        (profile,) = cp.search_profiles(DomainName="flow1", KeyName="crmId", Values=[probe])["Items"]
        assert profile["EmailAddress"] == f"person{probe}@example.com"
    second.stop()
    assert f"flow execution {execution_id}: running" in second.output
    assert cluster.execution_row(execution_id).worker != row.worker


def test_a_run_without_progress_ends_in_error(cluster: Cluster, tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "pipe").mkdir(parents=True)
    fifo = source / "pipe" / "people.csv"
    os.mkfifo(fifo)  # opening it for reading blocks until a writer comes: a source that never answers
    _write_people(source / "people.jsonl", 10)
    server = cluster.serve("--stuck-run-timeout", "2", "--run-lease", "1", "--flow-concurrency", "1")
    cp, appflow = cluster.clients(server)
    _flow(cp, appflow, source, "pipe", {"triggerType": "OnDemand"})
    _flow(cp, appflow, source, "people.jsonl", {"triggerType": "OnDemand"}, name="flow2")

    stuck = appflow.start_flow(flowName="flow1")["executionId"]
    started = time.monotonic()
    record = _ended(appflow, stuck, timeout=30)
    assert time.monotonic() - started >= 2
    assert record["executionStatus"] == "Error"
    assert "no progress for 2 s" in record["executionResult"]["errorInfo"]["executionMessage"]
    assert appflow.describe_flow(flowName="flow1")["lastRunExecutionDetails"]["mostRecentExecutionStatus"] == "Error"

    # Its thread is still blocked in the source, but it gave up its slot (concurrency 1).
    other = appflow.start_flow(flowName="flow2")["executionId"]
    assert _ended(appflow, other, name="flow2")["executionStatus"] == "Successful"
    # When the source wakes up, the ended run writes nothing more.
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"id,email\n1,late@example.com\n")
    os.close(fd)
    time.sleep(1.5)
    (again,) = [e for e in _executions(appflow) if e["executionId"] == stuck]
    assert again["executionStatus"] == "Error" and again["executionResult"]["recordsProcessed"] == 0
    assert cp.get_domain(DomainName="flow1")["Stats"]["ObjectCount"] == 0
