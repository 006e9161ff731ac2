"""customer_profiles/profile_store.py: ProfileWriter inserts and updates sealed documents in bulk, keeps
the standard keys' index entries in step with them, and seals history, on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from openprofiles.app import Runtime
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.crypto_scope import DomainCipher
from openprofiles.services.customer_profiles.normalize import index_form
from openprofiles.services.customer_profiles.profile_store import STANDARD_SOURCE, ProfileWriter, open_document
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.profiles import KeyEntry

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


@pytest.fixture
def domain(runtime: Runtime) -> DomainRecord:
    ctx = RequestContext("000000000000", "us-east-1", "CreateDomain", "r", NOW)
    return runtime.domains.create(ctx, "d" + uuid.uuid4().hex[:10], default_expiration_days=30,
                                  default_encryption_key=None, dead_letter_queue_url=None, settings={},
                                  tags={}).record


def _cipher(runtime: Runtime, domain: DomainRecord) -> DomainCipher:
    """The domain's cipher; made before a write transaction (its data key may be created on the way)."""
    return DomainCipher(runtime.envelope, domain.id)


def _found(runtime: Runtime, domain: DomainRecord, key: str, content_type: str, value: str) -> list[tuple[str, str]]:
    """(profile id, source) of the index entries of one key value."""
    index = _cipher(runtime, domain).index(index_form(content_type, value))
    with runtime.store.read() as uow:
        return sorted((pid, source) for _, pid, source in uow.keys.lookup(domain.id, key, [index]))


def _create(runtime: Runtime, domain: DomainRecord, **fields: str) -> str:
    cipher = _cipher(runtime, domain)
    with runtime.store.write() as uow:
        writer = ProfileWriter(uow, domain, cipher, NOW)
        profile_id = writer.create(NOW + timedelta(days=30))
        for path, value in fields.items():
            writer.document(profile_id).set_by_hand(path, value)
        writer.flush()
    return profile_id


def test_a_created_profile_is_sealed_and_found_by_its_standard_keys(runtime: Runtime, domain: DomainRecord) -> None:
    pid = _create(runtime, domain, EmailAddress="Ana@X.com", FirstName="Ana", LastName="Silva", AccountNumber="42")
    with runtime.store.read() as uow:
        row = uow.profiles.get(domain.id, pid)
    assert row is not None and b"Silva" not in row.document
    assert (row.created_at, row.last_updated_at, row.expires_at) == (NOW, NOW, NOW + timedelta(days=30))
    assert open_document(_cipher(runtime, domain), row).fields["LastName"] == "Silva"
    assert _found(runtime, domain, "_email", "EMAIL_ADDRESS", "ana@x.com") == [(pid, STANDARD_SOURCE)]
    assert _found(runtime, domain, "_account", "STRING", "42") == [(pid, STANDARD_SOURCE)]
    assert _found(runtime, domain, "_fullName", "NAME", "Ana Silva") == [(pid, STANDARD_SOURCE)]


def test_an_update_moves_the_entries_and_keeps_the_creation_time(runtime: Runtime, domain: DomainRecord) -> None:
    pid = _create(runtime, domain, EmailAddress="old@x.com", PhoneNumber="+1 206 555 0100")
    cipher = _cipher(runtime, domain)
    with runtime.store.write() as uow:
        writer = ProfileWriter(uow, domain, cipher, LATER)
        assert writer.exists(pid) and not writer.exists("0" * 32)
        writer.document(pid).set_by_hand("EmailAddress", "new@x.com")
        writer.changed(pid, LATER + timedelta(days=30))
        writer.flush()
        row = uow.profiles.get(domain.id, pid)
    assert row is not None and (row.created_at, row.last_updated_at) == (NOW, LATER)
    assert row.expires_at == LATER + timedelta(days=30)
    assert _found(runtime, domain, "_email", "EMAIL_ADDRESS", "old@x.com") == []
    assert _found(runtime, domain, "_email", "EMAIL_ADDRESS", "new@x.com") == [(pid, STANDARD_SOURCE)]
    assert _found(runtime, domain, "_phone", "PHONE_NUMBER", "+12065550100") == [(pid, STANDARD_SOURCE)]


