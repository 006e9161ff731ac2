"""A fake Salesforce org following the public REST API and Bulk API 2.0 documents for the calls the
connector makes.

- OAuth2: every `/services/data/` call needs `Authorization: Bearer <token>` (401
  `INVALID_SESSION_ID` otherwise); tokens expire after `token_ttl` seconds or on `expire_tokens()`.
  `POST /services/oauth2/token` grants new ones for refresh_token (with the client id and secret),
  client_credentials and urn:ietf:params:oauth:grant-type:jwt-bearer; refusals are 400
  `{"error", "error_description"}`.
- `GET /services/data/vNN.N/limits/`, `…/sobjects/` and `…/sobjects/{name}/describe/`.
- `GET …/query/?q=` and `…/queryAll/?q=` run SOQL (tests/fakes/soql.py) over the org's records
  (queryAll includes deleted ones) and answer one batch (Sforce-Query-Options batchSize, 200–2000,
  capped by `page_size`) with `nextRecordsUrl` for the rest; `GET …/query/{locator}-{offset}` pages on.
- Bulk API 2.0: `POST …/jobs/query` creates a job (InProgress on the first status poll, JobComplete
  on the next), `GET …/jobs/query/{id}` its status, `GET …/jobs/query/{id}/results?maxRecords=&locator=`
  its CSV with `Sforce-Locator` (the string "null" after the last chunk) and `Sforce-NumberOfRecords`.
- Every `throttle_every`-th data call answers 429 with Retry-After: 1; errors are Salesforce's
  `[{"message", "errorCode"}]` lists.
- `api_allowance`, if set, is the org's API request allowance: authenticated data calls beyond it
  answer 403 `REQUEST_LIMIT_EXCEEDED` "TotalRequests Limit exceeded." (`limits/` reports it as
  DailyApiRequests).

`make_app(records=N)` serves N generated Contacts (or the given Contact dicts); `upsert` and `delete`
change records as Salesforce would (LastModifiedDate and SystemModstamp move to now).
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes import soql
from tests.fakes.access import bearer_token

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
TOKEN = "00Dfake!good-token"
REFRESH_TOKEN = "5Aep-refresh-token"
CLIENT_ID, CLIENT_SECRET = "3MVG9-client-id", "client-secret"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIzTVZHOSJ9.c2lnbmF0dXJl"
SYSTEM = [("Id", "id", "Record ID"), ("IsDeleted", "boolean", "Deleted"), ("CreatedDate", "datetime", "Created Date"),
          ("LastModifiedDate", "datetime", "Last Modified Date"), ("SystemModstamp", "datetime", "System Modstamp")]
SCHEMA: dict[str, dict[str, Any]] = {
    "Contact": {"label": "Contact", "prefix": "003", "fields": [*SYSTEM,
        ("FirstName", "string", "First Name"), ("LastName", "string", "Last Name"), ("Email", "email", "Email"),
        ("Phone", "phone", "Business Phone"), ("Birthdate", "date", "Birthdate"),
        ("LeadScore__c", "double", "Lead Score"), ("NumberOfPets__c", "int", "Number of Pets"),
        ("HasOptedOutOfEmail", "boolean", "Email Opt Out"), ("Description", "textarea", "Contact Description"),
        ("MailingAddress", "address", "Mailing Address")]},
    "Account": {"label": "Account", "prefix": "001", "fields": [*SYSTEM,
        ("Name", "string", "Account Name"), ("Industry", "picklist", "Industry"),
        ("AnnualRevenue", "currency", "Annual Revenue")]},
    "ContactChangeEvent": {"label": "Contact Change Event", "prefix": "1CE", "queryable": False,
                           "fields": [("Id", "id", "Event ID")]},
}


def error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code}], status, headers=dict(headers or {}))


def oauth_error(code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, 400)


def contact(i: int) -> dict[str, Any]:
    """The i-th generated Contact; modification times step a second every three records, so Ids break ties."""
    modified = BASE_TIME + timedelta(seconds=i // 3)
    return {
        "Id": f"003{i:012d}", "IsDeleted": False, "CreatedDate": BASE_TIME, "LastModifiedDate": modified,
        "SystemModstamp": modified, "FirstName": f"First{i}" if i % 11 != 10 else None, "LastName": f"Last{i}",
        "Email": f"person{i}@example.com", "Phone": f"+1415555{i % 10000:04d}",
        "Birthdate": date(1980 + i % 30, 1 + i % 12, 1 + i % 28), "LeadScore__c": (i % 100) / 2,
        "NumberOfPets__c": i % 4 if i % 5 else None, "HasOptedOutOfEmail": i % 2 == 0,
        "Description": "Line one\nline 'two', \"quoted\"" if i % 7 == 0 else None,
        "MailingAddress": {"city": "Springfield", "country": "US"} if i % 3 == 0 else None,
    }


def rendered(value: Any) -> Any:
    """A value as the REST API writes it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_value(value: Any) -> str:
    """A value as Bulk API 2.0 writes it in CSV (null as an empty field)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class Cursor:
    entity: str
    fields: list[str]
    rows: list[Mapping[str, Any]]


@dataclass
class Job:
    id: str
    operation: str
    entity: str
    fields: list[str]
    rows: list[Mapping[str, Any]]
    polls: int = 0
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


class FakeSalesforce:
    """The org's state and its ASGI app (the instance is the app)."""

    def __init__(self, records: int | Iterable[Mapping[str, Any]] = 25, page_size: int = 2000,
                 token_ttl: float | None = None, throttle_every: int | None = None) -> None:
        self.page_size = page_size
        self.token_ttl = token_ttl
        self.throttle_every = throttle_every
        self.api_allowance: int | None = None
        self.tokens: dict[str, float] = {TOKEN: time.monotonic()}
        self.refresh_tokens = {REFRESH_TOKEN}
        self.clients = {CLIENT_ID: CLIENT_SECRET}
        self.jwts = {JWT}
        self.data: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SCHEMA}
        rows = (contact(i) for i in range(records)) if isinstance(records, int) else records
        for row in rows:
            self._store("Contact", dict(row))
        for i, (name, industry) in enumerate([("Acme", "Retail"), ("Globex", "Energy"), ("Initech", None)]):
            self._store("Account", {"Id": f"001{i:012d}", "IsDeleted": False, "CreatedDate": BASE_TIME,
                                    "LastModifiedDate": BASE_TIME, "SystemModstamp": BASE_TIME, "Name": name,
                                    "Industry": industry, "AnnualRevenue": 1000.0 * (i + 1)})
        self.cursors: dict[str, Cursor] = {}
        self.jobs: dict[str, Job] = {}
        self.queries: list[str] = []  # every SOQL text received, in order
        self.calls: list[str] = []  # every data call, "METHOD /path"
        self.token_grants: list[str] = []
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[
            Route("/services/oauth2/token", self.token, methods=["POST"]),
            Route("/services/data/{version}/limits/", self.limits),
            Route("/services/data/{version}/sobjects/", self.sobjects),
            Route("/services/data/{version}/sobjects/{name}/describe/", self.describe),
            Route("/services/data/{version}/query/", self.query),
            Route("/services/data/{version}/queryAll/", self.query),
            Route("/services/data/{version}/query/{locator}", self.more),
            Route("/services/data/{version}/jobs/query", self.create_job, methods=["POST"]),
            Route("/services/data/{version}/jobs/query/{job}", self.job_status),
            Route("/services/data/{version}/jobs/query/{job}/results", self.job_results),
        ])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    # Changing the org.

    def _store(self, entity: str, row: dict[str, Any]) -> None:
        names = [name for name, _, _ in SCHEMA[entity]["fields"]]
        self.data[entity][row["Id"]] = {name: row.get(name) for name in names} | {"IsDeleted": bool(row.get("IsDeleted"))}

    def now(self) -> datetime:
        """Now, in whole seconds, and after every modification time in the org."""
        latest = max((r["SystemModstamp"] for rows in self.data.values() for r in rows.values()
                      if r.get("SystemModstamp")), default=BASE_TIME)
        return max(datetime.now(UTC).replace(microsecond=0), latest + timedelta(seconds=1))

    def upsert(self, entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update a record; its LastModifiedDate and SystemModstamp become now."""
        current = self.data[entity].get(str(row["Id"]), {"CreatedDate": self.now()})
        now = self.now()
        self._store(entity, {**current, **row, "LastModifiedDate": now, "SystemModstamp": now})
        return self.data[entity][str(row["Id"])]

    def delete(self, entity: str, record_id: str) -> None:
        """Move a record to the recycle bin: IsDeleted, seen by queryAll only."""
        now = self.now()
        self.data[entity][record_id].update(IsDeleted=True, SystemModstamp=now)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # Authentication.

    def _authorized(self, request: Request) -> JSONResponse | None:
        self.calls.append(f"{request.method} {request.url.path}")
        if self.throttle_every and len(self.calls) % self.throttle_every == 0:
            return error(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests", {"Retry-After": "1"})
        token = bearer_token(request) or ""
        issued = self.tokens.get(token)
        if issued is None or (self.token_ttl is not None and time.monotonic() - issued > self.token_ttl):
            self.tokens.pop(token, None)
            return error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.api_allowance is not None and len(self.calls) > self.api_allowance:
            return error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        return None

    async def token(self, request: Request) -> Response:
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        grant = str(form.get("grant_type", ""))
        self.token_grants.append(grant)
        if grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return oauth_error("invalid_grant", "expired access/refresh token")
            if form.get("client_id") not in self.clients:
                return oauth_error("invalid_client_id", "client identifier invalid")
            if form.get("client_secret") != self.clients[str(form.get("client_id"))]:
                return oauth_error("invalid_client", "invalid client credentials")
        elif grant == "client_credentials":
            if self.clients.get(str(form.get("client_id"))) != form.get("client_secret"):
                return oauth_error("invalid_client", "invalid client credentials")
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            if form.get("assertion") not in self.jwts:
                return oauth_error("invalid_grant", "invalid assertion")
        else:
            return oauth_error("unsupported_grant_type", "grant type not supported")
        token = f"00Dfake!{secrets.token_hex(8)}"
        self.tokens[token] = time.monotonic()
        return JSONResponse({"access_token": token, "instance_url": str(request.base_url).rstrip("/"),
                             "id": "https://login.salesforce.com/id/00Dfake/005fake", "token_type": "Bearer",
                             "issued_at": str(int(time.time() * 1000)), "signature": "fake"})

    # Metadata.

    async def limits(self, request: Request) -> Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        allowance = 15000 if self.api_allowance is None else self.api_allowance
        return JSONResponse({"DailyApiRequests": {"Max": allowance, "Remaining": allowance - len(self.calls)}})

    async def sobjects(self, request: Request) -> Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        version = request.path_params["version"]
        return JSONResponse({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
            {"name": name, "label": spec["label"], "labelPlural": spec["label"] + "s", "keyPrefix": spec["prefix"],
             "custom": name.endswith("__c"), "queryable": spec.get("queryable", True),
             "urls": {"describe": f"/services/data/{version}/sobjects/{name}/describe"}}
            for name, spec in SCHEMA.items()
        ]})

    async def describe(self, request: Request) -> Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        name = request.path_params["name"]
        if name not in SCHEMA:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        return JSONResponse({"name": name, "label": SCHEMA[name]["label"], "queryable": True, "fields": [
            {"name": field_name, "label": label, "type": kind, "nillable": field_name not in ("Id", "IsDeleted"),
             "filterable": kind not in ("textarea", "address"), "sortable": kind not in ("textarea", "address")}
            for field_name, kind, label in SCHEMA[name]["fields"]
        ]})

    # Queries.

    def types(self, entity: str) -> dict[str, str]:
        if entity not in SCHEMA or not SCHEMA[entity].get("queryable", True):
            raise soql.SoqlError("INVALID_TYPE", f"sObject type '{entity}' is not supported.")
        return {name: kind for name, kind, _ in SCHEMA[entity]["fields"]}

    def _run(self, text: str, deleted: bool) -> tuple[soql.Query, list[Mapping[str, Any]]]:
        self.queries.append(text)
        query = soql.parse(text, self.types)
        rows = [r for r in self.data[query.entity].values() if deleted or not r["IsDeleted"]]
        return query, soql.run(query, rows, self.types(query.entity))

    def _batch(self, request: Request, cursor_id: str, offset: int) -> Response:
        cursor = self.cursors[cursor_id]
        options = dict(part.strip().split("=", 1) for part in request.headers.get("Sforce-Query-Options", "").split(",")
                       if "=" in part)
        size = min(self.page_size, max(200, min(2000, int(options.get("batchSize", 2000)))))
        version = request.path_params["version"]
        rows = cursor.rows[offset:offset + size]
        body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": offset + size >= len(cursor.rows), "records": [
            {"attributes": {"type": cursor.entity, "url": f"/services/data/{version}/sobjects/{cursor.entity}/{r['Id']}"},
             **{name: rendered(r.get(name)) for name in cursor.fields}}
            for r in rows
        ]}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{cursor_id}-{offset + size}"
        return JSONResponse(body)

    async def query(self, request: Request) -> Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        text = request.query_params.get("q")
        if not text:
            return error(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            query, rows = self._run(text, request.url.path.rstrip("/").endswith("queryAll"))
        except soql.SoqlError as failure:
            return error(400, failure.code, failure.message)
        if query.count:
            return JSONResponse({"totalSize": len(rows), "done": True, "records": []})
        cursor_id = f"01gFAKE{next(self._ids):08d}"
        self.cursors[cursor_id] = Cursor(query.entity, query.fields, rows)
        return self._batch(request, cursor_id, 0)

    async def more(self, request: Request) -> Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        cursor_id, _, offset = request.path_params["locator"].rpartition("-")
        if cursor_id not in self.cursors or not offset.isdigit():
            return error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._batch(request, cursor_id, int(offset))

    # Bulk API 2.0 query jobs.

    def _job_body(self, job: Job, state: str) -> dict[str, Any]:
        return {"id": job.id, "operation": job.operation, "object": job.entity, "createdById": "005fake",
                "createdDate": rendered(job.created), "systemModstamp": rendered(job.created), "state": state,
                "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": 60.0, "lineEnding": "LF",
                "columnDelimiter": "COMMA", **({"numberRecordsProcessed": len(job.rows)} if state == "JobComplete"
                                               else {})}

    async def create_job(self, request: Request) -> Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        body = await request.json()
        operation, text = body.get("operation"), body.get("query", "")
        if operation not in ("query", "queryAll"):
            return error(400, "INVALIDJOB", f"Invalid operation: {operation}")
        try:
            query, rows = self._run(text, operation == "queryAll")
        except soql.SoqlError as failure:
            return error(400, failure.code, failure.message)
        if query.count or query.order or query.limit is not None:
            return error(400, "API_ERROR", "Bulk API 2.0 query jobs do not support COUNT(), ORDER BY or LIMIT")
        types = self.types(query.entity)
        if any(types[name] in ("address", "location") for name in query.fields):
            return error(400, "API_ERROR", "Bulk API 2.0 does not return compound fields")
        job = Job(f"750FAKE{next(self._ids):08d}", operation, query.entity, query.fields, rows)
        self.jobs[job.id] = job
        return JSONResponse(self._job_body(job, "UploadComplete"))

    async def job_status(self, request: Request) -> Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        job = self.jobs.get(request.path_params["job"])
        if job is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        job.polls += 1
        return JSONResponse(self._job_body(job, "InProgress" if job.polls == 1 else "JobComplete"))

    async def job_results(self, request: Request) -> Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        job = self.jobs.get(request.path_params["job"])
        if job is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        if job.polls < 2:
            return error(400, "INVALIDJOB", f"Job {job.id} is not complete")
        locator = request.query_params.get("locator")
        offset = int(base64.urlsafe_b64decode(locator).decode()) if locator else 0
        size = int(request.query_params.get("maxRecords") or len(job.rows) or 1)
        rows = job.rows[offset:offset + size]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(job.fields)
        writer.writerows([csv_value(r.get(name)) for name in job.fields] for r in rows)
        following = offset + size
        next_locator = base64.urlsafe_b64encode(str(following).encode()).decode() if following < len(job.rows) else "null"
        return Response(out.getvalue(), media_type="text/csv", headers={
            "Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(len(rows))})


def make_app(records: int | Iterable[Mapping[str, Any]] = 25, page_size: int = 2000, token_ttl: float | None = None,
             throttle_every: int | None = None) -> FakeSalesforce:
    """A fake org with `records` Contacts (a count to generate, or the rows) and three Accounts."""
    return FakeSalesforce(records, page_size, token_ttl, throttle_every)
