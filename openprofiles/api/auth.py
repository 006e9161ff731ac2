"""AWS Signature Version 4 (header form): who is calling, for which region and service.

The verifier rebuilds the canonical request exactly as the SDKs do for non-S3 services (each
path segment encoded twice, query parameters sorted, the signed headers trimmed) and compares
signatures in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote, unquote_to_bytes

from openprofiles.api.errors import AuthFailed
from openprofiles.api.ports import AccessKeyLookup
from openprofiles.clock import Clock

ALGORITHM = "AWS4-HMAC-SHA256"
OPEN_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_FORM = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_AUTH_NAMES = frozenset({"Credential", "SignedHeaders", "Signature"})
_PREFIX = ALGORITHM + " "
_MALFORMED = ("Authorization header requires 'Credential' (KEY/DATE/REGION/SERVICE/aws4_request), "
              "'SignedHeaders' and 'Signature' parameters")


class Scope(NamedTuple):
    """The parts of an Authorization header, before any check."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the account it acts for and the region it addressed."""

    account_id: str
    region: str
    access_key_id: str | None


def parse_authorization(value: str | None) -> Scope | None:
    """The credential scope of a SigV4 Authorization header, or None when it is not one."""
    if not value or not value.startswith(_PREFIX):
        return None
    head, last, signature = value.rpartition(", Signature=")
    if last and signature.isalnum():  # as the SDKs write it: the signature last, the rest as before
        return Scope(*_credential_scope(head), signature)
    parts = _parameters(value)
    if "Signature" not in parts:
        raise AuthFailed(_MALFORMED)
    return Scope(*_scope_of(parts), parts["Signature"])


def _parameters(value: str) -> dict[str, str]:
    """The Credential, SignedHeaders and Signature parameters of an Authorization header."""
    parts: dict[str, str] = {}
    for part in value[len(_PREFIX) :].split(","):
        name, _, text = part.strip().partition("=")
        if name in _AUTH_NAMES and text.strip():
            parts[name] = text.split()[0]
    return parts


@lru_cache(maxsize=1024)
def _credential_scope(head: str) -> tuple[str, str, str, str, tuple[str, ...]]:
    """`_scope_of` an Authorization header without its signature: the same few per client and day,
    so each is read once."""
    return _scope_of(_parameters(head))


def _scope_of(parts: dict[str, str]) -> tuple[str, str, str, str, tuple[str, ...]]:
    """Key, date, region, service and signed headers of an Authorization header's parameters."""
    credential = parts.get("Credential", "").split("/")
    if len(credential) != 5 or credential[4] != "aws4_request" or "SignedHeaders" not in parts:
        raise AuthFailed(_MALFORMED)
    return credential[0], credential[1], credential[2], credential[3], tuple(parts["SignedHeaders"].split(";"))


@lru_cache(maxsize=4096)
def _canonical_uri(raw_path: str) -> str:
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in (".", ""):
            segments.append(segment)
    path = "/" + "/".join(segments)
    if raw_path.endswith("/") and path != "/":
        path += "/"
    return quote(path, safe="/~")


def _requote(text: str) -> str:
    # Decoded as the request parser decodes it ('+' is a space), then encoded canonically, so
    # the signature covers exactly the values the handler sees.
    return quote(unquote_to_bytes(text.replace("+", " ")), safe="-_.~")


