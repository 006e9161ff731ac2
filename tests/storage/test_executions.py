"""Run leases on SQLite and PostgreSQL: a run is claimed by one worker at a time, taken over only
once its lease has expired, and written (batches, final status) only by its current holder."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from openprofiles.storage.database import Database
from openprofiles.storage.store import Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
def store(db: Database) -> Store:
    store = Store(db)
    with store.write() as uow:
        flow = uow.flows.add("000000000000", "us-east-1", "f", definition={}, status="Active", client_token=None,
                             created_by=None, now=NOW)
        uow.executions.add(flow.id, "run-1", "OnDemand", NOW, None, None)
    return store


def _claim(store: Store, worker: str, now: datetime) -> bool:
    with store.write() as uow:
        return uow.executions.claim("run-1", worker, now, now - LEASE)


def _progress(store: Store, worker: str, now: datetime) -> bool:
    with store.write() as uow:
        return uow.executions.progress("run-1", worker, now, records=10, bytes_in=100, bytes_out=90, failures=0,
                                       checkpoint=b"sealed line 10")


def test_a_run_is_claimed_once_and_taken_over_only_after_its_lease_expires(store: Store) -> None:
    with store.read() as uow:
        assert uow.executions.claimable(NOW - LEASE, 10) == ["run-1"]  # new runs are nobody's
    assert _claim(store, "a", NOW)
    assert not _claim(store, "b", NOW + timedelta(seconds=29))
    with store.read() as uow:
        assert uow.executions.claimable(NOW + timedelta(seconds=29) - LEASE, 10) == []

    # Renewals (timer or batch) keep the lease.
    with store.write() as uow:
        assert uow.executions.renew("run-1", "a", NOW + timedelta(seconds=20))
        assert not uow.executions.renew("run-1", "b", NOW + timedelta(seconds=20))
    assert not _claim(store, "b", NOW + timedelta(seconds=45))
    assert _progress(store, "a", NOW + timedelta(seconds=40))
    assert not _claim(store, "b", NOW + timedelta(seconds=65))

    # A holds no more once B has taken over: its batches and its end are refused.
    later = NOW + timedelta(seconds=71)
    assert _claim(store, "b", later)
    assert not _progress(store, "a", later)
    with store.write() as uow:
        assert not uow.executions.finish("run-1", "a", "Successful", later, None)
        assert not uow.executions.release("run-1", "a")
        record = uow.executions.get("run-1")
    assert record is not None
    assert (record.worker, record.records_processed, record.sealed_checkpoint) == ("b", 10, b"sealed line 10")

    # A lease handed back is free at once; an ended run is nobody's to claim.
    with store.write() as uow:
        assert uow.executions.release("run-1", "b")
    assert _claim(store, "c", later)
    with store.write() as uow:
        assert uow.executions.finish("run-1", "c", "Successful", later, None)
        assert uow.executions.claimable(later + timedelta(days=1), 10) == []
    assert not _claim(store, "d", later + timedelta(days=1))


def test_a_cancelled_run_takes_no_batch(store: Store) -> None:
    assert _claim(store, "a", NOW)
    with store.write() as uow:
        uow.executions.set_status("run-1", "CancelStarted", NOW, "Cancel requested", expected=["InProgress"])
    assert not _progress(store, "a", NOW)
    with store.write() as uow:
        assert uow.executions.finish("run-1", "a", "Canceled", NOW, "Canceled")


def test_concurrent_claims_of_an_expired_run_have_one_winner(store: Store) -> None:
    assert _claim(store, "dead", NOW)
    later = NOW + timedelta(minutes=5)
    barrier = threading.Barrier(8)
    winners: list[str] = []

    def contend(worker: str) -> None:
        barrier.wait()
        if _claim(store, worker, later):
            winners.append(worker)

    threads = [threading.Thread(target=contend, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    with store.read() as uow:
        record = uow.executions.get("run-1")
    assert record is not None and record.worker == winners[0]
