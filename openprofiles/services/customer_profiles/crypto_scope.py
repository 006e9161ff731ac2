"""Per-domain encryption: sealing payloads and blind-indexing searchable values.

Each domain has its own data key (scope `domain:<id>`); an object type with its own
EncryptionKey gets its own (scope `domain:<id>:object-type:<name>`). Searchable key values are
stored only as HMAC-SHA256 blind indexes under the domain's index key, so the database holds
no plaintext e-mail address or phone number.

Who wraps a scope's data key is decided when the key is first created: the AWS KMS key when the
domain's DefaultEncryptionKey (or the object type's EncryptionKey) is a KMS key ARN (it starts
with `arn:`), otherwise, free text included, the local keyring. Opening always follows what the
data key row records. CreateDomain, UpdateDomain and PutProfileObjectType create or re-wrap the
scope's key as configured (see docs/encryption.md).
"""

from __future__ import annotations

from openprofiles.crypto.blind_index import HmacSha256
from openprofiles.crypto.envelope import Envelope
from openprofiles.crypto.kms import ScopeAccount, kms_key_ref
from openprofiles.storage.store import Store

INDEX_BYTES = 16
_INDEX_CACHE = 200_000


def domain_scope(domain_id: int) -> str:
    return f"domain:{domain_id}"


def object_type_scope(domain_id: int, object_type: str) -> str:
    return f"domain:{domain_id}:object-type:{object_type}"


def scope_account(store: Store) -> ScopeAccount:
    """The account a scope's data key belongs to (its domain's), which KMS calls for that key are made for."""

    def account_of(scope: str) -> str | None:
        kind, _, rest = scope.partition(":")
        domain_id = rest.partition(":")[0]
        if kind != "domain" or not domain_id.isdigit():
            return None
        with store.read() as uow:
            record = uow.domains.get_by_id(int(domain_id))
        return record.account_id if record else None

    return account_of


class DomainCipher:
    """Seal, open and blind-index for one domain.

    `key_ref` is the domain's DefaultEncryptionKey as stored: a KMS key ARN wraps the domain's data
    key when it is created; None or free text leaves it to the local keyring. The data key is
    loaded (or created) here, before the caller opens a write transaction.
    """

    def __init__(self, envelope: Envelope, domain_id: int, key_ref: str | None = None) -> None:
        self.envelope = envelope
        self.domain_id = domain_id
        self.scope = domain_scope(domain_id)
        self.key_ref = kms_key_ref(key_ref)
        self._index_mac = HmacSha256(envelope.index_key(self.scope, self.key_ref))
        self._indexes: dict[str, bytes] = {}

    def index(self, value: str) -> bytes:
        """The blind index of a normalised value (remembered: a batch asks for the same ones often)."""
        found = self._indexes.get(value)
        if found is None:
            if len(self._indexes) >= _INDEX_CACHE:
                self._indexes.clear()
            found = self._indexes[value] = self._index_mac.digest(value.encode())[:INDEX_BYTES]
        return found

    def seal(self, plaintext: bytes, aad: bytes, scope: str | None = None, key_ref: str | None = None) -> bytes:
        """Seal under the domain's data key, or under `scope`'s (an object type's own scope, whose
        new data key `key_ref`, that type's EncryptionKey, wraps when it is a KMS key ARN)."""
        if scope is None:
            return self.envelope.seal(self.scope, plaintext, aad, self.key_ref)
        return self.envelope.seal(scope, plaintext, aad, kms_key_ref(key_ref))

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        return self.envelope.open(sealed, aad)
