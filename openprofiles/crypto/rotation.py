"""Master-key rotation without downtime: a new local master key, and every data key it should
wrap re-wrapped with it in one transaction.

Only the wrapping changes: data keys (and so every sealed value and blind index) stay the same,
so nothing else is re-encrypted and running processes keep the data keys they have in memory.
The order makes every step safe to interrupt:

1. with `<data-dir>/master.key`: the new key is written first (atomically, mode 0600, the new key
   on the first line and the previous keys after it), so from then on every process can open a
   data key wrapped by either; a running server that meets the new key's id re-reads the file;
2. then one transaction re-wraps every data key that a local master key wraps (KMS-wrapped
   keys are left alone). If it fails, the rows keep their old wrapping, which still opens.

With `OPENPROFILES_MASTER_KEY` the file is not touched: the rows are re-wrapped and the new value
("new,previous…") is returned. Every process needs that value before it next has to open a data
key it has not loaded yet, so set it everywhere and restart promptly (see docs/encryption.md).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag

from openprofiles.crypto.envelope import data_key_context
from openprofiles.crypto.keyring import (
    KEY_FILE,
    KeyringError,
    LocalKeyring,
    MasterKey,
    load_master_keys,
    write_key_file,
)
from openprofiles.crypto.kms import is_kms_ref
from openprofiles.private_files import private_dir
from openprofiles.storage.data_keys import DataKeyRepository
from openprofiles.storage.database import Database

LOCK_FILE = ".master.key.lock"


@dataclass(frozen=True)
class RotationResult:
    """What a rotation did. `env_value` holds key material: show it once, never log it."""

    new_key_id: str
    previous_key_ids: tuple[str, ...]
    #: Data keys now wrapped by the new master key.
    rewrapped: int
    #: Data keys wrapped by AWS KMS keys, left as they were.
    kms_wrapped: int
    #: Data keys still wrapped by a previous master key after the rotation (created meanwhile by a
    #: process that had not picked up the new key yet); they open as long as that key is kept.
    still_on_previous: int
    #: The master key file written, or None when the keys come from OPENPROFILES_MASTER_KEY.
    key_file: Path | None
    #: The new OPENPROFILES_MASTER_KEY value ("new,previous…"), or None when the file was written.
    env_value: str | None = field(default=None, repr=False)


@contextmanager
def _exclusive(data_dir: Path, env_value: str | None) -> Iterator[None]:
    """One rotation at a time per data directory (two would each write a key the other drops).
    With the environment variable no file is written: the database's row locks serialise
    rotations, and one that lost the race fails without changing anything."""
    if env_value:
        yield
        return
    private_dir(data_dir)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def rewrap_to_current(db: Database, keyring: LocalKeyring) -> int:
    """Re-wrap, in one transaction, every locally wrapped data key that the keyring's current
    master key does not wrap yet; the number re-wrapped. KMS-wrapped keys are untouched."""
    current = keyring.key_id

    def rewrap(scope: str, wrapped: bytes, master_key_id: str) -> tuple[bytes, str] | None:
        if is_kms_ref(master_key_id) or master_key_id == current:
            return None
        context = data_key_context(scope)
        try:
            material = keyring.unwrap(wrapped, context, master_key_id)
        except InvalidTag:
            raise KeyringError(
                f"The data key of {scope} does not open with master key {master_key_id}: it is damaged, "
                "or a different key has the same id"
            ) from None
        return keyring.wrap_key(material, context)

    return DataKeyRepository(db).rewrap_all(rewrap)


def rotate_master(db: Database, data_dir: Path, env_value: str | None) -> RotationResult:
    """Generate a new master key, make it current and re-wrap every locally wrapped data key with it.

    `env_value` is OPENPROFILES_MASTER_KEY (None or empty when the keys are in
    `<data-dir>/master.key`). Raises KeyringError, before changing anything, when a data key is
    wrapped by a master key that is not configured.
    """
    with _exclusive(data_dir, env_value):
        previous = load_master_keys(data_dir, env_value or None)
        known = {key.key_id for key in previous}
        repository = DataKeyRepository(db)
        unknown = sorted(k for k in repository.count_by_wrapper() if not is_kms_ref(k) and k not in known)
        if unknown:
            raise KeyringError(
                f"Data keys are wrapped by master key(s) {', '.join(unknown)}, which are not configured "
                f"(configured: {', '.join(sorted(known))}); nothing was changed"
            )
        new = MasterKey.generate()
        keys = [new, *previous]
        key_file: Path | None = None
        if not env_value:
            key_file = data_dir / KEY_FILE
            write_key_file(key_file, keys)  # before any row names the new key
        rewrapped = rewrap_to_current(db, LocalKeyring(keys))
        counts = repository.count_by_wrapper()
    return RotationResult(
        new_key_id=new.key_id,
        previous_key_ids=tuple(key.key_id for key in previous),
        rewrapped=rewrapped,
        kms_wrapped=sum(n for k, n in counts.items() if is_kms_ref(k)),
        still_on_previous=sum(n for k, n in counts.items() if k in known),
        key_file=key_file,
        env_value=",".join(key.encoded for key in keys) if env_value else None,
    )
