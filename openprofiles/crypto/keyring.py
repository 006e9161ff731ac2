"""The local keyring: the master key that wraps every data key.

The master key is 32 random bytes, read from `OPENPROFILES_MASTER_KEY` (base64) or from
`<data-dir>/master.key`, which is created (mode 0600) on first use. Every process that shares a
database (server, workers, the command line) must see the same master key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE = "master.key"


class KeyringError(RuntimeError):
    """The master key is missing, malformed, or does not match the stored data keys."""


@dataclass(frozen=True, repr=False)
class MasterKey:
    material: bytes

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key without revealing it."""
        return hashlib.sha256(b"openprofiles-master-key-id" + self.material).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def _decode(text: str, origin: str) -> MasterKey:
    try:
        material = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise KeyringError(f"The master key in {origin} is not base64") from None
    if len(material) != 32:
        raise KeyringError(f"The master key in {origin} must be 32 bytes (base64 of 32 random bytes)")
    return MasterKey(material)


def load_master_key(data_dir: Path, env_value: str | None = None) -> MasterKey:
    """The configured master key, creating `<data-dir>/master.key` when none exists yet."""
    if env_value:
        return _decode(env_value, "OPENPROFILES_MASTER_KEY")
    path = data_dir / KEY_FILE
    if path.exists():
        return _decode(path.read_text(), str(path))
    data_dir.mkdir(parents=True, exist_ok=True)
    encoded = base64.b64encode(secrets.token_bytes(32)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(encoded + "\n")
    return _decode(encoded, str(path))


class LocalKeyring:
    """Wraps and unwraps data keys with AES-256-GCM under the master key."""

    provider = "local"

    def __init__(self, master: MasterKey) -> None:
        self.master = master
        self._aead = AESGCM(master.material)

    @property
    def key_id(self) -> str:
        return self.master.key_id

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes, key_id: str) -> bytes:
        if key_id != self.key_id:
            raise KeyringError(
                f"A data key was wrapped by master key {key_id}, but the configured master key is "
                f"{self.key_id}: point OpenProfiles at the master key this database was created with"
            )
        return self._aead.decrypt(wrapped[:12], wrapped[12:], context)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for one purpose (e.g. signing page tokens), derived with HKDF."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self.master.material
        )
