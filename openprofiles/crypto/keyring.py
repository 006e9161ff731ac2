"""The local keyring: the master keys that wrap data keys which no KMS key wraps.

A master key is 32 random bytes, written as base64. The keyring holds several: the *current* one
(which wraps new data keys) first, then previous ones (which still open data keys wrapped before a
rotation). They come from `OPENPROFILES_MASTER_KEY` (comma-separated, current first) or from
`<data-dir>/master.key` (one key a line, current first), which is created (mode 0600) with one
key on first use. Every process that shares a database (server, workers, the command line) must
see the same keys. Each data key row records the id (a fingerprint) of the master key that
wrapped it, so unwrapping picks the right key; a keyring read from the file re-reads it once when
it meets an id it does not know, so a running server picks up a rotation made by
`openprofiles keys rotate-master` (see `openprofiles.crypto.rotation`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openprofiles.private_files import private_dir, tighten_if_present

KEY_FILE = "master.key"
ENV_VAR = "OPENPROFILES_MASTER_KEY"


class KeyringError(RuntimeError):
    """A master key or KMS key is missing, malformed, unusable, or does not match the stored data keys."""


@dataclass(frozen=True, repr=False)
class MasterKey:
    material: bytes

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key without revealing it."""
        return hashlib.sha256(b"openprofiles-master-key-id" + self.material).hexdigest()[:16]

    @property
    def encoded(self) -> str:
        """The key as written in master.key or OPENPROFILES_MASTER_KEY."""
        return base64.b64encode(self.material).decode()

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(32))

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


def _unique(keys: Sequence[MasterKey]) -> list[MasterKey]:
    seen: set[bytes] = set()
    result = []
    for key in keys:
        if key.material not in seen:
            seen.add(key.material)
            result.append(key)
    return result


def parse_env_keys(env_value: str) -> list[MasterKey]:
    """The keys of an OPENPROFILES_MASTER_KEY value: base64 keys separated by commas, current first."""
    parts = [p.strip() for p in env_value.split(",")]
    keys = [_decode(p, f"{ENV_VAR} (key {n})") for n, p in enumerate(parts, 1) if p]
    if not keys:
        raise KeyringError(f"{ENV_VAR} is set but holds no key")
    return _unique(keys)


def read_key_file(path: Path) -> list[MasterKey]:
    """The keys of a master.key file: one base64 key a line, current first (blank lines ignored)."""
    lines = path.read_text().splitlines()
    keys = [_decode(line, f"{path} (line {n})") for n, line in enumerate(lines, 1) if line.strip()]
    if not keys:
        raise KeyringError(f"The master key file {path} holds no key")
    return _unique(keys)


def write_key_file(path: Path, keys: Sequence[MasterKey]) -> None:
    """Replace the key file atomically (a private temporary file renamed over it), current key first."""
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("".join(key.encoded + "\n" for key in keys))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_master_keys(data_dir: Path, env_value: str | None = None) -> list[MasterKey]:
    """The configured master keys, current first, creating `<data-dir>/master.key` when none exists yet."""
    if env_value:
        return parse_env_keys(env_value)
    path = data_dir / KEY_FILE
    private_dir(data_dir)
    if path.exists():
        tighten_if_present(path)
        return read_key_file(path)
    key = MasterKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(path)  # another process created it first
    with os.fdopen(fd, "w") as handle:
        handle.write(key.encoded + "\n")
    return [key]


def load_master_key(data_dir: Path, env_value: str | None = None) -> MasterKey:
    """The current master key (see `load_master_keys`)."""
    return load_master_keys(data_dir, env_value)[0]


class LocalKeyring:
    """Wraps data keys with AES-256-GCM under the current master key; unwraps with whichever
    configured master key the data key row names."""

    provider = "local"

    def __init__(
        self,
        masters: MasterKey | Sequence[MasterKey],
        reload: Callable[[], Sequence[MasterKey]] | None = None,
    ) -> None:
        keys = [masters] if isinstance(masters, MasterKey) else _unique(masters)
        if not keys:
            raise KeyringError("No master key configured")
        self._reload = reload
        self._lock = threading.Lock()
        self._set(keys)

    @classmethod
    def open(cls, data_dir: Path, env_value: str | None = None) -> LocalKeyring:
        """The keyring of a process: from the environment variable, else from the key file (which it
        re-reads when it meets a master key id it does not know)."""
        keys = load_master_keys(data_dir, env_value)
        if env_value:
            return cls(keys)
        path = data_dir / KEY_FILE
        return cls(keys, reload=lambda: read_key_file(path) if path.exists() else [])

    def _set(self, keys: list[MasterKey]) -> None:
        # One attribute, replaced whole, so readers never see a half-updated keyring.
        self._state = (tuple(keys), {key.key_id: AESGCM(key.material) for key in keys})

    @property
    def _masters(self) -> tuple[MasterKey, ...]:
        return self._state[0]

    @property
    def master(self) -> MasterKey:
        """The current master key."""
        return self._masters[0]

    @property
    def masters(self) -> list[MasterKey]:
        """Every configured master key, current first."""
        return list(self._masters)

    @property
    def key_id(self) -> str:
        return self.master.key_id

    def knows(self, key_id: str) -> bool:
        return key_id in self._state[1]

    def wrap_key(self, data_key: bytes, context: bytes) -> tuple[bytes, str]:
        """The data key wrapped by the current master key, and that master key's id."""
        masters, aeads = self._state
        nonce = secrets.token_bytes(12)
        return nonce + aeads[masters[0].key_id].encrypt(nonce, data_key, context), masters[0].key_id

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        return self.wrap_key(data_key, context)[0]

    def reload(self) -> bool:
        """Re-read the key file (when the keyring came from one): its keys, current first, then any
        key this keyring knew that the file no longer lists. True when something was read."""
        if self._reload is None:
            return False
        fresh = list(self._reload())
        if not fresh:
            return False
        with self._lock:
            self._set(_unique([*fresh, *self._masters]))
        return True

    def unwrap(self, wrapped: bytes, context: bytes, key_id: str) -> bytes:
        aead = self._state[1].get(key_id)
        if aead is None and self.reload():
            aead = self._state[1].get(key_id)
        if aead is None:
            known = ", ".join(key.key_id for key in self._masters)
            raise KeyringError(
                f"A data key was wrapped by master key {key_id}, but the configured master keys are "
                f"{known}: point OpenProfiles at the master key(s) this database was created with "
                f"(after a rotation, the new {KEY_FILE} or {ENV_VAR} value)"
            )
        return aead.decrypt(wrapped[:12], wrapped[12:], context)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for one purpose (e.g. signing page tokens), derived with HKDF from the
        current master key."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self.master.material
        )
