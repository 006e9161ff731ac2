"""Per-domain encryption: sealing payloads and blind-indexing searchable values.

Each domain has its own data key (scope `domain:<id>`); an object type with its own
EncryptionKey gets its own (scope `domain:<id>:object-type:<name>`). Searchable key values are
stored only as HMAC-SHA256 blind indexes under the domain's index key, so the database holds
no plaintext e-mail address or phone number.
"""

from __future__ import annotations

import hashlib
import hmac

from openprofiles.crypto.envelope import Envelope

INDEX_BYTES = 16


def domain_scope(domain_id: int) -> str:
    return f"domain:{domain_id}"


def object_type_scope(domain_id: int, object_type: str) -> str:
    return f"domain:{domain_id}:object-type:{object_type}"


class DomainCipher:
    """Seal, open and blind-index for one domain."""

    def __init__(self, envelope: Envelope, domain_id: int) -> None:
        self.envelope = envelope
        self.domain_id = domain_id
        self.scope = domain_scope(domain_id)
        self._index_key = envelope.index_key(self.scope)

    def index(self, value: str) -> bytes:
        """The blind index of a normalised value."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).digest()[:INDEX_BYTES]

    def seal(self, plaintext: bytes, aad: bytes, scope: str | None = None) -> bytes:
        return self.envelope.seal(scope or self.scope, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        return self.envelope.open(sealed, aad)
