"""A fake ServiceNow instance for the calls the ServiceNow connector makes, as ServiceNow documents them.

- Auth: basic (`username`/`password`) or `Authorization: Bearer` with a token from `POST /oauth_token.do`
  (form: grant_type password, refresh_token or authorization_code, with client_id/client_secret;
  answers access_token, refresh_token, expires_in). Access tokens expire after `token_ttl` seconds.
  A refusal is 401 `{"error": {"message": "User Not Authenticated", "detail": ...}, "status": "failure"}`;
  the token endpoint's is 401 `{"error_description": "access_denied", "error": "server_error"}`.
- Table API `GET /api/now/table/{table}`: `sysparm_query` (encoded query: `^` and, `^OR` or binding
  tighter, `^NQ` new query; `=`, `!=`, `>`, `>=`, `<`, `<=`, LIKE, NOT LIKE, STARTSWITH, ENDSWITH,
  IN, NOT IN, ISEMPTY, ISNOTEMPTY, BETWEEN `a@b`; ORDERBY/ORDERBYDESC; times as plain UTC text or
  `javascript:gs.dateGenerate('date','time')` (the fake's users are on UTC); text compared without
  regard to case, numbers as numbers; a condition on an unknown field is ignored, as ServiceNow does by
  default), `sysparm_fields`, `sysparm_limit` (default 10000), `sysparm_offset`,
  `sysparm_exclude_reference_link` (references are `{link, value}` otherwise) and `sysparm_no_count`
  (else `X-Total-Count`); a `Link` header with first/prev/next/last. A parent table's query returns
  its child tables' records too (task holds incidents).
- Metadata: `sys_db_object` (name, label, super_class) and `sys_dictionary` (name, element,
  internal_type, column_label, mandatory) rows describe every table, themselves included.
- `throttle(n)` makes the next n requests answer 429 with Retry-After; unknown tables 400
  `Invalid table NAME`.
- Data: `FakeServiceNow(users=N, incidents=M)` generates records (or takes them as given); `change`
  edits a record and stamps sys_updated_on, so tests see incremental pulls.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.access import Throttle, basic_credentials, bearer_token

USER = ("integration", "s3cret")
CLIENT = ("sn-client", "sn-client-secret")
START = 1_700_000_000
TIME = "%Y-%m-%d %H:%M:%S"
NUMERIC = frozenset({"integer", "longint", "decimal", "float"})
TIMES = frozenset({"glide_date_time", "glide_date", "due_date"})
ROOT_FIELDS = {
    "sys_id": ("GUID", "Sys ID", None), "sys_created_on": ("glide_date_time", "Created", None),
    "sys_created_by": ("string", "Created by", None), "sys_updated_on": ("glide_date_time", "Updated", None),
    "sys_updated_by": ("string", "Updated by", None), "sys_mod_count": ("integer", "Updates", None),
}


@dataclass(frozen=True)
class Table:
    label: str
    parent: str | None
    #: element -> (internal_type, column label, referenced table)
    fields: dict[str, tuple[str, str, str | None]]


SCHEMA: dict[str, Table] = {
    "sys_db_object": Table("Table", None, {**ROOT_FIELDS, "name": ("string", "Name", None),
                                           "label": ("string", "Label", None),
                                           "super_class": ("reference", "Extends table", "sys_db_object")}),
    "sys_dictionary": Table("Dictionary Entry", None, {
        **ROOT_FIELDS, "name": ("string", "Table", None), "element": ("string", "Column name", None),
        "column_label": ("string", "Column label", None),
        "internal_type": ("reference", "Type", "sys_glide_object"), "mandatory": ("boolean", "Mandatory", None),
        "reference": ("reference", "Reference", "sys_db_object")}),
    "sys_user": Table("User", None, {
        **ROOT_FIELDS, "user_name": ("string", "User ID", None), "first_name": ("string", "First name", None),
        "last_name": ("string", "Last name", None), "email": ("email", "Email", None),
        "phone": ("phone_number", "Business phone", None), "mobile_phone": ("phone_number", "Mobile phone", None),
        "city": ("string", "City", None), "country": ("string", "Country code", None),
        "active": ("boolean", "Active", None), "failed_attempts": ("integer", "Failed login attempts", None),
        "last_login_time": ("glide_date_time", "Last login time", None),
        "manager": ("reference", "Manager", "sys_user")}),
    "task": Table("Task", None, {
        **ROOT_FIELDS, "number": ("string", "Number", None), "short_description": ("string", "Short description", None),
        "description": ("string", "Description", None), "state": ("integer", "State", None),
        "priority": ("integer", "Priority", None), "active": ("boolean", "Active", None),
        "opened_by": ("reference", "Opened by", "sys_user"), "opened_at": ("glide_date_time", "Opened", None),
        "sys_class_name": ("sys_class_name", "Task type", None)}),
    "incident": Table("Incident", "task", {
        "caller_id": ("reference", "Caller", "sys_user"), "category": ("string", "Category", None),
        "incident_state": ("integer", "Incident state", None), "impact": ("integer", "Impact", None),
        "resolved_at": ("glide_date_time", "Resolved", None)}),
}


def sys_id(*parts: object) -> str:
    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


def stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(TIME)


def make_user(n: int) -> dict[str, str]:
    """A sys_user record (raw values, as strings); two users share each sys_updated_on second."""
    return {
        "sys_id": sys_id("sys_user", n), "user_name": f"user{n}", "first_name": "User", "last_name": str(n),
        "email": f"user{n}@example.com", "phone": f"+1 415 555 {n % 10000:04d}", "mobile_phone": "",
        "city": ("Paris", "London", "Berlin")[n % 3], "country": ("FR", "GB", "DE")[n % 3],
        "active": "true" if n % 4 else "false", "failed_attempts": str(n % 5), "last_login_time": "",
        "manager": sys_id("sys_user", 0) if n else "", "sys_created_on": stamp(START + n // 2),
        "sys_updated_on": stamp(START + n // 2), "sys_created_by": "admin", "sys_updated_by": "admin",
        "sys_mod_count": "0",
    }


def make_incident(n: int, users: int = 20) -> dict[str, str]:
    return {
        "sys_id": sys_id("incident", n), "number": f"INC{n:07d}", "short_description": f"Printer {n} jammed",
        "description": "", "state": str(1 + n % 3), "priority": str(1 + n % 5), "active": "true",
        "opened_by": sys_id("sys_user", n % max(users, 1)), "opened_at": stamp(START + n),
        "sys_class_name": "incident", "caller_id": sys_id("sys_user", n % max(users, 1)),
        "category": ("inquiry", "software", "hardware")[n % 3], "incident_state": str(1 + n % 3),
        "impact": str(1 + n % 3), "resolved_at": "", "sys_created_on": stamp(START + n),
        "sys_updated_on": stamp(START + n), "sys_created_by": "admin", "sys_updated_by": "admin",
        "sys_mod_count": "0",
    }


def _failure(status: int, message: str, detail: str | None = None, **headers: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "detail": detail}, "status": "failure"}, status,
                        headers=headers)


# --- encoded queries -------------------------------------------------------------------------------

_CONDITION = re.compile(
    r"([a-z0-9_.]+?)(ISNOTEMPTY|ISEMPTY|NOT IN|NOT LIKE|STARTSWITH|ENDSWITH|BETWEEN|LIKE|IN|!=|>=|<=|=|>|<)(.*)",
    re.DOTALL)
_DATE_GENERATE = re.compile(r"javascript:gs\.dateGenerate\('([^']*)',\s*'([^']*)'\)")
Test = Callable[[dict[str, str]], bool]


def _literal(value: str) -> str:
    match = _DATE_GENERATE.fullmatch(value.strip())
    return f"{match.group(1)} {match.group(2)}" if match else value


def _key(kind: str, value: str) -> Any:
    """A value as ServiceNow compares it (None when empty)."""
    if value == "":
        return None
    if kind in NUMERIC:
        try:
            return float(value)
        except ValueError:
            return None
    if kind in TIMES or kind == "boolean":
        return value.lower()
    return value.casefold()


def _condition(term: str, types: dict[str, str]) -> Test | None:
    match = _CONDITION.fullmatch(term)
    if match is None or match.group(1) not in types:
        return None
    field, op, raw = match.groups()
    kind = types[field]

    def value(row: dict[str, str]) -> Any:
        return _key(kind, row.get(field, ""))

    if op == "ISEMPTY":
        return lambda row: value(row) is None
    if op == "ISNOTEMPTY":
        return lambda row: value(row) is not None
    if op in ("IN", "NOT IN"):
        options = {_key(kind, _literal(v)) for v in raw.split(",")}
        return (lambda row: value(row) in options) if op == "IN" else (
            lambda row: value(row) is not None and value(row) not in options)
    if op == "BETWEEN":
        low, _, high = raw.partition("@")
        bounds = (_key(kind, _literal(low)), _key(kind, _literal(high)))
        return lambda row: (v := value(row)) is not None and None not in bounds and bounds[0] <= v <= bounds[1]
    operand = _key(kind, _literal(raw))
    text = str(operand or "")
    tests: dict[str, Test] = {
        "=": lambda row: value(row) == operand,
        "!=": lambda row: value(row) is not None and value(row) != operand,
        ">": lambda row: (v := value(row)) is not None and operand is not None and v > operand,
        ">=": lambda row: (v := value(row)) is not None and operand is not None and v >= operand,
        "<": lambda row: (v := value(row)) is not None and operand is not None and v < operand,
        "<=": lambda row: (v := value(row)) is not None and operand is not None and v <= operand,
        "LIKE": lambda row: text in str(value(row) or ""),
        "NOT LIKE": lambda row: text not in str(value(row) or ""),
        "STARTSWITH": lambda row: str(value(row) or "").startswith(text),
        "ENDSWITH": lambda row: str(value(row) or "").endswith(text),
    }
    return tests[op]


@dataclass
class Query:
    test: Test
    order: list[tuple[str, bool]]  # (field, descending)
    #: A lower bound on sys_updated_on that every match meets (for the index), or None.
    updated_from: str | None


def parse_query(text: str, types: dict[str, str]) -> Query:
    order: list[tuple[str, bool]] = []
    alternatives: list[list[list[Test]]] = []
    bounds: list[str] = []  # lower bounds on sys_updated_on of single-condition groups
    branches = text.split("^NQ") if text else []
    for branch in branches:
        groups: list[list[Test]] = []
        group_bounds: list[str | None] = []
        for term in branch.split("^"):
            if not term or term == "EQ":
                continue
            if term.startswith("ORDERBYDESC"):
                order.append((term[len("ORDERBYDESC"):], True))
            elif term.startswith("ORDERBY"):
                order.append((term[len("ORDERBY"):], False))
            elif term.startswith("OR") and groups:
                alternative = _condition(term[2:], types)
                if alternative is not None:
                    groups[-1].append(alternative)
                    group_bounds[-1] = None
            elif (condition := _condition(term, types)) is not None:
                groups.append([condition])
                bound = re.fullmatch(r"sys_updated_on>=?(.+)", term, re.DOTALL)
                group_bounds.append(_literal(bound.group(1)) if bound else None)
        alternatives.append(groups)
        if len(branches) == 1:
            bounds = [b for b in group_bounds if b is not None]

    def test(row: dict[str, str]) -> bool:
        if not alternatives:
            return True
        return any(all(any(t(row) for t in group) for group in groups) for groups in alternatives)

    return Query(test, order, max(bounds) if bounds else None)


# --- the instance ----------------------------------------------------------------------------------


class FakeServiceNow:
    def __init__(self, users: int | Iterable[dict[str, str]] = 20, incidents: int | Iterable[dict[str, str]] = 10,
                 *, token_ttl: float = 1800.0, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.token_ttl = token_ttl
        self.users = dict([USER])
        self.clients = dict([CLIENT])
        self.access_tokens: dict[str, float] = {}  # token -> expiry
        self.refresh_tokens: set[str] = set()
        self.codes: set[str] = set()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._throttle = Throttle()
        self._lock = threading.Lock()
        self._ordered: dict[str, list[tuple[str, str, dict[str, str]]]] = {}
        self.rows: dict[str, dict[str, dict[str, str]]] = {name: {} for name in SCHEMA}
        count = users if isinstance(users, int) else 0
        for table, given, maker in (("sys_user", users, make_user),
                                    ("incident", incidents, lambda n: make_incident(n, count))):
            for row in ([maker(n) for n in range(given)] if isinstance(given, int) else given):
                self.rows[table][row["sys_id"]] = row
        self._metadata()
        self.app = Starlette(routes=[
            Route("/oauth_token.do", self.token, methods=["POST"]),
            Route("/api/now/table/{table}", self.table),
        ])

    def _metadata(self) -> None:
        created = stamp(START - 86400)
        base = {"sys_created_on": created, "sys_updated_on": created, "sys_created_by": "system",
                "sys_updated_by": "system", "sys_mod_count": "0"}
        for name, table in SCHEMA.items():
            parent = sys_id("sys_db_object", table.parent) if table.parent else ""
            self.rows["sys_db_object"][sys_id("sys_db_object", name)] = {
                **base, "sys_id": sys_id("sys_db_object", name), "name": name, "label": table.label,
                "super_class": parent}
            entries = {"": ("collection", table.label, None), **table.fields}
            for element, (kind, label, reference) in entries.items():
                row_id = sys_id("sys_dictionary", name, element)
                self.rows["sys_dictionary"][row_id] = {
                    **base, "sys_id": row_id, "name": name, "element": element, "column_label": label,
                    "internal_type": kind, "mandatory": "true" if element == "sys_id" else "false",
                    "reference": reference or ""}

    # Test controls.

    def throttle(self, times: int, retry_after: int = 1) -> None:
        self._throttle.arm(times, retry_after)

    def issue_tokens(self, ttl: float | None = None) -> tuple[str, str]:
        """A fresh (access token, refresh token) pair, the access token living `ttl` seconds."""
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.access_tokens[access] = self.clock() + (self.token_ttl if ttl is None else ttl)
        self.refresh_tokens.add(refresh)
        return access, refresh

    def expire_tokens(self) -> None:
        self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def change(self, table: str, record_id: str, at: int | None = None, **values: str) -> dict[str, str]:
        """Edit a record (or add one with `values`), stamping sys_updated_on with `at` (default: now)."""
        with self._lock:
            row = self.rows[table].setdefault(record_id, {"sys_id": record_id})
            updated = stamp(int(self.clock()) if at is None else at)
            row.update(values, sys_updated_on=updated, sys_mod_count=str(int(row.get("sys_mod_count") or 0) + 1))
            row.setdefault("sys_created_on", updated)
            self._ordered.clear()
            return dict(row)

    # Plumbing.

    @staticmethod
    def fields(table: str) -> dict[str, tuple[str, str, str | None]]:
        """Every field of a table: its ancestors' first."""
        chain = []
        name: str | None = table
        while name is not None:
            chain.append(SCHEMA[name])
            name = SCHEMA[name].parent
        return {k: v for t in reversed(chain) for k, v in t.fields.items()}

    @staticmethod
    def _family(table: str) -> list[str]:
        """The table and every table extending it."""
        def extends(name: str | None) -> bool:
            while name is not None:
                if name == table:
                    return True
                name = SCHEMA[name].parent
            return False

        return [name for name in SCHEMA if extends(name)]

    def _sorted(self, table: str) -> list[tuple[str, str, dict[str, str]]]:
        """The table's records (children's too) by (sys_updated_on, sys_id), kept until a change."""
        if table not in self._ordered:
            rows = [row for name in self._family(table) for row in self.rows[name].values()]
            self._ordered[table] = sorted((row.get("sys_updated_on", ""), row["sys_id"], row) for row in rows)
        return self._ordered[table]

    def _refusal(self, request: Request) -> Response | None:
        self.requests.append((request.url.path, dict(request.query_params)))
        if (throttled := self._throttle.take()) is not None:
            return _failure(429, "Too many requests", "Rate limit exceeded for the user", **throttled)
        token = bearer_token(request)
        if token is not None and self.access_tokens.get(token, 0.0) > self.clock():
            return None
        basic = basic_credentials(request)
        if basic is not None and basic[0] in self.users and self.users[basic[0]] == basic[1]:
            return None
        return _failure(401, "User Not Authenticated", "Required to provide Auth information")

    # Endpoints.

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))  # application/x-www-form-urlencoded
        self.requests.append((request.url.path, {k: v for k, v in form.items() if k == "grant_type"}))
        denied = JSONResponse({"error_description": "access_denied", "error": "server_error"}, 401)
        if self.clients.get(str(form.get("client_id"))) != form.get("client_secret"):
            return denied
        grant = form.get("grant_type")
        if grant == "password":
            if self.users.get(str(form.get("username"))) != form.get("password"):
                return denied
        elif grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return denied
        elif grant == "authorization_code":
            if form.get("code") not in self.codes:
                return denied
            self.codes.discard(str(form.get("code")))
        else:
            return JSONResponse({"error_description": "invalid grant_type", "error": "invalid_request"}, 400)
        access, refresh = self.issue_tokens()
        if grant == "refresh_token":
            self.refresh_tokens.discard(refresh)
            refresh = str(form["refresh_token"])
        return JSONResponse({"access_token": access, "refresh_token": refresh, "scope": "useraccount",
                             "token_type": "Bearer", "expires_in": int(self.token_ttl)})

    async def table(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        name = str(request.path_params["table"])
        if name not in SCHEMA:
            return _failure(400, f"Invalid table {name}")
        params = request.query_params
        try:
            limit = int(params.get("sysparm_limit", "10000"))
            offset = int(params.get("sysparm_offset", "0"))
        except ValueError:
            return _failure(400, "Invalid sysparm_limit or sysparm_offset")
        fields = self.fields(name)
        types = {k: kind for k, (kind, _, _) in fields.items()}
        query = parse_query(params.get("sysparm_query", ""), types)
        with self._lock:
            found = self._select(name, query, offset, limit, params.get("sysparm_no_count") != "true")
        page, total = found
        wanted = [f for f in params.get("sysparm_fields", "").split(",") if f in fields] or list(fields)
        links = params.get("sysparm_exclude_reference_link") != "true"
        base = str(request.base_url).rstrip("/")
        result = [{f: self._render(row.get(f, ""), fields[f], base, links) for f in wanted} for row in page]
        headers = {"Link": self._links(request, offset, limit, len(page), total)}
        if total is not None:
            headers["X-Total-Count"] = str(total)
        return JSONResponse({"result": result}, headers=headers)

    def _select(self, table: str, query: Query, offset: int, limit: int,
                count: bool) -> tuple[list[dict[str, str]], int | None]:
        ordered = self._sorted(table)
        if query.order == [("sys_updated_on", False), ("sys_id", False)] and not count:
            start = bisect.bisect_left(ordered, (query.updated_from, "")) if query.updated_from else 0
            page: list[dict[str, str]] = []
            skipped = 0
            for _, _, row in islice(ordered, start, None):
                if query.test(row):
                    if skipped < offset:
                        skipped += 1
                        continue
                    page.append(row)
                    if len(page) >= limit:
                        break
            return page, None
        rows = [row for _, _, row in ordered if query.test(row)]
        if query.order:
            types = {k: kind for k, (kind, _, _) in self.fields(table).items()}
            for field, descending in reversed(query.order):
                kind = types.get(field, "string")
                rows.sort(key=lambda r: (_key(kind, r.get(field, "")) is not None, _key(kind, r.get(field, "")) or 0),
                          reverse=descending)
        else:
            rows.sort(key=lambda r: r["sys_id"])
        return rows[offset:offset + limit], len(rows) if count else None

    @staticmethod
    def _render(value: str, field: tuple[str, str, str | None], base: str, links: bool) -> Any:
        kind, _, reference = field
        if kind == "reference" and links and value:
            return {"link": f"{base}/api/now/table/{reference}/{value}", "value": value}
        return value

    @staticmethod
    def _links(request: Request, offset: int, limit: int, size: int, total: int | None) -> str:
        def url(at: int) -> str:
            return f"{request.url.replace(query='')}?{urlencode({**request.query_params, 'sysparm_offset': at})}"

        links = [f'<{url(0)}>;rel="first"']
        if offset > 0:
            links.append(f'<{url(max(0, offset - limit))}>;rel="prev"')
        if (total is None and size == limit) or (total is not None and offset + size < total):
            links.append(f'<{url(offset + limit)}>;rel="next"')
        if total is not None:
            links.append(f'<{url(max(0, (total - 1) // max(limit, 1) * limit))}>;rel="last"')
        return ",".join(links)
