"""Who may call a fake vendor API, and how often: the credentials a request's Authorization header
carries (its scheme compared without regard to case, RFC 9110), and 429 throttling a test switches on."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value if scheme.lower() == "bearer" else None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """The user and password of an `Authorization: Basic` header (both empty if it does not decode), or None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


class Throttle:
    """Refuses the next `times` requests once armed: `take()` gives the Retry-After header to answer 429 with."""

    def __init__(self) -> None:
        self.left = 0
        self.retry_after = 1

    def arm(self, times: int, retry_after: int = 1) -> None:
        self.left, self.retry_after = times, retry_after

    def take(self) -> dict[str, str] | None:
        """The headers of a 429 for this request (one fewer left), or None when it may pass."""
        if not self.left:
            return None
        self.left -= 1
        return {"Retry-After": str(self.retry_after)}
