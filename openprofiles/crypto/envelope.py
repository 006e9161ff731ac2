"""Envelope encryption: payloads sealed with AES-256-GCM under a data key per scope.

Each scope ("system", "domain:<id>", "domain:<id>:object-type:<name>") has its own random data
key, stored wrapped in the `data_keys` table. Who wraps it is chosen when the key is created:
the local keyring (the current master key) by default, or the AWS KMS key whose ARN the caller
passes as `key_ref`. Unwrapping always follows what the row records (`master_key_id`: a local
master key id, or an ARN for KMS), so changing a scope's configured key later does not strand its
data. A sealed value is `version(1) | data key id(4) | nonce(12) | ciphertext`, and the caller's
associated data binds it to its place (e.g. the access key id it belongs to).
"""

from __future__ import annotations

import os
import struct
import threading
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openprofiles.crypto.keyring import KeyringError, LocalKeyring
from openprofiles.crypto.kms import KmsKeyProvider, arn_region, is_kms_ref

_VERSION = 1
_HEADER = struct.Struct(">BI")


class DataKeyStore(Protocol):
    """Where wrapped data keys live (the `data_keys` table)."""

    def find(self, scope: str) -> tuple[int, bytes, str] | None: ...

    def get(self, key_id: int) -> tuple[str, bytes, str]: ...

    def add(self, scope: str, wrapped: bytes, master_key_id: str) -> None:
        """Store a wrapped key for the scope unless one exists already."""

    def replace_wrapping(self, key_id: int, expected_master_key_id: str, wrapped: bytes, master_key_id: str) -> bool:
        """Re-wrap a stored key unless its master_key_id is no longer the expected one."""


def data_key_context(scope: str) -> bytes:
    """The associated data that binds a locally wrapped data key to its scope."""
    return f"openprofiles-data-key:{scope}".encode()


def _index_key(material: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"openprofiles-blind-index").derive(material)


class Envelope:
    """Seals and opens values; caches unwrapped data keys in memory.

    `key_ref` (a KMS key ARN, or None for the local keyring) only matters when a scope's data key
    does not exist yet: it chooses who wraps the new key.
    """

    def __init__(self, keyring: LocalKeyring, store: DataKeyStore, kms: KmsKeyProvider | None = None) -> None:
        self.keyring = keyring
        self.store = store
        self.kms = kms or KmsKeyProvider()
        self._by_scope: dict[str, tuple[int, AESGCM]] = {}
        self._keys: dict[int, AESGCM] = {}
        self._index_keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _wrap(self, material: bytes, scope: str, key_ref: str | None) -> tuple[bytes, str]:
        if key_ref is None:
            return self.keyring.wrap_key(material, data_key_context(scope))
        arn_region(key_ref)  # KeyringError unless it is a KMS key ARN
        return self.kms.wrap_key(material, scope, key_ref)

    def _unwrap(self, scope: str, wrapped: bytes, master_key_id: str) -> bytes:
        if is_kms_ref(master_key_id):
            return self.kms.unwrap(wrapped, scope, master_key_id)
        return self.keyring.unwrap(wrapped, data_key_context(scope), master_key_id)

    def _current(self, scope: str, key_ref: str | None) -> tuple[int, AESGCM]:
        cached = self._by_scope.get(scope)
        if cached is not None:
            return cached
        # Loaded outside the lock (it may call KMS); two threads racing here do the same work twice.
        material: bytes | None = None
        found = self.store.find(scope)
        if found is None:
            fresh = AESGCM.generate_key(bit_length=256)
            wrapped, master_key_id = self._wrap(fresh, scope, key_ref)
            # Another process may win the race for this scope; `find` then returns its key.
            self.store.add(scope, wrapped, master_key_id)
            found = self.store.find(scope)
            assert found is not None
            if bytes(found[1]) == wrapped:
                material = fresh
        key_id, wrapped, master_key_id = found
        if material is None:
            material = self._unwrap(scope, bytes(wrapped), master_key_id)
        aead = AESGCM(material)
        with self._lock:
            self._keys[key_id] = aead
            self._index_keys[scope] = _index_key(material)
            self._by_scope[scope] = (key_id, aead)
        return key_id, aead

    def _by_id(self, key_id: int) -> AESGCM:
        aead = self._keys.get(key_id)
        if aead is None:
            scope, wrapped, master_key_id = self.store.get(key_id)
            aead = AESGCM(self._unwrap(scope, bytes(wrapped), master_key_id))
            with self._lock:
                self._keys[key_id] = aead
        return aead

    def ensure_key(self, scope: str, key_ref: str | None = None) -> str:
        """Make the scope's data key exist and be wrapped as `key_ref` says, now: created if it is
        missing; re-wrapped (same key, so sealed values and other processes are unaffected) when
        `key_ref` names a KMS key other than the one that wraps it, or is None while a KMS key
        wraps it. An unusable KMS key fails here with KeyringError instead of at the first write.
        Returns what wraps the key now (a master key id or a KMS key ARN)."""
        for _ in range(3):
            key_id, _aead = self._current(scope, key_ref)
            _scope, wrapped, master_key_id = self.store.get(key_id)
            wanted_kms = key_ref is not None
            if (key_ref == master_key_id) or (not wanted_kms and not is_kms_ref(master_key_id)):
                return master_key_id
            material = self._unwrap(scope, bytes(wrapped), master_key_id)
            new_wrapped, new_master_key_id = self._wrap(material, scope, key_ref)
            if self.store.replace_wrapping(key_id, master_key_id, new_wrapped, new_master_key_id):
                return new_master_key_id
            # The row changed meanwhile (a rotation, another process): look again.
        raise KeyringError(f"The data key of {scope} kept changing while being re-wrapped; try again")

    def index_key(self, scope: str, key_ref: str | None = None) -> bytes:
        """The scope's HMAC key for blind indexes of searchable values (derived from its data key,
        so it survives master-key rotation)."""
        self._current(scope, key_ref)
        return self._index_keys[scope]

    def seal(self, scope: str, plaintext: bytes, aad: bytes = b"", key_ref: str | None = None) -> bytes:
        key_id, aead = self._current(scope, key_ref)
        nonce = os.urandom(12)
        return _HEADER.pack(_VERSION, key_id) + nonce + aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes = b"") -> bytes:
        version, key_id = _HEADER.unpack_from(sealed)
        if version != _VERSION:
            raise ValueError(f"unknown sealed-value version {version}")
        start = _HEADER.size
        return self._by_id(key_id).decrypt(sealed[start : start + 12], sealed[start + 12 :], aad)
