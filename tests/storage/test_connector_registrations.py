"""Custom connector registrations: one per account, region and label; by client token; the
CustomConnector profiles that use a label."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openprofiles.storage.integrity import DuplicateKey
from openprofiles.storage.store import Store
from tests.storage.conftest import ACCOUNT, NOW, REGION


def _register(store: Store, label: str, token: str | None = None) -> int:
    with store.write() as uow:
        return uow.connector_registrations.add(
            ACCOUNT, REGION, label, entry_point="pkg:Connector", lambda_arn="arn:aws:lambda:x", description=None,
            client_token=token, registered_by=ACCOUNT, now=NOW).id


def test_register_update_and_delete(store: Store) -> None:
    key = _register(store, "b", token="t1")
    _register(store, "a")
    with store.read() as uow:
        assert [r.label for r in uow.connector_registrations.all(ACCOUNT, REGION)] == ["a", "b"]
        assert uow.connector_registrations.all("222222222222", REGION) == []
        by_token = uow.connector_registrations.by_client_token(ACCOUNT, REGION, "t1")
        assert uow.connector_registrations.by_client_token(ACCOUNT, REGION, "t2") is None
    assert by_token is not None and by_token.id == key and by_token.registered_at == NOW
    with pytest.raises(DuplicateKey):
        _register(store, "b")
    with store.write() as uow:
        uow.connector_registrations.update(key, NOW + timedelta(hours=1), description="new", client_token="t2")
    with store.read() as uow:
        updated = uow.connector_registrations.get(ACCOUNT, REGION, "b")
    assert updated is not None and (updated.description, updated.client_token) == ("new", "t2")
    assert updated.last_updated_at == NOW + timedelta(hours=1)
    with store.write() as uow:
        uow.connector_registrations.delete(key)
    with store.read() as uow:
        assert uow.connector_registrations.get(ACCOUNT, REGION, "b") is None


def test_profiles_using_a_label(store: Store) -> None:
    with store.write() as uow:
        for name, kind, label in (("p2", "CustomConnector", "mine"), ("p1", "CustomConnector", "mine"),
                                  ("other", "CustomConnector", "theirs"), ("sf", "Salesforce", "mine")):
            uow.connector_profiles.add(ACCOUNT, REGION, name, connector_type=kind, label=label,
                                       connection_mode="Public", properties={}, credentials=None, kms_arn=None,
                                       now=NOW)
    with store.read() as uow:
        assert uow.connector_registrations.profiles_using(ACCOUNT, REGION, "mine") == ["p1", "p2"]
        assert uow.connector_registrations.profiles_using(ACCOUNT, "eu-west-1", "mine") == []