def _canonical_query(raw_query: str) -> str:
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((_requote(key), _requote(value)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _canonical_headers(headers: Sequence[tuple[str, str]], signed: Sequence[str]) -> str:
    wanted = set(signed)
    values: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        if name in wanted:
            value = " ".join(value.split())  # trimmed, inner runs of white space as one space
            values[name] = f"{values[name]},{value}" if name in values else value
    for name in signed:
        if name not in values:
            raise AuthFailed(f"The header '{name}' is listed in SignedHeaders but is not in the request")
    return "".join([f"{name}:{values[name]}\n" for name in signed])


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def _canonical_head(
    scope: Scope, method: str, raw_path: str, raw_query: str, headers: Sequence[tuple[str, str]]
) -> str:
    """The canonical request without its last line, the payload hash."""
    return "\n".join(
        [
            method,
            _canonical_uri(raw_path),
            _canonical_query(raw_query),
            _canonical_headers(headers, scope.signed_headers),
            ";".join(scope.signed_headers),
        ]
    )


class _Signature(NamedTuple):
    """A request's claimed signature and all it covers but the payload hash."""

    key: bytes
    amz_date: str
    credential_scope: str
    canonical_head: str
    claimed: str

    def expected(self, payload_hash: str) -> str:
        canonical = f"{self.canonical_head}\n{payload_hash}"
        to_sign = "\n".join(
            [ALGORITHM, self.amz_date, self.credential_scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        return hmac.digest(self.key, to_sign.encode(), "sha256").hex()

    def verify(self, payload_hash: str) -> None:
        if not hmac.compare_digest(self.expected(payload_hash).encode(), self.claimed.encode("utf-8", "replace")):
            raise AuthFailed(
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method."
            )


def _signature(
    secret: str,
    scope: Scope,
    amz_date: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
) -> _Signature:
    return _Signature(
        _signing_key(secret, scope.date, scope.region, scope.service),
        amz_date,
        f"{scope.date}/{scope.region}/{scope.service}/aws4_request",
        _canonical_head(scope, method, raw_path, raw_query, headers),
        scope.signature,
    )


def signature_for(
    secret: str,
    scope: Scope,
    amz_date: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
) -> str:
    """The hex signature a client holding `secret` computes for this request."""
    payload_hash = next((v for k, v in headers if k.lower() == "x-amz-content-sha256"), None)
    payload_hash = payload_hash or hashlib.sha256(body).hexdigest()
    return _signature(secret, scope, amz_date, method, raw_path, raw_query, headers).expected(payload_hash)


@lru_cache(maxsize=256)
def _amz_time(value: str) -> datetime | None:
    """An X-Amz-Date value as a time, None when it is not one (remembered: a client sends the same
    second's value many times)."""
    if not _AMZ_DATE_FORM.fullmatch(value):
        return None
    try:  # the constructor, not strptime (a tenth of the cost)
        return datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                        int(value[11:13]), int(value[13:15]), tzinfo=UTC)
    except ValueError:
        return None


def _signing_time(header_map: dict[str, str]) -> tuple[datetime, str]:
    """When the request was signed, as a time and as SigV4 writes it (YYYYMMDDTHHMMSSZ): X-Amz-Date,
    or (as the SDKs allow) the Date header."""
    if "x-amz-date" in header_map:
        value = header_map["x-amz-date"]
        signed_at = _amz_time(value)
        if signed_at is not None:
            return signed_at, value
    elif "date" in header_map:
        try:
            parsed = parsedate_to_datetime(header_map["date"])
            # '-0000' (what botocore writes) parses to a naive datetime: it is UTC all the same.
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            return parsed, parsed.strftime(_AMZ_DATE)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    raise AuthFailed("The request must carry a valid X-Amz-Date header (YYYYMMDDTHHMMSSZ) or Date header")


class SignedHead(NamedTuple):
    """A signed request whose head passed every check that needs no key."""

    scope: Scope
    amz_date: str
    #: X-Amz-Content-SHA256 as sent, when it was.
    declared_hash: str | None


class BodyCheck:
    """What a request's body still has to settle once its head is authenticated: feed the body to
    `update` as it arrives, then `finish` answers the caller or raises AuthFailed."""

    __slots__ = ("_declared_hash", "_hash", "_signature", "caller")

    def __init__(self, caller: Caller, declared_hash: str | None = None, signature: _Signature | None = None) -> None:
        self.caller = caller
        self._declared_hash = declared_hash
        self._signature = signature  # to check against the body's hash (none was declared)
        self._hash = hashlib.sha256() if declared_hash or signature else None

    def update(self, chunk: bytes) -> None:
        if self._hash is not None:
            self._hash.update(chunk)

    def finish(self) -> Caller:
        if self._hash is None:
            return self.caller
        digest = self._hash.hexdigest()
        if self._signature is not None:
            self._signature.verify(digest)
        elif digest != self._declared_hash:
            raise AuthFailed("The provided x-amz-content-sha256 header does not match the request body")
        return self.caller


class Authenticator:
    """Checks requests in `sigv4` mode, or accepts them as the default account in `open` mode.

    The check runs in three steps, so that a request that cannot be authentic never has its body
    read: `check_head` (no key needed: signed at all, well-formed, in time, host signed), `begin`
    (the key exists and is active; when the request declares its payload hash, the whole
    signature), then the body's SHA-256 as it streams (`BodyCheck`: equal to the declared hash, or
    the signature over it). `authenticate` runs them all for a body in hand."""

    def __init__(self, mode: str, lookup: AccessKeyLookup, clock: Clock) -> None:
        if mode not in ("sigv4", "open"):
            raise ValueError(f"unknown auth mode {mode!r}")
        self.mode = mode
        self.lookup = lookup
        self.clock = clock

    def check_head(self, scope: Scope | None, headers: Sequence[tuple[str, str]]) -> SignedHead | Caller:
        """The checks that need neither the key nor the body; in open mode, the caller."""
        if self.mode == "open":
            return Caller(OPEN_ACCOUNT, scope.region if scope else DEFAULT_REGION, scope.access_key_id if scope else None)
        if scope is None:
            raise AuthFailed("Missing Authentication Token: the request must be signed with AWS Signature Version 4")
        header_map = {k.lower(): v for k, v in headers}
        signed_at, amz_date = _signing_time(header_map)
        if not amz_date.startswith(scope.date):
            raise AuthFailed("The credential scope date does not match the X-Amz-Date header")
        now = self.clock.now()
        if abs(now - signed_at) > MAX_SKEW:
            raise AuthFailed(
                f"Signature expired: {amz_date} is outside the allowed 15 minutes of the server time "
                f"{now.strftime(_AMZ_DATE)}; check the caller's clock"
            )
        if "host" not in scope.signed_headers:
            raise AuthFailed("The 'host' header must be signed")
        return SignedHead(scope, amz_date, header_map.get("x-amz-content-sha256"))

    def begin(
        self,
        head: SignedHead | Caller,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Sequence[tuple[str, str]],
    ) -> BodyCheck:
        """The checks that need the key (one lookup) but not the body: what `check_head` passed."""
        if isinstance(head, Caller):
            return BodyCheck(head)
        scope = head.scope
        key = self.lookup(scope.access_key_id)
        if key is None or not key.active:
            raise AuthFailed("The security token included in the request is invalid: unknown or revoked access key")
        signature = _signature(key.secret_access_key, scope, head.amz_date, method, raw_path, raw_query, headers)
        caller = Caller(key.account_id, scope.region, key.access_key_id)
        if head.declared_hash is None:
            return BodyCheck(caller, signature=signature)
        signature.verify(head.declared_hash)
        if not _SHA256_HEX.fullmatch(head.declared_hash):
            raise AuthFailed(
                "The x-amz-content-sha256 header must be the hex SHA-256 of the request body "
                f"({head.declared_hash[:32]!r} is not accepted)"
            )
        return BodyCheck(caller, declared_hash=head.declared_hash)

    def authenticate(
        self,
        scope: Scope | None,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> Caller:
        """All three steps, for a request whose body is at hand."""
        check = self.begin(self.check_head(scope, headers), method, raw_path, raw_query, headers)
        check.update(body)
        return check.finish()
