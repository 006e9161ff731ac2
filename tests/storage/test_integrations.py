"""Integrations: one per domain and URI, read with the domain's name; JSON members as values (None
stays None); by URI across an account's domains; listed by URI; updated; deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.integrations import IntegrationRecord
from openprofiles.storage.integrity import DuplicateKey
from openprofiles.storage.store import Store
from tests.storage.conftest import ACCOUNT, NOW, REGION


def _add(store: Store, domain: DomainRecord, uri: str, flow_created: bool = False) -> IntegrationRecord:
    with store.write() as uow:
        return uow.integrations.add(domain.id, uri, object_type_name="Contact", object_type_names=None,
                                    role_arn=None, event_trigger_names=None, now=NOW, flow_created=flow_created)


def test_an_integration_is_stored_read_updated_and_deleted(store: Store, domain: DomainRecord) -> None:
    plain = _add(store, domain, "arn:flow/a")
    assert (plain.domain_name, plain.object_type_names, plain.event_trigger_names) == ("d", None, None)
    assert (plain.is_unstructured, plain.flow_created) == (False, False)
    mapped = _add(store, domain, "arn:flow/b", flow_created=True)
    with store.write() as uow:
        uow.integrations.update(mapped.id, NOW + timedelta(hours=1), object_type_names={"evt": "Contact"},
                                event_trigger_names=["t1", "t2"], object_type_name=None)
    with store.read() as uow:
        found = uow.integrations.get(domain.id, "arn:flow/b")
        assert uow.integrations.get(domain.id, "arn:flow/none") is None
    assert found is not None and found.object_type_names == {"evt": "Contact"} and found.flow_created
    assert (found.event_trigger_names, found.object_type_name) == (["t1", "t2"], None)
    assert found.last_updated_at == NOW + timedelta(hours=1)
    with pytest.raises(DuplicateKey):
        _add(store, domain, "arn:flow/a")
    with store.write() as uow:
        uow.integrations.delete(plain.id)
    with store.read() as uow:
        assert [i.uri for i in uow.integrations.list(domain.id, None, 10)] == ["arn:flow/b"]


def test_integrations_by_uri_and_by_domain(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        other = uow.domains.add(ACCOUNT, REGION, "a-first", default_expiration_days=None, default_encryption_key=None,
                                dead_letter_queue_url=None, settings={}, now=NOW)
    for uri in ("arn:flow/z", "arn:flow/y"):
        _add(store, domain, uri)
    _add(store, other, "arn:flow/z")
    with store.read() as uow:
        assert [i.uri for i in uow.integrations.list(domain.id, None, 10)] == ["arn:flow/y", "arn:flow/z"]
        assert [i.uri for i in uow.integrations.list(domain.id, "arn:flow/y", 10)] == ["arn:flow/z"]
        by_uri = uow.integrations.by_uri(ACCOUNT, REGION, "arn:flow/z", None, 10)
        assert [i.domain_name for i in by_uri] == ["a-first", "d"]
        assert [i.domain_name for i in uow.integrations.by_uri(ACCOUNT, REGION, "arn:flow/z", "a-first", 10)] == ["d"]
        assert uow.integrations.by_uri("222222222222", REGION, "arn:flow/z", None, 10) == []
