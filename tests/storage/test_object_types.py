"""Object type definitions: put creates or replaces (keeping the creation time), read by name (the
raw-driver read and the SQLAlchemy one agree), listed by name in pages, counted, deleted."""

from __future__ import annotations

from datetime import timedelta

from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.store import Store
from tests.storage.conftest import NOW

LATER = NOW + timedelta(hours=1)


def test_put_creates_then_replaces_keeping_the_creation_time(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        created = uow.object_types.put(domain.id, "Contact", {"Fields": {"a": 1}}, NOW)
        replaced = uow.object_types.put(domain.id, "Contact", {"Fields": {"b": [2]}}, LATER)
    assert created.definition == {"Fields": {"a": 1}} and created.created_at == created.last_updated_at == NOW
    assert replaced.id == created.id and replaced.definition == {"Fields": {"b": [2]}}
    assert (replaced.created_at, replaced.last_updated_at) == (NOW, LATER)
    with store.read() as uow:
        assert uow.object_types.get(domain.id, "Contact") == replaced
        assert uow.object_types.list(domain.id) == [replaced]  # the same record through SQLAlchemy
        assert uow.object_types.get(domain.id, "Other") is None
        assert uow.object_types.get(domain.id + 1, "Contact") is None


def test_types_are_listed_by_name_counted_and_deleted(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        for name in ("c", "a", "b"):
            uow.object_types.put(domain.id, name, {}, NOW)
    with store.read() as uow:
        assert [t.name for t in uow.object_types.list(domain.id)] == ["a", "b", "c"]
        assert [t.name for t in uow.object_types.list(domain.id, after="a", limit=1)] == ["b"]
        assert uow.object_types.count(domain.id) == 3
    with store.write() as uow:
        uow.object_types.delete(domain.id, "b")
        uow.object_types.delete(domain.id, "missing")
    with store.read() as uow:
        assert [t.name for t in uow.object_types.list(domain.id)] == ["a", "c"]
