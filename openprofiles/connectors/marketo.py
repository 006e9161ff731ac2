"""Marketo Engage as a flow source, through its REST API (`{instanceUrl}/rest/v1/…`).

Authentication is Marketo's client-credentials identity service: `GET /identity/oauth/token`
with the profile's clientId and clientSecret gives an access token (sent as a Bearer header) that
lives `expires_in` seconds; it is renewed before it expires, and once more whenever Marketo answers
601 (access token invalid) or 602 (expired).

Entities: `leads`, and under `activities` one entity per activity type (`activities/<type id>`);
`activities` itself reads every type, ten type ids per pass (the most activities.json accepts).

- Leads follow Marketo's lead-change feed: a paging token for the window's start
  (`activities/pagingtoken.json?sinceDatetime=`), then `activities/leadchanges.json` (New Lead and
  Change Data Value activities of the chosen fields, oldest first); each page of changes becomes one
  page of the changed leads, fetched by id from `leads.json` (`filterType=id`). A full pull starts
  the feed at the epoch, so it reaches the leads whose activity Marketo still retains.
- Activities come from `activities.json` with `activityTypeIds` and the paging token.

Marketo answers most errors with HTTP 200, `success: false` and `errors: [{code, message}]`:
606 (rate limit, 100 calls in 20 s) and 615 (concurrency) are retried after a wait, 607 (daily
quota) and the other temporary codes are transient errors, 601/602 renew the token, 603 is an
auth error, and the rest are terminal errors carrying the codes and messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from openprofiles.connectors import operands
from openprofiles.connectors.base import (
    Connection,
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    Page,
    RecordFilter,
)
from openprofiles.connectors.http import RefreshingBearer, VendorApi, response_json, shorten
from openprofiles.connectors.operands import Family
from openprofiles.connectors.times import parse_instant

LEADS = "leads"
ACTIVITIES = "activities"
#: The most records Marketo returns per call (batchSize), and activity type ids per activities.json call.
BATCH = 300
TYPES_PER_CALL = 10
#: The start of a full pull's change feed.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Renew a token this many seconds before Marketo says it expires.
TOKEN_MARGIN = 60.0
#: Seconds to wait on 606 (Marketo counts 100 calls per 20 s) and on other retried codes.
RATE_WINDOW = 20.0
BUSY_WAIT = 5.0

TOKEN_CODES = frozenset({"601", "602"})
AUTH_CODES = frozenset({"603"})
RETRIED_CODES = {"606": RATE_WINDOW, "615": BUSY_WAIT, "604": BUSY_WAIT, "608": BUSY_WAIT, "611": BUSY_WAIT}
TRANSIENT_CODES = frozenset({"607", *RETRIED_CODES})

#: Marketo field data types as AppFlow field types.
DATA_TYPES = {
    "integer": "integer", "score": "integer", "float": "double", "currency": "double", "percent": "double",
    "boolean": "boolean", "date": "date", "datetime": "datetime",
}
ACTIVITY_FIELDS = [
    EntityField("id", "integer", "Activity ID"),
    EntityField("marketoGUID", "string", "Marketo GUID"),
    EntityField("leadId", "integer", "Lead ID"),
    EntityField("activityDate", "datetime", "Activity date"),
    EntityField("activityTypeId", "integer", "Activity type ID"),
    EntityField("campaignId", "integer", "Campaign ID"),
    EntityField("primaryAttributeValueId", "integer", "Primary attribute value ID"),
    EntityField("primaryAttributeValue", "string", "Primary attribute value"),
]


def field_type(marketo_type: str | None) -> str:
    return DATA_TYPES.get(str(marketo_type or "").lower(), "string")


def flatten_activity(activity: Mapping[str, Any]) -> dict[str, Any]:
    """An activity with its `attributes` list spread into `attributes.<name>` fields."""
    record = {key: value for key, value in activity.items() if key != "attributes"}
    for attribute in activity.get("attributes") or []:
        record[f"attributes.{attribute.get('name')}"] = attribute.get("value")
    return record


def _instant(value: Any) -> datetime | None:
    try:
        return parse_instant(value)
    except ValueError:
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Window:
    """The activity dates a pull reads: from `start` on, until the first date `beyond` it."""

    def __init__(self, request: ExtractRequest, field: str | None) -> None:
        self.start = request.since
        self.limits: list[Callable[[datetime], bool]] = []
        if request.until is not None:
            until = request.until
            self.limits.append(lambda moment: moment >= until)
        for spec in request.filters if field else ():
            if spec.field == field:
                self._push_down(spec)

    def _push_down(self, spec: RecordFilter) -> None:
        """A time comparison on the activity date narrows the feed (the flow applies the filter exactly);
        operands are read as the flow reads them (connectors/operands.py), any of several may match."""
        try:
            c = operands.read(spec)
        except operands.OperandError:
            return
        if c.family is not Family.INSTANT:
            return
        low, high = min(c.operands), max(c.operands)
        if c.operator in ("GREATER_THAN", "GREATER_THAN_OR_EQUAL_TO", "BETWEEN"):
            self.start = low if self.start is None else max(self.start, low)
        if c.operator == "LESS_THAN":
            self.limits.append(lambda moment: operands.instant(moment) >= high)
        elif c.operator in ("LESS_THAN_OR_EQUAL_TO", "BETWEEN"):
            self.limits.append(lambda moment: operands.instant(moment) > high)

    def beyond(self, moment: datetime | None) -> bool:
        return moment is not None and any(limit(moment) for limit in self.limits)


def _describe_error(response: Any) -> str:
    try:
        body = response_json(response)
    except ValueError:
        return shorten(response.text) or str(response.reason_phrase)
    if isinstance(body, dict):
        if body.get("errors"):
            return "; ".join(f"{e.get('code')} {e.get('message')}" for e in body["errors"])
        for key in ("error_description", "error", "message"):
            if body.get(key):
                return shorten(str(body[key]))
    return shorten(str(body))


class MarketoConnector(Connector):
    """Marketo Engage leads and activities."""

    connector_type = "Marketo"
    default_modified_field = "updatedAt"

    def __init__(self, connection: Connection, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(connection)
        self.clock = clock
        self._expires_at: float | None = None
        token = connection.credentials.get("accessToken")
        self._bearer = RefreshingBearer(str(token) if token else None, self._new_token)

    # Tokens and calls.

    @cached_property
    def api(self) -> VendorApi:
        """The REST client (Bearer token)."""
        base = str(self.connection.properties.get("instanceUrl") or "")
        return VendorApi("Marketo", base, egress=self.connection.grants, auth=self._bearer,
                         describe_error=_describe_error)

    @cached_property
    def identity(self) -> VendorApi:
        """The identity service's client (no token), on the same instance."""
        base = str(self.connection.properties.get("instanceUrl") or "")
        return VendorApi("Marketo", base, egress=self.connection.grants, describe_error=_describe_error)

    def _new_token(self) -> str:
        """A fresh access token from the identity service."""
        credentials = self.connection.credentials
        if not credentials.get("clientId") or not credentials.get("clientSecret"):
            raise ConnectorAuthError("Marketo: the connector profile needs clientId and clientSecret")
        body = self.identity.get_json("/identity/oauth/token", params={
            "grant_type": "client_credentials", "client_id": credentials["clientId"],
            "client_secret": credentials["clientSecret"],
        })
        if not isinstance(body, dict) or not body.get("access_token"):
            raise ConnectorAuthError(f"Marketo identity: no access token in the answer: {_describe_error_body(body)}")
        self._expires_at = self.clock() + float(body.get("expires_in") or 3600) - TOKEN_MARGIN
        return str(body["access_token"])

    def call(self, path: str, params: Mapping[str, Any] | None = None, form: Mapping[str, Any] | None = None
             ) -> dict[str, Any]:
        """A successful REST answer. `form` sends the parameters as a POST body with `_method=GET`
        (Marketo's way around long query strings)."""
        api = self.api
        renewed = False
        for attempt in range(1, api.max_attempts + 1):
            if self._expires_at is not None and self.clock() >= self._expires_at:
                self._bearer.access_token = self._new_token()
            if form is not None:
                body = api.json("POST", path, params={"_method": "GET"}, data=dict(form))
            else:
                body = api.get_json(path, params=dict(params or {}))
            if not isinstance(body, dict):
                raise ConnectorError(f"Marketo {path}: the answer is not a JSON object")
            if body.get("success"):
                return body
            errors = body.get("errors") or [{"code": "?", "message": "success is false"}]
            codes = {str(e.get("code")) for e in errors}
            text = f"Marketo {path}: " + shorten("; ".join(f"{e.get('code')} {e.get('message')}" for e in errors))
            if codes & TOKEN_CODES and not renewed:
                self._bearer.access_token = self._new_token()
                renewed = True
                continue
            if codes & TOKEN_CODES or codes & AUTH_CODES:
                raise ConnectorAuthError(text)
            wait = max((RETRIED_CODES.get(code, 0.0) for code in codes), default=0.0)
            if wait and attempt < api.max_attempts:
                api.sleep(wait)
                continue
            raise ConnectorError(text, transient=bool(codes & TRANSIENT_CODES))
        raise ConnectorError(f"Marketo {path}: gave up after {api.max_attempts} attempts", transient=True)

    def check(self) -> None:
        self.call("/rest/v1/leads/describe.json")

    # Metadata.

    def _activity_types(self) -> list[dict[str, Any]]:
        return sorted(self.call("/rest/v1/activities/types.json").get("result") or [], key=lambda t: int(t["id"]))

    def entities(self, path: str | None = None) -> list[Entity]:
        if not path:
            return [Entity(LEADS, "Leads", description="Person records, pulled through the lead-change feed"),
                    Entity(ACTIVITIES, "Activities", has_nested_entities=True,
                           description="Every activity type; or one type, nested")]
        if path.strip("/") != ACTIVITIES:
            raise ConnectorError(f"Marketo has no entities under {path!r}")
        return [Entity(f"{ACTIVITIES}/{t['id']}", str(t.get("name") or t["id"]), description=t.get("description"))
                for t in self._activity_types()]

    def _lead_fields(self) -> list[EntityField]:
        found = []
        for item in self.call("/rest/v1/leads/describe.json").get("result") or []:
            rest = item.get("rest") or {}
            if rest.get("name"):
                found.append(EntityField(str(rest["name"]), field_type(item.get("dataType")), item.get("displayName"),
                                         f"Marketo {item.get('dataType')}"))
        return found

    def describe(self, entity: str) -> list[EntityField]:
        if entity == LEADS:
            return self._lead_fields()
        types = self._type_ids(entity)
        fields = list(ACTIVITY_FIELDS)
        if entity != ACTIVITIES:
            kind = next((t for t in self._activity_types() if int(t["id"]) == types[0]), None)
            if kind is None:
                raise ConnectorError(f"Marketo has no activity type {types[0]}")
            fields += [EntityField(f"attributes.{a['name']}", field_type(a.get("dataType")), str(a["name"]))
                       for a in kind.get("attributes") or []]
        return fields

    # Extraction.

    def _type_ids(self, entity: str) -> list[int]:
        """The activity type ids of an activities entity ([] for `activities`: every type)."""
        if entity == ACTIVITIES:
            return []
        prefix, _, rest = entity.partition("/")
        if prefix == ACTIVITIES and rest.isdigit():
            return [int(rest)]
        raise ConnectorError(f"Marketo has no entity {entity!r}: expected leads, activities or activities/<type id>")

    def _paging_token(self, since: datetime | None) -> str:
        body = self.call("/rest/v1/activities/pagingtoken.json", {"sinceDatetime": _iso(since or EPOCH)})
        return str(body["nextPageToken"])

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        if request.entity == LEADS:
            yield from self._leads(request)
        else:
            yield from self._activities(request, self._type_ids(request.entity))

    def _leads(self, request: ExtractRequest) -> Iterator[Page]:
        """The leads changed in the window, one page per page of the lead-change feed."""
        state = _checkpoint(request.checkpoint, ("token",))
        if state.get("done"):
            return
        fields = list(request.fields) if request.fields else [f.name for f in self._lead_fields()]
        fields = list(dict.fromkeys(["id", "updatedAt", *fields]))
        window = Window(request, None)
        token = str(state.get("token") or self._paging_token(window.start))
        batch = min(request.page_size, BATCH)
        while True:
            body = self.call("/rest/v1/activities/leadchanges.json",
                             {"nextPageToken": token, "fields": ",".join(fields), "batchSize": batch})
            changes, ended = [], not body.get("moreResult")
            for change in body.get("result") or []:
                if window.beyond(_instant(change.get("activityDate"))):
                    ended = True
                    break
                changes.append(change)
            token = str(body.get("nextPageToken") or token)
            leads = self._leads_by_id(list(dict.fromkeys(int(c["leadId"]) for c in changes)), fields)
            high_water = max((m for c in changes if (m := _instant(c.get("activityDate")))), default=None)
            if leads:
                yield Page(leads, {"done": True} if ended else {"token": token}, high_water)
            if ended:
                return

    def _leads_by_id(self, ids: Sequence[int], fields: Sequence[str]) -> list[dict[str, Any]]:
        """The leads with these ids (at most BATCH), in that order; deleted ones are missing."""
        if not ids:
            return []
        body = self.call("/rest/v1/leads.json", form={
            "filterType": "id", "filterValues": ",".join(map(str, ids)), "fields": ",".join(fields),
            "batchSize": BATCH,
        })
        by_id = {int(lead["id"]): lead for lead in body.get("result") or []}
        return [by_id[i] for i in ids if i in by_id]

    def _activities(self, request: ExtractRequest, type_ids: list[int]) -> Iterator[Page]:
        """Activities of the types, ten type ids per pass, each pass from the window's start."""
        ids = type_ids or [int(t["id"]) for t in self._activity_types()]
        groups = [",".join(map(str, ids[i:i + TYPES_PER_CALL])) for i in range(0, len(ids), TYPES_PER_CALL)]
        state = _checkpoint(request.checkpoint, ("types", "token"))
        if state.get("done"):
            return
        first = 0
        if state.get("types") is not None:
            if state["types"] not in groups:
                raise ConnectorError(f"the checkpoint's activity types {state['types']} are not this pull's")
            first = groups.index(state["types"])
        window = Window(request, "activityDate")
        batch = min(request.page_size, BATCH)
        for number in range(first, len(groups)):
            group = groups[number]
            token = str(state.get("token") or "") if number == first else ""
            token = token or self._paging_token(window.start)
            while True:
                body = self.call("/rest/v1/activities.json",
                                 {"activityTypeIds": group, "nextPageToken": token, "batchSize": batch})
                records, ended = [], not body.get("moreResult")
                for activity in body.get("result") or []:
                    if window.beyond(_instant(activity.get("activityDate"))):
                        ended = True
                        break
                    records.append(flatten_activity(activity))
                token = str(body.get("nextPageToken") or token)
                if ended:
                    following = {"types": groups[number + 1]} if number + 1 < len(groups) else {"done": True}
                else:
                    following = {"types": group, "token": token}
                high_water = max((m for r in records if (m := _instant(r.get("activityDate")))), default=None)
                if records:
                    yield Page(records, following, high_water)
                if ended:
                    break


def _checkpoint(value: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """A checkpoint as a dict ({} for none); ConnectorError when it is not one of ours."""
    if value is None:
        return {}
    if isinstance(value, dict) and (value.get("done") is True or (set(value) <= set(keys) and value)):
        return value
    raise ConnectorError(f"invalid checkpoint {value!r}: expected one with {', '.join(keys)}, or done")


def _describe_error_body(body: Any) -> str:
    if isinstance(body, dict):
        return shorten(str(body.get("error_description") or body.get("error") or body))
    return shorten(str(body))
