"""The HTTP client every vendor connector uses: one base URL, its auth, retries and error mapping.

`VendorApi` wraps an httpx client. A request that gets 429 or a 5xx, or fails on the network, is
retried with exponential backoff; a `Retry-After` header (seconds or an HTTP date) sets the wait
instead, and a wait longer than `max_wait` gives up at once. 401 and 403 become
`ConnectorAuthError`, other 4xx a terminal `ConnectorError`, exhausted retries a transient one;
each message carries the vendor's own words, taken from the response by the connector's
`describe_error`. A connector whose vendor gives a status another meaning (Salesforce's 403
`REQUEST_LIMIT_EXCEEDED` is a used-up API allowance, not a refusal of the credentials) passes
`classify`, which may name the error for a response instead.

`RefreshingBearer` sends an OAuth2 access token and, when the vendor answers 401, asks its
`refresh` callable for a new token once and repeats the request (vendors whose tokens expire).

Egress: a tenant names the URL (`instanceUrl`), so every connection goes through `EgressPolicy`.
It resolves the host when the connection is made, refuses the whole host when any of its
addresses is not public (loopback, RFC 1918/4193 private, link-local, CGNAT, multicast,
unspecified, reserved; IPv4-mapped, 6to4 and NAT64 forms judged by the IPv4 address inside),
unless the operator allow-listed the host name or a network holding the address
(`Grants.connector_hosts`), and then connects to exactly the addresses it checked: no second
look-up, so no DNS-rebinding window; TLS still verifies and sends SNI for the host name, and the
Host header is the URL's. Redirects (at most 5) are followed, each new connection checked alike.
Environment proxies are not used. A refusal (`EgressRefused`) is raised before any connection
is attempted; every connection failure reads the same ("could not reach HOST: connection
failed"), so closed and open ports look alike; vendor error texts are cut to 200 characters.
"""

from __future__ import annotations

import email.utils
import ipaddress
import random
import re
import socket
import time
import weakref
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpcore
import httpx

from openprofiles.connectors.base import ConnectorAuthError, ConnectorError, NotGranted
from openprofiles.connectors.grants import Grants

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Characters of a vendor's own error text kept in a message.
ERROR_TEXT_LIMIT = 200
MAX_REDIRECTS = 5
EGRESS_SETTING = "--allow-connector-host / OPENPROFILES_ALLOW_CONNECTOR_HOSTS"
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: host, port -> the addresses to connect to (socket.getaddrinfo by default).
Resolver = Callable[[str, int], Sequence[str]]


class EgressRefused(NotGranted):
    """A connector was about to connect to an address the operator has not opened to tenants."""


def _getaddrinfo(host: str, port: int) -> list[str]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _embedded(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def is_public(address: Address) -> bool:
    """Whether an address is globally reachable unicast (embedded IPv4 forms judged by that address)."""
    inner = _embedded(address)
    if inner is not None:
        return is_public(inner)
    return address.is_global and not address.is_multicast


def _host_key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class EgressPolicy:
    """Where connectors may connect: public addresses, and the hosts and networks the operator allowed."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    resolve: Resolver = _getaddrinfo

    @classmethod
    def of(cls, grants: Grants, resolve: Resolver = _getaddrinfo) -> EgressPolicy:
        """The policy of the operator's `connector_hosts` (host names, addresses, CIDR networks);
        ValueError names a malformed entry."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in grants.connector_hosts:
            text = _host_key(entry.strip())
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if not HOST_NAME.fullmatch(text):
                    raise ValueError(f"--allow-connector-host {entry!r}: not a host name, address or CIDR network"
                                     ) from None
                hosts.add(text)
        return cls(frozenset(hosts), tuple(networks), resolve)

    def allows(self, host: str, address: Address) -> bool:
        if is_public(address) or _host_key(host) in self.hosts:
            return True
        forms = [address] + ([inner] if (inner := _embedded(address)) is not None else [])
        return any(form in network for form in forms for network in self.networks)

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for host:port, every one allowed. EgressRefused when one is not;
        httpcore.ConnectError when the name does not resolve."""
        key = _host_key(host)
        try:
            found = list(self.resolve(key, port))
        except (OSError, UnicodeError):
            raise httpcore.ConnectError(f"{key} does not resolve") from None
        if not found:
            raise httpcore.ConnectError(f"{key} does not resolve")
        for text in found:
            if not self.allows(key, ipaddress.ip_address(text)):
                raise EgressRefused(
                    f"{key} is not a public address: connectors reach loopback, private, link-local and other "
                    f"non-public addresses only where the operator allows them ({EGRESS_SETTING})")
        return found


def _is_http_url(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


def check_egress(url: str, grants: Grants | EgressPolicy) -> list[str]:
    """The addresses an http(s) URL's host resolves to, all allowed by the egress policy; EgressRefused
    (a NotGranted) otherwise, or ConnectorError when the URL has no host or its host does not resolve.
    For clients that cannot connect through `EgressTransport` (boto3): they check, then connect by
    name, so a DNS answer that changes between the two is not caught there."""
    policy = grants if isinstance(grants, EgressPolicy) else EgressPolicy.of(grants)
    if not _is_http_url(url):
        raise NotGranted(f"{shorten(url, 100)!r} is not an http:// or https:// URL with a host")
    parsed = httpx.URL(url)
    try:
        return policy.addresses(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    except httpcore.ConnectError:
        raise ConnectorError(f"could not reach {parsed.host}: connection failed") from None


class _CheckedBackend(httpcore.NetworkBackend):
    """httpcore's sockets, opened only to the addresses the policy allowed for the host, resolved once."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        failure: Exception = httpcore.ConnectError(f"{host}: no address")
        for address in self.policy.addresses(host, port):
            try:
                return self._sockets.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class EgressTransport(httpx.HTTPTransport):
    """httpx's transport whose connections go through the egress policy (see the module docstring)."""

    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__(trust_env=False)
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedBackend(policy),
        )


