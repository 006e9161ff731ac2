"""ServiceNow as a flow source: any table the integration user may read, through the Table API.

The profile names the instance (`instanceUrl`, https://INSTANCE.service-now.com) and holds either a
`username`/`password` (basic auth) or `oAuth2Credentials` (`clientId`, `clientSecret`, and an
`accessToken` and/or `refreshToken`): an access token the instance refuses is renewed once through
`/oauth_token.do` (refresh_token grant) and the request repeated.

Entities are the rows of `sys_db_object`; an entity's fields are the `sys_dictionary` entries of
its table and the tables it extends. Records come from `/api/now/table/{table}` as stored (raw
values, times in UTC as "YYYY-MM-DD HH:MM:SS", references as {link, value}), ordered by
`sys_updated_on` then `sys_id` and paged by keyset: each page asks for what sorts after the last
record seen, so a checkpoint stays exact while records change. Incremental windows and the flow's
record filters that an encoded query expresses without changing the result are pushed into
`sysparm_query`; the flow applies every filter again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

import httpx

from openprofiles.connectors import operands
from openprofiles.connectors.base import (
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    Page,
    RecordFilter,
)
from openprofiles.connectors.http import RefreshingBearer, VendorApi, default_describe_error, response_json
from openprofiles.connectors.operands import Family
from openprofiles.connectors.times import in_window, parse_instant, utc

TABLE_API = "/api/now/table"
TOKEN_PATH = "/oauth_token.do"
#: The most rows one Table API request returns, and one metadata request asks for.
PAGE_MAX = 10_000
METADATA_PAGE = 1000
#: How deep a table's `extends` chain is followed.
MAX_ANCESTORS = 10
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ORDER = ("sys_updated_on", "sys_id")

#: sys_dictionary internal types and the data type each is described with.
DATA_TYPES = {
    **dict.fromkeys(("integer", "longint", "order_index"), "integer"),
    **dict.fromkeys(("decimal", "float", "percent_complete"), "double"),
    "boolean": "boolean",
    **dict.fromkeys(("glide_date_time", "due_date", "date_time"), "datetime"),
    "glide_date": "date",
    "reference": "struct",
}
_NUMERIC_TYPES = frozenset({"integer", "longint", "decimal", "float"})
_TIME_TYPES = frozenset({"glide_date_time", "due_date", "date_time"})
_TEXT_TYPES = frozenset({"string", "GUID", "email", "phone_number", "phone_number_e164", "choice", "sys_class_name",
                         "url", "translated_text", "html"})
_LOWER = {"GREATER_THAN": ">", "GREATER_THAN_OR_EQUAL_TO": ">="}
_UPPER = {"LESS_THAN": "<", "LESS_THAN_OR_EQUAL_TO": "<="}


def describe_servicenow_error(response: httpx.Response) -> str:
    """ServiceNow's `{"error": {"message", "detail"}, "status": "failure"}` as "message: detail"."""
    try:
        body = response_json(response)
    except ValueError:
        return default_describe_error(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return ": ".join(str(part) for part in (error["message"], error.get("detail")) if part)
    return default_describe_error(response)


class ServiceNowConnector(Connector):
    """Any table of a ServiceNow instance (sys_user, incident, ...), through the Table API."""

    connector_type = "Servicenow"
    default_modified_field = "sys_updated_on"

    @property
    def base_url(self) -> str:
        return str(self.connection.properties.get("instanceUrl") or "")

    @cached_property
    def api(self) -> VendorApi:
        return VendorApi("ServiceNow", self.base_url, egress=self.connection.grants, auth=self._auth(), headers={"Accept": "application/json"},
                         describe_error=describe_servicenow_error)

    def _auth(self) -> httpx.Auth:
        credentials = self.connection.credentials
        oauth = credentials.get("oAuth2Credentials") or {}
        if oauth.get("accessToken") or oauth.get("refreshToken"):
            refresh = self._refresher(oauth) if oauth.get("refreshToken") else None
            return RefreshingBearer(oauth.get("accessToken"), refresh)
        if credentials.get("username"):
            return httpx.BasicAuth(str(credentials["username"]), str(credentials.get("password") or ""))
        raise ConnectorAuthError("ServiceNow: the connector profile needs a username and password, or "
                                 "oAuth2Credentials with an accessToken or refreshToken")

    def _refresher(self, oauth: dict[str, Any]) -> Any:
        state = {"refresh_token": str(oauth["refreshToken"])}
        tokens = VendorApi("ServiceNow", self.base_url, egress=self.connection.grants,
                           describe_error=describe_servicenow_error)

        def refresh() -> str:
            body = tokens.json("POST", TOKEN_PATH, data={
                "grant_type": "refresh_token", "client_id": oauth.get("clientId") or "",
                "client_secret": oauth.get("clientSecret") or "", "refresh_token": state["refresh_token"],
            })
            if not isinstance(body, dict) or not body.get("access_token"):
                raise ConnectorAuthError("ServiceNow: the token endpoint issued no access_token")
            state["refresh_token"] = str(body.get("refresh_token") or state["refresh_token"])
            return str(body["access_token"])

        return refresh

    def _rows(self, table: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        body = self.api.get_json(f"{TABLE_API}/{table}", params={"sysparm_no_count": "true", **params})
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise ConnectorError(f"ServiceNow {TABLE_API}/{table}: the answer holds no result list")
        return result

    def _metadata(self, table: str, query: str, fields: str) -> Iterator[dict[str, Any]]:
        """Every row of a metadata table matching `query`, paged by offset."""
        offset = 0
        while True:
            rows = self._rows(table, {"sysparm_query": query, "sysparm_fields": fields, "sysparm_limit": METADATA_PAGE,
                                      "sysparm_offset": offset, "sysparm_exclude_reference_link": "true"})
            yield from rows
            if len(rows) < METADATA_PAGE:
                return
            offset += len(rows)

    def check(self) -> None:
        self._rows("sys_db_object", {"sysparm_limit": 1, "sysparm_fields": "sys_id"})

    def entities(self, path: str | None = None) -> list[Entity]:
        return [Entity(row["name"], row.get("label") or row["name"])
                for row in self._metadata("sys_db_object", "ORDERBYname", "name,label") if row.get("name")]

    def _tables(self, table: str) -> list[str]:
        """The table and the tables it extends, nearest first."""
        chain: list[str] = []
        query = f"name={table}"
        while query and len(chain) < MAX_ANCESTORS:
            rows = list(self._metadata("sys_db_object", query, "name,super_class"))
            if not rows:
                break
            chain.append(rows[0]["name"])
            parent = rows[0].get("super_class")
            query = f"sys_id={parent}" if parent else ""
        if not chain:
            raise ConnectorError(f"ServiceNow has no table {table!r} (or the user may not read sys_db_object)")
        return chain

    def _dictionary(self, table: str) -> dict[str, dict[str, Any]]:
        """The table's fields (sys_dictionary rows by element), a table's own entry winning over its parents'."""
        chain = self._tables(table)
        rows = self._metadata("sys_dictionary", f"nameIN{','.join(chain)}^elementISNOTEMPTY^ORDERBYelement",
                              "name,element,internal_type,column_label,mandatory")
        found: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda r: -chain.index(r["name"]) if r.get("name") in chain else 0):
            found[row["element"]] = row
        return found

    def describe(self, entity: str) -> list[EntityField]:
        return [
            EntityField(element, DATA_TYPES.get(str(row.get("internal_type") or "string"), "string"),
                        row.get("column_label") or element, nullable=str(row.get("mandatory")) != "true")
            for element, row in sorted(self._dictionary(entity).items())
        ]

    # Extraction.

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        """The table's records in (sys_updated_on, sys_id) order, `page_size` a request, from the checkpoint."""
        table = request.entity
        modified = request.modified_field or "sys_updated_on"
        types = {name: str(row.get("internal_type") or "") for name, row in self._dictionary(table).items()} if (
            request.filters or modified not in ORDER) else {"sys_updated_on": "glide_date_time"}
        conditions = [c for f in request.filters if (c := pushed_condition(f, types.get(f.field))) is not None]
        if types.get(modified) in _TIME_TYPES:
            if request.since is not None:
                conditions.append(f"{modified}>={_format(utc(request.since), up=False)}")
            if request.until is not None:
                conditions.append(f"{modified}<{_format(utc(request.until), up=True)}")
        params: dict[str, Any] = {"sysparm_limit": max(1, min(request.page_size, PAGE_MAX))}
        if request.fields:
            wanted = [*request.fields, *ORDER, modified, *(f.field for f in request.filters)]
            params["sysparm_fields"] = ",".join(dict.fromkeys(wanted))
        after = _checkpoint(request.checkpoint)
        while True:
            keyset = [] if after is None else [f"{ORDER[0]}>={after[0]}", f"{ORDER[0]}>{after[0]}^OR{ORDER[1]}>{after[1]}"]
            query = "^".join([*conditions, *keyset, *(f"ORDERBY{name}" for name in ORDER)])
            rows = self._rows(table, {**params, "sysparm_query": query})
            if not rows:
                return
            last = rows[-1]
            if not last.get(ORDER[0]) or not last.get(ORDER[1]):
                raise ConnectorError(f"ServiceNow {table}: records come without {ORDER[0]} and {ORDER[1]}")
            after = (str(last[ORDER[0]]), str(last[ORDER[1]]))
            kept, high = in_window(rows, lambda row: _modified(row, modified, table), request.since, request.until,
                                   unknown=request.since is None and request.until is None)
            yield Page(kept, {"after": list(after)}, high)
            if len(rows) < params["sysparm_limit"]:
                return


# --- filter push-down ----------------------------------------------------------------------------


def pushed_condition(record_filter: RecordFilter, internal_type: str | None) -> str | None:
    """An encoded-query condition that keeps every record the filter keeps, or None when the field's
    type or the values leave ServiceNow's comparison unlike the flow's. Operands are read as the flow
    reads them (connectors/operands.py).

    Text equality and CONTAINS go down as `=`/`LIKE` (ServiceNow compares text without regard to case:
    a superset the flow narrows); numbers, booleans, dates and times compare as the flow does. An empty
    operand is not pushed down (ServiceNow reads `field=` as "is empty").
    """
    try:
        c = operands.read(record_filter)
    except operands.OperandError:
        return None
    field, operator, values = c.field, c.operator, record_filter.values
    if not internal_type or any(not v.strip() or "^" in v or "@" in v for v in values):
        return None
    if c.family is Family.STRING:
        if internal_type not in _TEXT_TYPES or not all(v.isascii() for v in c.operands):
            return None
        if operator == "EQUAL_TO":
            return "^OR".join(f"{field}={v}" for v in c.operands)
        if operator == "CONTAINS":
            return "^OR".join(f"{field}LIKE{v}" for v in c.operands)
        return None
    if c.family is Family.BOOLEAN:
        truth = set(c.operands)
        if internal_type != "boolean" or len(truth) != 1:
            return None
        return f"{field}{'=' if operator == 'EQUAL_TO' else '!='}{str(truth.pop()).lower()}"
    if c.family is Family.NUMBER and internal_type in _NUMERIC_TYPES:
        return _ordered(field, operator, c.operands, _plain, _plain)
    if c.family is Family.INSTANT and internal_type in _TIME_TYPES:
        return _ordered(field, operator, c.operands, lambda m: _format(m, up=False), lambda m: _format(m, up=True),
                        exact=lambda m: m.microsecond == 0)
    if c.family is Family.DATE and internal_type == "glide_date":
        return _ordered(field, operator, c.operands, str, str)
    return None


def _ordered(field: str, operator: str, operands: Sequence[Any], low: Any, high: Any,
             exact: Any = lambda _: True) -> str | None:
    """A comparison of ordered operands; `low`/`high` write a lower/upper bound (rounding outwards)."""
    if operator == "BETWEEN":
        return f"{field}>={low(operands[0])}^{field}<={high(operands[1])}"
    if operator in _LOWER:  # any value may match: the smallest bounds them all
        smallest = min(operands)
        return f"{field}{_LOWER[operator] if exact(smallest) else '>='}{low(smallest)}"
    if operator in _UPPER:
        largest = max(operands)
        return f"{field}{_UPPER[operator] if exact(largest) else '<='}{high(largest)}"
    if not all(exact(o) for o in operands):
        return None
    if operator == "EQUAL_TO":
        return "^OR".join(f"{field}={low(o)}" for o in operands)
    if operator == "NOT_EQUAL_TO":
        return "^".join(f"{field}!={low(o)}" for o in operands)
    return None


def _plain(number: Decimal) -> str:
    return format(number, "f")


def _format(moment: datetime, *, up: bool) -> str:
    """A UTC time as ServiceNow writes it (whole seconds), rounded up or down."""
    moment = moment.astimezone(UTC)
    if up and moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime(TIME_FORMAT)


def _modified(row: dict[str, Any], field: str, table: str) -> datetime | None:
    value = row.get(field)
    if isinstance(value, dict):  # a reference, or a display value pair
        value = value.get("value")
    try:
        return parse_instant(value)
    except ValueError:
        raise ConnectorError(f"ServiceNow {table} {row.get('sys_id')}: {field}={value!r} is not a time") from None


def _checkpoint(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    after = value.get("after") if isinstance(value, dict) else None
    if isinstance(after, list) and len(after) == 2 and all(isinstance(v, str) for v in after):
        return after[0], after[1]
    raise ConnectorError(f"invalid ServiceNow checkpoint {value!r}: expected {{'after': [sys_updated_on, sys_id]}}")

