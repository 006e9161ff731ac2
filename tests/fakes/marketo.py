"""A fake Marketo Engage REST API for the calls the Marketo connector makes, as Marketo documents them.

- Identity: `GET /identity/oauth/token?grant_type=client_credentials&client_id=…&client_secret=…`
  gives `{access_token, token_type, expires_in, scope}`; wrong credentials get HTTP 401
  `{"error": "invalid_client", "error_description": "Bad client credentials"}`.
- REST calls take `Authorization: Bearer <token>` (or `access_token=`). Errors come with HTTP 200,
  `success: false` and `errors: [{code, message}]`: 600 no token, 601 invalid token, 602 expired
  token (`expire_tokens()` ages every issued token), 606 rate limit and 607 daily quota
  (`rate_limit(n, code)` injects them), 701 missing parameter, 1003 invalid value.
- leads/describe.json, activities/types.json, activities/pagingtoken.json (`sinceDatetime`),
  activities.json (`activityTypeIds`, at most 10, `nextPageToken`, `batchSize` ≤ 300),
  activities/leadchanges.json (`fields`: New Lead activities and Change Data Value activities of
  those fields) and leads.json by `filterType`/`filterValues` (≤ 300, exact match, also as
  POST with `_method=GET`). Paging tokens are positions in the activity log, which only grows.
- Data changes through `add_lead`, `update_lead` and `add_activity`: each change is logged as the
  activity Marketo would record, so the change feed sees it.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.access import bearer_token

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
START = datetime(2024, 1, 1, tzinfo=UTC)  # generated data starts here
NEW_LEAD, CHANGE_DATA_VALUE, VISIT_WEBPAGE, FILL_OUT_FORM = 12, 13, 1, 2
MAX_BATCH = 300

LEAD_FIELDS = [  # (id, REST name, display name, dataType)
    (1, "id", "Id", "integer"), (2, "email", "Email Address", "email"), (3, "firstName", "First Name", "string"),
    (4, "lastName", "Last Name", "string"), (5, "phone", "Phone Number", "phone"),
    (6, "company", "Company Name", "string"), (7, "leadScore", "Lead Score", "score"),
    (8, "dateOfBirth", "Date of Birth", "date"), (9, "unsubscribed", "Unsubscribed", "boolean"),
    (10, "annualRevenue", "Annual Revenue", "currency"), (11, "createdAt", "Created At", "datetime"),
    (12, "updatedAt", "Updated At", "datetime"), (13, "sfdcContactId", "SFDC Contact ID", "string"),
]
ACTIVITY_TYPES = [
    {"id": VISIT_WEBPAGE, "name": "Visit Webpage", "description": "User visits a web page",
     "primaryAttribute": {"name": "Webpage ID", "dataType": "integer"},
     "attributes": [{"name": "Client IP Address", "dataType": "string"}, {"name": "Webpage URL", "dataType": "string"}]},
    {"id": FILL_OUT_FORM, "name": "Fill Out Form", "description": "User fills out and submits form on web page",
     "primaryAttribute": {"name": "Webform ID", "dataType": "integer"},
     "attributes": [{"name": "Client IP Address", "dataType": "string"}, {"name": "Form Fields", "dataType": "text"}]},
    {"id": NEW_LEAD, "name": "New Lead", "description": "New person/record is added to the lead database",
     "primaryAttribute": {"name": "Lead ID", "dataType": "integer"},
     "attributes": [{"name": "Source Type", "dataType": "string"}]},
    {"id": CHANGE_DATA_VALUE, "name": "Change Data Value", "description": "Changed attribute value for a person",
     "primaryAttribute": {"name": "Attribute Name", "dataType": "integer"},
     "attributes": [{"name": "New Value", "dataType": "string"}, {"name": "Old Value", "dataType": "string"},
                    {"name": "Reason", "dataType": "string"}]},
]
DEFAULT_FIELDS = ("id", "email", "updatedAt", "createdAt", "firstName", "lastName")

class JSONResponse(StarletteJSONResponse):
    """Starlette's JSON response, encoded with orjson (the fake serves 100k records quickly)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)

#: How many calls a fake remembers for tests to inspect.
CALLS_KEPT = 100


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_lead(n: int) -> dict[str, Any]:
    """Lead n's fields, created n seconds after START."""
    return {"email": f"lead{n}@example.com", "firstName": "Lead", "lastName": str(n), "phone": f"+1206555{n % 10000:04d}",
            "company": f"Company {n % 97}", "leadScore": n % 100, "createdAt": iso(START + timedelta(seconds=n))}