def shorten(text: str, limit: int = ERROR_TEXT_LIMIT) -> str:
    """A vendor's text, cut to `limit` characters (an ellipsis marks the cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

#: A connector's own reading of an error response: given the response and the message text
#: (`Vendor METHOD /path: HTTP nnn: vendor's words`), the error to raise, or None for the default.
Classify = Callable[[httpx.Response, str], ConnectorError | None]


def response_json(response: httpx.Response) -> Any:
    """A response's JSON; a ValueError when it is not JSON or nests too deep to decode (the standard
    decoder raises RecursionError then, which is no ValueError). The flow run holds each record to
    the API's depth cap. Not orjson: for a page of records it peaks at about a fifth more memory."""
    try:
        return response.json()
    except RecursionError:
        raise ValueError("the answer nests too deep to decode") from None


def default_describe_error(response: httpx.Response) -> str:
    """A short text for an error response: its JSON `message`/`error`, else the start of the body."""
    try:
        body = response_json(response)
    except ValueError:
        return shorten(response.text) or response.reason_phrase
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "errors", "detail", "description"):
            if body.get(key):
                return shorten(str(body[key]))
    return shorten(str(body))


def retry_after(response: httpx.Response, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now()).total_seconds())


class RefreshingBearer(httpx.Auth):
    """`Authorization: Bearer <token>`; on 401 gets a fresh token from `refresh` (if any) and retries once."""

    def __init__(self, access_token: str | None, refresh: Callable[[], str] | None = None) -> None:
        self.access_token = access_token
        self._refresh = refresh

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.access_token is None and self._refresh is not None:
            self.access_token = self._refresh()
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        response = yield request
        if response.status_code == 401 and self._refresh is not None:
            self.access_token = self._refresh()
            request.headers["Authorization"] = f"Bearer {self.access_token}"
            yield request


class VendorApi:
    """An httpx client bound to one vendor instance, retrying what may succeed later, connecting only
    where `egress` (the operator's grants, or a policy) allows.

    `classify`, if given, sees every error response first; an error it returns is raised at once,
    without retries, in place of the one the status would give.
    """

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        egress: Grants | EgressPolicy,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        describe_error: Callable[[httpx.Response], str] = default_describe_error,
        classify: Classify | None = None,
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_wait: float = 120.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url:
            raise ConnectorError(f"{vendor}: the connector profile needs instanceUrl")
        if not _is_http_url(base_url):
            raise NotGranted(f"{vendor}: instanceUrl {shorten(base_url, 100)!r} is not an http:// or https:// URL")
        policy = egress if isinstance(egress, EgressPolicy) else EgressPolicy.of(egress)
        self.vendor = vendor
        self.describe_error = describe_error
        self.classify = classify
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"), auth=auth, headers=dict(headers or {}), timeout=timeout,
            follow_redirects=True, max_redirects=MAX_REDIRECTS, transport=EgressTransport(policy), trust_env=False,
        )
        # Connectors keep their client for their lifetime and have no close of their own: the pooled
        # connections are closed when this object goes (else each socket is left to the collector).
        weakref.finalize(self, self.client.close)

    def close(self) -> None:
        self.client.close()

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        hinted = retry_after(response) if response is not None else None
        if hinted is not None:
            return hinted
        return float(min(self.max_wait, self.backoff * 2 ** (attempt - 1))) * (0.5 + random.random() / 2)

    def _failure(self, response: httpx.Response) -> tuple[ConnectorError, bool]:
        """The error for a response, and whether to retry the request."""
        text = f"{self.vendor} {response.request.method} {response.request.url.path}: HTTP {response.status_code}: "
        text += shorten(self.describe_error(response))
        if self.classify is not None and (classified := self.classify(response, text)) is not None:
            return classified, False
        if response.status_code in (401, 403):
            return ConnectorAuthError(text), False
        retried = response.status_code in RETRIED_STATUSES
        return ConnectorError(text, transient=retried), retried

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The response to a successful (2xx/3xx) request, after retries; ConnectorError otherwise."""
        for attempt in range(1, self.max_attempts + 1):
            response: httpx.Response | None = None
            try:
                response = self.client.request(method, url, **kwargs)
            except EgressRefused as error:
                raise EgressRefused(f"{self.vendor}: {error.message}") from None
            except httpx.TransportError as error:
                failure = ConnectorError(f"{self.vendor} {method} {httpx.URL(url).path}: could not reach "
                                         f"{self._netloc(error)}: connection failed", transient=True)
            else:
                if response.status_code < 400:
                    return response
                failure, retried = self._failure(response)
                if not retried:
                    raise failure
            if attempt == self.max_attempts:
                break
            wait = self._wait(attempt, response)
            if wait > self.max_wait:
                raise ConnectorError(f"{failure.message} (asked to retry after {wait:.0f} s)", transient=True)
            self.sleep(wait)
        raise ConnectorError(f"{failure.message} (gave up after {self.max_attempts} attempts)", transient=True)

    def _netloc(self, error: httpx.TransportError) -> str:
        """host[:port] of the request that failed (a redirect's target may not be the base URL's)."""
        try:
            target = error.request.url
        except RuntimeError:
            target = self.client.base_url
        return target.netloc.decode("ascii", "replace")

    def get_json(self, url: str, **kwargs: Any) -> Any:
        return self.json("GET", url, **kwargs)

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.request(method, url, **kwargs)
        if not response.content:
            return None
        try:
            return response_json(response)
        except ValueError:
            raise ConnectorError(f"{self.vendor} {method} {url}: the answer is not JSON") from None
