"""Zendesk Support as a flow source: its users, tickets and organizations.

The profile names the account (`instanceUrl`, https://SUBDOMAIN.zendesk.com) and holds an OAuth
access token (`accessToken`; `clientId`/`clientSecret` identify the OAuth client, as AppFlow requires).
Complete pulls walk the list endpoints with cursor pagination (`page[size]`, `page[after]`, in id
order). Incremental pulls, and a flow filtering `updated_at` GREATER_THAN, use the incremental
export API from `start_time`: cursor-based for users and tickets (`cursor`, `after_cursor`), time-based
for organizations (`end_time`, whose items may repeat on the next page and are delivered once).
Zendesk leaves out of exports what changed in the last minute, and allows 10 export requests a
minute: its 429 answers carry Retry-After, which `VendorApi` waits out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
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
)
from openprofiles.connectors.http import RefreshingBearer, VendorApi, default_describe_error, response_json
from openprofiles.connectors.operands import Family
from openprofiles.connectors.times import in_window, parse_instant, utc

#: Most records a list page (cursor pagination) and an incremental export page may hold.
LIST_PAGE_MAX = 100
EXPORT_PAGE_MAX = 1000
#: Exports refuse a start_time within the last minute; an earlier one is asked for and the rest filtered out.
EXPORT_LAG = 61
#: One vendor page: its records and the checkpoint after it.
Chunk = tuple[list[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Resource:
    label: str
    #: "cursor" (cursor-based incremental export) or "time" (time-based).
    export: str
    fields: tuple[tuple[str, str, str], ...]  # (name, data type, description)


_COMMON = (
    ("id", "integer", "Automatically assigned when the record is created"),
    ("url", "string", "The API URL of the record"),
    ("external_id", "string", "An id from another system"),
    ("created_at", "datetime", "When the record was created"),
    ("updated_at", "datetime", "When the record was last updated"),
    ("tags", "list", "The record's tags"),
)

RESOURCES: dict[str, Resource] = {
    "users": Resource("Users", "cursor", (
        *_COMMON,
        ("name", "string", "The user's name"),
        ("email", "string", "The user's primary email address"),
        ("phone", "string", "The user's primary phone number"),
        ("alias", "string", "An alias shown to end users"),
        ("role", "string", "end-user, agent or admin"),
        ("role_type", "integer", "The agent's role type"),
        ("custom_role_id", "integer", "The agent's custom role"),
        ("organization_id", "integer", "The user's default organization"),
        ("default_group_id", "integer", "The agent's default group"),
        ("locale", "string", "The user's locale"),
        ("locale_id", "integer", "The user's language identifier"),
        ("time_zone", "string", "The user's time zone"),
        ("iana_time_zone", "string", "The user's IANA time zone"),
        ("active", "boolean", "false if the user was deleted"),
        ("verified", "boolean", "Whether any identity of the user is verified"),
        ("suspended", "boolean", "Whether the user is suspended"),
        ("shared", "boolean", "Whether the user is shared from another account"),
        ("shared_agent", "boolean", "Whether the user is a shared agent"),
        ("shared_phone_number", "boolean", "Whether the phone number is shared"),
        ("moderator", "boolean", "Whether the user may moderate forums"),
        ("restricted_agent", "boolean", "Whether the agent has restrictions"),
        ("only_private_comments", "boolean", "Whether the user may only make private comments"),
        ("ticket_restriction", "string", "Which tickets the user can access"),
        ("two_factor_auth_enabled", "boolean", "Whether two-factor authentication is on"),
        ("last_login_at", "datetime", "When the user last signed in"),
        ("details", "string", "Details about the user"),
        ("notes", "string", "Notes about the user"),
        ("signature", "string", "The agent's signature"),
        ("photo", "struct", "The user's profile picture"),
        ("user_fields", "struct", "Custom user fields, by key"),
    )),
    "tickets": Resource("Tickets", "cursor", (
        *_COMMON,
        ("subject", "string", "The subject of the ticket"),
        ("raw_subject", "string", "The subject before placeholders are rendered"),
        ("description", "string", "The first comment on the ticket"),
        ("type", "string", "problem, incident, question or task"),
        ("status", "string", "new, open, pending, hold, solved, closed or deleted"),
        ("priority", "string", "urgent, high, normal or low"),
        ("recipient", "string", "The original recipient email address"),
        ("requester_id", "integer", "The user who requested the ticket"),
        ("submitter_id", "integer", "The user who submitted the ticket"),
        ("assignee_id", "integer", "The agent the ticket is assigned to"),
        ("organization_id", "integer", "The requester's organization"),
        ("group_id", "integer", "The group the ticket is assigned to"),
        ("brand_id", "integer", "The ticket's brand"),
        ("ticket_form_id", "integer", "The ticket form"),
        ("problem_id", "integer", "The problem an incident is linked to"),
        ("custom_status_id", "integer", "The custom ticket status"),
        ("has_incidents", "boolean", "Whether the problem has incidents"),
        ("is_public", "boolean", "Whether any comment is public"),
        ("allow_channelback", "boolean", "Whether channelback is enabled"),
        ("allow_attachments", "boolean", "Whether attachments may be added"),
        ("due_at", "datetime", "When a task is due"),
        ("generated_timestamp", "integer", "When the ticket was last changed, in epoch seconds"),
        ("collaborator_ids", "list", "The ticket's CCs"),
        ("follower_ids", "list", "The ticket's followers"),
        ("email_cc_ids", "list", "The ticket's email CCs"),
        ("sharing_agreement_ids", "list", "The sharing agreements used"),
        ("followup_ids", "list", "Follow-up tickets of a closed ticket"),
        ("custom_fields", "list", "Custom ticket fields ({id, value})"),
        ("satisfaction_rating", "struct", "The satisfaction rating"),
        ("via", "struct", "How the ticket was created"),
    )),
    "organizations": Resource("Organizations", "time", (
        *_COMMON,
        ("name", "string", "The organization's unique name"),
        ("details", "string", "Details about the organization"),
        ("notes", "string", "Notes about the organization"),
        ("group_id", "integer", "New tickets from its users go to this group"),
        ("shared_tickets", "boolean", "Whether its users can see each other's tickets"),
        ("shared_comments", "boolean", "Whether its users can see each other's comments"),
        ("domain_names", "list", "Email domains of its users"),
        ("organization_fields", "struct", "Custom organization fields, by key"),
    )),
}


def describe_zendesk_error(response: httpx.Response) -> str:
    """Zendesk's `{"error": ..., "description": ...}` as "error: description"."""
    try:
        body = response_json(response)
    except ValueError:
        return default_describe_error(response)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return ": ".join(str(part) for part in (body["error"], body.get("description")) if part)
    return default_describe_error(response)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class ZendeskConnector(Connector):
    """Users, tickets and organizations from a Zendesk Support account."""

    connector_type = "Zendesk"
    default_modified_field = "updated_at"

    @cached_property
    def api(self) -> VendorApi:
        token = self.connection.credentials.get("accessToken")
        if not token:
            raise ConnectorAuthError(
                "Zendesk: the connector profile needs an OAuth accessToken (an authorization code is not "
                "exchanged by OpenProfiles)")
        return VendorApi("Zendesk", str(self.connection.properties.get("instanceUrl") or ""),
                         egress=self.connection.grants, auth=RefreshingBearer(str(token)), describe_error=describe_zendesk_error)

    def check(self) -> None:
        self.api.get_json("/api/v2/users/me.json")

    def entities(self, path: str | None = None) -> list[Entity]:
        return [Entity(name, resource.label) for name, resource in RESOURCES.items()]

    def _resource(self, entity: str) -> Resource:
        resource = RESOURCES.get(entity)
        if resource is None:
            raise ConnectorError(f"Zendesk has no object {entity!r}: expected one of {', '.join(RESOURCES)}")
        return resource

    def describe(self, entity: str) -> list[EntityField]:
        return [EntityField(name, kind, name, text) for name, kind, text in self._resource(entity).fields]

    # Extraction.

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        """List pages for a complete pull; the incremental export from the lower bound otherwise."""
        resource = self._resource(request.entity)
        lower = _lower_bound(request)
        if lower is None:
            pages = self._listed(request)
        elif resource.export == "cursor":
            pages = self._cursor_export(request, lower)
        else:
            pages = self._time_export(request, lower)
        field = request.modified_field or self.default_modified_field or "updated_at"
        unknown = request.since is None and request.until is None
        for records, checkpoint in pages:
            kept, high = in_window(records, lambda record: _modified(record, field), request.since, request.until,
                                   unknown=unknown)
            yield Page(kept, checkpoint, high)

    def _listed(self, request: ExtractRequest) -> Iterator[Chunk]:
        """GET /api/v2/{entity}.json in id order, `page[size]` at a time, from the checkpoint's cursor."""
        after = _checkpoint(request.checkpoint, "after")
        size = max(1, min(request.page_size, LIST_PAGE_MAX))
        while True:
            params: dict[str, Any] = {"page[size]": size}
            if after:
                params["page[after]"] = after
            body = self.api.get_json(f"/api/v2/{request.entity}.json", params=params)
            meta = body.get("meta") or {}
            if meta.get("after_cursor"):
                after = meta["after_cursor"]
            yield list(body.get(request.entity) or []), {"after": after}
            if not meta.get("has_more"):
                return

    def _cursor_export(self, request: ExtractRequest, lower: datetime) -> Iterator[Chunk]:
        """GET /api/v2/incremental/{entity}/cursor.json from start_time, then by cursor to the end of the stream."""
        cursor = _checkpoint(request.checkpoint, "cursor")
        size = max(1, min(request.page_size, EXPORT_PAGE_MAX))
        while True:
            params: dict[str, Any] = {"per_page": size}
            if cursor:
                params["cursor"] = cursor
            else:
                params["start_time"] = _start_time(lower)
            body = self.api.get_json(f"/api/v2/incremental/{request.entity}/cursor.json", params=params)
            if body.get("after_cursor"):
                cursor = body["after_cursor"]
            elif not body.get("end_of_stream"):
                raise ConnectorError(f"Zendesk: the {request.entity} export gave no after_cursor to go on from")
            yield list(body.get(request.entity) or []), {"cursor": cursor}
            if body.get("end_of_stream"):
                return

    def _time_export(self, request: ExtractRequest, lower: datetime) -> Iterator[Chunk]:
        """GET /api/v2/incremental/{entity}.json from start_time, each page's end_time starting the next.

        A page's items stamped with its end_time come again at the start of the next page: the
        checkpoint keeps their ids ("seen") so each is delivered once."""
        start, seen = _time_checkpoint(request.checkpoint, _start_time(lower))
        size = max(1, min(request.page_size, EXPORT_PAGE_MAX))
        while True:
            body = self.api.get_json(f"/api/v2/incremental/{request.entity}.json",
                                     params={"start_time": start, "per_page": size})
            items = list(body.get(request.entity) or [])
            fresh = [item for item in items if not (_stamp(item) == start and item.get("id") in seen)]
            end = body.get("end_time")
            end = start if end is None else int(end)
            if end < start or (end == start and not fresh and not body.get("end_of_stream")):
                raise ConnectorError(f"Zendesk: the {request.entity} export does not advance past start_time {start}")
            stamped = {item.get("id") for item in items if _stamp(item) == end}
            seen = sorted((set(seen) if end == start else set()) | stamped, key=str)
            start = end
            yield fresh, {"start_time": start, "seen": seen}
            if body.get("end_of_stream"):
                return