def test_an_entry_the_index_already_has_is_not_written_twice(runtime: Runtime, domain: DomainRecord) -> None:
    cipher = _cipher(runtime, domain)
    email = cipher.index(index_form("EMAIL_ADDRESS", "a@x.com"))
    with runtime.store.write() as uow:
        writer = ProfileWriter(uow, domain, cipher, NOW, indexed=lambda entry: entry.key_name == "_email")
        pid = writer.create(None)
        writer.document(pid).set_by_hand("EmailAddress", "a@x.com")
        writer.document(pid).set_by_hand("AccountNumber", "7")
        writer.add_keys([KeyEntry("_email", email, pid, "crm")])
        writer.flush()
    assert _found(runtime, domain, "_email", "EMAIL_ADDRESS", "a@x.com") == [(pid, "crm")]
    assert _found(runtime, domain, "_account", "STRING", "7") == [(pid, STANDARD_SOURCE)]


def test_reindex_writes_the_standard_entries_again(runtime: Runtime, domain: DomainRecord) -> None:
    pid = _create(runtime, domain, EmailAddress="a@x.com")
    with runtime.store.write() as uow:
        uow.keys.remove_source(domain.id, STANDARD_SOURCE)
    assert _found(runtime, domain, "_email", "EMAIL_ADDRESS", "a@x.com") == []
    cipher = _cipher(runtime, domain)
    with runtime.store.write() as uow:
        writer = ProfileWriter(uow, domain, cipher, LATER)
        writer.reindex(pid)  # nothing in the document changed
        writer.flush()
        row = uow.profiles.get(domain.id, pid)
    assert _found(runtime, domain, "_email", "EMAIL_ADDRESS", "a@x.com") == [(pid, STANDARD_SOURCE)]
    assert row is not None and row.expires_at == NOW + timedelta(days=30)  # reindexing keeps the retention


def test_history_is_sealed_with_its_record_id(runtime: Runtime, domain: DomainRecord) -> None:
    cipher = _cipher(runtime, domain)
    with runtime.store.write() as uow:
        writer = ProfileWriter(uow, domain, cipher, NOW)
        pid = writer.create(None)
        writer.history(pid, "CREATED", "_profile", "API:000000000000", None, b'{"secret": 1}')
        writer.history(pid, "DELETED_PROFILE_KEY", "_profile", None, "k1", None)
        writer.flush()
        writer.flush()  # a second flush has nothing left to write
    with runtime.store.read() as uow:
        rows = uow.history.for_profile(domain.id, pid, None, 10)
    assert sorted(r.action_type for r in rows) == ["CREATED", "DELETED_PROFILE_KEY"]
    created = next(r for r in rows if r.action_type == "CREATED")
    assert created.content is not None and b"secret" not in created.content
    assert cipher.open(created.content, created.record_id.encode()) == b'{"secret": 1}'
    assert next(r for r in rows if r.action_type != "CREATED").content is None


def test_one_flush_writes_many_profiles(runtime: Runtime, domain: DomainRecord) -> None:
    cipher = _cipher(runtime, domain)
    with runtime.store.write() as uow:
        writer = ProfileWriter(uow, domain, cipher, NOW)
        ids = [writer.create(None) for _ in range(3)]
        for n, pid in enumerate(ids):
            writer.document(pid).set_by_hand("AccountNumber", f"acct{n}")
        writer.flush()
        assert uow.profiles.count(domain.id) == 3
    for n, pid in enumerate(ids):
        assert _found(runtime, domain, "_account", "STRING", f"acct{n}") == [(pid, STANDARD_SOURCE)]
