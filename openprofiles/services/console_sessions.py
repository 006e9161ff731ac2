"""Console sessions as records: signing in with an access key pair (throttled), signing out, and who
a session acts for. HTTP-free: web/sessions.py adds the cookies' CSRF tokens.

A session is a record in the database (`console_sessions`), found by the SHA-256 of a random id
that only the cookie holds. Signing out revokes the record at once; each lookup also reads the
access key again, so revoking the key ends its sessions at once; a record's expiry bounds a
session's life. Sign-in attempts are counted in the database per access key id and per client
address (docs/console.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from openprofiles.clock import Clock
from openprofiles.services.access_keys import AccessKey, AccessKeyLookup
from openprofiles.storage.store import Store

#: How long a session lasts after sign-in (`serve --session-ttl`).
LIFETIME = timedelta(hours=8)
#: A session's last-seen time is written at most this often.
TOUCH_EVERY = timedelta(minutes=1)
#: Failed sign-ins allowed per window for one access key id, and for one client address.
KEY_ATTEMPTS = 5
ADDRESS_ATTEMPTS = 20
ATTEMPT_WINDOW = timedelta(minutes=15)
#: Longer input is no access key id (they are 20 characters) and is not looked up.
MAX_KEY_ID = 128
#: Session ids are 32 random bytes, 43 characters of URL-safe base64; a longer one is not looked up.
MAX_SESSION_ID = 64


@dataclass(frozen=True)
class Throttled:
    """Too many sign-in attempts: the next one is accepted in `retry_after` seconds."""

    retry_after: int


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _subject(kind: str, value: str) -> bytes:
    return _digest(f"{kind}\0{value}")


class ConsoleSessionService:
    def __init__(self, store: Store, lookup: AccessKeyLookup, clock: Clock, lifetime: timedelta = LIFETIME) -> None:
        self._store = store
        self._lookup = lookup
        self._clock = clock
        self.lifetime = lifetime

    def _check_secret(self, access_key_id: str, secret_access_key: str) -> AccessKey | None:
        """The active key these credentials name, or None (whatever is wrong: no reason is given)."""
        key = self._lookup(access_key_id)
        if key is None or not key.active:
            return None
        if not hmac.compare_digest(key.secret_access_key.encode(), secret_access_key.encode()):
            return None
        return key

    def sign_in(self, access_key_id: str, secret_access_key: str, address: str) -> str | Throttled | None:
        """A new session's id; Throttled while the key id or the address has had too many attempts in
        the window (the right secret too); None for wrong credentials.

        The attempt is counted before the secret is checked, so concurrent guesses are all counted;
        a success clears the key id's count and takes this attempt back from the address's."""
        now = self._clock.now()
        key_id = access_key_id if 0 < len(access_key_id) <= MAX_KEY_ID else ""
        address_subject = _subject("address", address)
        limits = [(address_subject, ADDRESS_ATTEMPTS)]
        if key_id:
            limits.append((_subject("key", key_id), KEY_ATTEMPTS))
        with self._store.write() as uow:
            uow.sign_in_attempts.sweep(now)
            until = uow.sign_in_attempts.take(limits, now, ATTEMPT_WINDOW)
        if until is not None:
            return Throttled(max(1, int((until - now).total_seconds() + 0.999)))
        key = self._check_secret(key_id, secret_access_key) if key_id else None
        if key is None:
            return None
        session_id = secrets.token_urlsafe(32)
        with self._store.write() as uow:
            uow.sign_in_attempts.clear(_subject("key", key_id))
            uow.sign_in_attempts.forgive(address_subject)
            uow.console_sessions.sweep(now)
            uow.console_sessions.add(_digest(session_id), key.access_key_id, now, now + self.lifetime)
        return session_id

    def sign_out(self, session_id: str | None) -> None:
        """Revoke the session, if there is one."""
        if session_id and len(session_id) <= MAX_SESSION_ID:
            with self._store.write() as uow:
                uow.console_sessions.revoke(_digest(session_id), self._clock.now())

    def account_of(self, session_id: str | None) -> str | None:
        """The account a session acts for; None when the id is missing or unknown, the session was
        signed out of or has expired, or its key has been revoked."""
        if not session_id or len(session_id) > MAX_SESSION_ID:
            return None
        id_hash, now = _digest(session_id), self._clock.now()
        with self._store.read() as uow:
            record = uow.console_sessions.get(id_hash)
        if record is None or record.revoked_at is not None or record.expires_at <= now:
            return None
        key = self._lookup(record.access_key_id)
        if key is None or not key.active:
            return None
        if now - record.last_seen_at >= TOUCH_EVERY:
            with self._store.write() as uow:
                uow.console_sessions.touch(id_hash, now)
        return key.account_id