def _lower_bound(request: ExtractRequest) -> datetime | None:
    """Where an export may start: `since`, or the largest `updated_at` GREATER_THAN bound of the filters
    (Zendesk's only filter operator), when that field is compared as a time."""
    bounds = [request.since] if request.since is not None else []
    for record_filter in request.filters:
        if record_filter.field != "updated_at" or record_filter.operator != "GREATER_THAN":
            continue
        try:
            comparison = operands.read(record_filter)  # read as the flow reads it
        except operands.OperandError:
            continue
        if comparison.family in (Family.INSTANT, Family.DATE):  # a date bounds from its first instant
            bounds.append(operands.instant(min(comparison.operands)))  # any value may match: the smallest
    return max(map(utc, bounds), default=None)


def _start_time(lower: datetime) -> int:
    return max(0, min(_epoch(lower), int(time.time()) - EXPORT_LAG))


def _stamp(item: dict[str, Any]) -> int | None:
    try:
        moment = parse_instant(item.get("updated_at"))
    except ValueError:
        return None
    return None if moment is None else _epoch(moment)


def _modified(record: dict[str, Any], field: str) -> datetime | None:
    try:
        return parse_instant(record.get(field))
    except ValueError:
        raise ConnectorError(f"Zendesk record {record.get('id')}: {field}={record.get(field)!r} is not a time") from None


def _checkpoint(value: Any, key: str) -> str | None:
    if value is None:
        return None
    found = value.get(key) if isinstance(value, dict) and set(value) == {key} else 0
    if found is None or isinstance(found, str):
        return found
    raise ConnectorError(f"invalid Zendesk checkpoint {value!r}: expected {{{key!r}: str}}")


def _time_checkpoint(value: Any, start: int) -> tuple[int, list[Any]]:
    if value is None:
        return start, []
    if (isinstance(value, dict) and isinstance(value.get("start_time"), int)
            and isinstance(value.get("seen"), list)):
        return value["start_time"], value["seen"]
    raise ConnectorError(f"invalid Zendesk checkpoint {value!r}: expected {{'start_time': int, 'seen': [ids]}}")
