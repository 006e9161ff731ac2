"""Profile objects: inserted and replaced in bulk (the domain's object count and size kept), found
by unique index or key, paged per profile, evicted past a count, deleted by id, type or profile,
expired; UNIQUE values marked removed and found again on replacement."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from openprofiles.storage.domains import DomainCounts, DomainRecord
from openprofiles.storage.integrity import DuplicateKey
from openprofiles.storage.objects import NewObject
from openprofiles.storage.store import Store
from tests.storage.conftest import NOW

P, Q = "p" * 32, "q" * 32


def _new(key: str, profile_id: str = P, type_name: str = "Contact", size: int = 10, minutes: int = 0,
         source_updated_at: datetime | None = None) -> NewObject:
    return NewObject(profile_id, type_name, key, f"ix-{key}".encode(), f"payload-{key}".encode(), size,
                     source_updated_at, NOW + timedelta(minutes=minutes), NOW + timedelta(days=1))


def _counts(store: Store, domain: DomainRecord) -> DomainCounts:
    with store.read() as uow:
        return uow.domains.counts(domain.id)


def test_objects_are_inserted_found_and_replaced(store: Store, domain: DomainRecord) -> None:
    stamp = NOW - timedelta(days=1)
    with store.write() as uow:
        uow.objects.insert(domain.id, [_new("a", source_updated_at=stamp), _new("b", size=5), _new("c", Q, "Order")])
    assert _counts(store, domain) == DomainCounts(profiles=0, objects=3, total_size=25)
    with store.read() as uow:
        found = uow.objects.by_unique(domain.id, "Contact", [b"ix-a", b"ix-b", b"ix-c"])
        by_key = uow.objects.by_key(domain.id, "a")
    assert sorted(found) == [b"ix-a", b"ix-b"]  # ix-c is an Order
    a = found[b"ix-a"]
    assert (a.object_key, a.payload, a.size, a.source_updated_at, a.created_at) == ("a", b"payload-a", 10, stamp, NOW)
    assert by_key == a
    with store.write() as uow:
        uow.objects.replace(domain.id, [(a.id, _new("ignored", Q, size=30, minutes=5))])
    with store.read() as uow:
        replaced = uow.objects.by_key(domain.id, "a")
    assert replaced is not None and (replaced.profile_id, replaced.payload, replaced.size) == (Q, b"payload-ignored", 30)
    assert (replaced.created_at, replaced.last_updated_at) == (NOW, NOW + timedelta(minutes=5))
    assert _counts(store, domain).total_size == 45
    with pytest.raises(DuplicateKey), store.write() as uow:
        uow.objects.insert(domain.id, [_new("a")])


def test_objects_of_a_profile_in_pages_and_newest_first(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        uow.objects.insert(domain.id, [_new(k, minutes=i) for i, k in enumerate("abcd")] + [_new("o", type_name="Order")])
    with store.read() as uow:
        page = uow.objects.for_profile(domain.id, P, "Contact", None, 2)
        assert [o.object_key for o in page] == ["a", "b"]
        assert [o.object_key for o in uow.objects.for_profile(domain.id, P, "Contact", page[-1].id, 10)] == ["c", "d"]
        assert [o.object_key for o in uow.objects.latest_for_profile(domain.id, P, "Contact", 2)] == ["d", "c"]
        assert uow.objects.type_names_for_profile(domain.id, P) == ["Contact", "Order"]
        assert uow.objects.profiles_with_type(domain.id, "Order") == [P]
        oldest = uow.objects.oldest_beyond(domain.id, P, "Contact", 3)
        assert oldest == [page[0].id]  # "a", the least recently written
    with store.write() as uow:
        uow.objects.delete_ids(oldest)
    assert _counts(store, domain).objects == 4


def test_deletes_by_type_profile_and_expiry_keep_the_counters(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        uow.objects.insert(domain.id, [_new("a"), _new("b", type_name="Order"), _new("c", Q)])
        uow.objects.delete_type(domain.id, "Order")
    assert _counts(store, domain) == DomainCounts(profiles=0, objects=2, total_size=20)
    with store.write() as uow:
        uow.objects.delete_for_profile(domain.id, Q)
        assert uow.objects.expired(NOW, 10) == []
        (expired,) = uow.objects.expired(NOW + timedelta(days=1), 10)
        uow.objects.delete_ids([expired])
    assert _counts(store, domain) == DomainCounts(profiles=0, objects=0, total_size=0)


def test_a_removed_unique_value_is_marked_until_the_object_is_replaced(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        uow.objects.insert(domain.id, [_new("a"), _new("b")])
        assert uow.objects.remove_unique_values(domain.id, P, ["Contact"], [b"ix-a"]) == 1
        assert uow.objects.remove_unique_values(domain.id, P, ["Contact"], [b"ix-a"]) == 0  # already removed
        assert uow.objects.remove_unique_values(domain.id, P, [], [b"ix-b"]) == 0

    def removed() -> dict[str, bool]:
        with store.read() as uow:
            rows = uow.conn.exec_driver_sql("SELECT object_key, unique_key_removed FROM profile_objects").all()
        return {key: bool(flag) for key, flag in rows}

    assert removed() == {"a": True, "b": False}
    with store.write() as uow:
        found = uow.objects.by_key(domain.id, "a")
        assert found is not None
        uow.objects.replace(domain.id, [(found.id, _new("a"))])
    assert removed() == {"a": False, "b": False}
