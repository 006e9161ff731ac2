"""Console sessions: signing in with an access key pair, and the signed cookie that follows.

The cookie holds only the access key id and the time it was signed (itsdangerous, HMAC-SHA256
with a key derived from the master key). Every request reads the key again, so revoking the key
ends its sessions at once; the signature's age bounds a session's life.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from openprofiles.services.access_keys import AccessKey

COOKIE = "openprofiles_console"
#: How long a session lasts after sign-in.
LIFETIME = timedelta(hours=8)
#: Longer input is no access key id (they are 20 characters) and is not looked up.
_MAX_KEY_ID = 128


class Sessions:
    def __init__(self, secret: bytes, lookup: Callable[[str], AccessKey | None],
                 lifetime: timedelta = LIFETIME) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="openprofiles.console.session")
        self._lookup = lookup
        self.lifetime = lifetime

    def check_secret(self, access_key_id: str, secret_access_key: str) -> AccessKey | None:
        """The active key these credentials name, or None (whatever is wrong: no reason is given)."""
        key = self._lookup(access_key_id) if 0 < len(access_key_id) <= _MAX_KEY_ID else None
        if key is None or not key.active:
            return None
        if not hmac.compare_digest(key.secret_access_key.encode(), secret_access_key.encode()):
            return None
        return key

    def cookie_for(self, key: AccessKey) -> str:
        """The cookie value of a new session for this key."""
        return self._serializer.dumps({"k": key.access_key_id})

    def account_of(self, cookie: str | None) -> str | None:
        """The account a session cookie acts for; None when the cookie is missing, forged, older than
        the session lifetime, or its key has been revoked."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=int(self.lifetime.total_seconds()))
        except BadSignature:  # SignatureExpired is one too
            return None
        key_id = data.get("k") if isinstance(data, dict) else None
        key = self._lookup(key_id) if isinstance(key_id, str) and len(key_id) <= _MAX_KEY_ID else None
        return key.account_id if key is not None and key.active else None
