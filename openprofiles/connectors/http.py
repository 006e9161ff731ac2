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
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from openprofiles.connectors.base import ConnectorAuthError, ConnectorError

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})

#: A connector's own reading of an error response: given the response and the message text
#: (`Vendor METHOD /path: HTTP nnn: vendor's words`), the error to raise, or None for the default.
Classify = Callable[[httpx.Response, str], ConnectorError | None]


def default_describe_error(response: httpx.Response) -> str:
    """A short text for an error response: its JSON `message`/`error`, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "errors", "detail", "description"):
            if body.get(key):
                return str(body[key])
    return str(body)[:300]


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
    """An httpx client bound to one vendor instance, retrying what may succeed later.

    `classify`, if given, sees every error response first; an error it returns is raised at once,
    without retries, in place of the one the status would give.
    """

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
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
        self.vendor = vendor
        self.describe_error = describe_error
        self.classify = classify
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"), auth=auth, headers=dict(headers or {}), timeout=timeout,
            follow_redirects=True,
        )

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
        text += self.describe_error(response)
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
            except httpx.TransportError as error:
                failure = ConnectorError(f"{self.vendor} {method} {url}: {type(error).__name__}: {error}",
                                         transient=True)
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

    def get_json(self, url: str, **kwargs: Any) -> Any:
        return self.json("GET", url, **kwargs)

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.request(method, url, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(f"{self.vendor} {method} {url}: the answer is not JSON") from None
