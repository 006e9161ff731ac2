"""A fake Zendesk Support API for the calls the Zendesk connector makes, as Zendesk documents them.

- Auth: `Authorization: Bearer <OAuth token>`, or basic auth with `{email}/token:{api_token}`; a
  wrong one gets 401 `{"error": "Couldn't authenticate you"}`. `/api/v2/users/me.json` without
  credentials answers the anonymous user (id null), as Zendesk does.
- List endpoints `/api/v2/{users,tickets,organizations}.json` with cursor pagination: `page[size]`
  (at most 100) and `page[after]`, answering `meta.has_more`/`after_cursor` and `links.next`, in id order.
- Incremental exports, which leave out what changed in the minute before the request and refuse a
  `start_time` within it: cursor-based `/api/v2/incremental/{users,tickets}/cursor.json` (`start_time`
  or `cursor`, `per_page` up to 1000; `after_cursor`, `after_url`, `end_of_stream`) and time-based
  `/api/v2/incremental/organizations.json` (`start_time`, `per_page`; `end_time`, `next_page`,
  `count`, `end_of_stream`). A time-based page ends with every item sharing its last timestamp, and
  `end_time` is that timestamp, so those items come again on the next page (Zendesk's duplicates);
  a page of one timestamp ends one second later so the export always advances.
- `export_limit` export requests a minute (Zendesk: 10; off unless given) and `throttle(n)` answer
  429 with Retry-After and `{"error": "APIRateLimitExceeded", ...}`.
- Data: `FakeZendesk(users=N, ...)` generates N records (or takes records as given); `change` edits
  a record and stamps its updated_at, so tests see incremental pulls.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.access import Throttle, basic_credentials, bearer_token

TOKEN = "zendesk-oauth-token"
API_USER = ("agent@example.com", "zendesk-api-token")
START = 1_700_000_000  # 2023-11-14T22:13:20Z: generated data starts here
RESOURCES = ("users", "tickets", "organizations")
LIST_MAX = 100
EXPORT_MAX = 1000
LAG = 60


def iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_user(n: int) -> dict[str, Any]:
    """A user as Zendesk documents it; three users share each updated_at second."""
    return {
        "id": 1000 + n, "url": f"https://fake.zendesk.com/api/v2/users/{1000 + n}.json", "name": f"User {n}",
        "email": f"user{n}@example.com", "phone": f"+1415555{n % 10000:04d}", "external_id": f"ext-{n}",
        "role": "end-user", "active": True, "verified": True, "suspended": False, "locale": "en-US",
        "time_zone": "America/Los_Angeles", "organization_id": 5000 + n % 7, "tags": ["vip"] if n % 5 == 0 else [],
        "created_at": iso(START + n // 3), "updated_at": iso(START + n // 3), "user_fields": {"tier": "gold"},
    }


def make_ticket(n: int) -> dict[str, Any]:
    return {
        "id": 20 + n, "url": f"https://fake.zendesk.com/api/v2/tickets/{20 + n}.json", "subject": f"Ticket {n}",
        "description": f"Help with {n}", "status": ("new", "open", "solved")[n % 3], "priority": "normal",
        "type": "question", "requester_id": 1000 + n % 10, "assignee_id": None, "tags": [], "custom_fields": [],
        "created_at": iso(START + n), "updated_at": iso(START + n), "generated_timestamp": START + n,
        "via": {"channel": "web"},
    }


def make_organization(n: int) -> dict[str, Any]:
    """An organization; organizations are stamped in pairs."""
    return {
        "id": 5000 + n, "url": f"https://fake.zendesk.com/api/v2/organizations/{5000 + n}.json", "name": f"Org {n}",
        "domain_names": [f"org{n}.example.com"], "details": "", "notes": "", "group_id": None,
        "shared_tickets": False, "shared_comments": False, "tags": [], "organization_fields": {},
        "created_at": iso(START + n // 2), "updated_at": iso(START + n // 2),
    }


MAKERS = {"users": make_user, "tickets": make_ticket, "organizations": make_organization}


def _stamp(record: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(record["updated_at"]).timestamp())


def _encode(*parts: int) -> str:
    return base64.urlsafe_b64encode("|".join(map(str, parts)).encode()).decode()


def _decode(cursor: str, count: int) -> tuple[int, ...] | None:
    try:
        parts = tuple(int(p) for p in base64.urlsafe_b64decode(cursor.encode()).decode().split("|"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return parts if len(parts) == count else None


def _error(status: int, error: str, description: str | None = None, **headers: str) -> JSONResponse:
    body = {"error": error} if description is None else {"error": error, "description": description}
    return JSONResponse(body, status, headers=headers)


def _int(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None


class FakeZendesk:
    def __init__(self, users: int | Iterable[dict[str, Any]] = 20, tickets: int | Iterable[dict[str, Any]] = 10,
                 organizations: int | Iterable[dict[str, Any]] = 9, *, export_limit: int | None = None,
                 clock: Any = time.time) -> None:
        self.clock = clock
        self.tokens = {TOKEN}
        self.api_tokens = dict([API_USER])
        self.export_limit = export_limit
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._exports: list[float] = []
        self._throttle = Throttle()
        self._lock = threading.Lock()
        self.records: dict[str, dict[int, dict[str, Any]]] = {}
        self._by_time: dict[str, list[tuple[int, int]]] = {}
        for name, given in (("users", users), ("tickets", tickets), ("organizations", organizations)):
            rows = [MAKERS[name](n) for n in range(given)] if isinstance(given, int) else list(given)
            self.records[name] = {row["id"]: row for row in rows}
            self._by_time[name] = sorted((_stamp(row), row["id"]) for row in rows)
        self.app = Starlette(routes=[
            Route("/api/v2/users/me.json", self.me),
            Route("/api/v2/incremental/{resource}/cursor.json", self.cursor_export),
            Route("/api/v2/incremental/{resource}.json", self.time_export),
            Route("/api/v2/{resource}.json", self.listed),
        ])

    # Test controls.

    def throttle(self, times: int, retry_after: int = 1) -> None:
        """The next `times` requests get 429 with Retry-After: `retry_after`."""
        self._throttle.arm(times, retry_after)

    def change(self, resource: str, record_id: int, at: int | None = None, **values: Any) -> dict[str, Any]:
        """Edit a record (or add one with `values`), stamping updated_at with `at` (default: now)."""
        with self._lock:
            table = self.records[resource]
            record = table.get(record_id)
            if record is None:
                record = {**MAKERS[resource](0), "id": record_id}
                table[record_id] = record
            else:
                self._by_time[resource].remove((_stamp(record), record_id))
            record.update(values, updated_at=iso(int(self.clock()) if at is None else at))
            bisect.insort(self._by_time[resource], (_stamp(record), record_id))
            return dict(record)

    # Plumbing.

    def _refusal(self, request: Request, *, anonymous_ok: bool = False) -> Response | None:
        """Why the request is refused (auth, rate limit), or None."""
        self.requests.append((request.url.path, dict(request.query_params)))
        if (throttled := self._throttle.take()) is not None:
            return _error(429, "APIRateLimitExceeded", "Number of allowed API requests per minute exceeded",
                          **throttled)
        if bearer_token(request) in self.tokens:
            return None
        if (basic := basic_credentials(request)) is not None:
            user, secret = basic
            email, _, kind = user.partition("/")
            if kind == "token" and self.api_tokens.get(email) == secret:
                return None
        if not request.headers.get("Authorization") and anonymous_ok:
            return None
        return _error(401, "Couldn't authenticate you")

    def _export_refusal(self, request: Request) -> Response | None:
        if self.export_limit is None:
            return None
        now = self.clock()
        self._exports = [t for t in self._exports if t > now - 60]
        if len(self._exports) >= self.export_limit:
            wait = max(1, int(self._exports[0] + 60 - now) + 1)
            return _error(429, "APIRateLimitExceeded", "Number of allowed incremental export API requests per minute "
                          "exceeded", **{"Retry-After": str(wait)})
        self._exports.append(now)
        return None

    def _resource(self, request: Request, allowed: Iterable[str]) -> str | None:
        resource = str(request.path_params["resource"])
        return resource if resource in allowed else None

    # Endpoints.

    async def me(self, request: Request) -> Response:
        refusal = self._refusal(request, anonymous_ok=True)
        if refusal is not None:
            return refusal
        if not request.headers.get("Authorization"):
            return JSONResponse({"user": {"id": None, "name": "Anonymous user", "role": "end-user"}})
        return JSONResponse({"user": {"id": 1, "name": "Agent", "email": API_USER[0], "role": "admin"}})

    async def listed(self, request: Request) -> Response:
        refusal = self._refusal(request)
        resource = self._resource(request, RESOURCES)
        if refusal is not None or resource is None:
            return refusal or _error(404, "InvalidEndpoint", "Not found")
        try:
            size = _int(request, "page[size]", LIST_MAX)
        except ValueError as error:
            return _error(400, "InvalidPaginationParameter", str(error))
        assert size is not None
        if not 1 <= size <= LIST_MAX:
            return _error(400, "InvalidPaginationParameter", f"page[size] must be between 1 and {LIST_MAX}")
        after = 0
        if request.query_params.get("page[after]"):
            decoded = _decode(request.query_params["page[after]"], 1)
            if decoded is None:
                return _error(400, "InvalidPaginationParameter", "page[after] is not a valid cursor")
            after = decoded[0]
        with self._lock:
            ids = sorted(self.records[resource])
            start = bisect.bisect_right(ids, after)
            chosen = [dict(self.records[resource][i]) for i in ids[start:start + size]]
            more = start + size < len(ids)
        meta = {"has_more": more, "after_cursor": _encode(chosen[-1]["id"]) if chosen else None,
                "before_cursor": _encode(chosen[0]["id"] - 1) if chosen else None}
        base = f"{request.base_url}api/v2/{resource}.json"
        links = {"next": f"{base}?{urlencode({'page[size]': size, 'page[after]': meta['after_cursor']})}" if more
                 else None, "prev": None}
        return JSONResponse({resource: chosen, "meta": meta, "links": links})

    def _start_time(self, request: Request) -> int | Response:
        try:
            start = _int(request, "start_time")
        except ValueError as error:
            return _error(400, "InvalidValue", str(error))
        if start is None:
            return _error(400, "InvalidValue", "start_time is required")
        if start > self.clock() - LAG:
            return _error(400, "InvalidValue", "Too recent start_time. Use a start_time older than 1 minute")
        return start

    def _per_page(self, request: Request) -> int | Response:
        try:
            size = _int(request, "per_page", EXPORT_MAX)
        except ValueError as error:
            return _error(400, "InvalidValue", str(error))
        assert size is not None
        return max(1, min(size, EXPORT_MAX))

    async def cursor_export(self, request: Request) -> Response:
        refusal = self._refusal(request) or self._export_refusal(request)
        resource = self._resource(request, ("users", "tickets"))
        if refusal is not None or resource is None:
            return refusal or _error(404, "InvalidEndpoint", "Not found")
        size = self._per_page(request)
        if isinstance(size, Response):
            return size
        if request.query_params.get("cursor"):
            decoded = _decode(request.query_params["cursor"], 2)
            if decoded is None:
                return _error(400, "InvalidCursor", "cursor is invalid")
            after = (decoded[0], decoded[1])
        else:
            start = self._start_time(request)
            if isinstance(start, Response):
                return start
            after = (start, -1)
        with self._lock:
            keys = self._by_time[resource]
            cutoff = (int(self.clock()) - LAG, -1)
            first = bisect.bisect_right(keys, after)
            end = bisect.bisect_left(keys, cutoff)
            chosen = keys[first:min(end, first + size)]
            items = [dict(self.records[resource][i]) for _, i in chosen]
            done = first + len(chosen) >= end
        cursor = _encode(*chosen[-1]) if chosen else _encode(*after)
        url = f"{request.base_url}api/v2/incremental/{resource}/cursor.json?{urlencode({'cursor': cursor})}"
        return JSONResponse({resource: items, "after_cursor": cursor, "after_url": url, "before_cursor": None,
                             "before_url": None, "end_of_stream": done})

    async def time_export(self, request: Request) -> Response:
        refusal = self._refusal(request) or self._export_refusal(request)
        resource = self._resource(request, ("organizations",))
        if refusal is not None or resource is None:
            return refusal or _error(404, "InvalidEndpoint", "Not found")
        start = self._start_time(request)
        size = self._per_page(request)
        if isinstance(start, Response) or isinstance(size, Response):
            return start if isinstance(start, Response) else size  # type: ignore[return-value]
        with self._lock:
            keys = self._by_time[resource]
            first = bisect.bisect_left(keys, (start, -1))
            end = bisect.bisect_left(keys, (int(self.clock()) - LAG, -1))
            last = min(end, first + size)
            if last > first:  # every item of the last timestamp, even past per_page
                last = min(end, bisect.bisect_right(keys, (keys[last - 1][0], float("inf"))))  # type: ignore[arg-type]
            chosen = keys[first:last]
            items = [dict(self.records[resource][i]) for _, i in chosen]
            done = last >= end
        end_time = chosen[-1][0] if chosen else start
        if chosen and chosen[0][0] == end_time:
            end_time += 1
        url = f"{request.base_url}api/v2/incremental/{resource}.json?{urlencode({'start_time': end_time})}"
        return JSONResponse({resource: items, "count": len(items), "end_of_stream": done, "end_time": end_time,
                             "next_page": None if done else url})
