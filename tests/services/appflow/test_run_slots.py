"""services/appflow/run_slots.py: flow runs across processes on one database (a SQLite file, PostgreSQL):
a schedule fires once and its run is executed by one process; a run whose process is killed is resumed
elsewhere once its lease expires, with nothing lost or loaded twice; a run without progress ends in
Error. In-process, `RunSlots` itself: claims within its concurrency, leases, stuck runs, lost leases,
takeovers and closing, with a stand-in for the run (no flow engine)."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from openprofiles.clock import FixedClock
from openprofiles.services.appflow.run_slots import ActiveRun, RunOutcome, RunSettings, RunSlots
from openprofiles.storage.database import Database, sqlite_url
from openprofiles.storage.executions import ACTIVE
from openprofiles.storage.store import Store
from openprofiles.storage.tables import flow_executions
from tests.conftest import BACKENDS, database_url_for
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


# In-process: RunSlots with a stand-in run (`execute`) on the `db` fixture (SQLite, PostgreSQL).

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
#: A lease this long renews only when told to (`tick`), never on its own during a test.
SLOW = 3000.0


class StandIn:
    """The run `RunSlots` executes: it waits for its gate (or for the slots closing), then ends Successful;
    `ended_stuck` collects the runs the slots ended for no progress."""

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = {}
        self.started: dict[str, threading.Event] = {}
        self.threads: dict[str, str] = {}
        self.ended_stuck: list[ActiveRun] = []
        self.stuck = threading.Event()
        self.slots: RunSlots | None = None
        self.fail = False

    def gate(self, execution_id: str) -> threading.Event:
        return self.gates.setdefault(execution_id, threading.Event())

    def execute(self, run: ActiveRun) -> None:
        self.threads[run.execution_id] = threading.current_thread().name
        self.started.setdefault(run.execution_id, threading.Event()).set()
        assert self.slots is not None
        while not self.gate(run.execution_id).wait(0.01):
            if self.slots.closing.is_set():
                return  # handed back: no outcome
        if self.fail:
            raise RuntimeError("could not record the end")
        run.outcome = RunOutcome("Successful", None)

    def end_stuck(self, run: ActiveRun) -> None:
        self.ended_stuck.append(run)
        self.stuck.set()

    def wait_started(self, execution_id: str) -> None:
        assert self.started.setdefault(execution_id, threading.Event()).wait(10), execution_id


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One database per backend for these tests; each test's runs are ended after it (`slots_for`)."""
    url = database_url_for(str(request.param), request) or sqlite_url(tmp_path_factory.mktemp("slots"))
    db = Database(url)
    db.migrate()
    yield Store(db)
    db.dispose()


@pytest.fixture
def slots_for(store: Store) -> Iterator[Callable[..., tuple[RunSlots, StandIn, FixedClock]]]:
    """Makes RunSlots over `store` with a stand-in run; closes them after the test, and ends every run it
    left active (so that no later test's takeover finds it)."""
    made: list[RunSlots] = []

    def make(concurrency: int = 2, lease: float = SLOW, stuck_timeout: float = SLOW) -> tuple[
            RunSlots, StandIn, FixedClock]:
        stand_in, clock = StandIn(), FixedClock(START)
        slots = RunSlots(store, clock, RunSettings(concurrency=concurrency, lease=lease, stuck_timeout=stuck_timeout),
                         stand_in.execute, stand_in.end_stuck)
        stand_in.slots = slots
        made.append(slots)
        return slots, stand_in, clock

    yield make
    for slots in made:
        slots.close(timeout=5)
    with store.write() as uow:
        uow.conn.execute(update(flow_executions).where(flow_executions.c.status.in_(ACTIVE)).values(status="Error"))


def _runs(store: Store, count: int) -> list[str]:
    """`count` new InProgress executions nobody holds, oldest first."""
    ids = [secrets.token_hex(8) for _ in range(count)]
    with store.write() as uow:
        flow = uow.flows.add("000000000000", "us-east-1", "f" + secrets.token_hex(4), definition={}, status="Active",
                             client_token=None, created_by=None, now=START)
        for execution_id in ids:
            uow.executions.add(flow.id, execution_id, "OnDemand", START, None, None)
    return ids


def _row(store: Store, execution_id: str) -> Any:
    with store.read() as uow:
        return uow.executions.get(execution_id)


