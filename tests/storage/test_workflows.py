"""Integration workflows and their steps: added with one step per batch, read with the domain,
listed newest first with filters, moved between statuses only from the expected ones, steps
started once and ended once (their count live while running), cancelled, deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.store import Store
from tests.storage.conftest import NOW

LATER = NOW + timedelta(hours=1)


def _add(store: Store, domain: DomainRecord, workflow_id: str, tags: dict[str, str] | None = None,
         created: int = 0) -> int:
    with store.write() as uow:
        uow.workflows.add(workflow_id, domain.id, workflow_type="APPFLOW_INTEGRATION", flow_name=f"flow-{workflow_id}",
                          object_type_name="Contact", role_arn=None, tags=tags or {}, source_connector_type="Salesforce",
                          connector_profile_name="crm", batches=[(NOW - timedelta(days=2), NOW - timedelta(days=1)),
                                                                 (NOW - timedelta(days=1), None)],
                          now=NOW + timedelta(minutes=created))
        found = uow.workflows.get(workflow_id)
    assert found is not None
    return found.id


def test_a_workflow_is_read_with_its_domain_and_listed_newest_first(store: Store, domain: DomainRecord) -> None:
    _add(store, domain, "w1", tags={"team": "a"})
    key2 = _add(store, domain, "w2", created=5)
    with store.read() as uow:
        w1 = uow.workflows.get("w1")
        assert uow.workflows.get("nope") is None

        def listed(status: str | None = None, started_from: datetime | None = None, after: int | None = None) -> list[str]:
            found = uow.workflows.list(domain.id, status=status, workflow_type=None, started_from=started_from,
                                       started_to=None, after=after, limit=10)
            return [w.workflow_id for w in found]

        assert listed() == ["w2", "w1"]
        assert listed(after=key2) == ["w1"]
        assert listed(started_from=NOW + timedelta(minutes=1)) == ["w2"]
        assert listed(status="COMPLETE") == []
    assert w1 is not None and (w1.domain_name, w1.account_id, w1.status, w1.tags) == ("d", "111111111111",
                                                                                     "NOT_STARTED", {"team": "a"})
    with store.write() as uow:
        uow.workflows.mark_deleted(key2, LATER)
    with store.read() as uow:
        assert [w.workflow_id for w in uow.workflows.list(domain.id, status=None, workflow_type=None, started_from=None,
                                                          started_to=None, after=None, limit=10)] == ["w1"]
        assert [w.workflow_id for w in uow.workflows.unfinished()] == ["w1", "w2"]  # w2's rows still to go
    with store.write() as uow:
        uow.workflows.delete(key2)
    with store.read() as uow:
        assert uow.workflows.get("w2") is None and uow.workflows.steps(key2) == []


def test_status_moves_only_from_the_expected_ones(store: Store, domain: DomainRecord) -> None:
    key = _add(store, domain, "w")
    with store.write() as uow:
        assert uow.workflows.set_status(key, "IN_PROGRESS", NOW, expected=["NOT_STARTED"])
        assert not uow.workflows.set_status(key, "IN_PROGRESS", NOW, expected=["NOT_STARTED"])
        assert uow.workflows.set_status(key, "FAILED", LATER, expected=["IN_PROGRESS"], error="boom")
    with store.read() as uow:
        found = uow.workflows.get("w")
        assert uow.workflows.unfinished() == []
    assert found is not None and (found.status, found.error_description, found.last_updated_at) == (
        "FAILED", "boom", LATER)


def test_steps_start_once_show_their_run_live_and_end_once(store: Store, domain: DomainRecord) -> None:
    key = _add(store, domain, "w")
    with store.write() as uow:
        flow = uow.flows.add("111111111111", "us-east-1", "flow-w", definition={}, status="Active", client_token=None,
                             created_by=None, now=NOW)
        uow.executions.add(flow.id, "run-1", "OnDemand", NOW, None, None)
        first, second = uow.workflows.steps(key)
        assert (first.position, first.batch_end, second.batch_end) == (1, NOW - timedelta(days=1), None)
        assert uow.workflows.start_step(first.id, "run-1", NOW)
        assert not uow.workflows.start_step(first.id, "run-2", NOW)
        uow.conn.exec_driver_sql("UPDATE flow_executions SET records_processed = 7")
    with store.read() as uow:
        running = uow.workflows.steps(key, limit=1)[0]
        assert uow.workflows.steps(key, after=1) == [uow.workflows.steps(key)[1]]
    assert (running.status, running.records_processed, running.execution_status) == ("IN_PROGRESS", 7, "InProgress")
    with store.write() as uow:
        assert uow.workflows.end_step(first.id, "COMPLETE", 9, "Done", LATER)
        assert not uow.workflows.end_step(first.id, "FAILED", 0, "again", LATER)
        uow.workflows.cancel_steps(key, LATER)
    with store.read() as uow:
        ended, cancelled = uow.workflows.steps(key)
    assert (ended.status, ended.records_processed, ended.message) == ("COMPLETE", 9, "Done")  # its own count now
    assert (cancelled.status, cancelled.message, cancelled.execution_status) == ("CANCELLED", "Cancelled", None)
