"""Profiles and the key index: documents inserted, updated and read back in bulk (domain counter
kept), deleted with their keys, streamed, expired; key entries added once, looked up, removed by
entry, by value and by source."""

from __future__ import annotations

from datetime import timedelta

from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.profiles import KeyEntry, ProfileRow
from openprofiles.storage.store import Store
from tests.storage.conftest import NOW

P, Q = "p" * 32, "q" * 32
LATER = NOW + timedelta(hours=1)


def test_profiles_are_written_and_read_in_bulk(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        uow.profiles.insert_many(domain.id, [ProfileRow(P, b"doc-p", NOW, NOW, None),
                                             ProfileRow(Q, b"doc-q", NOW, NOW, LATER)])
        uow.profiles.update_many(domain.id, [ProfileRow(P, b"doc-p2", NOW, LATER, LATER)])
    with store.read() as uow:
        found = uow.profiles.get_many(domain.id, [P, Q, "missing"])
        assert uow.profiles.count(domain.id) == 2 and uow.domains.counts(domain.id).profiles == 2
        assert sorted(r.profile_id for r in uow.profiles.all_documents(domain.id)) == [P, Q]
        assert uow.profiles.get(domain.id + 1, P) is None
    assert found[P] == ProfileRow(P, b"doc-p2", NOW, LATER, LATER)
    assert found[Q] == ProfileRow(Q, b"doc-q", NOW, NOW, LATER)
    with store.read() as uow:
        assert uow.profiles.expired(LATER - timedelta(seconds=1), 10) == []
        assert sorted(uow.profiles.expired(LATER, 10)) == [(domain.id, P), (domain.id, Q)]


def test_deleting_a_profile_takes_its_keys_and_its_count(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        uow.profiles.insert_many(domain.id, [ProfileRow(P, b"d", NOW, NOW, None), ProfileRow(Q, b"d", NOW, NOW, None)])
        uow.keys.add(domain.id, [KeyEntry("_email", b"e" * 16, P, "_profile"), KeyEntry("_email", b"e" * 16, Q, "_profile")])
        uow.profiles.delete(domain.id, P)
        uow.profiles.delete(domain.id, "missing")
    with store.read() as uow:
        assert uow.keys.lookup(domain.id, "_email", [b"e" * 16]) == [(b"e" * 16, Q, "_profile")]
        assert uow.domains.counts(domain.id).profiles == 1


def test_key_entries_are_added_once_and_removed_by_entry_value_or_source(store: Store, domain: DomainRecord) -> None:
    email, phone = b"e" * 16, b"f" * 16
    entries = [KeyEntry("_email", email, P, "Contact"), KeyEntry("_email", email, P, "_profile"),
               KeyEntry("_email", email, Q, "Contact"), KeyEntry("_phone", phone, P, "Contact")]
    with store.write() as uow:
        uow.keys.add(domain.id, entries)
        uow.keys.add(domain.id, entries[:1])  # already there: ignored
    with store.read() as uow:
        assert sorted(uow.keys.lookup(domain.id, "_email", [email, b"x" * 16])) == [
            (email, P, "Contact"), (email, P, "_profile"), (email, Q, "Contact")]
        assert uow.keys.lookup(domain.id + 1, "_email", [email]) == []
    with store.write() as uow:
        uow.keys.remove(domain.id, [entries[0]])
        assert uow.keys.remove_values(domain.id, Q, "_email", [email]) == 1
    with store.read() as uow:
        assert uow.keys.lookup(domain.id, "_email", [email]) == [(email, P, "_profile")]
    with store.write() as uow:
        uow.keys.remove_source(domain.id, "Contact")
    with store.read() as uow:
        assert uow.keys.lookup(domain.id, "_phone", [phone]) == []
        assert uow.keys.lookup(domain.id, "_email", [email]) == [(email, P, "_profile")]


def test_lookups_of_many_values_are_sliced(store: Store, domain: DomainRecord) -> None:
    indexes = [i.to_bytes(16, "big") for i in range(2000)]  # more than one IN list holds
    with store.write() as uow:
        uow.keys.add(domain.id, [KeyEntry("k", index, P, "t") for index in indexes])
    with store.read() as uow:
        assert len(uow.keys.lookup(domain.id, "k", indexes)) == 2000
