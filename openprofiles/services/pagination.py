"""One pagination mechanism for every list operation of both services.

A page token is opaque to callers: it carries the position after the last item returned and a
fingerprint of the request's other parameters, and is signed with a key derived from the
master key. A token that was tampered with, or is reused with different parameters, is
rejected with the service's validation error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from openprofiles.errors import Invalid

T = TypeVar("T")

_IGNORED = {"nexttoken", "maxresults"}


def _fingerprint(scope: str, params: Mapping[str, Any]) -> str:
    rest = {k: v for k, v in params.items() if k.lower() not in _IGNORED}
    data = orjson.dumps([scope, rest], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(data).hexdigest()[:16]


class PageTokens:
    """Encodes and checks page tokens for one server (one signing secret)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._secret, body, hashlib.sha256).digest()[:12]).decode()

    def encode(self, scope: str, params: Mapping[str, Any], position: Any) -> str:
        body = base64.urlsafe_b64encode(orjson.dumps({"p": position, "f": _fingerprint(scope, params)}))
        return f"{body.decode()}.{self._mac(body)}"

    def decode(self, scope: str, params: Mapping[str, Any], token: str, member: str = "NextToken") -> Any:
        body, _, mac = token.partition(".")
        if not body.isascii() or not hmac.compare_digest(mac.encode(), self._mac(body.encode()).encode()):
            raise Invalid(f"The {member} is not a token this service issued")
        document = orjson.loads(base64.urlsafe_b64decode(body))
        if document.get("f") != _fingerprint(scope, params):
            raise Invalid(f"The {member} was issued for a request with different parameters")
        return document.get("p")

    def page(
        self,
        scope: str,
        params: Mapping[str, Any],
        fetch: Callable[[Any, int], Sequence[T]],
        position_of: Callable[[T], Any],
        *,
        default_size: int = 100,
        token_member: str = "NextToken",
        size_member: str = "MaxResults",
    ) -> tuple[list[T], str | None]:
        """One page of a list tied to `scope` (caller and operation, `RequestContext.page_scope`):
        `fetch(after, limit)` returns up to `limit` items after the position
        `after` (None for the first page); returns the items and the next token, if any."""
        token = params.get(token_member)
        after = self.decode(scope, params, token, token_member) if token else None
        size = params.get(size_member) or default_size
        items = list(fetch(after, size + 1))
        if len(items) > size:
            items = items[:size]
            return items, self.encode(scope, params, position_of(items[-1]))
        return items, None
