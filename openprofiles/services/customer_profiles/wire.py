"""Conversions between wire dicts (the model's member names) and domain objects."""

from __future__ import annotations

from typing import Any

from openprofiles.services.customer_profiles.document import ProfileDocument
from openprofiles.services.customer_profiles.object_types import ObjectType

Params = dict[str, Any]

#: CreateProfile/UpdateProfile members that are profile fields.
PROFILE_FIELDS = (
    "AccountNumber", "AdditionalInformation", "PartyType", "BusinessName", "FirstName", "MiddleName", "LastName",
    "BirthDate", "Gender", "PhoneNumber", "MobilePhoneNumber", "HomePhoneNumber", "BusinessPhoneNumber",
    "EmailAddress", "PersonalEmailAddress", "BusinessEmailAddress", "Address", "ShippingAddress", "MailingAddress",
    "BillingAddress", "Attributes", "PartyTypeString", "GenderString", "ProfileType", "EngagementPreferences",
)


def profile_fields(params: Params) -> Params:
    return {k: params[k] for k in PROFILE_FIELDS if k in params}


def profile_body(document: ProfileDocument) -> Params:
    return {"ProfileId": document.profile_id, **document.fields}


def object_type_body(otype: ObjectType, tags: dict[str, str]) -> Params:
    d = otype.definition
    max_objects = d.get("MaxProfileObjectCount")
    return {
        "ObjectTypeName": otype.name,
        "Description": d.get("Description"),
        "TemplateId": d.get("TemplateId"),
        "ExpirationDays": d.get("ExpirationDays"),
        "EncryptionKey": d.get("EncryptionKey"),
        "AllowProfileCreation": d.get("AllowProfileCreation", False),
        "SourceLastUpdatedTimestampFormat": d.get("SourceLastUpdatedTimestampFormat"),
        "MaxProfileObjectCount": max_objects,
        "MaxAvailableProfileObjectCount": max_objects,
        "SourcePriority": d.get("SourcePriority"),
        "Fields": d.get("Fields"),
        "Keys": d.get("Keys"),
        "CreatedAt": otype.created_at,
        "LastUpdatedAt": otype.last_updated_at,
        "Tags": tags or None,
    }
