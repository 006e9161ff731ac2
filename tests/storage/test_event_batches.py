"""Event batches: one sealed batch per execution, read back as stored, gone with its execution."""

from __future__ import annotations

import pytest

from openprofiles.storage.integrity import DuplicateKey, MissingReference
from openprofiles.storage.store import Store
from tests.storage.conftest import NOW


@pytest.fixture
def execution(store: Store) -> str:
    with store.write() as uow:
        flow = uow.flows.add("111111111111", "us-east-1", "f", definition={}, status="Active", client_token=None,
                             created_by=None, now=NOW)
        uow.executions.add(flow.id, "run-1", "Event", NOW, None, None)
    return "run-1"


def test_a_batch_is_kept_until_deleted(store: Store, execution: str) -> None:
    with store.write() as uow:
        uow.event_batches.add(execution, 3, b"sealed", NOW)
    with store.read() as uow:
        batch = uow.event_batches.get(execution)
    assert batch is not None and (batch.record_count, batch.payload, batch.created_at) == (3, b"sealed", NOW)
    assert isinstance(batch.payload, bytes)
    with pytest.raises(DuplicateKey), store.write() as uow:
        uow.event_batches.add(execution, 1, b"again", NOW)
    with store.write() as uow:
        uow.event_batches.delete(execution)
    with store.read() as uow:
        assert uow.event_batches.get(execution) is None


def test_a_batch_needs_its_execution_and_goes_with_it(store: Store, execution: str) -> None:
    with pytest.raises(MissingReference), store.write() as uow:
        uow.event_batches.add("no-such-run", 1, b"x", NOW)
    with store.write() as uow:
        uow.event_batches.add(execution, 1, b"x", NOW)
        flow = uow.flows.get("111111111111", "us-east-1", "f")
        assert flow is not None
        uow.flows.delete(flow.id)
    with store.read() as uow:
        assert uow.event_batches.get(execution) is None
