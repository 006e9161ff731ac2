"""Domains: one per account, region and name; settings as JSON values; listed by name; updated
(settings too); counters moved in the caller's transaction; deleted with everything in them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openprofiles.storage.domains import DomainCounts, DomainRecord, count_change
from openprofiles.storage.integrity import DuplicateKey
from openprofiles.storage.profiles import ProfileRow
from openprofiles.storage.store import Store
from tests.storage.conftest import ACCOUNT, NOW, REGION


def _add(store: Store, name: str, account: str = ACCOUNT) -> DomainRecord:
    with store.write() as uow:
        return uow.domains.add(account, REGION, name, default_expiration_days=7, default_encryption_key="k",
                               dead_letter_queue_url=None, settings={"Matching": {"Enabled": True}}, now=NOW)


def test_a_domain_is_stored_and_found_by_name_or_id(store: Store) -> None:
    added = _add(store, "d")
    assert (added.settings, added.default_expiration_days, added.default_encryption_key) == (
        {"Matching": {"Enabled": True}}, 7, "k")
    assert added.created_at == NOW and added.created_at.tzinfo is not None
    with store.read() as uow:
        assert uow.domains.get(ACCOUNT, REGION, "d") == added
        assert uow.domains.get_by_id(added.id) == added
        assert uow.domains.get("222222222222", REGION, "d") is None
        assert uow.domains.counts(added.id) == DomainCounts(0, 0, 0)
    with pytest.raises(DuplicateKey):
        _add(store, "d")
    _add(store, "d", account="222222222222")  # names are per account


def test_domains_are_listed_by_name_after_a_name(store: Store) -> None:
    for name in ("b", "c", "a"):
        _add(store, name)
    with store.read() as uow:
        assert [d.name for d in uow.domains.list(ACCOUNT, REGION, None, 10)] == ["a", "b", "c"]
        assert [d.name for d in uow.domains.list(ACCOUNT, REGION, "a", 1)] == ["b"]
        assert uow.domains.list(ACCOUNT, "eu-west-1", None, 10) == []


def test_update_and_counters(store: Store) -> None:
    domain = _add(store, "d")
    later = NOW + timedelta(hours=1)
    with store.write() as uow:
        uow.domains.update(domain.id, later, settings={"DataStore": {"Enabled": False}}, default_expiration_days=30)
        count_change(uow.conn, domain.id, profiles=2, objects=3, size=100)
        count_change(uow.conn, domain.id, objects=-1, size=-40)
        count_change(uow.conn, domain.id)
    with store.read() as uow:
        updated = uow.domains.get_by_id(domain.id)
        assert uow.domains.counts(domain.id) == DomainCounts(profiles=2, objects=2, total_size=60)
    assert updated is not None and updated.settings == {"DataStore": {"Enabled": False}}
    assert (updated.default_expiration_days, updated.last_updated_at, updated.created_at) == (30, later, NOW)


def test_deleting_a_domain_deletes_what_it_holds(store: Store) -> None:
    domain = _add(store, "d")
    with store.write() as uow:
        uow.profiles.insert_many(domain.id, [ProfileRow("p" * 32, b"doc", NOW, NOW, None)])
        uow.object_types.put(domain.id, "t", {"Keys": {}}, NOW)
        uow.domains.delete(domain.id)
    with store.read() as uow:
        assert uow.domains.get_by_id(domain.id) is None
        assert uow.profiles.get(domain.id, "p" * 32) is None
        assert uow.object_types.list(domain.id) == []
