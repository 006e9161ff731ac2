"""Envelope encryption: payloads sealed with AES-256-GCM under a data key per scope.

Each scope ("system", later one per domain or object type) has its own random data key, stored
wrapped by the keyring. A sealed value is `version(1) | data key id(4) | nonce(12) | ciphertext`,
and the caller's associated data binds it to its place (e.g. the access key id it belongs to).
"""

from __future__ import annotations

import secrets
import struct
import threading
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openprofiles.crypto.keyring import LocalKeyring

_VERSION = 1
_HEADER = struct.Struct(">BI")


class DataKeyStore(Protocol):
    """Where wrapped data keys live (the `data_keys` table)."""

    def find(self, scope: str) -> tuple[int, bytes, str] | None: ...

    def get(self, key_id: int) -> tuple[str, bytes, str]: ...

    def add(self, scope: str, wrapped: bytes, master_key_id: str) -> None:
        """Store a wrapped key for the scope unless one exists already."""


class Envelope:
    """Seals and opens values; caches unwrapped data keys in memory."""

    def __init__(self, keyring: LocalKeyring, store: DataKeyStore) -> None:
        self.keyring = keyring
        self.store = store
        self._by_scope: dict[str, int] = {}
        self._keys: dict[int, AESGCM] = {}
        self._index_keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _context(self, scope: str) -> bytes:
        return f"openprofiles-data-key:{scope}".encode()

    def _current(self, scope: str) -> tuple[int, AESGCM]:
        with self._lock:
            key_id = self._by_scope.get(scope)
            if key_id is None:
                found = self.store.find(scope)
                if found is None:
                    material = AESGCM.generate_key(bit_length=256)
                    # Another process may win the race for this scope; `find` then returns its key.
                    self.store.add(scope, self.keyring.wrap(material, self._context(scope)), self.keyring.key_id)
                    found = self.store.find(scope)
                    assert found is not None
                key_id, wrapped, master_id = found
                material = self.keyring.unwrap(wrapped, self._context(scope), master_id)
                self._keys[key_id] = AESGCM(material)
                self._index_keys[scope] = HKDF(
                    algorithm=hashes.SHA256(), length=32, salt=None, info=b"openprofiles-blind-index"
                ).derive(material)
                self._by_scope[scope] = key_id
            return key_id, self._keys[key_id]

    def _by_id(self, key_id: int) -> AESGCM:
        with self._lock:
            aead = self._keys.get(key_id)
            if aead is None:
                scope, wrapped, master_id = self.store.get(key_id)
                aead = AESGCM(self.keyring.unwrap(wrapped, self._context(scope), master_id))
                self._keys[key_id] = aead
            return aead

    def index_key(self, scope: str) -> bytes:
        """The scope's HMAC key for blind indexes of searchable values (derived from its data key,
        so it survives master-key rotation)."""
        self._current(scope)
        return self._index_keys[scope]

    def seal(self, scope: str, plaintext: bytes, aad: bytes = b"") -> bytes:
        key_id, aead = self._current(scope)
        nonce = secrets.token_bytes(12)
        return _HEADER.pack(_VERSION, key_id) + nonce + aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes = b"") -> bytes:
        version, key_id = _HEADER.unpack_from(sealed)
        if version != _VERSION:
            raise ValueError(f"unknown sealed-value version {version}")
        start = _HEADER.size
        return self._by_id(key_id).decrypt(sealed[start : start + 12], sealed[start + 12 :], aad)
