"""customer_profiles/wire.py: profile members picked from a request, and profile and object type bodies."""

from __future__ import annotations

from datetime import UTC, datetime

from openprofiles.services.customer_profiles.document import ProfileDocument
from openprofiles.services.customer_profiles.object_types import compile_definition
from openprofiles.services.customer_profiles.wire import (
    PROFILE_FIELDS,
    object_type_body,
    profile_body,
    profile_fields,
)

DEFINITION = {
    "Description": "CRM", "Fields": {"id": {"Source": "_source.id"}},
    "Keys": {"crm": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}]},
}


def test_profile_fields_are_the_profile_members_only() -> None:
    params = {"DomainName": "d", "ProfileId": "p", "FirstName": "Ana", "Address": {"City": "Lyon"},
              "Attributes": {"tier": "gold"}, "Unknown": "x", "EmailAddress": ""}
    assert profile_fields(params) == {"FirstName": "Ana", "Address": {"City": "Lyon"},
                                      "Attributes": {"tier": "gold"}, "EmailAddress": ""}
    assert profile_fields({name: "v" for name in PROFILE_FIELDS}) == {name: "v" for name in PROFILE_FIELDS}


def test_profile_body() -> None:
    doc = ProfileDocument("p1", fields={"FirstName": "Ana", "Address": {"City": "Lyon"}}, manual={"FirstName"})
    assert profile_body(doc) == {"ProfileId": "p1", "FirstName": "Ana", "Address": {"City": "Lyon"}}


def test_object_type_body_of_a_full_definition() -> None:
    created, updated = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    otype = compile_definition("crm", {**DEFINITION, "AllowProfileCreation": True, "MaxProfileObjectCount": 7,
                                       "ExpirationDays": 30, "SourcePriority": 1, "EncryptionKey": "k",
                                       "SourceLastUpdatedTimestampFormat": "yyyy"},
                               created_at=created, last_updated_at=updated)
    body = object_type_body(otype, {"team": "a"})
    assert body["ObjectTypeName"] == "crm" and body["Description"] == "CRM"
    assert body["MaxProfileObjectCount"] == body["MaxAvailableProfileObjectCount"] == 7
    assert (body["ExpirationDays"], body["SourcePriority"], body["EncryptionKey"]) == (30, 1, "k")
    assert body["AllowProfileCreation"] is True and body["SourceLastUpdatedTimestampFormat"] == "yyyy"
    assert body["Fields"] == DEFINITION["Fields"] and body["Keys"] == DEFINITION["Keys"]
    assert (body["CreatedAt"], body["LastUpdatedAt"], body["Tags"]) == (created, updated, {"team": "a"})


def test_object_type_body_leaves_absent_members_empty() -> None:
    body = object_type_body(compile_definition("crm", DEFINITION), {})
    assert body["AllowProfileCreation"] is False
    assert body["Tags"] is None  # no tags: the member is left out on the wire
    assert all(body[m] is None for m in ("TemplateId", "ExpirationDays", "EncryptionKey", "MaxProfileObjectCount",
                                         "MaxAvailableProfileObjectCount", "SourcePriority", "CreatedAt"))
