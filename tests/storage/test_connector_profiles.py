"""Connector profiles: one per account, region and name, properties as JSON values, credentials
as bytes; pages filtered and in name order; the flows that use a profile."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from openprofiles.storage.integrity import DuplicateKey
from openprofiles.storage.store import Store
from tests.storage.conftest import ACCOUNT, NOW, REGION


def _add(store: Store, name: str, connector_type: str = "Salesforce", label: str | None = None,
         account: str = ACCOUNT) -> None:
    with store.write() as uow:
        uow.connector_profiles.add(account, REGION, name, connector_type=connector_type, label=label,
                                   connection_mode="Public", properties={"instanceUrl": f"https://{name}"},
                                   credentials=b"sealed", kms_arn=None, now=NOW)


def test_add_get_update_delete(store: Store) -> None:
    _add(store, "crm")
    with store.read() as uow:
        found = uow.connector_profiles.get(ACCOUNT, REGION, "crm")
        assert uow.connector_profiles.get("999999999999", REGION, "crm") is None
    assert found is not None and found.properties == {"instanceUrl": "https://crm"}
    assert found.credentials == b"sealed" and isinstance(found.credentials, bytes) and found.created_at == NOW
    with store.write() as uow:
        uow.connector_profiles.update(found.id, connection_mode="Private", properties={"a": [1]}, credentials=None,
                                      now=NOW + timedelta(hours=1))
    with store.read() as uow:
        updated = uow.connector_profiles.get(ACCOUNT, REGION, "crm")
    assert updated is not None and (updated.connection_mode, updated.properties, updated.credentials) == (
        "Private", {"a": [1]}, None)
    assert updated.last_updated_at == NOW + timedelta(hours=1) and updated.created_at == NOW
    with pytest.raises(DuplicateKey):
        _add(store, "crm")
    with store.write() as uow:
        uow.connector_profiles.delete(found.id)
    with store.read() as uow:
        assert uow.connector_profiles.get(ACCOUNT, REGION, "crm") is None


def test_pages_are_filtered_and_in_name_order(store: Store) -> None:
    for name, kind, label in (("c", "Salesforce", None), ("a", "CustomConnector", "mine"), ("b", "Zendesk", None)):
        _add(store, name, kind, label)
    _add(store, "other-account", account="222222222222")

    def names(**filters: Any) -> list[str]:
        with store.read() as uow:
            return [p.name for p in uow.connector_profiles.page(ACCOUNT, REGION, filters.pop("after", None),
                                                                filters.pop("limit", 10), **filters)]

    assert names() == ["a", "b", "c"]
    assert names(after="a", limit=1) == ["b"]
    assert names(names=["c", "a", "zz"]) == ["a", "c"]
    assert names(connector_type="Zendesk") == ["b"]
    assert names(label="mine") == ["a"]


def test_flows_using_a_profile_as_source_or_destination(store: Store) -> None:
    _add(store, "crm")
    source = {"sourceFlowConfig": {"connectorProfileName": "crm"}, "destinationFlowConfigList": []}
    destination = {"sourceFlowConfig": {"connectorType": "S3"},
                   "destinationFlowConfigList": [{"connectorProfileName": "x"}, {"connectorProfileName": "crm"}]}
    with store.write() as uow:
        for name, definition in (("reads", source), ("writes", destination), ("neither", {"sourceFlowConfig": {}})):
            uow.flows.add(ACCOUNT, REGION, name, definition=definition, status="Active", client_token=None,
                          created_by=None, now=NOW)
        uow.flows.add("222222222222", REGION, "elsewhere", definition=source, status="Active", client_token=None,
                      created_by=None, now=NOW)
    with store.read() as uow:
        assert sorted(uow.connector_profiles.flows_using(ACCOUNT, REGION, "crm")) == ["reads", "writes"]
        assert uow.connector_profiles.flows_using(ACCOUNT, REGION, "unused") == []
