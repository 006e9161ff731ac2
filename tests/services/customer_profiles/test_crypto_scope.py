"""customer_profiles/crypto_scope.py: a domain's scopes, the account a scope's data key belongs to, and
DomainCipher's blind indexes and sealing (the domain's data key, or an object type's own), on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidTag

from openprofiles.app import Runtime
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles import crypto_scope
from openprofiles.services.customer_profiles.crypto_scope import (
    INDEX_BYTES,
    DomainCipher,
    domain_scope,
    object_type_scope,
    scope_account,
)
from openprofiles.storage.data_keys import DataKeyRepository
from openprofiles.storage.domains import DomainRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _domain(rt: Runtime, account: str = "000000000000") -> DomainRecord:
    ctx = RequestContext(account, "us-east-1", "CreateDomain", "r", NOW)
    name = "d" + uuid.uuid4().hex[:10]
    return rt.domains.create(ctx, name, default_expiration_days=30, default_encryption_key="local notes",
                             dead_letter_queue_url=None, settings={}, tags={}).record


def test_scope_names() -> None:
    assert domain_scope(7) == "domain:7"
    assert object_type_scope(7, "crm") == "domain:7:object-type:crm"


def test_the_account_of_a_scope_is_its_domains(runtime: Runtime) -> None:
    domain = _domain(runtime, "111122223333")
    account_of = scope_account(runtime.store)
    assert account_of(domain_scope(domain.id)) == "111122223333"
    assert account_of(object_type_scope(domain.id, "crm")) == "111122223333"
    for scope in ("system", "domain:", "domain:x", "domain:99999999", "access-key:1", f"flow:{domain.id}"):
        assert account_of(scope) is None, scope


def test_blind_indexes_are_fixed_per_domain_and_differ_between_domains(runtime: Runtime) -> None:
    one, other = _domain(runtime), _domain(runtime)
    cipher = DomainCipher(runtime.envelope, one.id, one.default_encryption_key)
    index = cipher.index("a@x.com")
    assert len(index) == INDEX_BYTES
    assert cipher.index("a@x.com") == index != cipher.index("b@x.com")
    assert DomainCipher(runtime.envelope, one.id).index("a@x.com") == index  # the stored key, in a new cipher
    assert DomainCipher(runtime.envelope, other.id).index("a@x.com") != index


def test_the_remembered_indexes_stay_bounded_and_right(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    domain = _domain(runtime)
    expected = {v: DomainCipher(runtime.envelope, domain.id).index(v) for v in "abcde"}
    monkeypatch.setattr(crypto_scope, "_INDEX_CACHE", 2)
    cipher = DomainCipher(runtime.envelope, domain.id)
    assert [cipher.index(v) for v in "abcdea"] == [expected[v] for v in "abcdea"]
    assert len(cipher._indexes) <= 2


def test_sealed_under_the_domain_key_opens_only_with_its_aad(runtime: Runtime) -> None:
    domain = _domain(runtime)
    cipher = DomainCipher(runtime.envelope, domain.id, domain.default_encryption_key)
    sealed = cipher.seal(b"payload", b"p1")
    assert b"payload" not in sealed
    assert cipher.open(sealed, b"p1") == b"payload"
    with pytest.raises(InvalidTag):
        cipher.open(sealed, b"p2")


def test_an_object_type_scope_gets_its_own_data_key(runtime: Runtime) -> None:
    domain = _domain(runtime)
    keys = DataKeyRepository(runtime.db)
    cipher = DomainCipher(runtime.envelope, domain.id)
    scope = object_type_scope(domain.id, "crm")
    assert keys.find(scope) is None
    own = cipher.seal(b"object", b"k1", scope=scope, key_ref="free text, not a KMS key")
    shared = cipher.seal(b"object", b"k1")
    found, domain_key = keys.find(scope), keys.find(domain_scope(domain.id))
    assert found is not None and domain_key is not None and found[0] != domain_key[0]
    # A sealed value starts with a version byte and the id of the data key that sealed it.
    assert (int.from_bytes(own[1:5], "big"), int.from_bytes(shared[1:5], "big")) == (found[0], domain_key[0])
    assert cipher.open(own, b"k1") == cipher.open(shared, b"k1") == b"object"