class FakeMarketo:
    """The instance the fake serves: leads, the activity log and issued tokens."""

    def __init__(self, leads: int | Iterable[dict[str, Any]] = 0, client_id: str = CLIENT_ID,
                 client_secret: str = CLIENT_SECRET, token_ttl: int = 3600) -> None:
        self.client_id, self.client_secret, self.token_ttl = client_id, client_secret, token_ttl
        self.lock = threading.Lock()
        self.leads: dict[int, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []  # activities in date order
        self.dates: list[str] = []  # their activityDate, for bisecting (ISO strings sort by time)
        self.tokens: dict[str, float] = {}  # access token -> expiry (time.monotonic)
        #: The latest calls (method or path, parameters), oldest first.
        self.calls: deque[tuple[str, dict[str, str]]] = deque(maxlen=CALLS_KEPT)
        self._ids = itertools.count(1)
        self._activity_ids = itertools.count(1)
        self._injected: list[str] = []
        generated = (make_lead(n) for n in range(1, leads + 1)) if isinstance(leads, int) else leads
        for number, fields in enumerate(generated, 1):
            self.add_lead(at=START + timedelta(seconds=number), **fields)

    # Changing the data.

    def add_activity(self, lead_id: int, type_id: int, at: datetime | None = None, primary: Any = None,
                     **extra: Any) -> dict[str, Any]:
        number = next(self._activity_ids)
        date = iso(at or datetime.now(UTC))
        if self.dates and date < self.dates[-1]:
            raise ValueError("the activity log only grows: an activity cannot predate the last one")
        activity = {"id": number, "marketoGUID": f"{number}", "leadId": lead_id, "activityDate": date,
                    "activityTypeId": type_id, "primaryAttributeValueId": primary, "primaryAttributeValue": str(primary),
                    **extra}
        with self.lock:
            self.log.append(activity)
            self.dates.append(date)
        return activity

    def add_lead(self, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
        moment = at or datetime.now(UTC)
        lead_id = next(self._ids)
        lead = {"id": lead_id, **{name: None for _, name, _, _ in LEAD_FIELDS[1:]}, **fields}
        lead.setdefault("createdAt", iso(moment))
        lead["createdAt"] = lead["createdAt"] or iso(moment)
        lead["updatedAt"] = iso(moment)
        with self.lock:
            self.leads[lead_id] = lead
        self.add_activity(lead_id, NEW_LEAD, moment, lead_id, attributes=[{"name": "Source Type", "value": "API"}])
        return lead

    def update_lead(self, lead_id: int, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
        moment = at or datetime.now(UTC)
        lead = self.leads[lead_id]
        for name, value in fields.items():
            field_id = next(i for i, rest, _, _ in LEAD_FIELDS if rest == name)
            change = {"id": field_id, "name": name, "newValue": value, "oldValue": lead.get(name)}
            self.add_activity(lead_id, CHANGE_DATA_VALUE, moment, field_id, fields=[change], attributes=[
                {"name": "New Value", "value": value}, {"name": "Old Value", "value": lead.get(name)},
                {"name": "Reason", "value": "API"}])
            lead[name] = value
        lead["updatedAt"] = iso(moment)
        return lead

    def expire_tokens(self) -> None:
        """Every token issued so far has expired (602 on next use)."""
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def rate_limit(self, calls: int, code: str = "606") -> None:
        """The next `calls` REST calls fail with `code` (606 rate limit, 607 daily quota, …)."""
        self._injected = [code] * calls

    # The API.

    async def identity(self, request: Request) -> Response:
        params = request.query_params
        self.calls.append(("identity", dict(params)))
        if params.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "invalid_request", "error_description": "Missing grant type"}, 400)
        if params.get("client_id") != self.client_id or params.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "invalid_client", "error_description": "Bad client credentials"}, 401)
        token = f"{secrets.token_hex(8)}:ab"
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": self.token_ttl,
                             "scope": "api@example.com"})

    async def rest(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            if params.pop("_method", None) != "GET":
                return _failure("1003", "Only _method=GET is supported on POST here")
            params.update(parse_qsl((await request.body()).decode()))  # application/x-www-form-urlencoded
        name = request.path_params["name"]
        self.calls.append((name, params))
        token = bearer_token(request) or params.get("access_token")
        if not token:
            return _failure("600", "Access token not specified")
        expiry = self.tokens.get(token)
        if expiry is None:
            return _failure("601", "Access token invalid")
        if time.monotonic() >= expiry:
            return _failure("602", "Access token expired")
        if self._injected:
            code = self._injected.pop()
            return _failure(code, {"606": "Max rate limit '100' exceeded with in '20' secs",
                                   "607": "Daily quota reached"}.get(code, "Injected error"))
        handler = {
            "leads/describe.json": self.describe_leads, "activities/types.json": self.activity_types,
            "activities/pagingtoken.json": self.paging_token, "activities.json": self.activities,
            "activities/leadchanges.json": self.lead_changes, "leads.json": self.query_leads,
        }.get(name)
        if handler is None:
            return JSONResponse({"requestId": _request_id(), "success": False,
                                 "errors": [{"code": "610", "message": "Requested resource not found"}]}, 404)
        with self.lock:
            return handler(params)

    def describe_leads(self, params: dict[str, str]) -> Response:
        return _success([{"id": i, "displayName": label, "dataType": kind, "length": 255 if kind == "string" else None,
                          "rest": {"name": name, "readOnly": name in ("id", "createdAt", "updatedAt")},
                          "soap": {"name": name[:1].upper() + name[1:], "readOnly": False}}
                         for i, name, label, kind in LEAD_FIELDS])

    def activity_types(self, params: dict[str, str]) -> Response:
        return _success(ACTIVITY_TYPES)

    def paging_token(self, params: dict[str, str]) -> Response:
        since = params.get("sinceDatetime")
        if not since:
            return _failure("701", "sinceDatetime cannot be blank")
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            return _failure("1003", f"Invalid sinceDatetime '{since}'")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        position = bisect.bisect_left(self.dates, iso(moment))
        return JSONResponse({"requestId": _request_id(), "success": True, "nextPageToken": _token(position)})

    @staticmethod
    def _batch(params: dict[str, str]) -> int | None:
        try:
            batch = int(params.get("batchSize") or MAX_BATCH)
        except ValueError:
            return None
        return min(batch, MAX_BATCH) if batch > 0 else None

    def _scan(self, params: dict[str, str], keep: Any, shape: Any) -> Response:
        """Activities from the token's position on that `keep` accepts, `batchSize` at most."""
        position = _position(params.get("nextPageToken"))
        batch = self._batch(params)
        if position is None:
            return _failure("1003", "Invalid nextPageToken")
        if batch is None:
            return _failure("1003", "Invalid batchSize")
        found: list[dict[str, Any]] = []
        while position < len(self.log) and len(found) < batch:
            activity = self.log[position]
            position += 1
            if keep(activity):
                found.append(shape(activity))
        body: dict[str, Any] = {"requestId": _request_id(), "success": True, "nextPageToken": _token(position),
                                "moreResult": position < len(self.log)}
        if found:
            body["result"] = found
        return JSONResponse(body)

    def activities(self, params: dict[str, str]) -> Response:
        if not params.get("activityTypeIds"):
            return _failure("701", "activityTypeIds cannot be blank")
        try:
            types = {int(t) for t in params["activityTypeIds"].split(",")}
        except ValueError:
            return _failure("1003", "Invalid activityTypeIds")
        if len(types) > 10:
            return _failure("1003", "Only 10 activityTypeIds allowed")
        return self._scan(params, lambda a: a["activityTypeId"] in types,
                          lambda a: {k: v for k, v in a.items() if k != "fields"})

    def lead_changes(self, params: dict[str, str]) -> Response:
        if not params.get("fields"):
            return _failure("701", "fields cannot be blank")
        fields = set(params["fields"].split(","))

        def keep(activity: dict[str, Any]) -> bool:
            if activity["activityTypeId"] == NEW_LEAD:
                return True
            return activity["activityTypeId"] == CHANGE_DATA_VALUE and activity["fields"][0]["name"] in fields

        return self._scan(params, keep, lambda a: a)

    def query_leads(self, params: dict[str, str]) -> Response:
        kind, values = params.get("filterType"), params.get("filterValues")
        if not kind or not values:
            return _failure("701", "filterType and filterValues cannot be blank")
        wanted = values.split(",")
        if len(wanted) > MAX_BATCH:
            return _failure("1003", f"filterValues exceeds the maximum of {MAX_BATCH}")
        if kind not in {name for _, name, _, _ in LEAD_FIELDS}:
            return _failure("1003", f"Invalid filterType '{kind}'")
        fields = params.get("fields", "").split(",") if params.get("fields") else list(DEFAULT_FIELDS)
        unknown = [f for f in fields if f not in {name for _, name, _, _ in LEAD_FIELDS}]
        if unknown:
            return _failure("1006", f"Field '{unknown[0]}' not found")
        if kind == "id":
            chosen = [self.leads[int(v)] for v in wanted if v.isdigit() and int(v) in self.leads]
        else:
            chosen = [lead for lead in self.leads.values() if str(lead.get(kind)) in wanted]
        return _success([{"id": lead["id"], **{f: lead.get(f) for f in fields}} for lead in chosen])

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/identity/oauth/token", self.identity),
            Route("/rest/v1/{name:path}", self.rest, methods=["GET", "POST"]),
        ])


def _request_id() -> str:
    return f"{secrets.token_hex(2)}#{secrets.token_hex(6)}"


def _success(result: list[Any]) -> Response:
    return JSONResponse({"requestId": _request_id(), "success": True, "result": result})


def _failure(code: str, message: str) -> Response:
    return JSONResponse({"requestId": _request_id(), "success": False, "errors": [{"code": code, "message": message}]})


def _token(position: int) -> str:
    return base64.b32encode(f"log:{position}".encode()).decode().rstrip("=")


def _position(token: str | None) -> int | None:
    if not token:
        return None
    try:
        kind, _, value = base64.b32decode(token + "=" * (-len(token) % 8)).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return int(value) if kind == "log" and value.isdigit() else None


def make_app(leads: int | Iterable[dict[str, Any]] = 0, **kwargs: Any) -> tuple[FakeMarketo, Starlette]:
    """The fake (with `leads` generated or given leads) and its ASGI app."""
    fake = FakeMarketo(leads, **kwargs)
    return fake, fake.app()
