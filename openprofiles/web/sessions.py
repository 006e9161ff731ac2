"""The console's side of sessions: the cookies and the CSRF tokens their forms carry, over the
session records of services/console_sessions.py (sign-in, throttling, sign-out, expiry).

Forms carry a CSRF token: for a session, an HMAC of its id (the session cookie's value); for the
sign-in form, an HMAC of a random nonce kept in a pre-session cookie (a signed double submit).
docs/console.md describes both.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from datetime import timedelta

from openprofiles.services.console_sessions import MAX_SESSION_ID, ConsoleSessionService, Throttled

COOKIE = "openprofiles_console"
#: The pre-session cookie that the sign-in form's CSRF token is bound to.
SIGN_IN_COOKIE = "openprofiles_signin"


@dataclass(frozen=True)
class Session:
    """Who a request acts for, and the CSRF token its forms carry."""

    account_id: str
    csrf_token: str


class Sessions:
    def __init__(self, secret: bytes, records: ConsoleSessionService) -> None:
        self._secret = secret
        self._records = records

    @property
    def lifetime(self) -> timedelta:
        return self._records.lifetime

    # CSRF tokens

    def _mac(self, purpose: str, value: str) -> str:
        mac = hmac.new(self._secret, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
        return urlsafe_b64encode(mac).rstrip(b"=").decode()

    def _matches(self, purpose: str, value: str | None, token: str | None) -> bool:
        if not value or not token or len(value) > MAX_SESSION_ID:
            return False
        return hmac.compare_digest(self._mac(purpose, value).encode(), token.encode())

    @staticmethod
    def new_nonce() -> str:
        """A value for the pre-session cookie."""
        return secrets.token_urlsafe(32)

    def sign_in_token(self, nonce: str) -> str:
        """The sign-in form's CSRF token for the pre-session cookie `nonce`."""
        return self._mac("sign-in", nonce)

    def sign_in_token_matches(self, nonce: str | None, token: str | None) -> bool:
        return self._matches("sign-in", nonce, token)

    def session_token_matches(self, cookie: str | None, token: str | None) -> bool:
        """Whether `token` is the CSRF token of the session whose cookie is `cookie`."""
        return self._matches("session", cookie, token)

    # Signing in and out

    def sign_in(self, access_key_id: str, secret_access_key: str, address: str) -> str | Throttled | None:
        """A new session's id (the cookie's value), Throttled or None (`ConsoleSessionService.sign_in`)."""
        return self._records.sign_in(access_key_id, secret_access_key, address)

    def sign_out(self, cookie: str | None) -> None:
        """Revoke the session whose cookie is `cookie`, if there is one."""
        self._records.sign_out(cookie)

    def current(self, cookie: str | None) -> Session | None:
        """The session a cookie names, None when there is none still open
        (`ConsoleSessionService.account_of`)."""
        account_id = self._records.account_of(cookie)
        if account_id is None or cookie is None:
            return None
        return Session(account_id, self._mac("session", cookie))
