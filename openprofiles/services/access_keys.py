"""Access key pairs: created for an account, listed, revoked; secrets kept sealed."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from openprofiles.clock import Clock
from openprofiles.crypto.envelope import Envelope
from openprofiles.errors import Invalid, NotFound
from openprofiles.storage.fast_reads import FastReader
from openprofiles.storage.store import Store

SYSTEM_SCOPE = "system:access-keys"
_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True)
class AccessKey:
    """A key as the signature check needs it."""

    access_key_id: str
    secret_access_key: str
    account_id: str
    active: bool


#: `AccessKeyService.lookup`, as the signature check and the console's sign-in take it.
AccessKeyLookup = Callable[[str], AccessKey | None]


@dataclass(frozen=True)
class AccessKeySummary:
    """A key as it may be shown: never its secret."""

    access_key_id: str
    account_id: str
    active: bool
    created_at: datetime
    revoked_at: datetime | None


def valid_account_id(account_id: str) -> bool:
    # ASCII only: str.isdigit() also accepts '１' and '²'.
    return len(account_id) == 12 and account_id.isascii() and account_id.isdigit()


class AccessKeyService:
    """Access keys; `lookup` conforms to api/ports.py's `AccessKeyLookup`."""

    def __init__(self, store: Store, envelope: Envelope, clock: Clock, reader: FastReader) -> None:
        self.store = store
        self.envelope = envelope
        self.clock = clock
        self.reader = reader
        self._secrets: dict[bytes, str] = {}

    def create(self, account_id: str) -> AccessKey:
        """A new active key pair for the account; the secret is returned only here."""
        if not valid_account_id(account_id):
            raise Invalid(f"Account id {account_id!r} must be 12 digits")
        key_id = "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        sealed = self.envelope.seal(SYSTEM_SCOPE, secret.encode(), key_id.encode())
        with self.store.write() as uow:
            uow.access_keys.add(key_id, account_id, sealed, self.clock.now())
        return AccessKey(key_id, secret, account_id, True)

    def list(self) -> list[AccessKeySummary]:
        with self.store.read() as uow:
            records = uow.access_keys.list()
        return [AccessKeySummary(r.access_key_id, r.account_id, r.active, r.created_at, r.revoked_at) for r in records]

    def count(self) -> int:
        with self.store.read() as uow:
            return uow.access_keys.count()

    def revoke(self, access_key_id: str) -> None:
        with self.store.write() as uow:
            if uow.access_keys.get(access_key_id) is None:
                raise NotFound(f"Access key {access_key_id} does not exist")
            uow.access_keys.revoke(access_key_id, self.clock.now())

    def lookup(self, access_key_id: str) -> AccessKey | None:
        """The key with its secret, asked of the store on every call so a revocation acts at once
        (the store may answer from memory only while nothing was committed since it last read the
        row; the decrypted secret is remembered by its sealed value)."""
        with self.reader.session(statements=1) as session:
            found = session.access_key(access_key_id)
        if found is None:
            return None
        account_id, active, sealed = found
        secret = self._secrets.get(sealed)
        if secret is None:
            secret = self.envelope.open(sealed, access_key_id.encode()).decode()
            if len(self._secrets) > 10_000:
                self._secrets.clear()
            self._secrets[sealed] = secret
        return AccessKey(access_key_id, secret, account_id, active)
