"""Flows: one per account, region and name; definition and cursor as JSON values; by client
token; listed by name; the due ones; a run claimed by one process; deleted with their executions;
the newest execution of each; the connector profiles they name."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from openprofiles.storage.flows import ConnectorProfileRef, FlowRecord
from openprofiles.storage.integrity import DuplicateKey
from openprofiles.storage.store import Store
from tests.storage.conftest import ACCOUNT, NOW, REGION

LATER = NOW + timedelta(hours=1)


def _add(store: Store, name: str, token: str | None = None, next_run_at: datetime | None = None,
         status: str = "Active") -> FlowRecord:
    with store.write() as uow:
        return uow.flows.add(ACCOUNT, REGION, name, definition={"flowName": name, "tasks": [{"a": 1}]}, status=status,
                             client_token=token, created_by="me", now=NOW, next_run_at=next_run_at)


def test_a_flow_is_stored_updated_and_found(store: Store) -> None:
    flow = _add(store, "f", token="t1")
    assert (flow.definition, flow.cursor, flow.consecutive_failures) == ({"flowName": "f", "tasks": [{"a": 1}]}, None, 0)
    with store.write() as uow:
        uow.flows.update(flow.id, LATER, cursor={"since": "2026-01-01"}, status="Suspended", definition={"x": True})
    with store.read() as uow:
        found = uow.flows.get(ACCOUNT, REGION, "f")
        assert uow.flows.get_by_id(flow.id) == found
        assert uow.flows.by_client_token(ACCOUNT, REGION, "t1") == found
        assert uow.flows.by_client_token(ACCOUNT, REGION, "t2") is None
    assert found is not None and (found.cursor, found.status, found.definition) == (
        {"since": "2026-01-01"}, "Suspended", {"x": True})
    assert found.last_updated_at == LATER
    with store.write() as uow:
        uow.flows.update(flow.id, LATER, cursor=None)
    with store.read() as uow:
        cleared = uow.flows.get_by_id(flow.id)
    assert cleared is not None and cleared.cursor is None
    with pytest.raises(DuplicateKey):
        _add(store, "f")


def test_flows_are_listed_by_name(store: Store) -> None:
    for name in ("b", "a", "c"):
        _add(store, name)
    with store.read() as uow:
        assert [f.name for f in uow.flows.list(ACCOUNT, REGION, None, 10)] == ["a", "b", "c"]
        assert [f.name for f in uow.flows.list(ACCOUNT, REGION, "a", 1)] == ["b"]


def test_due_flows_and_a_run_claimed_once(store: Store) -> None:
    due = _add(store, "due", next_run_at=NOW)
    _add(store, "later", next_run_at=LATER)
    _add(store, "inactive", next_run_at=NOW, status="Suspended")
    _add(store, "unscheduled")
    with store.read() as uow:
        assert [f.name for f in uow.flows.due(NOW)] == ["due"]
    with store.write() as uow:
        assert uow.flows.claim_run(due.id, NOW, LATER, NOW)
        assert not uow.flows.claim_run(due.id, NOW, LATER, NOW)  # another process moved it first
    with store.read() as uow:
        assert sorted(f.name for f in uow.flows.due(LATER)) == ["due", "later"]


def test_executions_and_connector_profiles_of_flows(store: Store) -> None:
    first, second = _add(store, "f1"), _add(store, "f2")
    with store.write() as uow:
        uow.executions.add(first.id, "run-1", "OnDemand", NOW, None, None)
        uow.executions.add(first.id, "run-2", "OnDemand", LATER, None, None)
        uow.executions.set_status("run-2", "Error", LATER, "broken")
        uow.connector_profiles.add(ACCOUNT, REGION, "crm", connector_type="Salesforce", label=None,
                                   connection_mode="Public", properties={}, credentials=None, kms_arn=None, now=NOW)
    with store.read() as uow:
        last = uow.flows.last_executions([first.id, second.id])
        assert list(last) == [first.id]
        assert (last[first.id].execution_id, last[first.id].status, last[first.id].message) == ("run-2", "Error", "broken")
        assert uow.flows.last_executions([]) == {}
        assert uow.flows.has_execution_in(first.id, ["InProgress"])
        assert not uow.flows.has_execution_in(second.id, ["InProgress", "Error"])
        assert uow.flows.connector_profiles(ACCOUNT, REGION, ["crm", "gone", "crm"]) == {
            "crm": ConnectorProfileRef("crm", "Salesforce", None)}
        assert uow.flows.connector_profiles(ACCOUNT, REGION, []) == {}
    with store.write() as uow:
        uow.flows.delete(first.id)
    with store.read() as uow:
        assert uow.flows.get_by_id(first.id) is None and uow.executions.get("run-1") is None
