"""What the agent pages show: a domain's profiles found by a key name and value, and one whole
customer (the profile's fields, its objects by type, its latest history), read through the same
services as SearchProfiles, ListProfileObjects and ListProfileHistoryRecords."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.document import STANDARD_KEYS, flatten
from openprofiles.services.customer_profiles.domains import DomainService
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.services.customer_profiles.profiles import ProfileService
from openprofiles.services.customer_profiles.search import Found, SearchKey, SearchService

#: SearchProfiles' KeyName and Values members (the service model's limits).
KEY_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_VALUE = 255
PROFILE_ID = re.compile(r"[0-9a-f]{32}")
RESULTS_PER_PAGE = 20
OBJECTS_PER_TYPE = 50
HISTORY_SHOWN = 50


@dataclass(frozen=True)
class ProfileRow:
    profile_id: str
    name: str
    email: str
    phone: str
    account: str
    #: `key: value` of each value that found the profile.
    found_by: list[str]


@dataclass(frozen=True)
class SearchPage:
    #: The domain's searchable key names (built-in and its object types' keys), for the form.
    key_names: list[str]
    key: str
    value: str
    rows: list[ProfileRow]
    #: The profile id the next page starts after, when there is one.
    next_after: str | None
    searched: bool
    #: Why the search was not run (a key name or value SearchProfiles would refuse).
    error: str | None = None


@dataclass(frozen=True)
class ObjectGroup:
    object_type_name: str
    #: (object key, the object as indented JSON), newest first.
    objects: list[tuple[str, str]]
    #: Whether the profile holds more objects of this type than are shown.
    more: bool


@dataclass(frozen=True)
class HistoryEntry:
    """One history record as the profile page shows it (never its sealed content)."""

    created_at: datetime
    object_type_name: str
    action_type: str
    performed_by: str | None


@dataclass(frozen=True)
class ProfileView:
    profile_id: str
    name: str
    #: (dotted field path, value) of the standard profile.
    fields: list[tuple[str, str]]
    objects: list[ObjectGroup]
    #: The newest history records, newest first.
    history: list[HistoryEntry]


def display_name(fields: dict[str, Any]) -> str:
    person = " ".join(str(fields[f]) for f in ("FirstName", "MiddleName", "LastName") if fields.get(f))
    return person or str(fields.get("BusinessName") or "")


def _first(fields: dict[str, Any], names: tuple[str, ...]) -> str:
    return next((str(fields[n]) for n in names if fields.get(n)), "")


def _row(found: Found) -> ProfileRow:
    fields = found.fields
    return ProfileRow(
        profile_id=found.profile_id,
        name=display_name(fields),
        email=_first(fields, STANDARD_KEYS["_email"][1]),
        phone=_first(fields, STANDARD_KEYS["_phone"][1]),
        account=str(fields.get("AccountNumber") or ""),
        found_by=[f"{key.name}: {value}" for key in found.found_by for value in key.values],
    )


def _pretty(text: str) -> str:
    try:
        return orjson.dumps(orjson.loads(text), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return text


class AgentPages:
    def __init__(self, domains: DomainService, object_types: ObjectTypeService, search: SearchService,
                 profiles: ProfileService) -> None:
        self.domains = domains
        self.object_types = object_types
        self.searcher = search
        self.profiles = profiles

    def search(self, ctx: RequestContext, domain_name: str, key: str, value: str, after: str | None) -> SearchPage:
        """One page of the profiles a key's value finds (none before a value is given); NotFound for
        an unknown domain."""
        domain = self.domains.record(ctx, domain_name)
        keys = self.object_types.search_keys(domain)
        key_names = sorted(set(keys.content_types) | set(keys.unique_types))
        error = None
        if not KEY_NAME.fullmatch(key):
            error = "The key name must be 1 to 64 letters, digits, '_' or '-'."
        elif len(value) > MAX_VALUE:
            error = f"The value must be at most {MAX_VALUE} characters."
        elif after is not None and not PROFILE_ID.fullmatch(after):
            error = "That page of results does not exist: search again."
        if error or not value:
            return SearchPage(key_names, key, value, [], None, searched=False, error=error)
        found = self.searcher.search(domain, [SearchKey(key, (value,))], False, after, RESULTS_PER_PAGE + 1)
        page = found[:RESULTS_PER_PAGE]
        next_after = page[-1].profile_id if len(found) > RESULTS_PER_PAGE else None
        return SearchPage(key_names, key, value, [_row(f) for f in page], next_after, searched=True)

    def profile(self, ctx: RequestContext, domain_name: str, profile_id: str) -> ProfileView:
        """The whole customer; NotFound for an unknown domain or profile."""
        domain = self.domains.record(ctx, domain_name)
        whole = self.profiles.whole(domain, profile_id, OBJECTS_PER_TYPE + 1, HISTORY_SHOWN)
        return ProfileView(
            profile_id=profile_id,
            name=display_name(whole.document.fields),
            fields=[(path, str(value)) for path, value in flatten(whole.document.fields)],
            objects=[ObjectGroup(name, [(o.object_key, _pretty(o.text)) for o in objects[:OBJECTS_PER_TYPE]],
                                 more=len(objects) > OBJECTS_PER_TYPE)
                     for name, objects in whole.objects.items()],
            history=[HistoryEntry(r.created_at, r.object_type_name, r.action_type, r.performed_by)
                     for r in whole.history],
        )