def test_the_tick_is_a_third_of_the_lease_but_not_below_50_ms() -> None:
    assert RunSettings(lease=30).tick == 10
    assert RunSettings(lease=0.01).tick == 0.05


def test_a_claimed_run_executes_on_a_thread_of_its_own_and_its_outcome_is_remembered(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, _ = slots_for()
    (execution_id,) = _runs(store, 1)
    stand_in.gate(execution_id).set()
    assert slots.submit(execution_id)
    outcome = slots.wait(execution_id, timeout=10)
    assert outcome == RunOutcome("Successful", None)
    assert stand_in.threads[execution_id] == f"flow-run-{execution_id[:8]}"
    row = _row(store, execution_id)
    assert (row.worker, row.heartbeat_at) == (slots.worker_id, START)
    assert slots.wait(execution_id) == outcome  # ended lately: still known
    assert slots.wait("not-one-of-ours") is None


def test_claims_stop_at_the_concurrency_and_a_free_slot_takes_the_next(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, _ = slots_for(concurrency=1)
    first, second = _runs(store, 2)
    assert slots.submit(first)
    assert not slots.submit(first)  # executing here already
    assert not slots.submit(second)  # no free slot: left for whoever takes it over
    assert _row(store, second).worker is None
    stand_in.gate(first).set()
    slots.wait(first, timeout=10)
    stand_in.gate(second).set()
    assert slots.submit(second)
    assert slots.wait(second, timeout=10) is not None


def test_a_run_another_process_holds_is_claimed_only_once_its_lease_expired(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, clock = slots_for(lease=30)
    (execution_id,) = _runs(store, 1)
    with store.write() as uow:
        assert uow.executions.claim(execution_id, "other-process", START, START - timedelta(seconds=30))
    clock.advance(timedelta(seconds=29))
    assert not slots.submit(execution_id)
    assert slots.wait(execution_id) is None  # not one of this process's
    clock.advance(timedelta(seconds=2))
    stand_in.gate(execution_id).set()
    assert slots.submit(execution_id)
    slots.wait(execution_id, timeout=10)
    assert _row(store, execution_id).worker == slots.worker_id


def test_take_over_claims_as_many_unheld_runs_as_there_are_free_slots(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, _ = slots_for(concurrency=2)
    ids = _runs(store, 3)
    assert slots.take_over() == 2
    assert [_row(store, i).worker for i in ids] == [slots.worker_id, slots.worker_id, None]  # oldest first
    assert slots.take_over() == 0  # no free slot
    stand_in.gate(ids[0]).set()
    slots.wait(ids[0], timeout=10)
    assert slots.take_over() == 1
    assert _row(store, ids[2]).worker == slots.worker_id


def test_tick_renews_the_leases_and_drops_a_run_whose_lease_was_taken(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, clock = slots_for(concurrency=2)
    kept, lost = _runs(store, 2)
    assert slots.submit(kept) and slots.submit(lost)
    stand_in.wait_started(lost)
    with store.write() as uow:
        uow.conn.execute(update(flow_executions).where(flow_executions.c.execution_id == lost).values(
            worker="other-process"))
    clock.advance(timedelta(seconds=5))
    slots.tick()
    assert _row(store, kept).heartbeat_at == START + timedelta(seconds=5)
    assert _row(store, lost).heartbeat_at == START  # another's now: not renewed
    (spare,) = _runs(store, 1)
    assert slots.submit(spare)  # the lost run gave its slot up
    assert stand_in.ended_stuck == []


class _TickingFirst:
    """`RunSlots.store` for a test: the upkeep (`tick`) runs before the first transaction asked of it,
    as the timer may between `submit` reserving a slot and claiming the run in that transaction."""

    def __init__(self, store: Store, slots: RunSlots) -> None:
        self.store = store
        self.slots = slots
        self.ticked = False

    def write(self) -> Any:
        if not self.ticked:
            self.ticked = True
            self.slots.tick()
        return self.store.write()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_tick_leaves_alone_a_run_whose_slot_is_reserved_but_not_claimed_yet(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    slots, stand_in, clock = slots_for(concurrency=1)
    execution_id, other = _runs(store, 2)
    ticking = _TickingFirst(store, slots)
    monkeypatch.setattr(slots, "store", ticking)
    assert slots.submit(execution_id)
    assert ticking.ticked
    stand_in.wait_started(execution_id)
    # Not taken for a lost lease: it keeps its slot, and its lease is renewed.
    assert not slots.submit(other)
    clock.advance(timedelta(seconds=5))
    slots.tick()
    row = _row(store, execution_id)
    assert (row.worker, row.heartbeat_at) == (slots.worker_id, START + timedelta(seconds=5))
    stand_in.gate(execution_id).set()
    assert slots.wait(execution_id, timeout=10) == RunOutcome("Successful", None)


def test_tick_ends_a_run_without_progress_and_frees_its_slot(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, _ = slots_for(concurrency=1, stuck_timeout=60)
    stuck, waiting = _runs(store, 2)
    assert slots.submit(stuck)
    stand_in.wait_started(stuck)
    slots.tick()
    assert stand_in.ended_stuck == []  # progress is recent
    with slots._lock:  # the run's clock of progress, turned back past the timeout
        run = slots._runs[stuck]
    run.last_progress -= 61
    slots.tick()
    assert stand_in.ended_stuck == [run] and run.dropped
    assert slots.submit(waiting)


def test_the_timer_ends_a_stuck_run_on_its_own(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, _ = slots_for(concurrency=1, lease=0.15, stuck_timeout=0.2)
    (stuck,) = _runs(store, 1)
    assert slots.submit(stuck)
    assert stand_in.stuck.wait(10)
    assert [run.execution_id for run in stand_in.ended_stuck] == [stuck]


class _PausingLock:
    """`RunSlots._lock` for a test: the thread named `pausing` stops the first time it lets go of the
    lock, until `resume` is set; `let_go(name)` is set once the thread `name` has let go of it."""

    def __init__(self, pausing: str) -> None:
        self.lock = threading.Lock()
        self.pausing = pausing
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.released: dict[str, threading.Event] = {}

    def let_go(self, name: str) -> threading.Event:
        return self.released.setdefault(name, threading.Event())

    def __enter__(self) -> None:
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()
        name = threading.current_thread().name
        self.let_go(name).set()
        if name == self.pausing and not self.paused.is_set():
            self.paused.set()
            self.resume.wait(10)


def test_wait_answers_the_outcome_of_a_run_that_is_giving_its_slot_up(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    slots, stand_in, _ = slots_for()
    (execution_id,) = _runs(store, 1)
    lock = _PausingLock(f"flow-run-{execution_id[:8]}")
    monkeypatch.setattr(slots, "_lock", lock)
    stand_in.gate(execution_id).set()
    assert slots.submit(execution_id)
    answers: list[RunOutcome | None] = []
    try:
        assert lock.paused.wait(10)  # the run has ended; its thread let go of the lock once, and stopped there
        waiter = threading.Thread(target=lambda: answers.append(slots.wait(execution_id, timeout=10)), name="waiter")
        waiter.start()
        assert lock.let_go("waiter").wait(10)  # it has looked the run up
        assert slots.wait(execution_id, timeout=0) is None  # not ended yet within no time at all
    finally:
        lock.resume.set()
    waiter.join(10)
    assert answers == [RunOutcome("Successful", None)]


def test_a_run_that_fails_to_record_its_end_frees_its_slot(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, _ = slots_for(concurrency=1)
    failing, after = _runs(store, 2)
    stand_in.fail = True
    stand_in.gate(failing).set()
    assert slots.submit(failing)
    assert slots.wait(failing, timeout=10) is None
    stand_in.fail = False
    stand_in.gate(after).set()
    assert slots.submit(after)
    assert slots.wait(after, timeout=10) == RunOutcome("Successful", None)


def test_close_stops_claiming_and_waits_for_the_runs_to_hand_back(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, _ = slots_for()
    running, later = _runs(store, 2)
    assert slots.submit(running)
    stand_in.wait_started(running)
    slots.close(timeout=10)
    assert slots.wait(running, timeout=0) is None  # it stopped without an outcome
    assert not slots.submit(later) and slots.take_over() == 0
    assert _row(store, later).worker is None


def test_only_the_latest_ended_runs_are_remembered(
        store: Store, slots_for: Callable[..., tuple[RunSlots, StandIn, FixedClock]]) -> None:
    slots, stand_in, _ = slots_for(concurrency=1)
    ids = _runs(store, 65)
    for execution_id in ids:
        stand_in.gate(execution_id).set()
        assert slots.submit(execution_id)
        assert slots.wait(execution_id, timeout=10) is not None
    assert slots.wait(ids[0]) is None
    assert slots.wait(ids[1]) == RunOutcome("Successful", None)
